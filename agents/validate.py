"""raw → features + predictions (+ deadletter): validate, featurize, score, watch data drift.

One hop for the hot path: the features record and the prediction leave together, so the scorer
never waits on a second consumer. Per-entity state lives in a changelog-backed Faust table.
"""

from __future__ import annotations

from typing import Any

import orjson

from schemas import DeadLetter, encode
from streams.core.scoring import Where
from agents.runtime import Runtime
from agents import metrics


def register(rt: Runtime) -> None:
    timer = metrics.PROCESSING.labels("validate")
    predicted = metrics.EVENTS.labels("predictions")
    # keys and values as bytes (the app's raw serializer); state is JSON
    entity_state = rt.app.Table("entity-state", key_type=bytes, value_type=bytes,
                                partitions=rt.settings.partitions)
    raw = rt.topics["raw"]

    @rt.app.agent(raw, name="validate")
    async def validate(stream: Any) -> None:
        async for event in stream.events():
            message = event.message
            where = Where(message.topic, message.partition, message.offset, message.timestamp)
            with timer.time():
                outcome = rt.scorer.validate(event.value, where)
                if isinstance(outcome, DeadLetter):
                    await rt.send("deadletter", encode(outcome), key=message.key)
                    metrics.DEADLETTERS.labels(outcome.reason.value).inc()
                    continue
                key = outcome.entity_id.encode() if outcome.entity_id is not None else None
                stored = entity_state.get(key) if key is not None else None
                state = orjson.loads(stored) if stored else None
                features, prediction, new_state, detections = rt.scorer.score(outcome, state, where)
                if key is not None:
                    entity_state[key] = orjson.dumps(new_state)
                event_key = outcome.event_id.encode()
                await rt.send("features", encode(features), key=event_key)
                await rt.send("predictions", encode(prediction), key=event_key)
                predicted.inc()
                metrics.LATENCY.observe(max(0.0, prediction.scored_at - prediction.ts))
                for found in detections:
                    metrics.DRIFT.labels(found.kind).inc()
                    await rt.drift_alert(found, partition=message.partition, offset=message.offset)
