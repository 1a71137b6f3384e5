"""Learning from joined examples: test-then-train, prequential metrics, drift, publishing.

The champion lane is scored on each example before it learns from it (prequential evaluation,
the same as ``river.evaluate.progressive_val_score`` on the same ordered stream). Concept drift
on its errors starts a challenger lane trained from the drift point. The trainer asks for a new
version every ``publish_every`` examples, and with ``publish_seconds`` also when that much event
time has passed since the last one (so a slow stream's model is not held back); allocating the number and storing the artifact is the
registry's job, so replay can run this same code without Redis.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from river import base, metrics, utils

from streams.core.batch import WindowedSklearn
from streams.core.drift import Detection, DriftMonitor
from streams.core.example import Example
from streams.core.levels import PerformanceWatch
from streams.core.model import build_model, is_classifier, snapshot
from streams.core.promotion import Duel, StatusChange
from streams.core.seen import SeenEvents
from streams.core.spec import METRICS, PipelineSpec

WINDOW = 1000  # examples in the rolling metrics
#: event ids of the examples learned most recently, remembered so that an example joined again
#: after a crash (its label re-read before its offset was committed) is not learned twice
LEARNED_MEMORY = 20_000


def make_metric(spec: PipelineSpec) -> metrics.base.Metric:
    return getattr(metrics, METRICS[spec.training.metric][0])()


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
    published_ts: float | None = None  # event time of the example it was last published at
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
    #: the trainer positions (1-based, inclusive) of the examples this lane learned: its lineage
    trained_range: tuple[int, int] = (1, 0)


class Trainer:
    """The trainer's state and logic, on plain values."""

    def __init__(self, spec: PipelineSpec, champion: base.Estimator | None = None, version: int | None = None) -> None:
        self.spec = spec
        self.metric_name = spec.training.metric
        self.classifier = is_classifier(champion or build_model(spec))
        self.position = 0
        self.champion = self._lane("champion", champion or build_model(spec), version)
        self.challenger: Lane | None = None
        self.monitors = [DriftMonitor(d, "model errors") for d in spec.drift if d.signal == "error"]
        self.served_metric = utils.Rolling(make_metric(spec), window_size=WINDOW)
        self.higher_is_better = METRICS[spec.training.metric][1]
        self.served = 0  # examples the served metric has seen
        self.performance = PerformanceWatch(spec.training.performance_drop, self.higher_is_better, WINDOW)
        self.gate: Duel | None = None  # challenger vs champion, from the challenger's publication
        self.previous: Lane | None = None  # the champion before a promotion, while it is watched
        self.watch: Duel | None = None  # new champion vs previous, for the rollback decision
        self.challenger_reason = ""
        self.learned = SeenEvents(horizon=float("inf"), max_size=LEARNED_MEMORY)
        self.duplicates = 0  # examples skipped: their event was learned already

    def _lane(self, name: str, model: base.Estimator, version: int | None) -> Lane:
        return Lane(name, model, version, make_metric(self.spec), utils.Rolling(make_metric(self.spec), window_size=WINDOW), started_at=self.position)

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

    def learn(self, example: Example) -> tuple[list[Detection], list[PublishRequest | StatusChange]]:
        """Learn from one joined example; return drift detections, and publish requests and
        status changes for the registry. An example whose event was learned already is skipped
        (counted in :attr:`duplicates`)."""
        if not self.learned.add(example.event_id, now=0.0):
            self.duplicates += 1
            return [], []
        self.position += 1
        x, y = example.x, example.y
        detections: list[Detection] = []
        if example.served is not None:
            self.served_metric.update(y, example.served)
            found = self._performance()
            if found is not None:
                detections.append(found)
        y_pred = self._test_then_train(self.champion, x, y)
        requests: list[PublishRequest | StatusChange] = []
        error = self._error(y, y_pred)
        if error is not None:
            for monitor in self.monitors:
                found = monitor.update(error, self.position)
                if found is not None:
                    detections.append(found)
        if self.challenger is not None:
            shadow = self._test_then_train(self.challenger, x, y)
            if self.gate is not None:
                self.gate.update(y, shadow, y_pred)
        if self.previous is not None:
            before = self._test_then_train(self.previous, x, y)
            if self.watch is not None:
                self.watch.update(y, y_pred, before)
        training = self.spec.training
        if self.challenger is None:
            if detections and training.challenger_on_drift:
                self._start_challenger(f"trained from the concept drift at example {self.position}")
            elif training.sklearn_every and self.position % training.sklearn_every == 0:
                self._start_challenger(f"periodic batch challenger at example {self.position}", sklearn=True)
        every, champion = training.publish_every, self.champion
        stale = (training.publish_seconds > 0 and champion.published_ts is not None and champion.since_publish > 0
                 and example.ts - champion.published_ts >= training.publish_seconds)
        changes = getattr(champion.model, "learns", True)  # a registered model that does not learn is not published again
        if changes and (champion.since_publish >= every or stale or (champion.version is None and champion.since_publish >= min(every, 100))):
            requests.append(self._request(self.champion, "champion", "scheduled" if self.champion.version else "first version", example.ts))
        if self.challenger is not None and self.challenger.version is None and self.challenger.examples >= training.promotion_min_examples:
            requests.append(self._request(self.challenger, "challenger", self.challenger_reason, example.ts))
            self.gate = Duel(make_metric(self.spec), make_metric(self.spec), higher_is_better=self.higher_is_better)
        requests += self._judge()
        return detections, requests

    def _performance(self) -> Detection | None:
        """The served metric against its best: a ``performance_drop`` when it fell by more than the
        spec's ``performance_drop`` (0: never), a ``performance_recovered`` when it is back."""
        watch = getattr(self, "performance", None)  # a checkpoint from before the watch has none
        if watch is None:
            self.served = 0
            watch = self.performance = PerformanceWatch(self.spec.training.performance_drop, self.higher_is_better, WINDOW)
        self.served += 1
        if not watch.drop:
            return None
        crossed = watch.update(float(self.served_metric.get()), self.served)
        if crossed is None:
            return None
        return Detection(crossed.kind, f"served {self.metric_name}", "threshold", crossed.value, crossed.line, self.position,
                         params=(("drop", watch.drop),), window=(("recent", WINDOW),))

    def _start_challenger(self, reason: str, *, sklearn: bool = False) -> None:
        training = self.spec.training
        if sklearn or training.challenger == "sklearn":
            model: Any = WindowedSklearn(training.sklearn_estimator, classifier=self.classifier,
                                         window=training.sklearn_window, refit_every=training.sklearn_refit_every)
        else:
            model = build_model(self.spec)
        self.challenger = self._lane("challenger", model, None)
        self.challenger_reason = reason
        self.gate = None

    def _judge(self) -> list[StatusChange]:
        """The promotion gate on the published challenger, and the rollback watch after a promotion."""
        training = self.spec.training
        out: list[StatusChange] = []
        c = self.challenger
        if c is not None and c.version is not None and self.gate is not None and self.gate.count >= training.promotion_min_examples:
            mine, theirs = self.gate.scores()
            if self.gate.lead() > training.promotion_margin:
                out.append(StatusChange(c.version, "champion", f"won the promotion gate: {self.metric_name} {mine:.4f} against "
                                        f"the champion's {theirs:.4f} over {self.gate.count} examples", "model_promoted"))
                self._promote(c)
            elif c.examples >= training.promotion_timeout_examples:
                out.append(StatusChange(c.version, "retired", f"did not beat the champion in {c.examples} examples "
                                        f"({self.metric_name} {mine:.4f} against {theirs:.4f})", "model_retired"))
                self.challenger, self.gate = None, None
        p = self.previous
        if p is not None and self.watch is not None and self.watch.count >= training.rollback_examples:
            new, old = self.watch.scores()
            if -self.watch.lead() > training.rollback_threshold and p.version is not None:
                out.append(StatusChange(p.version, "champion", f"rolled back: version {self.champion.version} scored "
                                        f"{self.metric_name} {new:.4f} against the previous champion's {old:.4f} over "
                                        f"{self.watch.count} examples", "model_rolled_back"))
                self.champion, self.previous = p, None
                self.champion.name = "champion"
            else:
                self.previous = None  # the new champion held: stop watching
            self.watch = None
        return out

    def _promote(self, lane: Lane) -> None:
        self.previous, self.champion = self.champion, lane
        self.previous.name, self.champion.name = "previous", "champion"
        self.champion.since_publish = 0
        self.challenger, self.gate = None, None
        self.watch = Duel(make_metric(self.spec), make_metric(self.spec), higher_is_better=self.higher_is_better)

    def shadows(self, version: int | None) -> bool:
        """Whether ``version`` is the challenger this trainer shadows (and its gate judges)."""
        return version is not None and self.challenger is not None and self.challenger.version == version

    def unwatched(self, challenger: int | None) -> StatusChange | None:
        """The registry names ``challenger`` as the challenger; if this trainer does not shadow
        it (it restarted without it, from the champion), no gate judges it: retire it, so it
        stops shadowing and taking a canary share."""
        if challenger is None or self.shadows(challenger):
            return None
        return StatusChange(challenger, "retired", "no trainer shadows it since the trainer restarted", "model_retired")

    def adopt_challenger(self, version: int, model: Any, reason: str) -> None:
        """A challenger registered from outside (``driftline models register``): shadow it in
        place of any challenger of its own, and judge it at the promotion gate from the next
        example, as a published challenger of its own."""
        if self.shadows(version):
            return
        self.challenger = self._lane("challenger", model, version)
        self.challenger_reason = reason
        self.gate = Duel(make_metric(self.spec), make_metric(self.spec), higher_is_better=self.higher_is_better)

    def adopt(self, version: int, model: Any) -> None:
        """A champion promoted from outside (by hand): serve it, and watch it against the one before."""
        if version == self.champion.version:
            return
        self._promote(self._lane("champion", model, version))

    def _request(self, lane: Lane, status: str, reason: str, ts: float) -> PublishRequest:
        """Ask for a version of ``lane`` at the example of event time ``ts``."""
        lane.since_publish, lane.published_ts = 0, ts
        return PublishRequest(
            lane.name, snapshot(lane.model), self.champion.version if lane.name == "challenger" else lane.version,
            status, reason, lane.examples, lane.metrics_dict(self.metric_name), (lane.started_at + 1, self.position),
        )

    def published(self, lane: str, version: int) -> None:
        """Record the version number the registry gave a lane's model."""
        target = self.champion if lane == "champion" else self.challenger
        if target is not None:
            target.version = version
