"""features + labels → examples (+ deadletter): match each label to its scored event.

Both topics are keyed by event id by our own producer and have the same partition count, so a
label and its event meet in the same partition's joiner. Joined examples go, in order, to the
one-partition ``examples`` topic for the single trainer.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from schemas import Accepted, DeadLetter, Reason, decode, encode
from streams.core.join import Joiner, Label, Scored
from streams.core.labels import coerce_label
from streams.core.trainer import Example
from agents import metrics
from agents.feedback import SOURCE_HEADER
from agents.runtime import Runtime

EXPIRE_EVERY = 200  # events between expiry sweeps of every partition's joiner


def example_bytes(example: Example) -> bytes:
    return orjson.dumps({"event_id": example.event_id, "x": example.x, "y": example.y, "ts": example.ts,
                         "served": example.served, "served_version": example.served_version})


def source_of(headers: Any) -> dict[str, Any] | None:
    """The user's feedback record a label came from (the feedback agent's header), if named."""
    pairs = headers.items() if isinstance(headers, Mapping) else (headers or ())
    for name, value in pairs:
        if name == SOURCE_HEADER:
            try:
                return orjson.loads(value)  # type: ignore[no-any-return]
            except orjson.JSONDecodeError:
                return None
    return None


def register(rt: Runtime) -> None:
    timer = metrics.PROCESSING.labels("join")
    joined = metrics.JOINS.labels("joined")
    joiners: dict[int, Joiner] = {}
    source = rt.app.topic(rt.settings.topic("features"), rt.settings.topic("labels"),
                          key_type=bytes, value_type=bytes, allow_empty=True)

    def joiner(partition: int) -> Joiner:
        if partition not in joiners:
            joiners[partition] = Joiner(horizon=rt.spec.join_horizon, early_grace=rt.spec.join_early_grace)
        return joiners[partition]

    @rt.app.agent(source, name="join")
    async def join(stream: Any) -> None:
        seen = 0
        async for event in stream.events():
            m = event.message
            j = joiner(m.partition)
            with timer.time():
                is_features = m.topic == rt.settings.topic("features")
                where = (m.topic, m.partition, m.offset)
                origin = source_of(m.headers) if not is_features else None
                if origin is not None:
                    where = (origin.get("topic", m.topic), origin.get("partition"), origin.get("offset"))
                outcome = decode("features" if is_features else "feedback", event.value, source_topic=where[0],
                                 partition=where[1], offset=where[2], record_ts=m.timestamp)
                if not isinstance(outcome, Accepted):  # not one of ours (someone else wrote here): say so
                    await rt.send("deadletter", encode(outcome.dead_letter), key=m.key)
                    metrics.DEADLETTERS.labels(outcome.dead_letter.reason.value).inc()
                    continue
                if is_features:
                    fv = outcome.value
                    example = j.scored(fv.event_id, Scored(fv.features, fv.ts, fv.prediction, fv.model_version))
                else:
                    fb = outcome.value
                    ts = fb.ts or (origin or {}).get("ts") or m.timestamp
                    example = j.label(fb.event_id, Label(coerce_label(rt.spec.task, fb.label), ts, event.value, where))
                if example is not None:
                    await rt.send("examples", example_bytes(example), key=example.event_id.encode())
                    joined.inc()
                seen += 1
                if seen % EXPIRE_EVERY == 0:
                    for each in joiners.values():
                        await _expire(rt, each)


async def _expire(rt: Runtime, j: Joiner) -> None:
    before = j.counts.expired_events
    for event_id, label in j.expire():
        topic, partition, offset = label.where
        letter = DeadLetter.for_bytes(Reason.UNKNOWN_EVENT, f"feedback for event {event_id!r}, never seen or already expired",
                                      label.raw, source_topic=topic, partition=partition, offset=offset, ts=rt.scorer.clock())
        await rt.send("deadletter", encode(letter), key=event_id.encode())
        metrics.DEADLETTERS.labels(Reason.UNKNOWN_EVENT.value).inc()
        metrics.JOINS.labels("unknown").inc()
    metrics.JOINS.labels("expired").inc(j.counts.expired_events - before)
