"""features + feedback + labels → examples (+ deadletter): match each label to its scored event.

``features`` is keyed by event id by our own producer, and the contract has users key their
feedback by event id too: with Kafka's default partitioner, a label lands on its event's
partition, and the same partition's joiner meets them. So the join reads the users' ``feedback``
itself: it decodes each label and checks its type (a dead letter if it does not fit), joins the
labels already on their event's partition, and sends on to the internal ``labels`` topic, keyed by
the event id, only those a client put on another partition (its partitioner is not Kafka's
default; counted in ``driftline_labels_rekeyed_total``). A label took two hops before (feedback →
labels → join): every label was re-keyed, though nearly all were on their partition already.
Where a worker runs the feedback agent without the join (the agents split across processes), that
agent re-keys every label, as before, and the join reads ``labels``. Joined examples go, in
order, to the one-partition ``examples`` topic for the single trainer.

A partition's joiner lives in memory, with the next offset of each topic it lacks. It is rebuilt
from the topics (:mod:`streams.state.join_state`) whenever this worker holds none for the partition (a
start) or is handed a record past that offset (others read the partition in between): a label
whose event was scored before a crash still meets it. Records below it are in the joiner already
and are skipped (counted in ``driftline_duplicates_total{stage="join"}``). A label re-read after a
crash may be joined twice; the trainer learns an event once.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import replace
from typing import Any

import orjson

from agents.runtime import Runtime
from schemas import DeadLetter, Reason, Rejected, encode
from streams.core.example import Example
from streams.core.join import SOURCE_HEADER, DuplicateLabel, Joiner, source_of, step
from streams.state.join_state import Rekey, apply, rebuild
from streams.worker import metrics
from streams.worker.outbox import Outbox

log = logging.getLogger(__name__)

EXPIRE_EVERY = 200  # events between expiry sweeps of every partition's joiner


def example_bytes(example: Example) -> bytes:
    return orjson.dumps({"event_id": example.event_id, "x": example.x, "y": example.y, "ts": example.ts,
                         "served": example.served, "served_version": example.served_version})


def register(rt: Runtime, feedback: bool = True) -> None:
    """The join; ``feedback``: it reads the users' feedback itself (the feedback agent runs in this
    worker too), else only what the feedback agent re-keyed to ``labels``."""
    timer = metrics.PROCESSING.labels("join")
    joined = metrics.JOINS.labels("joined")
    skipped = metrics.DUPLICATES.labels("join")  # records read again that the joiner holds already
    examples_topic = rt.settings.topic("examples")
    joiners: dict[int, Joiner] = {}
    features_topic = rt.settings.topic("features")
    feedback_topic = rt.settings.topic("feedback")
    labels_topic = rt.settings.topic("labels")
    kinds = {features_topic: "features", labels_topic: "labels"} | ({feedback_topic: "feedback"} if feedback else {})
    source = rt.app.topic(*kinds, key_type=bytes, value_type=bytes, allow_empty=True)
    partitions, max_bytes = rt.settings.partitions, rt.settings.max_event_bytes

    nexts: dict[tuple[str, int], int] = {}  # by source partition: the next offset its joiner lacks
    parked: dict[int, Joiner] = {}  # joiners of partitions taken away; back in use if they return

    @rt.app.on_partitions_revoked.connect
    async def park(app: Any, revoked: Any, **_: Any) -> None:
        """Another worker may join these now: stop expiring their labels here. A partition that
        comes back goes on with its joiner unless it was read further elsewhere in between."""
        for tp in revoked:
            if tp.topic == features_topic and tp.partition in joiners:
                parked[tp.partition] = joiners.pop(tp.partition)

    async def placed(out: Outbox, partition: int, topic: str, offset: int) -> Joiner | None:
        """The partition's joiner if the record at ``offset`` is to be applied to it; None if the
        joiner holds it already. Rebuilt from the topics when this worker holds none for the
        partition (a start) or records before this one were read elsewhere."""
        j = joiners.get(partition)
        if j is None and partition in parked:
            j = joiners[partition] = parked.pop(partition)
        action = step(nexts.get((topic, partition)) if j is not None else None, offset)
        if action == "rebuild":
            held = {name: upto for (name, p), upto in nexts.items() if p == partition and name != topic}
            done = await asyncio.to_thread(rebuild, rt.settings, rt.spec, partition, (topic, offset), held, feedback=feedback)
            log.info("join state of partition %d rebuilt from the topics: %d events waiting, %d early labels, "
                     "%d outcomes written again", partition, len(done.joiner.events), len(done.joiner.early), len(done.redo))
            j = joiners[partition] = done.joiner
            for name, upto in done.nexts.items():
                nexts[(name, partition)] = upto
            for record, outcome in done.redo:
                await written(out, outcome, record.topic, record.partition, record.offset, record.key, record.headers,
                              record.value, record.timestamp / 1000.0)
            action = step(nexts[(topic, partition)], offset)
        if action == "skip":
            skipped.inc()
            return None
        nexts[(topic, partition)] = offset + 1
        return j

    async def written(out: Outbox, outcome: Any, topic: str, partition: int, offset: int, key: bytes | None,
                      headers: Any, value: bytes | None, timestamp: float | None) -> None:
        """An outcome of the join to its topic: the example; a user's label on another partition
        than its event's, re-keyed; or the dead letter of a record that does not decode (on an
        internal topic, not one of ours: someone else wrote here) or a label of the wrong type."""
        if isinstance(outcome, DuplicateLabel):  # named against the user's own feedback record
            where = source_of(headers, feedback_topic, (topic, partition, offset)) if topic == labels_topic else (topic, partition, offset)
            letter = DeadLetter.for_bytes(Reason.DUPLICATE_LABEL, f"a second label for event {outcome.event_id!r}: "
                                          "the first one stands", outcome.label.raw, source_topic=where[0],
                                          partition=where[1], offset=where[2], ts=rt.scorer.clock())
            await rt.send("deadletter", encode(letter), key=key)
            metrics.DEADLETTERS.labels(Reason.DUPLICATE_LABEL.value).inc()
        elif isinstance(outcome, Rekey):  # the user's record time travels as the label's own; its place in a header
            await out.add(labels_topic, value, outcome.event_id.encode(), timestamp_ms=int(timestamp * 1000) if timestamp else None,
                          headers=[(SOURCE_HEADER, b"%d:%d" % (partition, offset))])
            metrics.LABELS_REKEYED.inc()
        elif isinstance(outcome, Rejected):
            letter = outcome.dead_letter
            if topic == labels_topic:
                where = source_of(headers, feedback_topic, (topic, partition, offset))
                letter = replace(letter, source_topic=where[0], partition=where[1], offset=where[2])
            await rt.send("deadletter", encode(letter), key=key)
            metrics.DEADLETTERS.labels(outcome.dead_letter.reason.value).inc()
        else:
            await out.add(examples_topic, example_bytes(outcome), outcome.event_id.encode(), partition=0)
            joined.inc()

    @rt.app.agent(source, name="join")
    async def join(stream: Any) -> None:
        out = rt.outbox()
        seen = 0
        async for events in stream.take_events(rt.settings.batch_max, within=rt.settings.batch_wait):
            began = time.perf_counter()
            for event in events:
                m = event.message
                j = await placed(out, m.partition, m.topic, m.offset)
                if j is None:
                    continue
                outcome = apply(j, rt.spec, kinds[m.topic], event.value, m.timestamp, (m.topic, m.partition, m.offset),
                                m.headers, partitions=partitions, max_bytes=max_bytes)
                if outcome is not None:
                    await written(out, outcome, m.topic, m.partition, m.offset, m.key, m.headers, event.value, m.timestamp)
                seen += 1
                if seen % EXPIRE_EVERY == 0:
                    for each in joiners.values():
                        await _expire(rt, each)
            await out.send()
            metrics.observe_batch(timer, (time.perf_counter() - began) / len(events), len(events))


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
