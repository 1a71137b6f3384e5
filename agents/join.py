"""features + labels → examples (+ deadletter): match each label to its scored event.

Both topics are keyed by event id by our own producer and have the same partition count, so a
label and its event meet in the same partition's joiner. Joined examples go, in order, to the
one-partition ``examples`` topic for the single trainer.
"""

from __future__ import annotations

from collections.abc import Mapping
import time
from dataclasses import replace
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

    def joiner(partition: int) -> Joiner:
        if partition not in joiners:
            joiners[partition] = Joiner(horizon=rt.spec.join_horizon, early_grace=rt.spec.join_early_grace)
        return joiners[partition]

    @rt.app.agent(source, name="join")
    async def join(stream: Any) -> None:
        out = rt.outbox()
        examples_topic = rt.settings.topic("examples")
        seen = 0
        async for events in stream.take_events(rt.settings.batch_max, within=rt.settings.batch_wait):
            began = time.perf_counter()
            for event in events:
                m = event.message
                j = joiner(m.partition)
                is_features = m.topic == features_topic
                outcome = decode("features" if is_features else "feedback", event.value, source_topic=m.topic,
                                 partition=m.partition, offset=m.offset, record_ts=m.timestamp)
                if not isinstance(outcome, Accepted):  # not one of ours (someone else wrote here): say so
                    letter = outcome.dead_letter
                    if not is_features:
                        topic, partition, offset = source_of(m.headers, feedback_topic, (m.topic, m.partition, m.offset))
                        letter = replace(letter, source_topic=topic, partition=partition, offset=offset)
                    await rt.send("deadletter", encode(letter), key=m.key)
                    metrics.DEADLETTERS.labels(outcome.dead_letter.reason.value).inc()
                    continue
                if is_features:
                    fv = outcome.value
                    example = j.scored(fv.event_id, Scored(fv.features, fv.ts, fv.prediction, fv.model_version))
                else:
                    fb = outcome.value  # the label record carries the user's record time
                    example = j.label(fb.event_id, Label(coerce_label(rt.spec.task, fb.label), fb.ts or m.timestamp, event.value,
                                                         (m.topic, m.partition, m.offset), m.headers))
                if example is not None:
                    await out.add(examples_topic, example_bytes(example), example.event_id.encode(), partition=0)
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
