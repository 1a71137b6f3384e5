"""raw → features + predictions (+ deadletter): validate, featurize, score, watch data drift.

Duplicates are found in Redis (:mod:`streams.state.seen_store`), one call per batch, so the memory of
recent event ids survives a restart and is shared by every worker.

One hop for the hot path, in batches (``stream.take_events``): the features record and the
prediction leave together, and Faust acks a batch's records only after the agent has handed all
their outcomes to the producer, which it flushes before committing any offset.

Per-entity state lives with the partition an entity's events come on, so those events must be
keyed by the entity id. One that is not (unkeyed, or keyed by something else) is sent on,
unchanged and with its record time, to the internal ``rekeyed`` topic keyed by its entity id,
and scored from there: one extra hop for those events only. The copy names its raw record (a
header), and its dead letters, features and entity state name that record, so a replay of the
raw topic on the live schedule finds it. (The contract allows an unkeyed
raw event; a client whose partitioner differs from Kafka's default still keeps each entity on
one partition, and its events are trusted.)

Per-entity state is a changelogged Faust table, written once per entity per batch: the store is
updated directly and the changelog record goes straight into the producer's batches (the table's
own ``send_soon`` path sends one record at a time). Faust restores the table from its changelog
when a partition is assigned, so entity aggregates survive a crash; an entity idle past the
spec's TTL is dropped from the store (with a tombstone) to bound memory.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from typing import Any

import orjson

from agents import lookups
from agents.runtime import Runtime
from schemas import DeadLetter, encode
from streams.core.features import Unscorable, expired_run
from streams.core.levels import DeadLetterRate
from streams.core.scoring import Where
from streams.kafka.partitioner import key_hash
from streams.state.redis_trouble import refuses_writes, trouble
from streams.state.seen_store import SeenStore
from streams.worker import metrics

ORIGIN = "driftline-origin"  # the header a re-keyed copy carries: its raw record's "partition:offset"
PROBE_S = 5.0  # seconds between writes asking Redis whether it takes the event ids again


def register(rt: Runtime) -> None:
    timer = metrics.PROCESSING.labels("validate")
    predicted = metrics.EVENTS.labels("predictions")
    latency = metrics.LATENCY
    scorer, spec, send = rt.scorer, rt.spec, rt.send
    # keys and values as bytes (the app's raw serializer); state is JSON
    entity_state = rt.app.Table("entity-state", key_type=bytes, value_type=bytes,
                                partitions=rt.settings.partitions)
    raw_name = rt.settings.topic("raw")
    # raw events, and those of them re-keyed by entity id: the same partition count, one state
    source = rt.app.topic(raw_name, rt.settings.topic("rekeyed"), key_type=bytes, value_type=bytes, allow_empty=True)
    rekeyed = metrics.REKEYED
    seen = SeenStore(rt.registry.client, rt.settings.topic_prefix, spec.dedup_horizon)
    features_topic, predictions_topic = rt.settings.topic("features"), rt.settings.topic("predictions")
    said = [True]  # whether the last alert said Redis takes the event ids (none said yet: it does)
    tables_loaded = lookups.register(rt)  # the spec's reference tables, read before any event is scored
    dead_rate = DeadLetterRate(spec.deadletter_rate, spec.deadletter_window)

    async def say() -> None:
        """An alert when the memory of event ids went away or came back since the last one."""
        if seen.available != said[0]:
            said[0] = seen.available  # before the await: the probe and the agent say it once
            await dedup_alert(rt, seen.available, seen.error)

    @rt.app.timer(interval=PROBE_S, name="dedup-probe")
    async def probe() -> None:
        """Redis's return is said even when no event comes to find it."""
        if not seen.available:
            await asyncio.to_thread(seen.probe)
            await say()

    @rt.app.agent(source, name="validate")
    async def validate(stream: Any) -> None:
        store = entity_state.data  # Faust's memory store: .data is its dict, in recency order here
        changelog = entity_state.changelog_topic.get_topic_name()
        out = rt.outbox()
        await tables_loaded.wait()
        async for events in stream.take_events(rt.settings.batch_max, within=rt.settings.batch_wait):
            began = time.perf_counter()
            touched: dict[bytes, tuple[int, Any]] = {}
            newest = 0.0
            checked = []
            dead: Counter[str] = Counter()  # this batch's dead letters by reason
            forwarded = 0  # sent round `rekeyed`: their outcome comes when the copy is read
            for event in events:
                message = event.message
                where = Where(message.topic, message.partition, message.offset, message.timestamp)
                if message.topic != raw_name:  # a re-keyed copy: it stands for the user's raw record
                    where = origin(message.headers, where, raw_name)
                outcome = scorer.validate(event.value, where, dedup=False)
                if isinstance(outcome, DeadLetter):
                    await send("deadletter", encode(outcome), key=message.key)
                    metrics.DEADLETTERS.labels(outcome.reason.value).inc()
                    dead[outcome.reason.value] += 1
                    continue
                if spec.keyed and outcome.entity_id is not None and message.topic == raw_name \
                        and message.key != (entity := outcome.entity_id.encode()):
                    await send("rekeyed", event.value, key=entity, timestamp=message.timestamp,
                               headers=[(ORIGIN, f"{message.partition}:{message.offset}".encode())])
                    rekeyed.inc()
                    forwarded += 1
                    continue
                checked.append((event, where, outcome))
            admitted = await asyncio.to_thread(
                seen.admit, [(o.event_id, f"{w.partition}:{w.offset}") for _, w, o in checked]) if checked else []
            await say()
            for (event, where, outcome), new in zip(checked, admitted, strict=True):
                message = event.message
                if not new:  # another record brought this event id within the horizon
                    letter = scorer.duplicate(event.value, where, outcome.event_id)
                    await send("deadletter", encode(letter), key=message.key)
                    metrics.DEADLETTERS.labels(letter.reason.value).inc()
                    dead[letter.reason.value] += 1
                    continue
                key = outcome.entity_id.encode() if outcome.entity_id is not None else None
                state = None
                if key is not None:
                    if key in touched:
                        state = touched[key][1]
                    else:
                        stored = store.data.pop(key, None)  # re-inserted at the end: recency order
                        state = orjson.loads(stored) if stored else None
                try:
                    features, prediction, state, detections = scorer.score(outcome, state, where)
                except Unscorable as problem:  # a feature function raised: its state is as it was
                    if key is not None and state is not None:
                        touched[key] = (message.partition, state)
                    letter = scorer.unscorable(problem, event.value, where)
                    await send("deadletter", encode(letter), key=message.key)
                    metrics.DEADLETTERS.labels(letter.reason.value).inc()
                    dead[letter.reason.value] += 1
                    continue
                if key is not None:
                    touched[key] = (message.partition, state)
                event_key = outcome.event_id.encode()
                hashed = key_hash(event_key)
                await out.add(features_topic, encode(features), event_key, hashed=hashed)
                await out.add(predictions_topic, encode(prediction), event_key, hashed=hashed)
                predicted.inc()
                latency.observe(max(0.0, prediction.scored_at - prediction.ts))
                newest = max(newest, prediction.ts)
                for found in detections:
                    metrics.DRIFT.labels(found.kind).inc()
                    metrics.DRIFT_MERGED.labels(found.kind).inc(found.merged)
                    await rt.drift_alert(found, partition=message.partition, offset=message.offset)
            for key, (partition, state) in touched.items():
                value = orjson.dumps(state)
                store.data[key] = value
                store._key_partition[key] = partition  # so Faust drops it when the partition goes
                await out.add(changelog, value, key, partition=partition)
            if spec.keyed and newest:
                await _sweep(rt, store, changelog, newest, len(events))
            crossed = dead_rate.observe(len(events) - forwarded, dead)
            if crossed is not None:
                await rt.alert(crossed.kind, "info" if crossed.recovered else "warning", raw_name, dead_rate.sentence(crossed),
                               rate=round(crossed.value, 6), threshold=crossed.line, records=crossed.over, **dict(crossed.detail))
            await out.send()
            metrics.observe_batch(timer, (time.perf_counter() - began) / len(events), len(events))


def origin(headers: Any, where: Where, raw_name: str) -> Where:
    """Where a re-keyed copy's raw record is (its ``driftline-origin`` header): its dead letters,
    its features' source and its entity's state name that record, as if it had been keyed.

    >>> origin([("driftline-origin", b"3:41")], Where("d.rekeyed", 0, 7, 1.5), "d.raw")
    Where(topic='d.raw', partition=3, offset=41, record_ts=1.5)
    >>> origin([], Where("d.rekeyed", 0, 7, 1.5), "d.raw").topic
    'd.rekeyed'
    """
    pairs = headers.items() if isinstance(headers, dict) else (headers or ())
    for name, value in pairs:
        if name == ORIGIN:
            partition, _, offset = bytes(value).decode().partition(":")
            if partition.isdigit() and offset.isdigit():
                return Where(raw_name, int(partition), int(offset), where.record_ts)
    return where


async def dedup_alert(rt: Runtime, available: bool, error: BaseException | None = None) -> None:
    """Say when the memory of event ids goes away (Redis does not answer, or refuses writes) and
    when it is back."""
    metrics.STATE_STORE_UP.set(1 if available else 0)
    if available:
        await rt.alert("state_store_recovered", "info", "redis", "Redis takes the event ids again: duplicate events are caught again")
    else:
        what = trouble(error) if error is not None else "does not answer"
        await rt.alert("state_store_unavailable", "critical", "redis",
                       f"Redis {what}: events are still scored, but duplicates are not caught until it takes them again",
                       writes_refused=error is not None and refuses_writes(error))


async def _sweep(rt: Runtime, store: Any, changelog: str, now: float, batch: int) -> None:
    """Drop the least recently touched entities that are past the TTL, with a tombstone each."""
    stale = expired_run(rt.spec, store.data.items(), now, batch)
    for key in stale:
        del store.data[key]
        partition = store._key_partition.pop(key, None)
        await rt.send(changelog, None, key=key, partition=partition, full_name=True)
    if stale:
        metrics.ENTITIES_EXPIRED.inc(len(stale))
