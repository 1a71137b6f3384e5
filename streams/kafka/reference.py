"""The reference topics a spec's lookups read, read whole from the broker into lookup tables: what
a replay enriches its events from, each as of the event's time."""

from __future__ import annotations

import time

from kafka import TopicPartition

from streams.core.lookup import Lookups, version_of
from streams.core.spec import PipelineSpec
from streams.errors import EnvironmentProblem, UsageError
from streams.kafka import clients
from streams.settings import Settings


def read_reference(settings: Settings, spec: PipelineSpec, timeout_s: float = 120.0) -> Lookups:
    """Every version each reference topic holds (a compacted topic keeps the latest per key, and
    any not compacted yet): a replayed event sees the version valid at its time, or a miss."""
    lookups = Lookups()
    topics = sorted({lk.topic for lk in spec.lookups})
    if not topics:
        return lookups
    consumer = clients.consumer(settings)
    try:
        tps = []
        for topic in topics:
            partitions = consumer.partitions_for_topic(topic)
            if not partitions:
                raise UsageError(f"the spec's lookups read {topic}, and the broker has no such topic")
            tps += [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        ends = {tp: end for tp, end in consumer.end_offsets(tps).items() if end > 0}
        deadline = time.monotonic() + timeout_s
        while ends and time.monotonic() < deadline:
            for tp, records in consumer.poll(timeout_ms=500).items():
                for r in records:
                    found = version_of(r.key, r.value, r.partition, r.offset, r.timestamp)
                    if not isinstance(found, str):
                        lookups.table(r.topic).put(*found)
                if tp in ends and consumer.position(tp) >= ends[tp]:
                    del ends[tp]
        if ends:
            raise EnvironmentProblem(f"the reference topics were not read to their end within {timeout_s:.0f} s")
        return lookups
    finally:
        consumer.close()
