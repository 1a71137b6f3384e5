"""``driftline demo``: for now, start the stack and show a produce/consume round trip on ``raw``.

Later issues grow it into the main job (worker, drift, a new model taking over).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

import orjson
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from schemas import Accepted, decode
from streams import stack
from streams.errors import EnvironmentProblem
from streams.settings import Settings


def run_demo(settings: Settings, *, events: int, keep: bool, say: Callable[[str], None]) -> int:
    """Produce ``events`` raw events, read them back, decode each; 0 when all came back.

    Stops the stack afterwards if it started it, unless ``keep``.
    """
    report = stack.up(settings, say=say)
    say(f"stack up: kafka {report.bootstrap}, redis {report.redis_url} ({report.seconds:.1f}s)")
    try:
        return _round_trip(settings, events, say)
    finally:
        if report.started and not keep:
            stack.down(settings, say=say)


def _round_trip(settings: Settings, events: int, say: Callable[[str], None]) -> int:
    topic = settings.topic("raw")
    run = uuid.uuid4().hex[:8]
    producer = KafkaProducer(bootstrap_servers=settings.kafka_bootstrap.split(","), acks="all")
    sent: dict[str, tuple[int, int]] = {}
    began = time.monotonic()
    try:
        for i in range(events):
            value = {
                "event_id": f"demo-{run}-{i}",
                "entity_id": f"c-{i % 5}",
                "ts": time.time(),
                "data": {"amount": round(10 + i * 1.5, 2), "country": ["FR", "DE", "US"][i % 3]},
            }
            meta = producer.send(topic, key=value["entity_id"].encode(), value=orjson.dumps(value)).get(timeout=30)
            sent[value["event_id"]] = (meta.partition, meta.offset)
        producer.flush()
    finally:
        producer.close()
    say(f"produced {events} events to {topic}")
    received = _read_back(settings, topic, sent)
    elapsed = time.monotonic() - began
    for event_id, (partition, offset) in sorted(sent.items(), key=lambda kv: kv[1]):
        print(f"{topic}[{partition}]@{offset}  {event_id}  {'ok' if event_id in received else 'MISSING'}")
    print(f"round trip: {len(received)}/{events} events back through Kafka in {elapsed:.2f}s")
    return 0 if len(received) == events else 1


def _read_back(settings: Settings, topic: str, sent: dict[str, tuple[int, int]]) -> set[str]:
    consumer = KafkaConsumer(bootstrap_servers=settings.kafka_bootstrap.split(","), enable_auto_commit=False)
    try:
        wanted: dict[TopicPartition, tuple[int, int]] = {}
        for partition, offset in sent.values():
            tp = TopicPartition(topic, partition)
            low, high = wanted.get(tp, (offset, offset))
            wanted[tp] = (min(low, offset), max(high, offset))
        consumer.assign(list(wanted))
        for tp, (low, _) in wanted.items():
            consumer.seek(tp, low)
        received: set[str] = set()
        deadline = time.monotonic() + 30
        while len(received) < len(sent) and time.monotonic() < deadline:
            for records in consumer.poll(timeout_ms=500).values():
                for record in records:
                    outcome = decode("raw", record.value, max_bytes=settings.max_event_bytes)
                    if isinstance(outcome, Accepted) and outcome.value.event_id in sent:
                        received.add(outcome.value.event_id)
        if len(received) < len(sent):
            raise EnvironmentProblem(f"only {len(received)} of {len(sent)} events came back from {topic}")
        return received
    finally:
        consumer.close()
