"""Learning from joined examples: test-then-train, prequential metrics, drift, publishing.

The champion lane is scored on each example before it learns from it (prequential evaluation,
the same as ``river.evaluate.progressive_val_score`` on the same ordered stream). Concept drift
on its errors starts a challenger lane trained from the drift point. The trainer asks for a new
version every ``publish_every`` examples; allocating the number and storing the artifact is the
registry's job, so replay can run this same code without Redis.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from river import base, metrics, utils

from streams.core.drift import Detection, DriftMonitor
from streams.core.model import build_model, is_classifier
from streams.core.spec import METRICS, PipelineSpec

WINDOW = 1000  # examples in the rolling metrics


def make_metric(spec: PipelineSpec) -> metrics.base.Metric:
    return getattr(metrics, METRICS[spec.training.metric][0])()


@dataclass(frozen=True)
class Example:
    """A joined example: the features the model saw, the label, and what was served."""

    event_id: str
    x: dict[str, Any]
    y: Any
    ts: float
    served: Any = None
    served_version: int | None = None


@dataclass
class Lane:
    """One model learning on the stream, with its metrics."""

    name: str
    model: base.Estimator
    version: int | None = None
    metric: metrics.base.Metric = field(default_factory=metrics.Accuracy)
    rolling: utils.Rolling | None = None
    examples: int = 0
    since_publish: int = 0
    started_at: int = 0

    def metrics_dict(self, metric_name: str) -> dict[str, float]:
        out = {f"prequential_{metric_name}": float(self.metric.get())}
        if self.rolling is not None:
            out[f"rolling_{metric_name}"] = float(self.rolling.get())
        return out


@dataclass(frozen=True)
class PublishRequest:
    """Ask the registry for a new version of a lane's model."""

    lane: str
    model: base.Estimator
    parent: int | None
    status: str
    reason: str
    trained_examples: int
    metrics: dict[str, float]


class Trainer:
    """The trainer's state and logic, on plain values."""

    def __init__(self, spec: PipelineSpec, champion: base.Estimator | None = None, version: int | None = None) -> None:
        self.spec = spec
        self.metric_name = spec.training.metric
        self.classifier = is_classifier(champion or build_model(spec))
        self.champion = self._lane("champion", champion or build_model(spec), version)
        self.challenger: Lane | None = None
        self.monitors = [DriftMonitor(d, "model errors") for d in spec.drift if d.signal == "error"]
        self.served_metric = utils.Rolling(make_metric(spec), window_size=WINDOW)
        self.position = 0

    def _lane(self, name: str, model: base.Estimator, version: int | None) -> Lane:
        return Lane(name, model, version, make_metric(self.spec), utils.Rolling(make_metric(self.spec), window_size=WINDOW), started_at=self.position if hasattr(self, "position") else 0)

    def _test_then_train(self, lane: Lane, x: dict[str, Any], y: Any) -> Any:
        metric = lane.metric
        if self.classifier and not metric.requires_labels:
            y_pred = lane.model.predict_proba_one(x)  # type: ignore[attr-defined]
        else:
            y_pred = lane.model.predict_one(x)  # type: ignore[attr-defined]
        if y_pred is not None and y_pred != {}:
            metric.update(y, y_pred)
            if lane.rolling is not None:
                lane.rolling.update(y, y_pred)
        lane.model.learn_one(x, y)  # type: ignore[attr-defined]
        lane.examples += 1
        lane.since_publish += 1
        return y_pred

    def _error(self, y: Any, y_pred: Any) -> float | None:
        if y_pred is None or y_pred == {}:
            return None
        if isinstance(y_pred, dict):
            y_pred = max(y_pred, key=y_pred.get)
        if self.classifier:
            return float(y_pred != y)
        return abs(float(y_pred) - float(y))

    def learn(self, example: Example) -> tuple[list[Detection], list[PublishRequest]]:
        """Learn from one joined example; return drift detections and publish requests."""
        self.position += 1
        if example.served is not None:
            self.served_metric.update(example.y, example.served)
        y_pred = self._test_then_train(self.champion, example.x, example.y)
        detections: list[Detection] = []
        requests: list[PublishRequest] = []
        error = self._error(example.y, y_pred)
        if error is not None:
            for monitor in self.monitors:
                found = monitor.update(error, self.position)
                if found is not None:
                    detections.append(found)
        if self.challenger is not None:
            self._test_then_train(self.challenger, example.x, example.y)
        if detections and self.spec.training.challenger_on_drift:
            self.challenger = self._lane("challenger", build_model(self.spec), None)
            self.challenger.started_at = self.position
        every = self.spec.training.publish_every
        if self.champion.since_publish >= every or (self.champion.version is None and self.champion.since_publish >= min(every, 100)):
            requests.append(self._request(self.champion, "champion", "scheduled" if self.champion.version else "first version"))
        if self.challenger is not None and self.challenger.version is None and self.challenger.examples >= self.spec.training.promotion_min_examples:
            requests.append(self._request(self.challenger, "challenger", f"trained from the concept drift at example {self.challenger.started_at}"))
        return detections, requests

    def _request(self, lane: Lane, status: str, reason: str) -> PublishRequest:
        lane.since_publish = 0
        return PublishRequest(
            lane.name, copy.deepcopy(lane.model), self.champion.version if lane.name == "challenger" else lane.version,
            status, reason, lane.examples, lane.metrics_dict(self.metric_name),
        )

    def published(self, lane: str, version: int) -> None:
        """Record the version number the registry gave a lane's model."""
        target = self.champion if lane == "champion" else self.challenger
        if target is not None:
            target.version = version
