"""`driftline produce SOURCE`: raw events (and, later, their labels) to Kafka with kafka-python."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
from kafka.errors import KafkaError

from streams.errors import EnvironmentProblem
from streams.kafka import admin, clients
from streams.kafka.sources import open_source
from streams.settings import Settings


@dataclass(frozen=True)
class ProduceOptions:
    source: str
    limit: int | None = None
    rate: float | None = None  # events per second; None = as fast as possible
    feedback_delay: int = 0  # in events
    feedback_fraction: float = 1.0
    seed: int = 42
    drift_at: int = 10_000


def produce(settings: Settings, opts: ProduceOptions, progress: Callable[[int], None] = lambda _: None) -> tuple[int, int]:
    """Send events and their feedback; return (events, labels) sent."""
    import random

    items = open_source(opts.source, seed=opts.seed, drift_at=opts.drift_at)
    admin.require_broker(settings)
    try:
        producer = clients.producer(settings, linger_ms=5)
    except KafkaError as exc:
        raise EnvironmentProblem(f"no Kafka broker answers at {settings.kafka_bootstrap}: {exc}") from None
    rng = random.Random(opts.seed)
    pending: deque[tuple[str, Any]] = deque()
    raw, feedback = settings.topic("raw"), settings.topic("feedback")
    sent = labels = 0
    began = time.monotonic()
    base_ts = time.time()

    def flush_labels(keep: int) -> None:
        nonlocal labels
        while len(pending) > keep:
            event_id, label = pending.popleft()
            value = {"event_id": event_id, "label": label, "ts": time.time()}
            producer.send(feedback, key=event_id.encode(), value=orjson.dumps(value))
            labels += 1

    try:
        for event, label in items:
            if opts.limit is not None and sent >= opts.limit:
                break
            if "ts" in event and opts.source in ("agrawal-drift", "sea-drift", "hyperplane"):
                event["ts"] = base_ts + (time.monotonic() - began)
            key = str(event["entity_id"]).encode() if event.get("entity_id") is not None else None
            producer.send(raw, key=key, value=orjson.dumps(event))
            sent += 1
            if label is not None and rng.random() < opts.feedback_fraction:
                pending.append((str(event["event_id"]), label))
            flush_labels(opts.feedback_delay)
            progress(sent)
            if opts.rate:
                ahead = sent / opts.rate - (time.monotonic() - began)
                if ahead > 0:
                    time.sleep(ahead)
        flush_labels(0)
        producer.flush()
    finally:
        producer.close()
    return sent, labels
