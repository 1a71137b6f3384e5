"""Recorded topics for replay: the raw and feedback records of a range, merged in time order.

``--from`` / ``--to`` are offsets (the same for every partition) or ISO-8601 times (each
partition's first record at or after them). Records are merged by their Kafka timestamps, ties
broken by topic (raw first), partition and offset.
"""

from __future__ import annotations

from datetime import datetime, timezone

import orjson
from kafka import KafkaConsumer, TopicPartition

from schemas import Accepted, decode
from streams.core.replay import Recorded, Schedule, Scheduled
from streams.errors import UsageError
from streams.kafka import admin, clients
from streams.kafka.reader import read_topic
from streams.settings import Settings


def parse_bound(text: str | None) -> int | float | None:
    """An offset (int), a time (epoch seconds, float), or None. Bad input is a UsageError."""
    if text is None:
        return None
    if text.isdigit():
        return int(text)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(f"--from/--to take an offset or an ISO-8601 time: {text!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()


def _offsets(consumer: KafkaConsumer, tps: list[TopicPartition], bound: int | float | None, default: dict[TopicPartition, int]) -> dict[TopicPartition, int]:
    if bound is None:
        return default
    if isinstance(bound, int):
        return {tp: bound for tp in tps}
    found = consumer.offsets_for_times({tp: int(bound * 1000) for tp in tps})
    ends = consumer.end_offsets(tps)
    return {tp: (found[tp].offset if found.get(tp) is not None else ends[tp]) for tp in tps}


def read_range(settings: Settings, start: str | None, end: str | None, timeout_s: float = 30.0) -> list[Recorded]:
    """The raw and feedback records between ``start`` and ``end``, in time order."""
    lo, hi = parse_bound(start), parse_bound(end)
    admin.require_broker(settings)
    consumer = clients.consumer(settings)
    try:
        tps = []
        for name in ("raw", "feedback"):
            topic = settings.topic(name)
            partitions = consumer.partitions_for_topic(topic)
            if not partitions:
                if name == "raw":
                    raise UsageError(f"no topic {topic} at {settings.kafka_bootstrap}")
                continue
            tps += [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(tps)
        first = _offsets(consumer, tps, lo, consumer.beginning_offsets(tps))
        ends = consumer.end_offsets(tps)
        last = _offsets(consumer, tps, hi, ends)
        for tp in tps:
            consumer.seek(tp, first[tp])
        out: list[tuple[tuple[int, int, int, int], Recorded]] = []
        polls = 0
        while any(consumer.position(tp) < min(last[tp], ends[tp]) for tp in tps) and polls < timeout_s * 5:
            polls += 1
            for tp, records in consumer.poll(timeout_ms=200).items():
                kind = "raw" if tp.topic == settings.topic("raw") else "feedback"
                for r in records:
                    if r.offset < last[tp] and r.value is not None:
                        order = (r.timestamp, 0 if kind == "raw" else 1, tp.partition, r.offset)
                        out.append((order, Recorded(kind, r.value, tp.topic, tp.partition, r.offset, r.timestamp / 1000)))
        out.sort(key=lambda pair: pair[0])
        return [record for _, record in out]
    finally:
        consumer.close()


def read_schedule(settings: Settings, timeout_s: float = 60.0) -> Schedule:
    """How the live worker ran: its scorer's order and served versions (the ``features`` topic,
    each record naming its raw record and scored position), its trainer's order (``examples``)."""
    scored: list[Scheduled] = []
    for r in read_topic(settings, "features", timeout_s=timeout_s):
        outcome = decode("features", r.value)
        if not isinstance(outcome, Accepted):
            continue
        fv = outcome.value
        if fv.scored_position is None or fv.source_partition is None or fv.source_offset is None:
            raise UsageError(f"{settings.topic('features')} offset {r.offset} does not name its scored position "
                             "(recorded by an older driftline): replay it without --as-live")
        scored.append(Scheduled(fv.source_partition, fv.source_offset, fv.scored_position,
                                fv.model_version, fv.prediction, fv.lookups))
    scored.sort(key=lambda s: s.position)
    if len({s.position for s in scored}) < len(scored):
        raise UsageError(f"{settings.topic('features')} was written by more than one scorer run (positions repeat): "
                         "--as-live reproduces one worker's uninterrupted run")
    learned = [orjson.loads(r.value)["event_id"] for r in read_topic(settings, "examples", timeout_s=timeout_s)]
    return Schedule(scored, learned)
