"""Every dead-letter reason from a crafted input, through the real broker.

Crafted records go to a raw topic; they are consumed, judged by the same pure functions the
agents use, and each rejection is written to a dead-letter topic and read back: the reason, the
original bytes and the source coordinates survive the trip.
"""

from __future__ import annotations

import base64

import orjson
from kafka import KafkaConsumer, KafkaProducer

from schemas import Accepted, DeadLetter, FieldSpec, Reason, check_fields, decode, encode
from streams.core.seen import SeenEvents
from streams.settings import Settings

MAX = 256
FIELDS = [
    FieldSpec(name="amount", type="number", min=0.0, max=1e6),
    FieldSpec(name="country", type="category", categories=frozenset({"FR", "DE"}), unseen="deadletter"),
]
CRAFTED: list[tuple[bytes, Reason]] = [
    (b"{not json", Reason.INVALID_JSON),
    (b"[1, 2, 3]", Reason.NOT_AN_OBJECT),
    (b'{"data": {"amount": 1}}', Reason.MISSING_FIELD),
    (b'{"event_id": "e-1", "data": "amount=1"}', Reason.WRONG_TYPE),
    (b'{"event_id": "e-2", "ts": -5, "data": {}}', Reason.OUT_OF_RANGE),
    (b'{"event_id": "e-3", "data": {"amount": 2e7, "country": "FR"}}', Reason.OUT_OF_RANGE),
    (b'{"event_id": "e-4", "data": {"amount": 1, "country": "XX"}}', Reason.UNKNOWN_CATEGORY),
    (b'{"event_id": "e-5", "data": {"blob": "' + b"x" * MAX + b'"}}', Reason.OVERSIZED),
    (b'{"event_id": "e-6", "data": {"amount": 3, "country": "DE"}}', Reason.DUPLICATE_EVENT),  # after the good one
    (b'{"event_id": "never-seen", "label": true}', Reason.UNKNOWN_EVENT),
    (b"\xff\xfe binary", Reason.INVALID_JSON),
]
GOOD = b'{"event_id": "e-6", "data": {"amount": 3, "country": "DE"}}'


def _judge(value: bytes, topic: str, partition: int, offset: int, ts: float, seen: SeenEvents) -> DeadLetter | None:
    where = {"source_topic": topic, "partition": partition, "offset": offset}
    if b'"label"' in value:
        outcome = decode("feedback", value, max_bytes=MAX, record_ts=ts, **where)
        if isinstance(outcome, Accepted) and outcome.value.event_id not in seen:
            return DeadLetter.for_bytes(Reason.UNKNOWN_EVENT, "feedback for an event never seen", value, ts=ts, **where)
    else:
        outcome = decode("raw", value, max_bytes=MAX, record_ts=ts, **where)
        if isinstance(outcome, Accepted):
            problem = check_fields(outcome.value.data, FIELDS)
            if problem is not None:
                return DeadLetter.for_bytes(problem[0], problem[1], value, ts=ts, **where)
            if not seen.add(outcome.value.event_id, now=ts):
                return DeadLetter.for_bytes(Reason.DUPLICATE_EVENT, "event_id seen before", value, ts=ts, **where)
    return None if isinstance(outcome, Accepted) else outcome.dead_letter


def test_every_reason_code_reaches_the_deadletter_topic_with_its_payload(stack_settings: Settings, new_topic) -> None:  # type: ignore[no-untyped-def]
    raw, deadletter = new_topic("raw"), new_topic("deadletter")
    servers = stack_settings.kafka_bootstrap.split(",")
    producer = KafkaProducer(bootstrap_servers=servers, acks="all")
    # the good e-6 goes first so that the crafted e-6 is the duplicate
    ordered = [GOOD, *[value for value, _ in CRAFTED]]
    for value in ordered:
        producer.send(raw, value=value)
    producer.flush()

    consumer = KafkaConsumer(raw, bootstrap_servers=servers, auto_offset_reset="earliest", enable_auto_commit=False, consumer_timeout_ms=10000)
    seen = SeenEvents(horizon=3600.0)
    written = 0
    for record in consumer:
        letter = _judge(record.value, record.topic, record.partition, record.offset, record.timestamp / 1000, seen)
        if letter is not None:
            producer.send(deadletter, value=encode(letter)).get(timeout=30)  # durable before the next offset
            written += 1
        if record.offset == len(ordered) - 1:
            break
    consumer.close()
    producer.close()
    assert written == len(CRAFTED)

    reader = KafkaConsumer(deadletter, bootstrap_servers=servers, auto_offset_reset="earliest", enable_auto_commit=False, consumer_timeout_ms=10000)
    letters = [orjson.loads(r.value) for _, r in zip(range(len(CRAFTED)), reader)]
    reader.close()
    assert [letter["reason"] for letter in letters] == [reason.value for _, reason in CRAFTED]
    for letter, (value, _) in zip(letters, CRAFTED):
        assert letter["source_topic"] == raw
        assert letter["partition"] == 0
        assert ordered[letter["offset"]] == value
        payload = letter["payload"]
        original = base64.b64decode(payload) if letter.get("payload_encoding") == "base64" else payload.encode()
        assert original == value
        assert letter["detail"]
