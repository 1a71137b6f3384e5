"""Reading one topic whole: every partition from its beginning to its end as the read starts."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from kafka import KafkaConsumer, TopicPartition

from streams.errors import UsageError
from streams.settings import Settings


def read_topic(settings: Settings, name: str, *, timeout_s: float = 30.0, max_bytes: int | None = None,
               missing_ok: bool = False) -> Iterator[Any]:
    """Yield the records of ``<prefix>.<name>``, partition by partition in offset order.

    A topic that does not exist is bad usage (a clear message), or nothing with ``missing_ok``."""
    topic = settings.topic(name)
    sizes = {"max_partition_fetch_bytes": max_bytes, "fetch_max_bytes": max_bytes} if max_bytes else {}
    consumer = KafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, enable_auto_commit=False, **sizes)
    try:
        partitions = consumer.partitions_for_topic(topic)
        if not partitions:
            if missing_ok:
                return
            raise UsageError(f"no topic {topic} at {settings.kafka_bootstrap}")
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        ends = consumer.end_offsets(tps)
        polls = 0
        while any(consumer.position(tp) < ends[tp] for tp in tps) and polls < timeout_s * 5:
            polls += 1
            for records in consumer.poll(timeout_ms=200).values():
                yield from (r for r in records if r.offset < ends[TopicPartition(r.topic, r.partition)])
    finally:
        consumer.close()
