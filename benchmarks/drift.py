"""`make bench-drift`: how often each drift alert fires on streams that do not change, and how
fast it catches streams that do (issue 16).

Every stream runs in process through the core the agents run (:class:`Scorer` validates,
featurizes, scores and watches predictions and features; :class:`Trainer` learns each labelled
example and watches the model's errors; a version it publishes serves from the next event on),
with the pipeline spec's own detectors at their defaults. Each monitor's signal is kept in order
and fed to a bare River detector of the same kind and parameters, with no warm-up, cool-down or
direction rule: the reference for the delays.

Streams (River's Agrawal generator; the demo pipeline's spec and features):
- stationary: classification functions 0, 4 and 8 (8 the slowest for a Hoeffding tree to learn),
  no change at all;
- concept change at ``CHANGE_AT``: function 0 -> 2, abrupt, or gradual over ``WIDTH`` events
  (River's ConceptDriftStream);
- feature change at ``CHANGE_AT``: ``salary`` +30,000 (data drift on the watched feature; the
  concept does not read salary), and fewer people aged 40-59 (a covariate shift that moves the
  model's predictions and keeps the concept: prediction drift), abrupt or ramped in over
  ``WIDTH`` events.

A change counts as caught when an alert of its kind comes within ``HORIZON`` events of its first
changed event; the delay counts from there (a gradual change starts ``WIDTH / 2`` before its
midpoint). False alarms are alerts of a kind before a change of that kind, or anywhere on a
stationary stream.
"""

from __future__ import annotations

import itertools
import os
import platform
import random
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import orjson
from river.datasets import synth

from benchmarks.live import _quantile
from benchmarks.results import write_drift
from schemas import DeadLetter
from streams.core.drift import DETECTOR_TYPES, KIND, make_detector
from streams.core.example import Example
from streams.core.features import EntityState
from streams.core.replay import Learning, ReplayResult
from streams.core.scoring import Scorer, Where
from streams.core.spec import PipelineSpec
from streams.kafka.sources import agrawal
from streams.specs.load import DEFAULT_SPEC_PATH, load_spec

CHANGE_AT = 10_000  # where a change starts (abrupt) or is half done (gradual)
WIDTH = 2_000  # a gradual change's width, in events
HORIZON = 5_000  # a change is caught when an alert comes this many events after it, at most
# 100 customers, one event a second between them: the spec's entity features (events in the last
# hour, the mean of the last 10 loans) are stationary once the first hour (3,600 events) has
# passed. (Built-in streams are 0.01 s apart over 1,000 customers: an hour's count then grows
# all through a run, a trend the prediction monitor rightly sees.)
ENTITIES, EVENT_EVERY_S = 100, 1.0

Item = tuple[dict[str, Any], Any]


@dataclass(frozen=True)
class Case:
    """One stream to run: what changes (None: nothing), how, and its seed."""

    stream: str  # "stationary-f0", "concept", "salary", "age"
    how: str  # "none", "abrupt" or "gradual"
    seed: int
    events: int

    @property
    def kind(self) -> str | None:
        """The alert kind this stream's change should raise (None: a stationary stream)."""
        return {"concept": "concept_drift", "salary": "data_drift", "age": "prediction_drift"}.get(self.stream)

    @property
    def start(self) -> int:
        """The first changed event's position (1-based): the delay counts from there, and an
        alert before it is a false alarm. A gradual change starts ``WIDTH / 2`` before its
        midpoint (River's sigmoid mix begins a little before that)."""
        return CHANGE_AT + 1 - (WIDTH // 2 if self.how == "gradual" else 0)


@dataclass
class Run:
    """What one stream raised: each alert (kind, subject, event position), and for each
    monitor the positions where the bare River detector fired on the same signal."""

    case: Case
    alerts: list[tuple[str, str, int]] = field(default_factory=list)
    bare: dict[tuple[str, str], list[int]] = field(default_factory=dict)
    #: the same, with River's own default parameters for the detector
    river_defaults: dict[tuple[str, str], list[int]] = field(default_factory=dict)
    seconds: float = 0.0


def stream(case: Case) -> Iterator[Item]:
    """The case's ``(raw event, label)`` pairs, as ``driftline produce`` would send them."""
    if case.stream.startswith("stationary-f"):
        data: Iterator[tuple[dict[str, Any], Any]] = agrawal(int(case.stream.removeprefix("stationary-f")), case.seed)
    elif case.stream == "concept":
        if case.how == "abrupt":
            data = itertools.chain(itertools.islice(agrawal(0, case.seed), CHANGE_AT), agrawal(2, case.seed + 1))
        else:
            data = iter(synth.ConceptDriftStream(synth.Agrawal(classification_function=0, seed=case.seed),
                                                 synth.Agrawal(classification_function=2, seed=case.seed + 1),
                                                 seed=case.seed, position=CHANGE_AT, width=WIDTH))
    elif case.stream == "salary":
        data = _shifted(agrawal(0, case.seed), "salary", 30_000.0, case.how)
    else:
        data = _thinned(agrawal(0, case.seed), case.seed, case.how)
    for i, (x, y) in enumerate(itertools.islice(data, case.events)):
        event = {"event_id": f"e-{i}", "entity_id": f"c-{(i * 7919) % ENTITIES}", "ts": 1_700_000_000.0 + i * EVENT_EVERY_S,
                 "data": {str(k): (float(v) if isinstance(v, float) else v) for k, v in x.items()}}
        yield event, bool(y)


def _shifted(data: Iterator[tuple[dict[str, Any], Any]], feature: str, by: float, how: str) -> Iterator[tuple[dict[str, Any], Any]]:
    """A feature moved by ``by`` from the change on (abrupt) or linearly across ``WIDTH`` events
    around it (gradual); the labels stay the generator's."""
    for i, (x, y) in enumerate(data):
        share = (1.0 if i >= CHANGE_AT else 0.0) if how == "abrupt" else min(1.0, max(0.0, (i - CHANGE_AT + WIDTH / 2) / WIDTH))
        if share:
            x = {**x, feature: type(x[feature])(x[feature] + by * share)}
        yield x, y


def _thinned(data: Iterator[tuple[dict[str, Any], Any]], seed: int, how: str) -> Iterator[tuple[dict[str, Any], Any]]:
    """A covariate shift that keeps the concept: from the change on (or ramped in across
    ``WIDTH`` events), 80% of people aged 40 to 59 no longer come. Function 0 labels by age,
    so the share of each class, and with it the model's predictions, moves; each label stays
    right for its features."""
    rng = random.Random(seed)
    i = 0
    for x, y in data:
        share = (1.0 if i >= CHANGE_AT else 0.0) if how == "abrupt" else min(1.0, max(0.0, (i - CHANGE_AT + WIDTH / 2) / WIDTH))
        if share and 40 <= x["age"] < 60 and rng.random() < 0.8 * share:
            continue
        i += 1
        yield x, y


def run(case: Case, spec: PipelineSpec | None = None) -> Run:
    """One stream through the agents' core, labels at once; every alert, and the bare detectors'."""
    spec = spec or load_spec(DEFAULT_SPEC_PATH)
    began = time.perf_counter()
    scorer = Scorer(spec, clock=lambda: 0.0)
    learning = Learning(spec, ReplayResult(metric=spec.training.metric), scorer.serve, every=1000)
    monitors = [m for _, m in scorer.monitors] + list(learning.trainer.monitors)
    for monitor in monitors:
        monitor.trace = []
    out = Run(case)
    states: dict[str, EntityState] = {}
    for n, (event, label) in enumerate(stream(case), 1):
        where = Where("bench", 0, n, None)
        outcome = scorer.validate(orjson.dumps(event), where, dedup=False)
        assert not isinstance(outcome, DeadLetter), f"{case}: event {n} dead-lettered: {outcome.detail}"
        key = outcome.entity_id  # type: ignore[union-attr]
        features, prediction, state, found = scorer.score(outcome, states.get(key) if key else None, where)  # type: ignore[arg-type]
        if key is not None:
            states[key] = state
        out.alerts += [(d.kind, d.subject, n) for d in found]
        before = len(learning.out.alerts)
        learning.learn(Example(outcome.event_id, features.features, label, features.ts, prediction.prediction,  # type: ignore[union-attr]
                               features.model_version), count_served=True, at_event=n)
        out.alerts += [(a["kind"], a["subject"], n) for a in learning.out.alerts[before:] if a["kind"] == "concept_drift"]
    for monitor in monitors:
        key, trace = (KIND[monitor.spec.signal], monitor.subject), monitor.trace or []
        out.bare[key] = bare_detections(monitor.spec.signal, monitor.spec.detector, dict(monitor.spec.params), trace)
        out.river_defaults[key] = bare_detections(monitor.spec.signal, monitor.spec.detector, {}, trace, river_defaults=True)
    out.seconds = time.perf_counter() - began
    return out


def bare_detections(signal: str, detector: str, params: dict[str, Any], trace: list[tuple[int, Any]], *,
                    river_defaults: bool = False) -> list[int]:
    """Where River's detector alone, at the monitor's parameters (or River's own defaults), fires
    on the signal the monitor saw (positions as the monitor counts them: events, or labelled
    examples, one per event here).

    >>> bare_detections("error", "HDDM_A", {}, [(i, int(i > 3000)) for i in range(1, 4000)])[0] > 3000
    True
    """
    params = {k: v for k, v in params.items() if k != "min_increase"}
    bare = DETECTOR_TYPES[detector]() if river_defaults else make_detector(signal, detector, params)
    found = []
    for position, value in trace:
        bare.update(float(value) if isinstance(value, bool) else value)
        if bare.drift_detected:
            found.append(position)
    return found


@dataclass(frozen=True)
class Row:
    """One line of the table: an alert kind on a family of streams."""

    kind: str
    streams: str
    runs: int
    events: int
    false_alarms: int
    runs_with_false_alarm: int
    caught: int | None = None  # None: a stationary family
    delays: tuple[int, ...] = ()
    bare_delays: tuple[int, ...] = ()
    bare_false_alarms: int = 0  # the bare River detector's detections where the stream had not changed
    defaults_false_alarms: int = 0  # the same detector at River's own defaults
    defaults_delays: tuple[int, ...] = ()

    def cells(self) -> list[str]:
        def per_100k(n: int) -> str:
            return f"{n / self.events * 100_000:.2f}" if self.events else "-"

        def spread(delays: tuple[int, ...]) -> str:
            return f"{_quantile(list(delays), 0.5):,.0f} / {_quantile(list(delays), 0.9):,.0f}" if delays else "-"

        cells = [self.kind, self.streams, f"{self.runs}", f"{self.events:,}",
                 f"{per_100k(self.false_alarms)} ({per_100k(self.bare_false_alarms)}; {per_100k(self.defaults_false_alarms)})",
                 f"{self.runs_with_false_alarm / self.runs:.0%}"]
        if self.caught is None:
            return cells + ["", "", ""]
        return cells + [f"{self.caught / self.runs:.0%}", f"{spread(self.delays)} ({spread(self.bare_delays)})",
                        spread(self.defaults_delays)]


HEADER = ["alert kind", "streams", "runs", "events (before a change)",
          "false alarms / 100k events (bare River, same parameters; River's defaults)", "runs with a false alarm",
          "caught", "delay median / p90 (bare River, same parameters)", "River's defaults: delay median / p90"]

KINDS = ("data_drift", "prediction_drift", "concept_drift")


def rows(runs: list[Run]) -> list[Row]:
    """The table: for each alert kind, the stationary streams together, then each changing family."""
    out = []
    families: dict[str, list[Run]] = {}
    for r in runs:
        name = "stationary (f0, f4, f8)" if r.case.kind is None else f"{r.case.stream} change, {r.case.how}"
        families.setdefault(name, []).append(r)
    for kind in KINDS:
        for name, family in families.items():
            target = family[0].case.kind
            if target is not None and target != kind:
                continue
            false_alarms, with_alarm, delays, caught, events = 0, 0, [], 0, 0
            bare: list[int] = []
            defaults: list[int] = []
            bare_alarms = defaults_alarms = 0
            for r in family:
                early, hit = _judge([n for k, _, n in r.alerts if k == kind], r.case)
                false_alarms += early
                with_alarm += bool(early)
                events += r.case.events if target is None else min(r.case.events, r.case.start)
                caught += hit is not None
                delays += [hit] if hit is not None else []
                for found, alarms, spread in ((r.bare, "bare", bare), (r.river_defaults, "defaults", defaults)):
                    positions = next((v for (k, _), v in found.items() if k == kind), [])
                    early, hit = _judge(positions, r.case)
                    bare_alarms += early if alarms == "bare" else 0
                    defaults_alarms += early if alarms == "defaults" else 0
                    spread += [hit] if hit is not None else []
            if target is None:
                delays, bare, defaults = [], [], []
            out.append(Row(kind, name, len(family), events, false_alarms, with_alarm, None if target is None else caught,
                           tuple(delays), tuple(bare), bare_alarms, defaults_alarms, tuple(defaults)))
    return out


def _judge(positions: list[int], case: Case) -> tuple[int, int | None]:
    """Detections before the change (false alarms), and the delay of the first one within
    ``HORIZON`` of it (None: missed, or a stationary stream)."""
    if case.kind is None:
        return len(positions), None
    early = sum(1 for n in positions if n < case.start)
    hit = next((n - case.start for n in positions if case.start <= n <= case.start + HORIZON), None)
    return early, hit


def cases(seeds: int, stationary_events: int, change_events: int) -> list[Case]:
    """Every stream of the suite, ``seeds`` seeds each."""
    out = [Case(f"stationary-f{f}", "none", seed, stationary_events) for f in (0, 4, 8) for seed in range(seeds)]
    out += [Case(s, how, 100 + seed, change_events) for s in ("concept", "salary", "age")
            for how in ("abrupt", "gradual") for seed in range(seeds)]
    return out


def markdown(table: list[Row]) -> str:
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    lines += ["| " + " | ".join(r.cells()) + " |" for r in table]
    return "\n".join(lines)


def evaluate(all_cases: list[Case], workers: int, progress: Callable[[Run], None] | None = None) -> list[Run]:
    done: list[Run] = []
    with ProcessPoolExecutor(max_workers=workers) as pool:
        for r in pool.map(run, all_cases):
            done.append(r)
            if progress is not None:
                progress(r)
    return done


def main() -> None:
    seeds = int(os.environ.get("DRIFTLINE_DRIFT_SEEDS", "8"))
    stationary = int(os.environ.get("DRIFTLINE_DRIFT_STATIONARY_EVENTS", "50000"))
    changing = CHANGE_AT + HORIZON + WIDTH
    all_cases = cases(seeds, stationary, changing)
    workers = os.cpu_count() or 1
    began = time.monotonic()
    total = sum(c.events for c in all_cases)
    print(f"drift evaluation: {len(all_cases)} streams, {total:,} events, seeds 0-{seeds - 1} (changes: 100-{99 + seeds}), "
          f"{workers} processes; {platform.processor() or platform.machine()}, Python {platform.python_version()}", flush=True)

    def say(r: Run) -> None:
        print(f"  {r.case.stream:<14} {r.case.how:<8} seed {r.case.seed:<4} {r.case.events:>7,} events in {r.seconds:5.1f}s: "
              f"{len(r.alerts)} alerts" + "".join(f"; {k} at {n:,}" for k, _, n in r.alerts), flush=True)

    table = rows(evaluate(all_cases, workers, say))
    seconds = time.monotonic() - began
    print(f"\n{markdown(table)}\n\n{seconds:.0f} s", flush=True)
    print(f"results: {write_drift(markdown(table), len(all_cases), total, seconds, workers)}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
