"""Fast replay: a recorded stream through the same core the agents run, in one process.

Events go through :class:`Scorer` (validate, featurize, score), labels through
:class:`Joiner` (each label ``label_delay`` events after its event), joined examples through
:class:`Trainer`; a version the trainer publishes serves from the next event on, as the models
follower makes it do live. No broker, no Redis: as fast as the core runs.
"""

from __future__ import annotations

import copy
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson

from schemas import Accepted, DeadLetter, decode
from streams.core.drift import explained
from streams.core.example import Example
from streams.core.features import EntityState, Unscorable
from streams.core.join import DuplicateLabel, Joiner, Label, Scored
from streams.core.labels import coerce_label
from streams.core.lookup import Lookups
from streams.core.model import snapshot
from streams.core.promotion import StatusChange
from streams.core.scoring import Scorer, Served, Where
from streams.core.spec import PipelineSpec
from streams.core.trainer import Lane, PublishRequest, Trainer

ROLLING = 500
SNAPSHOT = 1000
CLOCK_EVERY = 1000


@dataclass(frozen=True)
class Recorded:
    """A record as it was written: to ``raw`` or to ``feedback``, with where and when."""

    kind: str  # "raw" or "feedback"
    value: bytes
    topic: str = "replay"
    partition: int | None = None
    offset: int | None = None
    ts: float | None = None


@dataclass
class ReplayResult:
    """What a replay measured, in the order things happened."""

    events: int = 0
    examples: int = 0
    served_correct: int = 0
    served_labelled: int = 0
    deadletters: Counter[str] = field(default_factory=Counter)
    alerts: list[dict[str, Any]] = field(default_factory=list)
    versions: list[dict[str, Any]] = field(default_factory=list)
    #: (example position, prequential metric, served accuracy over the last ``ROLLING`` examples,
    #: NaN, null in JSON, while nothing served was labelled), every ``every`` examples
    timeline: list[tuple[int, float, float]] = field(default_factory=list)
    #: for each timeline point, the event position where its example's label came: the axis
    #: plots share with the alerts (an example's label comes its label delay after its event)
    timeline_events: list[int] = field(default_factory=list)
    #: for each data-drift alert, the feature's last ``SNAPSHOT`` values before it and next after
    distributions: list[dict[str, Any]] = field(default_factory=list)
    prequential: float = 0.0
    metric: str = "accuracy"
    #: each example's label delay, in events: how many events came between the event and its label
    label_delays: list[int] = field(default_factory=list)
    #: replaying a live run's schedule: predictions recomputed, and how many differ from the live ones
    reproduced: Counter[str] = field(default_factory=Counter)
    #: (event position, the event's time) every ``CLOCK_EVERY`` events: positions to seconds
    clock: list[tuple[int, float]] = field(default_factory=list)

    def time_at(self, position: int) -> float | None:
        """The stream's time at an event position, interpolated on :attr:`clock` (None: no clock).

        >>> ReplayResult(clock=[(1, 100.0), (1001, 110.0)]).time_at(501)
        105.0
        """
        marks = sorted(self.clock)
        if not marks:
            return None
        before = [m for m in marks if m[0] <= position] or marks[:1]
        after = [m for m in marks if m[0] >= position] or marks[-1:]
        (p0, t0), (p1, t1) = before[-1], after[0]
        if p1 == p0:
            return t0
        return t0 + (t1 - t0) * (position - p0) / (p1 - p0)

    def tick(self, position: int, ts: float | None) -> None:
        """Mark the stream's time at an event position (kept every ``CLOCK_EVERY`` events)."""
        if ts is not None and (position == 1 or position % CLOCK_EVERY == 0):
            self.clock.append((position, float(ts)))

    @property
    def served_accuracy(self) -> float:
        return self.served_correct / self.served_labelled if self.served_labelled else 0.0

    def summary(self) -> dict[str, Any]:
        """The headline numbers, JSON-ready (``metrics.json``)."""
        return {
            "events": self.events, "examples": self.examples, "metric": self.metric,
            f"prequential_{self.metric}": self.prequential, "served_accuracy": self.served_accuracy,
            "deadletters": dict(self.deadletters), "alerts": self.alerts, "versions": self.versions,
            "timeline": self.timeline, "timeline_events": self.timeline_events,
            "label_delay_events": quantiles(self.label_delays),
            **({"reproduced": dict(self.reproduced)} if self.reproduced else {}),
            "clock": self.clock,
            "data_drift_distributions": [
                {"feature": d["feature"], "at_event": d["at_event"], "mean_before": _mean(d["before"]), "mean_after": _mean(d["after"])}
                for d in self.distributions
            ],
        }


def quantiles(values: list[int]) -> dict[str, int] | None:
    """Median, p95 and max of a list of counts (None for none)."""
    if not values:
        return None
    ordered = sorted(values)
    return {"median": ordered[len(ordered) // 2], "p95": ordered[int(len(ordered) * 0.95)], "max": ordered[-1]}


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def recorded(items: Iterable[tuple[dict[str, Any], Any]], label_delay: int = 0) -> Iterator[Recorded]:
    """``(raw event, label)`` pairs as the records a producer would write: each event, and its
    feedback ``label_delay`` events later (0: right after it). A label of None means no feedback."""
    pending: deque[bytes] = deque()
    for event, label in items:
        yield Recorded("raw", orjson.dumps(event))
        if label is not None and "event_id" in event:
            pending.append(orjson.dumps({"event_id": event["event_id"], "label": label}))
        while len(pending) > label_delay:
            yield Recorded("feedback", pending.popleft())
    while pending:
        yield Recorded("feedback", pending.popleft())


def replay(spec: PipelineSpec, items: Iterable[tuple[dict[str, Any], Any]], *, label_delay: int = 0,
           every: int = 100, progress: Callable[[int], None] | None = None) -> ReplayResult:
    """Run ``(raw event, label)`` pairs through the pipeline's core, labels ``label_delay`` late."""
    return replay_records(spec, recorded(items, label_delay), every=every, progress=progress)


class Learning:
    """The trainer's side of a replay: test-then-train each joined example, publish versions
    (numbered 1, 2, … as a fresh registry numbers them), record what the trainer decided."""

    def __init__(self, spec: PipelineSpec, out: ReplayResult, serve: Callable[[int, Any, str, int | None], None] | None, every: int,
                 champion: Any = None) -> None:
        self.trainer = Trainer(spec, champion)
        # the spec's online model learning on every example, whatever gets promoted: its prequential
        # metric is what ``river.evaluate.progressive_val_score`` gives on the same ordered examples.
        # The trainer's first champion is that very model learning those very examples, until the
        # trainer lets go of it (replaced and no longer watched) or skips an example as learned
        # already: until then the two are one (half the model work of a replay), then a copy goes on.
        self.shared: Lane | None = self.trainer.champion
        self.online: Any = None
        self.online_metric = self.shared.metric
        self.out, self.serve, self.every = out, serve, every
        self.recent: deque[bool] = deque(maxlen=ROLLING)
        self.version = 0

    def learn(self, example: Example, *, count_served: bool, at_event: int) -> None:
        """Test, then train, one example whose label came at event position ``at_event``."""
        out, trainer = self.out, self.trainer
        out.examples += 1
        if count_served and example.served is not None:
            out.served_labelled += 1
            out.served_correct += int(example.served == example.y)
            self.recent.append(example.served == example.y)
        if self.shared is not None and example.event_id in trainer.learned:
            self._part()  # the trainer skips it; the online model learns it
        if self.shared is None:
            online, metric = self.online, self.online_metric
            y_pred = online.predict_proba_one(example.x) if trainer.classifier and not metric.requires_labels else online.predict_one(example.x)
            if y_pred is not None and y_pred != {}:
                metric.update(example.y, y_pred)
            online.learn_one(example.x, example.y)
        detections, requests = trainer.learn(example)
        if self.shared is not None and self.shared is not trainer.champion and self.shared is not trainer.previous:
            self._part()  # the trainer no longer learns with it
        for d in detections:  # the trainer counts examples; the stream's position is where the label came
            out.alerts.append({**_detection(d, at_event), "at_example": d.position})
        for req in requests:
            if isinstance(req, PublishRequest):
                self.version += 1
                trainer.published(req.lane, self.version)
                if self.serve is not None:
                    self.serve(self.version, req.model, req.status, req.trained_examples)  # a copy already
                out.versions.append({"version": self.version, "status": req.status, "at_example": out.examples,
                                     "at_event": at_event, "reason": req.reason, "metrics": req.metrics})
            elif isinstance(req, StatusChange):
                lane = trainer.champion if req.status == "champion" else None
                if self.serve is not None and lane is not None and lane.version == req.version:
                    self.serve(req.version, snapshot(lane.model), "champion", lane.examples)
                out.alerts.append({"kind": req.alert, "version": req.version, "at_example": out.examples, "at_event": at_event,
                                   "reason": req.reason})
                out.versions.append({"version": req.version, "status": req.status, "at_example": out.examples,
                                     "at_event": at_event, "reason": req.reason})
        if out.examples % self.every == 0:
            # nothing served was labelled yet (an untrained model serves no prediction): a gap, not a 0
            rolling = sum(self.recent) / len(self.recent) if self.recent else float("nan")
            out.timeline.append((out.examples, float(self.online_metric.get()), rolling))
            out.timeline_events.append(at_event)

    def _part(self) -> None:
        """Go on with a copy of the online model and its metric, apart from the trainer's lane."""
        assert self.shared is not None
        self.online, self.online_metric = snapshot(self.shared.model), copy.deepcopy(self.shared.metric)
        self.shared = None

    def finish(self) -> ReplayResult:
        self.out.prequential = float(self.online_metric.get())
        return self.out


@dataclass(frozen=True)
class Scheduled:
    """One event as the live scorer took it: where its raw record is, the scorer's position, and
    the version it served (None: the untrained model a pipeline starts with) and its prediction."""

    partition: int
    offset: int
    position: int
    version: int | None
    prediction: Any
    #: the reference record each lookup used live (``FeatureVector.lookups``)
    lookups: dict[str, list[int] | None] | None = None


@dataclass(frozen=True)
class Schedule:
    """How a live worker ran a recorded range: the order its scorer took the events in, with the
    versions it served, and the order its trainer learned the joined examples in. Everything
    else (features, predictions, drift, training, versions, metrics) a replay computes anew."""

    scored: list[Scheduled]
    learned: list[str]  # event ids, in the trainer's order


def replay_as_live(spec: PipelineSpec, records: Iterable[Recorded], schedule: Schedule, models: dict[int, Any], *,
                   every: int = 100, progress: Callable[[int], None] | None = None,
                   trained: dict[int, int] | None = None, lookups: Lookups | None = None) -> ReplayResult:
    """Replay a recorded range on a live run's schedule: scored in the live scorer's order by the
    versions it served, learned in the live trainer's order. The live run's served and
    prequential metrics, versions and every drift alert position come out exactly; each
    recomputed prediction is checked against the recorded one (``out.reproduced``). ``trained``:
    each version's trained examples, from its version event (the prediction monitors wait for
    them as live; a version missing there counts as trained enough). ``lookups``: the reference
    tables; each event takes the versions it took live."""
    out = ReplayResult(metric=spec.training.metric)
    raws: dict[tuple[int | None, int | None], Recorded] = {}
    labels: dict[str, Any] = {}
    checker = Scorer(spec, clock=lambda: 0.0)  # dead-letter reasons, in recorded order
    raw_index: dict[tuple[int | None, int | None], int] = {}
    labelled_at: dict[str, int] = {}
    for record in records:
        if record.kind == "raw":
            raw_index[(record.partition, record.offset)] = out.events
            out.events += 1
            raws[(record.partition, record.offset)] = record
            continue
        outcome = decode("feedback", record.value, max_bytes=checker.max_bytes, record_ts=record.ts)
        value = coerce_label(spec.task, outcome.value.label) if isinstance(outcome, Accepted) else None
        if value is None:
            out.deadletters[outcome.dead_letter.reason.value if not isinstance(outcome, Accepted) else "wrong_type"] += 1
        else:
            labels.setdefault(outcome.value.event_id, value)
            labelled_at.setdefault(outcome.value.event_id, out.events)
    scheduled = {(s.partition, s.offset) for s in schedule.scored}
    for key, record in raws.items():
        if key not in scheduled:
            outcome = checker.validate(record.value, Where(record.topic, record.partition, record.offset, record.ts))
            out.deadletters[outcome.reason.value if isinstance(outcome, DeadLetter) else "not_scored_live"] += 1

    scorer = Scorer(spec, clock=lambda: 0.0)
    if lookups is not None:
        scorer.lookups = lookups
    initial = scorer.champion
    served_by: dict[int | None, Served] = {None: initial}
    states: dict[str, EntityState] = {}
    scored: dict[str, Scored] = {}
    came_at: dict[str, int] = {}
    if schedule.scored:
        scorer.scored = schedule.scored[0].position - 1
    for n, step in enumerate(schedule.scored, 1):
        record = raws.get((step.partition, step.offset))
        if record is None:
            continue  # scored live, outside the replayed range
        if step.version not in served_by:
            served_by[step.version] = Served(step.version, models[step.version])
        scorer.champion = served_by[step.version]
        scorer.champion_trained = 0 if step.version is None else (trained or {}).get(step.version, 1 << 62)
        scorer.lookups.pinned = {k: (v[0], v[1]) if v else None for k, v in (step.lookups or {}).items()}
        where = Where(record.topic, record.partition, record.offset, record.ts)
        outcome = scorer.validate(record.value, where)
        if isinstance(outcome, DeadLetter):
            out.reproduced["differ"] += 1
            continue
        key = outcome.entity_id
        try:
            features, prediction, state, detections = scorer.score(outcome, states.get(key) if key else None, where)
        except Unscorable:  # live scored it: a plugin that depends on more than it is given
            out.reproduced["differ"] += 1
            continue
        if key is not None:
            states[key] = state
        out.reproduced["predictions"] += 1
        out.reproduced["differ"] += int(prediction.prediction != step.prediction)
        scored[outcome.event_id] = Scored(features.features, features.ts, prediction.prediction, step.version)
        came_at[outcome.event_id] = raw_index[(step.partition, step.offset)]
        out.tick(came_at[outcome.event_id] + 1, features.ts)
        for d in detections:
            out.alerts.append(_detection(d))
        if progress is not None:
            progress(n)

    learning = Learning(spec, out, None, every)
    for event_id in schedule.learned:
        event, y = scored.get(event_id), labels.get(event_id)
        if event is not None and y is not None:
            out.label_delays.append(max(0, labelled_at[event_id] - came_at[event_id] - 1))
            learning.learn(Example(event_id, event.x, y, event.ts, event.served, event.served_version), count_served=True,
                           at_event=labelled_at[event_id])
    out.clock.sort()
    return learning.finish()


def _detection(d: Any, at_event: int | None = None) -> dict[str, Any]:
    """A detection as a replay's alert; ``at_event`` where the scorer's own count (``d.position``,
    events scored) is not the stream's position."""
    return {"kind": d.kind, "subject": d.subject, "at_event": d.position if at_event is None else at_event,
            "message": d.sentence(), **explained(d)}


def replay_records(spec: PipelineSpec, records: Iterable[Recorded], *, every: int = 100,
                   progress: Callable[[int], None] | None = None, lookups: Lookups | None = None,
                   champion: Any = None) -> ReplayResult:
    """Run recorded raw and feedback records, in their order, through the pipeline's core; the
    spec's lookups read ``lookups``, each event as of its time. ``champion``: the model the
    replay starts with (a registered version, a model file), served from the first event and
    learning as its kind does; else the spec's untrained model."""
    scorer = Scorer(spec, clock=lambda: 0.0)
    if lookups is not None:
        scorer.lookups = lookups
    if champion is not None:
        scorer.serve(0, snapshot(champion), "champion")  # version 0: no version of this replay's own
    joiner = Joiner(horizon=float("inf"), early_grace=float("inf"))
    states: dict[str, EntityState] = {}
    out = ReplayResult(metric=spec.training.metric)
    served: dict[str, Any] = {}
    learning = Learning(spec, out, scorer.serve, every, champion)

    came_at: dict[str, int] = {}

    def learn(example: Example) -> None:
        out.label_delays.append(max(0, out.events - came_at.get(example.event_id, out.events)))
        learning.learn(example, count_served=example.event_id in served, at_event=out.events)

    def deliver(record: Recorded) -> None:
        outcome = decode("feedback", record.value, max_bytes=scorer.max_bytes, source_topic=record.topic,
                         partition=record.partition, offset=record.offset, record_ts=record.ts)
        if not isinstance(outcome, Accepted):
            out.deadletters[outcome.dead_letter.reason.value] += 1
            return
        value = coerce_label(spec.task, outcome.value.label)
        if value is None:
            out.deadletters["wrong_type"] += 1
            return
        example = joiner.label(outcome.value.event_id, Label(value, outcome.value.ts or record.ts or joiner.now))
        if isinstance(example, DuplicateLabel):
            out.deadletters["duplicate_label"] += 1
        elif example is not None:
            learn(example)

    watched = [d.feature for d in spec.drift if d.signal == "feature" and d.feature]
    recent_values: dict[str, deque[float]] = {f: deque(maxlen=SNAPSHOT) for f in watched}
    collecting: list[dict[str, Any]] = []

    def watch(data: dict[str, Any], detections: list[Any]) -> None:
        """Keep each watched feature's recent values; around a data-drift alert, before and after."""
        for name in watched:
            value = data.get(name)
            if isinstance(value, int | float) and not isinstance(value, bool):
                recent_values[name].append(float(value))
                for snap in collecting:
                    if snap["feature"] == name and len(snap["after"]) < SNAPSHOT:
                        snap["after"].append(float(value))
        for d in detections:
            if d.kind == "data_drift" and d.subject in recent_values:
                snap = {"feature": d.subject, "at_event": out.events, "before": list(recent_values[d.subject]), "after": []}
                out.distributions.append(snap)
                collecting.append(snap)

    events = 0
    for n, record in enumerate(records):
        if record.kind == "feedback":
            deliver(record)
            continue
        out.events += 1
        events += 1
        where = Where(record.topic, record.partition, record.offset if record.offset is not None else n, record.ts)
        outcome = scorer.validate(record.value, where)
        if not isinstance(outcome, DeadLetter):
            key = outcome.entity_id
            try:
                scored_now = scorer.score(outcome, states.get(key) if key else None, where)
            except Unscorable as problem:
                outcome = scorer.unscorable(problem, record.value, where)
        if isinstance(outcome, DeadLetter):
            out.deadletters[outcome.reason.value] += 1
        else:
            features, prediction, state, detections = scored_now
            if key is not None:
                states[key] = state
            served[outcome.event_id] = prediction.prediction
            came_at[outcome.event_id] = out.events
            out.tick(out.events, features.ts)
            example = joiner.scored(outcome.event_id, Scored(features.features, features.ts, features.prediction, features.model_version))
            if example is not None:  # its label came first
                learn(example)
            for d in detections:  # where in the stream (dead letters counted, as for every alert here), and
                # how many labelled examples had come by then
                out.alerts.append({**_detection(d, out.events), "at_example": out.examples})
            watch(outcome.data, detections)
        if progress is not None:
            progress(events)
    # labels whose event never came in the replayed range: unknown_event, as live
    out.deadletters["unknown_event"] += len(joiner.early)
    if not out.deadletters["unknown_event"]:
        del out.deadletters["unknown_event"]
    return learning.finish()
