"""Every dead-letter reason from crafted input, through a real `driftline worker` (real broker and
Redis): each rejected record comes back on the deadletter topic once, with its reason, its
original bytes and where the user wrote it."""

from __future__ import annotations

import base64
import time
import uuid
from collections import Counter
from dataclasses import replace
from pathlib import Path

import orjson
from kafka import KafkaProducer

from schemas import Reason
from streams.kafka import admin
from streams.kafka.sources import builtin
from streams.kafka.topics import topic_specs
from streams.settings import Settings
from streams.specs.load import DEFAULT_SPEC_PATH
from tests.support.pipeline import Worker, end_offsets, read_all

MAX_BYTES = 2048
# the built-in spec, with a category whose unseen values are dead-lettered
COUNTRY = '[[fields]]\nname = "country"\ntype = "category"\nrequired = false\ncategories = ["FR", "DE"]\nunseen = "deadletter"\n\n'
SPEC = DEFAULT_SPEC_PATH.read_text().replace("[features]\n", COUNTRY + "[features]\n", 1)


def crafted(data: dict[str, object]) -> list[tuple[str, bytes, Reason | None]]:
    """(topic, bytes, the reason it is rejected for, or None for a valid record), in order."""
    def event(event_id: str, **changes: object) -> bytes:
        return orjson.dumps({"event_id": event_id, "data": {**data, **changes}})

    return [
        ("raw", b"{not json", Reason.INVALID_JSON),
        ("raw", b"\xff\xfe binary", Reason.INVALID_JSON),
        ("raw", b"[1, 2, 3]", Reason.NOT_AN_OBJECT),
        ("raw", orjson.dumps({"data": data}), Reason.MISSING_FIELD),  # no event_id
        ("raw", orjson.dumps({"event_id": "c-1", "data": "amount=1"}), Reason.WRONG_TYPE),
        ("raw", orjson.dumps({"event_id": "c-2", "ts": -5, "data": data}), Reason.OUT_OF_RANGE),
        ("raw", event("c-3", age=500), Reason.OUT_OF_RANGE),
        ("raw", event("c-4", country="XX"), Reason.UNKNOWN_CATEGORY),
        ("raw", event("c-5", blob="x" * MAX_BYTES), Reason.OVERSIZED),
        ("raw", event("c-6", country="FR"), None),
        ("raw", event("c-6", country="FR"), Reason.DUPLICATE_EVENT),  # the same partition: after the first
        ("feedback", b'{"event_id": "c-6", "label": [1]}', Reason.WRONG_TYPE),
        ("feedback", b'{"event_id": "never-seen", "label": true}', Reason.UNKNOWN_EVENT),
        ("feedback", b'{"event_id": "c-6", "label": true}', None),
        ("feedback", b'{"event_id": "c-6", "label": false}', Reason.DUPLICATE_LABEL),  # the first stands
    ]


def test_every_reason_code_reaches_the_deadletter_topic_with_its_payload_and_source(
        stack_settings: Settings, tmp_path: Path) -> None:
    s = replace(stack_settings, topic_prefix=f"dead{uuid.uuid4().hex[:8]}", max_event_bytes=MAX_BYTES)
    admin.ensure_topics(s, topic_specs(s))
    worker = Worker(s, tmp_path, spec_text=SPEC)
    worker.start()
    s = worker.settings
    base, _ = next(builtin("agrawal-drift", seed=3))
    records = crafted(base["data"])
    producer = KafkaProducer(bootstrap_servers=s.kafka_bootstrap, acks="all")
    try:
        sent = [producer.send(s.topic(topic), value=value, key=b"crafted").get(timeout=30) for topic, value, _ in records]
        expected = [(r, m) for (_, value, r), m in zip(records, sent, strict=True) if r is not None]
        # a label waits for its event until the join's clock (event time) passes the grace (60 s),
        # and the join looks every 200 records: move every partition's clock on with valid events
        # two minutes later (no labels), until the label's dead letter is written
        for round_ in range(30):
            if end_offsets(s, "deadletter") >= len(expected):
                break
            later = time.time() + 120
            for n in range(200):
                tail = {"event_id": f"tail-{round_}-{n}", "ts": later, "data": base["data"]}
                producer.send(s.topic("raw"), value=orjson.dumps(tail))
            producer.flush()
            time.sleep(1)
        letters = [orjson.loads(r.value) for r in read_all(s, "deadletter", len(expected))]
    finally:
        producer.close()
        worker.stop()

    assert Counter(letter["reason"] for letter in letters) == Counter(r.value for r, _ in expected)
    by_source = {(letter["source_topic"], letter["partition"], letter["offset"]): letter for letter in letters}
    for (topic, value, reason), where in zip(records, sent, strict=True):
        if reason is None:
            continue
        letter = by_source[(where.topic, where.partition, where.offset)]  # named by the user's record
        assert letter["reason"] == reason.value, (value, letter)
        payload = letter["payload"]
        original = base64.b64decode(payload) if letter.get("payload_encoding") == "base64" else payload.encode()
        assert original == value
        assert letter["detail"]
