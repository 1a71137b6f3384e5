"""Reading one topic whole: every partition from its beginning to its end as the read starts."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from kafka import TopicPartition

from streams.errors import EnvironmentProblem, UsageError
from streams.kafka import clients
from streams.settings import Settings


class IncompleteRead(EnvironmentProblem):
    """The broker did not hand over a whole topic in time."""


def read_topic(settings: Settings, name: str, *, timeout_s: float = 30.0, max_bytes: int | None = None,
               missing_ok: bool = False) -> Iterator[Any]:
    """Yield the records of ``<prefix>.<name>``, partition by partition in offset order.

    A topic that does not exist is bad usage (a clear message), or nothing with ``missing_ok``.
    A read that does not reach the end within ``timeout_s`` raises :class:`IncompleteRead`: a
    partial topic is never passed off as the whole."""
    topic = settings.topic(name)
    sizes = {"max_partition_fetch_bytes": max_bytes, "fetch_max_bytes": max_bytes} if max_bytes else {}
    consumer = clients.consumer(settings, **sizes)
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
        short = {tp.partition: (consumer.position(tp), ends[tp]) for tp in tps if consumer.position(tp) < ends[tp]}
        if short:
            raise IncompleteRead(f"{topic} not read to its end within {timeout_s:g} s at {settings.kafka_bootstrap} "
                                 f"(partition: (reached, end) {short})")
    finally:
        consumer.close()
