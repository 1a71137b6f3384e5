"""examples → models + alerts: test-then-train, concept drift, publishing versions.

The examples topic has one partition, so exactly one trainer in the consumer group learns, in
order; if its worker dies, another takes the partition over and continues from the champion in
the registry. Registry I/O runs in a thread, off the event loop.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import orjson

from schemas import ModelVersion, encode
from streams import models_log
from streams.artifacts import ArtifactRefused
from streams.core.promotion import StatusChange
from streams.core.trainer import Example, PublishRequest, Trainer
from streams.registry import RegistryLost
from agents import metrics
from agents.runtime import Runtime

GAUGE_EVERY = 50  # examples between updates of the metric gauges (a scrape is seconds apart)

log = logging.getLogger(__name__)


def register(rt: Runtime) -> None:
    timer = metrics.PROCESSING.labels("train")
    state: dict[str, Trainer] = {}

    def start_trainer() -> Trainer:
        models_log.rebuild(rt.settings, rt.registry)
        rt.registry.ensure()
        version = rt.registry.alias("champion")
        model = None
        if version is not None:
            try:
                model = rt.registry.load(version)
            except (KeyError, ArtifactRefused) as exc:  # learn afresh rather than trust it
                log.error("champion %s not loaded for training: %s", version, exc)
                version = None
        return Trainer(rt.spec, model, version)  # type: ignore[arg-type]

    def publish(t: Trainer, req: PublishRequest) -> list[ModelVersion]:
        lane = t.champion if req.lane == "champion" else t.challenger
        first = lane.started_at + 1 if lane is not None else 1
        kwargs = dict(parent=req.parent, status=req.status, reason=req.reason, trained_examples=req.trained_examples,
                      metrics=req.metrics, spec_sha256=rt.spec.digest, trained_range=(first, t.position))
        try:
            return rt.registry.publish(req.model, **kwargs)  # type: ignore[arg-type]
        except RegistryLost:  # Redis was emptied under us: rebuild from the topic, then number
            models_log.rebuild(rt.settings, rt.registry)
            rt.registry.ensure()
            return rt.registry.publish(req.model, **kwargs)  # type: ignore[arg-type]

    def learn_some(t: Trainer, batch: list[Example], start: int) -> tuple[int, list[tuple[Example, list[Any], list[Any]]]]:
        """Learn from ``batch[start:]`` up to and including the first example that asks the
        registry for something (its number must be known before the next example is learned)."""
        done = []
        for i in range(start, len(batch)):
            detections, requests = t.learn(batch[i])
            done.append((batch[i], detections, requests))
            if requests:
                return i + 1, done
        return len(batch), done

    @rt.app.agent(rt.topics["examples"], name="train")
    async def train(stream: Any) -> None:
        async for values in stream.take(rt.settings.batch_max, within=rt.settings.batch_wait):
            if "t" not in state:
                state["t"] = await asyncio.to_thread(start_trainer)
            t = state["t"]
            if rt.promoted_by_hand is not None:  # watch it against the champion before, to roll back
                log.warning("model version %s was promoted by hand: watching it against version %s",
                            rt.promoted_by_hand[0], t.champion.version)
                t.adopt(*rt.promoted_by_hand)
                rt.promoted_by_hand = None
            began = time.perf_counter()
            batch = [_example(orjson.loads(value)) for value in values]
            position = 0
            while position < len(batch):
                # learning (and a scikit-learn refit) runs off the event loop, so scoring goes on
                position, done = await asyncio.to_thread(learn_some, t, batch, position)
                for example, detections, requests in done:
                    for found in detections:
                        metrics.DRIFT.labels(found.kind).inc()
                        await rt.drift_alert(found, model_version=t.champion.version, event_id=example.event_id)
                    for req in requests:
                        await handle(t, req)
            if t.position // GAUGE_EVERY != (t.position - len(batch)) // GAUGE_EVERY:
                show_metrics(t)
            per_record = (time.perf_counter() - began) / len(batch)
            for _ in batch:
                timer.observe(per_record)

    async def handle(t: Trainer, req: PublishRequest | StatusChange) -> None:
        if isinstance(req, StatusChange):
            changes = await asyncio.to_thread(rt.registry.set_status, req.version, req.status, req.reason, "trainer")
            kind, severity, message = req.alert, "warning", f"model version {req.version} is now {req.status}: {req.reason}"
        else:
            changes = await asyncio.to_thread(publish, t, req)
            t.published(req.lane, changes[0].version)
            kind, severity = "model_published", "info"
            message = f"model version {changes[0].version} published as {changes[0].status}: {changes[0].reason}"
        record = changes[0]
        for change in changes:  # the version changed, and the one it retired
            await rt.send("models", encode(change), key=str(change.version).encode())
        metrics.VERSIONS.labels(record.status).inc()
        await rt.alert(kind, severity, f"model {record.version}", message, version=record.version,
                       parent=record.parent, status=record.status, metrics=record.metrics,
                       retired=[c.version for c in changes[1:]])

    def show_metrics(t: Trainer) -> None:
        for name, value_ in t.champion.metrics_dict(t.metric_name).items():
            metrics.METRIC.labels(name.split("_")[0], t.metric_name).set(value_)
        if t.served_metric.window:  # nothing served was labelled yet: no number, not a 0
            metrics.METRIC.labels("served", t.metric_name).set(float(t.served_metric.get()))


def _example(obj: dict[str, Any]) -> Example:
    return Example(obj["event_id"], obj["x"], obj["y"], obj["ts"], obj.get("served"), obj.get("served_version"))
