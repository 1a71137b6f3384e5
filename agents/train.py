"""examples → models + alerts: test-then-train, concept drift, publishing versions.

The examples topic has one partition, so exactly one trainer in the consumer group learns, in
order; if its worker dies, another takes the partition over and continues from the champion in
the registry.
"""

from __future__ import annotations

from typing import Any

import orjson

from schemas import encode
from streams.core.trainer import Example, Trainer
from agents import metrics
from agents.runtime import Runtime


GAUGE_EVERY = 50  # examples between updates of the metric gauges (a scrape is seconds apart)


def register(rt: Runtime) -> None:
    timer = metrics.PROCESSING.labels("train")
    state: dict[str, Trainer] = {}

    def trainer() -> Trainer:
        if "t" not in state:
            version = rt.registry.alias("champion")
            model = rt.registry.load(version) if version is not None else None
            state["t"] = Trainer(rt.spec, model, version)  # type: ignore[arg-type]
        return state["t"]

    @rt.app.agent(rt.topics["examples"], name="train")
    async def train(stream: Any) -> None:
        async for value in stream:
            t = trainer()
            with timer.time():
                obj = orjson.loads(value)
                detections, requests = t.learn(Example(obj["event_id"], obj["x"], obj["y"], obj["ts"], obj.get("served"), obj.get("served_version")))
                for found in detections:
                    metrics.DRIFT.labels(found.kind).inc()
                    await rt.drift_alert(found, model_version=t.champion.version, event_id=obj["event_id"])
                for req in requests:
                    record = rt.registry.publish(req.model, parent=req.parent, status=req.status, reason=req.reason,
                                                 trained_examples=req.trained_examples, metrics=req.metrics)
                    t.published(req.lane, record.version)
                    await rt.send("models", encode(record), key=str(record.version).encode())
                    metrics.VERSIONS.labels(record.status).inc()
                    await rt.alert("model_published", "info", f"model {record.version}",
                             f"model version {record.version} published as {record.status}: {record.reason}",
                             version=record.version, parent=record.parent, status=record.status, metrics=record.metrics)
                if t.position % GAUGE_EVERY == 0:
                    for name, value_ in t.champion.metrics_dict(t.metric_name).items():
                        metrics.METRIC.labels(name.split("_")[0], t.metric_name).set(value_)
                    metrics.METRIC.labels("served", t.metric_name).set(float(t.served_metric.get()))
