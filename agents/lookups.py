"""Reference topics → the scorer's lookup tables: every worker reads every partition of each
reference topic a spec's lookups name (a global table; the compacted topic is its changelog, so a
restarted worker reads it back whole), and goes on following it: an update is in the table within
the fetch wait of being written. Scoring waits until each topic has been read to where it ended
when the worker started, so no event is scored against a table still loading.
"""

from __future__ import annotations

import asyncio
import logging

from aiokafka import ConsumerRecord

from agents.runtime import Runtime
from streams.core.lookup import version_of
from streams.kafka import admin, clients
from streams.kafka.topics import TopicSpec
from streams.worker import metrics

log = logging.getLogger(__name__)

def register(rt: Runtime) -> asyncio.Event:
    """Follow the spec's reference topics; the event returned is set once each was read to its end."""
    ready = asyncio.Event()
    topics = sorted({lk.topic for lk in rt.spec.lookups})
    if not topics:
        ready.set()
        return ready
    tables = rt.scorer.lookups

    def take(record: ConsumerRecord) -> None:
        found = version_of(record.key, record.value, record.partition, record.offset, record.timestamp)
        if isinstance(found, str):
            metrics.REFERENCE_SKIPPED.labels(record.topic, found).inc()
            log.warning("reference record %s:%s@%s left out: %s", record.topic, record.partition, record.offset, found)
            return
        tables.table(record.topic).put(*found)
        metrics.REFERENCE_RECORDS.labels(record.topic).inc()

    @rt.app.task
    async def follow_reference() -> None:
        specs = [TopicSpec(t, 1, (("cleanup.policy", "compact"),), rt.settings.replication_factor) for t in topics]
        # a reference topic not made yet is made, compacted; one made otherwise is read as it is
        await asyncio.to_thread(lambda: admin.ensure_topics(rt.settings, specs, any_partitions=True))
        consumer = clients.aio_consumer(rt.settings, *topics, group_id=None, auto_offset_reset="earliest")
        await consumer.start()
        try:
            assigned = list(consumer.assignment())
            await consumer.seek_to_beginning(*assigned)
            ends = {tp: end for tp, end in (await consumer.end_offsets(assigned)).items() if end > 0}
            if not ends:
                ready.set()
            async for record in consumer:
                take(record)
                if not ready.is_set():
                    tp = next((tp for tp in ends if tp.topic == record.topic and tp.partition == record.partition), None)
                    if tp is not None and record.offset + 1 >= ends[tp]:
                        del ends[tp]
                    if not ends:
                        log.info("reference topics read: %s", ", ".join(f"{t} ({tables.table(t).records} records)" for t in topics))
                        ready.set()
        finally:
            await consumer.stop()

    return ready
