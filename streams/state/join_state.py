"""The join's state for one partition, rebuilt from the topics after a restart or a rebalance.

The join keeps scored events waiting for their labels, and labels that came first, in memory.
What a worker had in memory when it died is still in Kafka: the partition's ``features`` and
``labels`` records. Reading the last ``horizon + early grace`` of them through a fresh
:class:`Joiner`, up to where Faust hands this worker the partition's records, gives back every
event still waiting and every label still early; the records from there on are applied by the
agent as they come. Where Faust starts a topic's partition is known without asking Faust: the
record it hands now, for its own topic; for the other, the group's committed offset (or the
partition's beginning, Faust resetting to the earliest), or further where this worker's agent had
read it already.

An example both of whose records are below the group's committed offsets was written before
those offsets were committed (the worker that read both met them), so it is dropped; any other
example, and the dead letter of a record at or above them, is written again (a label joined twice
is learned once: the trainer knows the events it learned). On a start, Faust hands each topic from
its commit, so nothing is written again and nothing is read twice: a worker starting on a backlog
used to read the backlog's features and labels to the topics' ends here (seconds, with the join
waiting), write again every example they made, then skip each record as Faust handed it. Nothing
is written on the hot path for it; a restart or a rebalance pays one read of that window.
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson
from kafka import KafkaConsumer, TopicPartition

from schemas import Accepted, DeadLetter, Reason, Rejected, decode, quick_features
from streams.core.example import Example
from streams.core.join import Joiner, Label, Scored, source_of
from streams.core.labels import coerce_label
from streams.core.spec import PipelineSpec
from streams.kafka import clients
from streams.kafka.partitioner import key_hash
from streams.settings import Settings


def joiner_for(spec: PipelineSpec) -> Joiner:
    return Joiner(horizon=spec.join_horizon, early_grace=spec.join_early_grace)


@dataclass
class Rebuilt:
    """A partition's joiner as the topics left it, and what to do with it.

    ``joiner`` holds every ``features`` and ``labels`` record of the partition below ``nexts``
    (by topic name: where Faust hands each from): the agent skips what it is handed below them
    and applies what comes at or after. ``redo`` are the outcomes of records at or above the
    group's committed offsets (an example, or a record that does not decode, with its record):
    whoever read them before may have died before writing them, so they are written again.
    """

    joiner: Joiner
    nexts: dict[str, int]
    redo: list[tuple[Any, Any]] = field(default_factory=list)


def rebuild(settings: Settings, spec: PipelineSpec, partition: int, handed: tuple[str, int],
            held: Mapping[str, int] | None = None, *, feedback: bool = False, timeout_s: float = 120.0) -> Rebuilt:
    """Partition ``partition``'s joiner from its ``features`` and ``labels`` records (and its
    ``feedback`` records, when the join reads them itself): the last ``horizon + early grace`` of
    them, up to where Faust hands them from. ``handed`` is the record Faust hands now (its topic
    and offset); ``held``, by topic, the next offset this worker's agent lacks where it read the
    partition before (it is handed nothing below it again unread)."""
    names = ("features", "labels", "feedback") if feedback else ("features", "labels")
    kinds = {settings.topic(name): name for name in names}
    topics = tuple(kinds)
    tps = [TopicPartition(t, partition) for t in topics]
    # the group's committed offsets, asked without joining the group; the records are read by a
    # consumer with no group at all (one with a group id looks for the coordinator on every poll,
    # and waits on it while the group rebalances)
    group = clients.consumer(settings, group_id=f"{settings.topic_prefix}-worker")
    try:
        committed = {tp: group.committed(tp, timeout_ms=int(timeout_s * 1000)) for tp in tps}
    finally:
        group.close()
    consumer = clients.consumer(settings)
    try:
        begin = consumer.beginning_offsets(tps, timeout_ms=int(timeout_s * 1000))
        done = {tp: max(begin[tp], committed[tp] or 0) for tp in tps}  # outcomes below these were written
        upto = {tp: handed[1] if tp.topic == handed[0] else max(done[tp], (held or {}).get(tp.topic, 0)) for tp in tps}
        since_ms = int((time.time() - spec.join_horizon - spec.join_early_grace) * 1000)
        found = consumer.offsets_for_times({tp: max(0, since_ms) for tp in tps}, timeout_ms=int(timeout_s * 1000))
        start = {tp: min(done[tp], found[tp].offset if found.get(tp) else done[tp]) for tp in tps}
        records = {tp: _read(consumer, tp, start[tp], upto[tp], timeout_s) for tp in tps}
    finally:
        consumer.close()
    out = Rebuilt(joiner_for(spec), {tp.topic: upto[tp] for tp in tps})
    written = {tp.topic: done[tp] for tp in tps}
    # an example was written before the commits only if both its records were below them: the
    # worker that read both met them. One read on one side only (the topics are read at their own
    # pace) waited in that worker's memory, which died: its example is written again.
    offsets: dict[str, dict[str, int]] = {t: {} for t in topics}
    merged = heapq.merge(*records.values(), key=lambda r: r.timestamp)  # roughly the order they were joined in
    for r in merged:
        outcome = apply(out.joiner, spec, kinds[r.topic], r.value, r.timestamp / 1000.0,
                        (r.topic, r.partition, r.offset), r.headers, partitions=settings.partitions,
                        max_bytes=settings.max_event_bytes)
        if isinstance(outcome, Example):
            offsets[r.topic][outcome.event_id] = r.offset
            if any(offsets[t].get(outcome.event_id, -1) >= written[t] for t in topics):
                out.redo.append((r, outcome))
        elif outcome is not None:
            if r.offset >= written[r.topic]:
                out.redo.append((r, outcome))
        else:
            event_id = _event_id(r.value)
            if event_id is not None:
                offsets[r.topic][event_id] = r.offset
    return out


def _event_id(value: bytes | None) -> str | None:
    try:
        found = orjson.loads(value or b"null")
    except orjson.JSONDecodeError:
        return None
    event_id = found.get("event_id") if isinstance(found, dict) else None
    return event_id if isinstance(event_id, str) else None


@dataclass(frozen=True)
class Rekey:
    """A user's feedback record on another partition than its event id's (its client's
    partitioner is not Kafka's default): to send on to the ``labels`` topic, keyed by the event
    id, where the event's partition joins it."""

    event_id: str


def apply(j: Joiner, spec: PipelineSpec, kind: str, value: bytes, record_ts: float | None,
          where: tuple[str, int, int], headers: Any, *, partitions: int = 0, max_bytes: int | None = None) -> Any:
    """One record into the joiner, by its topic's ``kind``: ``features``, ``labels`` (feedback the
    feedback agent re-keyed) or ``feedback`` (the user's own record, read by the join itself).
    Returns the example it completes, a :class:`DuplicateLabel`, or None; a record that does not
    decode, or a label of the wrong type, its :class:`Rejected` outcome (the caller dead-letters
    it); a feedback record on another partition than its event's (of ``partitions``), :class:`Rekey`."""
    if kind == "features":  # the scorer's own records: the quick decode, or the careful one when unsure
        fv = quick_features(value)
        if fv is not None:
            return j.scored(fv.event_id, Scored(fv.features, fv.ts, fv.prediction, fv.model_version))
    outcome = decode("features" if kind == "features" else "feedback", value, source_topic=where[0],
                     partition=where[1], offset=where[2], record_ts=record_ts,
                     **({"max_bytes": max_bytes} if kind == "feedback" and max_bytes else {}))
    if not isinstance(outcome, Accepted):
        return outcome
    if kind == "features":
        fv = outcome.value
        return j.scored(fv.event_id, Scored(fv.features, fv.ts, fv.prediction, fv.model_version))
    fb = outcome.value  # a label record carries the user's record time
    label = coerce_label(spec.task, fb.label)
    if kind == "feedback":
        if label is None:
            return Rejected(DeadLetter.for_bytes(Reason.WRONG_TYPE, f"label {fb.label!r} does not fit a {spec.task} task",
                                                 value, source_topic=where[0], partition=where[1], offset=where[2],
                                                 ts=time.time()))
        if key_hash(fb.event_id.encode()) % partitions != where[1]:
            return Rekey(fb.event_id)
        # the user's own record: its headers are not ours; it is the source its re-keyed copy would name
        return j.label(fb.event_id, Label(label, fb.ts or record_ts or 0.0, value, where, None, ("feedback", where[1], where[2])))
    return j.label(fb.event_id, Label(label, fb.ts or record_ts or 0.0, value, where, headers,
                                      source=source_of(headers, "feedback", where)))


def _read(consumer: KafkaConsumer, tp: TopicPartition, start: int, end: int, timeout_s: float) -> list[Any]:
    if start >= end:
        return []
    consumer.assign([tp])
    consumer.seek(tp, start)
    out: list[Any] = []
    deadline = time.monotonic() + timeout_s
    while consumer.position(tp) < end:
        if time.monotonic() > deadline:
            raise TimeoutError(f"rebuilding the join: {tp.topic}[{tp.partition}] not read to offset {end} in {timeout_s:.0f}s")
        for batch in consumer.poll(timeout_ms=200).values():
            out.extend(r for r in batch if r.offset < end)
    return out
