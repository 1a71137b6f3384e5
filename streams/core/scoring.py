"""The hot path's logic: validate a raw record, featurize it, score it, watch for drift.

Agents and replay call these same methods; state (the model in service, the duplicate memory,
the drift monitors) lives in the :class:`Scorer`, per-entity state is passed in and returned.
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

from river import base

from schemas import (
    Accepted,
    DeadLetter,
    FeatureVector,
    Prediction,
    RawEvent,
    Reason,
    check_fields,
    decode,
    fits_compiled,
    quick_raw,
)
from streams.core.drift import Detection, DriftMonitor
from streams.core.features import EntityState, Unscorable, featurize
from streams.core.lookup import Lookups
from streams.core.model import build_model, is_classifier, score
from streams.core.seen import SeenEvents
from streams.core.spec import DriftSpec, PipelineSpec


def in_canary(entity_id: str | None, percent: float) -> bool:
    """Whether an entity is in the canary share: a stable hash, the same in every worker and run.

    >>> sum(in_canary(f"c-{i}", 10.0) for i in range(10_000)) // 100
    10
    >>> in_canary(None, 100.0), in_canary("c-1", 0.0), in_canary("c-1", 100.0)
    (False, False, True)
    """
    if entity_id is None or percent <= 0.0:
        return False
    return zlib.crc32(entity_id.encode()) % 10_000 < percent * 100


class Where(NamedTuple):
    """Where a record came from: for dead letters and lineage (a named tuple: one per event, at a
    fifth of a frozen dataclass's cost)."""

    topic: str
    partition: int | None
    offset: int | None
    record_ts: float | None


@dataclass(frozen=True)
class Served:
    """A model in service: its version and the estimator."""

    version: int | None
    model: base.Estimator


class Scorer:
    """Validation, features, scoring and data/prediction drift for one stream of raw records."""

    def __init__(self, spec: PipelineSpec, *, max_bytes: int = 64 * 1024, clock: Callable[[], float] = time.time) -> None:
        self.spec = spec
        self.max_bytes = max_bytes
        self.clock = clock
        self.seen = SeenEvents(horizon=spec.dedup_horizon)
        self.fits = fits_compiled(spec.fields)
        #: the reference tables the spec's lookups read (filled by the worker, or by replay)
        self.lookups = Lookups()
        self.champion = Served(None, build_model(spec))
        self.challenger: Served | None = None
        self.classifier = is_classifier(self.champion.model)
        self.monitors = [
            (d, DriftMonitor(d, d.feature or "predictions"))
            for d in spec.drift if d.signal in ("feature", "prediction")
        ]
        self.scored = 0
        #: the served champion's trained examples (0: the untrained model a pipeline starts with)
        self.champion_trained = 0
        #: each prediction monitor's start: (scored position, the version it watches, its trained examples)
        self.watching_since: dict[str, tuple[int, int | None, int]] = {}
        #: each prediction monitor's pinned model (see :meth:`_probe_prediction`)
        self.probes: dict[str, Served] = {}
        #: event time for the entity features' time windows to fill once, from the first event
        self.windows_fill_s = max((e.seconds or 0.0 for e in spec.entity), default=0.0)
        self.first_ts: float | None = None

    def validate(self, value: bytes | None, where: Where, *, dedup: bool = True) -> RawEvent | DeadLetter:
        """A valid, new raw event, or the dead letter that says why not. With ``dedup=False`` the
        caller asks a shared memory of event ids instead (the worker: Redis) and dead-letters a
        repeat with :meth:`duplicate`."""
        event = quick_raw(value, self.max_bytes, where.record_ts, self.fits)  # the common case, or None: ask decode why
        if event is None:
            outcome = decode("raw", value, max_bytes=self.max_bytes, source_topic=where.topic,
                             partition=where.partition, offset=where.offset, record_ts=where.record_ts, now=self.clock)
            if not isinstance(outcome, Accepted):
                return outcome.dead_letter
            event = outcome.value
            problem = check_fields(event.data, self.spec.fields)
            if problem is not None:
                return DeadLetter.for_bytes(problem[0], problem[1], value, source_topic=where.topic,
                                            partition=where.partition, offset=where.offset, ts=self.clock())
        if dedup and not self.seen.add(event.event_id, now=event.ts or 0.0):
            return self.duplicate(value, where, event.event_id)
        return event

    def duplicate(self, value: bytes | None, where: Where, event_id: str) -> DeadLetter:
        """The dead letter of an event whose id was seen within the dedup horizon."""
        return DeadLetter.for_bytes(Reason.DUPLICATE_EVENT, f"event_id {event_id!r} was seen within the last {self.spec.dedup_horizon:g}s",
                                    value, source_topic=where.topic, partition=where.partition, offset=where.offset, ts=self.clock())

    def unscorable(self, problem: Unscorable, value: bytes | None, where: Where) -> DeadLetter:
        """The dead letter of an event whose features could not be computed (see :meth:`score`)."""
        return DeadLetter.for_bytes(problem.reason, str(problem), value, source_topic=where.topic,
                                    partition=where.partition, offset=where.offset, ts=self.clock())

    def score(self, event: RawEvent, state: EntityState | None, where: Where) -> tuple[FeatureVector, Prediction, EntityState, list[Detection]]:
        """Features, the served prediction (and the challenger's, in shadow), new entity state.
        An event whose features cannot be computed raises :class:`Unscorable` (its state left as
        it was): the caller dead-letters it with :meth:`unscorable`."""
        position = (where.partition, where.offset) if where.partition is not None and where.offset is not None else None
        ts = event.ts if event.ts is not None else self.clock()
        looked: dict[str, Any] | None = None
        used = None
        if self.spec.lookups:
            looked = {}
            used = self.lookups.enrich(self.spec, event, ts, looked)  # before any state changes
        x, new_state = featurize(self.spec, event, state, position)
        if looked:
            x.update(looked)
        served = score(self.champion.model, x, self.classifier)
        version = self.champion.version
        challenger = None
        if self.challenger is not None:
            shadow = score(self.challenger.model, x, self.classifier)
            challenger = {"model_version": self.challenger.version, "prediction": shadow.prediction}
            if in_canary(event.entity_id, self.spec.training.canary_percent) and shadow.prediction is not None:
                served, version = shadow, self.challenger.version
        self.scored += 1
        features = FeatureVector.made(event.event_id, event.entity_id, ts, x, where.partition, where.offset, version,
                                      served.prediction, self.scored, used)
        prediction = Prediction.made(event.event_id, event.entity_id, version or 0, served.prediction, served.proba, ts,
                                     self.clock(), challenger)
        detections = []
        for d, monitor in self.monitors:
            if d.signal == "prediction":
                value: Any = self._probe_prediction(d, monitor.subject, x, version, served.prediction, ts)
            else:
                value = event.data.get(d.feature or "")
            if value is None:
                continue
            found = monitor.update(value, self.scored)
            if found is not None:
                detections.append(found)
        return features, prediction, new_state, detections

    def _probe_prediction(self, d: DriftSpec, subject: str, x: dict[str, Any], version: int | None, served: Any,
                          ts: float) -> Any:
        """What the prediction monitor watches: the predictions of one fixed model, the first
        champion trained on ``after_examples`` (None before one served), once the entity
        features' time windows have filled. A model that goes on learning moves its own
        predictions, version after version, and so does a count over the last hour during the
        stream's first hour: watching a pinned model after that, only a change in what comes in
        moves them."""
        probe = self.probes.get(subject)
        if probe is None:
            if self.first_ts is None:
                self.first_ts = ts
            if self.champion.version is None or self.champion_trained < d.after_examples:
                return None  # the model is still learning
            if ts - self.first_ts < self.windows_fill_s:
                return None  # an entity feature's window is still filling: it grows, by itself
            probe = self.probes[subject] = self.champion
            self.watching_since[subject] = (self.scored, self.champion.version, self.champion_trained)
        if probe.version == version:
            return served
        return score(probe.model, x, self.classifier).prediction

    def concerns(self, version: int, status: str) -> bool:
        """Whether a version event changes what this scorer serves: a new champion or challenger,
        or a status change of a version it serves (a retired or candidate version nobody serves
        needs no loading)."""
        serving = {self.champion.version, self.challenger.version if self.challenger is not None else None}
        return status in ("champion", "challenger") or version in serving

    def serve(self, version: int, model: base.Estimator, status: str, trained_examples: int | None = None) -> None:
        """Take a published version into service: the champion, or a challenger in shadow.
        ``trained_examples`` (from its version event; None: not known, taken as enough) starts
        the prediction monitors once a champion has learned what they wait for."""
        if status == "champion":
            self.champion = Served(version, model)
            self.champion_trained = 1 << 62 if trained_examples is None else trained_examples
            if self.challenger is not None and self.challenger.version == version:
                self.challenger = None
        elif status == "challenger":
            self.challenger = Served(version, model)
        elif status == "retired" and self.challenger is not None and self.challenger.version == version:
            self.challenger = None


def monitored_examples(trained_examples: int, source: dict[str, str]) -> int | None:
    """A version's trained examples as the prediction monitors count them (see
    :meth:`Scorer.serve`): None, taken as enough, for a model registered from a file (``source``),
    which was trained elsewhere on examples the stream never saw.

    >>> monitored_examples(1200, {}), monitored_examples(0, {"file": "model.joblib"})
    (1200, None)
    """
    return None if source else trained_examples


def registered_challenger(status: str, changed_by: str) -> bool:
    """A challenger a person registered (``driftline models register``): the trainer shadows it
    and judges it at the promotion gate, as its own."""
    return status == "challenger" and changed_by not in ("trainer", "")


def promoted_by_hand(status: str, changed_by: str) -> bool:
    """A champion someone other than the trainer chose: the trainer adopts it, and watches it
    against the champion before it, to roll back."""
    return status == "champion" and changed_by not in ("trainer", "")
