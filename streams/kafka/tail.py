"""The last records of a topic: read back from each partition's end, without a consumer group."""

from __future__ import annotations

import time
from collections.abc import Mapping

from kafka import KafkaConsumer, TopicPartition
from kafka.consumer.fetcher import ConsumerRecord


def tail(consumer: KafkaConsumer, ends: Mapping[TopicPartition, int], per_partition: int,
         timeout_s: float) -> list[ConsumerRecord]:
    """Up to ``per_partition`` records before each partition's end offset in ``ends`` (what a
    partition holds then: later records are left), in partition then offset order; what arrived
    within ``timeout_s``."""
    tps = [tp for tp, end in ends.items() if end > 0]
    if not tps:
        return []
    consumer.assign(tps)
    starts = consumer.beginning_offsets(tps, timeout_ms=int(timeout_s * 1000))
    for tp in tps:
        consumer.seek(tp, max(starts[tp], ends[tp] - per_partition))
    found: list[ConsumerRecord] = []
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and any(consumer.position(tp) < ends[tp] for tp in tps):
        for records in consumer.poll(timeout_ms=200).values():
            found.extend(r for r in records if r.offset < ends[TopicPartition(r.topic, r.partition)])
    found.sort(key=lambda r: (r.partition, r.offset))
    return found
