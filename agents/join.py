"""features + labels → examples (+ deadletter): match each label to its scored event.

Both topics are keyed by event id by our own producer and have the same partition count, so a
label and its event meet in the same partition's joiner. Joined examples go, in order, to the
one-partition ``examples`` topic for the single trainer.

A partition's joiner lives in memory and is rebuilt from the topics (:mod:`streams.join_state`)
whenever this worker did not hold it or its reading of the partition jumped (a restart, a
rebalance): a label whose event was scored before a crash still meets it. A label re-read after
a crash may be joined twice; the trainer learns an event once.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import orjson

from schemas import DeadLetter, Reason, Rejected, encode
from streams.core.join import Joiner
from streams.core.trainer import Example
from streams.join_state import apply, rebuild
from agents import metrics
from agents.feedback import SOURCE_HEADER
from agents.runtime import Runtime

log = logging.getLogger(__name__)

EXPIRE_EVERY = 200  # events between expiry sweeps of every partition's joiner


def example_bytes(example: Example) -> bytes:
    return orjson.dumps({"event_id": example.event_id, "x": example.x, "y": example.y, "ts": example.ts,
                         "served": example.served, "served_version": example.served_version})


def source_of(headers: Any, topic: str, where: tuple[str, int | None, int | None]) -> tuple[str, int | None, int | None]:
    """Where the user's feedback record was, from the feedback agent's header; else ``where``."""
    pairs = headers.items() if isinstance(headers, Mapping) else (headers or ())
    for name, value in pairs:
        if name == SOURCE_HEADER:
            partition, _, offset = bytes(value).partition(b":")
            if partition.isdigit() and offset.isdigit():
                return topic, int(partition), int(offset)
    return where


def register(rt: Runtime) -> None:
    timer = metrics.PROCESSING.labels("join")
    joined = metrics.JOINS.labels("joined")
    joiners: dict[int, Joiner] = {}
    features_topic = rt.settings.topic("features")
    feedback_topic = rt.settings.topic("feedback")
    source = rt.app.topic(rt.settings.topic("features"), rt.settings.topic("labels"),
                          key_type=bytes, value_type=bytes, allow_empty=True)

    expected: dict[tuple[str, int], int] = {}  # the next offset of each source partition
    parked: dict[int, Joiner] = {}  # joiners of partitions taken away; back in use if they return unchanged

    @rt.app.on_partitions_revoked.connect
    async def park(app: Any, revoked: Any, **_: Any) -> None:
        """Another worker may join these now: stop expiring their labels here. A partition that
        comes back where this worker left it (a rebalance that kept it) goes on with its joiner;
        one that was read elsewhere in between is rebuilt."""
        for tp in revoked:
            if tp.topic == features_topic and tp.partition in joiners:
                parked[tp.partition] = joiners.pop(tp.partition)

    async def ready(partition: int, topic: str, offset: int) -> Joiner:
        """The partition's joiner; rebuilt from the topics when this worker has none for it (a
        start) or its reading of the partition did not go on from where it left (another worker
        read it in between). Faust resumes a partition new to it at the committed offsets, which
        is where the rebuild stops."""
        if partition in parked and expected.get((topic, partition), offset) == offset:
            joiners[partition] = parked.pop(partition)
        if partition in joiners and expected.get((topic, partition), offset) == offset:
            return joiners[partition]
        parked.pop(partition, None)
        j, starts = await asyncio.to_thread(rebuild, rt.settings, rt.spec, partition)
        log.info("join state of partition %d rebuilt from the topics: %d events waiting, %d early labels",
                 partition, len(j.events), len(j.early))
        joiners[partition] = j
        for name, start in starts.items():
            expected[(name, partition)] = start
        return j

    @rt.app.agent(source, name="join")
    async def join(stream: Any) -> None:
        out = rt.outbox()
        examples_topic = rt.settings.topic("examples")
        seen = 0
        async for events in stream.take_events(rt.settings.batch_max, within=rt.settings.batch_wait):
            began = time.perf_counter()
            for event in events:
                m = event.message
                j = await ready(m.partition, m.topic, m.offset)
                expected[(m.topic, m.partition)] = m.offset + 1
                is_features = m.topic == features_topic
                outcome = apply(j, rt.spec, is_features, event.value, m.timestamp, (m.topic, m.partition, m.offset), m.headers)
                if isinstance(outcome, Rejected):  # not one of ours (someone else wrote here): say so
                    letter = outcome.dead_letter
                    if not is_features:
                        topic, partition, offset = source_of(m.headers, feedback_topic, (m.topic, m.partition, m.offset))
                        letter = replace(letter, source_topic=topic, partition=partition, offset=offset)
                    await rt.send("deadletter", encode(letter), key=m.key)
                    metrics.DEADLETTERS.labels(outcome.dead_letter.reason.value).inc()
                    continue
                if outcome is not None:
                    await out.add(examples_topic, example_bytes(outcome), outcome.event_id.encode(), partition=0)
                    joined.inc()
                seen += 1
                if seen % EXPIRE_EVERY == 0:
                    for each in joiners.values():
                        await _expire(rt, each)
            await out.send()
            per_record = (time.perf_counter() - began) / len(events)
            for _ in events:
                timer.observe(per_record)


async def _expire(rt: Runtime, j: Joiner) -> None:
    before = j.counts.expired_events
    for event_id, label in j.expire():
        topic, partition, offset = source_of(label.origin, rt.settings.topic("feedback"), label.where)
        letter = DeadLetter.for_bytes(Reason.UNKNOWN_EVENT, f"feedback for event {event_id!r}, never seen or already expired",
                                      label.raw, source_topic=topic, partition=partition, offset=offset, ts=rt.scorer.clock())
        await rt.send("deadletter", encode(letter), key=event_id.encode())
        metrics.DEADLETTERS.labels(Reason.UNKNOWN_EVENT.value).inc()
        metrics.JOINS.labels("unknown").inc()
    metrics.JOINS.labels("expired").inc(j.counts.expired_events - before)
