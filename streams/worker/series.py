"""The live dashboard's numbers: samples of the worker's own Prometheus metrics, and the series
made from them.

A :class:`Sample` is what the worker's ``driftline_*`` metrics say at one instant (read
in-process from a prometheus_client registry by :func:`read_sample`). A :class:`Series` is fed one
sample a second and keeps the last ``capacity`` points in a ring buffer: throughput and dead
letters per second, end-to-end latency percentiles from the histogram's bucket deltas, the model
metrics, the versions in service and when they changed. :class:`AlertLog` keeps the last alerts.
Nothing here does I/O or reads a clock: the tests feed it by hand.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

#: the topic whose ``driftline_events_total`` counts the events processed (each valid raw event
#: is scored once, and its prediction written once)
EVENTS_TOPIC = "predictions"
#: the kinds of ``driftline_model_metric``, in the order the dashboard shows them
METRIC_KINDS = ("served", "prequential", "rolling")
ROLES = ("champion", "challenger")

Buckets = tuple[tuple[float, float], ...]  # (upper bound, cumulative count), ascending, +Inf last


@dataclass(frozen=True)
class Sample:
    """The worker's metrics at one instant."""

    ts: float
    events: Mapping[str, float] = field(default_factory=dict)  # driftline_events_total by topic
    deadletters: Mapping[str, float] = field(default_factory=dict)  # driftline_deadletters_total by reason
    latency: Buckets = ()  # driftline_end_to_end_seconds
    model_metrics: Mapping[tuple[str, str], float] = field(default_factory=dict)  # (kind, metric) -> value
    in_service: Mapping[str, int] = field(default_factory=dict)  # role -> version


def read_sample(registry: Any, ts: float) -> Sample:
    """Read a :class:`Sample` from a prometheus_client ``CollectorRegistry`` (in-process)."""
    events: dict[str, float] = {}
    dead: dict[str, float] = {}
    buckets: list[tuple[float, float]] = []
    model: dict[tuple[str, str], float] = {}
    serving: dict[str, int] = {}
    for family in registry.collect():
        if not family.name.startswith("driftline_"):
            continue
        for s in family.samples:
            if s.name == "driftline_events_total":
                events[s.labels.get("topic", "")] = s.value
            elif s.name == "driftline_deadletters_total":
                dead[s.labels.get("reason", "")] = s.value
            elif s.name == "driftline_end_to_end_seconds_bucket":
                buckets.append((float(s.labels["le"]), s.value))
            elif s.name == "driftline_model_metric" and math.isfinite(s.value):
                model[(s.labels.get("kind", ""), s.labels.get("metric", ""))] = s.value
            elif s.name == "driftline_model_version_in_service" and math.isfinite(s.value):
                serving[s.labels.get("role", "")] = int(s.value)
    buckets.sort()
    return Sample(ts, events, dead, tuple(buckets), model, serving)


def quantile(q: float, buckets: Sequence[tuple[float, float]]) -> float | None:
    """The ``q`` quantile of a cumulative histogram, as Prometheus' ``histogram_quantile`` does:
    linear within the bucket it falls in (the first bucket starts at 0); in the ``+Inf`` bucket,
    the highest finite bound. None when the histogram holds no observation.

    >>> quantile(0.5, [(0.1, 10), (0.2, 30), (float("inf"), 30)])
    0.125
    >>> quantile(0.99, [(0.1, 0), (float("inf"), 4)])
    0.1
    >>> quantile(0.5, [(0.1, 0), (float("inf"), 0)]) is None
    True
    """
    if not 0 < q < 1:
        raise ValueError(f"a quantile is between 0 and 1, not {q}")
    if not buckets or buckets[-1][1] <= 0:
        return None
    rank = q * buckets[-1][1]
    lower, below = 0.0, 0.0
    for bound, count in buckets:
        if count >= rank:
            if math.isinf(bound):
                return lower
            return lower + (bound - lower) * (rank - below) / (count - below)
        lower, below = bound, count
    return lower  # counts not monotonic: the highest bound seen


def bucket_deltas(now: Buckets, before: Buckets) -> Buckets:
    """The observations between two readings of a cumulative histogram (by bound; a bound the
    earlier reading lacks counts from zero; a count that went down counts from zero too)."""
    earlier = dict(before)
    out = []
    for bound, count in now:
        prior = earlier.get(bound, 0.0)
        out.append((bound, count - prior if count >= prior else count))
    return tuple(out)


def _total(values: Mapping[str, float]) -> float:
    return float(sum(values.values()))


def _rate(now: float, before: float, seconds: float) -> float | None:
    if seconds <= 0:
        return None
    return max(0.0, now - before) / seconds


def _round(x: float | None, digits: int = 6) -> float | None:
    if x is None or not math.isfinite(x):
        return None
    return float(f"{x:.{digits}g}")


@dataclass(frozen=True)
class Point:
    """One second of the dashboard's charts."""

    t: float
    events_total: float
    events_per_s: float | None
    deadletters_total: float
    deadletters_per_s: float | None
    latency_p50: float | None  # seconds
    latency_p95: float | None
    served: float | None
    prequential: float | None
    rolling: float | None
    champion: int | None
    challenger: int | None


POINT_FIELDS = tuple(Point.__dataclass_fields__)


class Series:
    """A ring buffer of the last ``capacity`` points, each made from one sample and the sample
    ``window`` samples before it (rates and latency percentiles are over that window).

    >>> s = Series(capacity=3, window=1)
    >>> s.add(Sample(0.0, events={"predictions": 0}))
    >>> s.add(Sample(2.0, events={"predictions": 10}, in_service={"champion": 1}))
    >>> s.last().events_per_s, s.last().champion, s.version_changes[0]["version"]
    (5.0, 1, 1)
    """

    def __init__(self, capacity: int = 600, window: int = 5, changes: int = 200) -> None:
        if capacity < 1 or window < 1:
            raise ValueError("capacity and window are at least 1")
        self.capacity = capacity
        self.window = window
        self.points: deque[Point] = deque(maxlen=capacity)
        self._samples: deque[Sample] = deque(maxlen=window + 1)
        #: when a role's version in service changed: {"t", "role", "version", "previous"}
        self.version_changes: deque[dict[str, Any]] = deque(maxlen=changes)
        self.metric_name: str | None = None
        self.latest: Sample | None = None

    def add(self, sample: Sample) -> None:
        previous = self._samples[-1] if self._samples else None
        if previous is not None and sample.ts <= previous.ts:
            return  # the clock went back (or a repeated sample): keep the series monotonic
        self._samples.append(sample)
        self.latest = sample
        base = self._samples[0] if len(self._samples) > 1 else None
        if previous is not None:
            for role in ROLES:
                was, now = previous.in_service.get(role), sample.in_service.get(role)
                if now != was:
                    self.version_changes.append({"t": sample.ts, "role": role, "version": now, "previous": was})
        events = sample.events.get(EVENTS_TOPIC, 0.0)
        dead = _total(sample.deadletters)
        events_rate = dead_rate = p50 = p95 = None
        if base is not None:
            seconds = sample.ts - base.ts
            events_rate = _rate(events, base.events.get(EVENTS_TOPIC, 0.0), seconds)
            dead_rate = _rate(dead, _total(base.deadletters), seconds)
            delta = bucket_deltas(sample.latency, base.latency)
            p50, p95 = quantile(0.5, delta), quantile(0.95, delta)
        metric = self._metric_name(sample)
        values = {kind: sample.model_metrics.get((kind, metric)) if metric else None for kind in METRIC_KINDS}
        self.points.append(Point(
            t=sample.ts, events_total=events, events_per_s=_round(events_rate), deadletters_total=dead,
            deadletters_per_s=_round(dead_rate), latency_p50=_round(p50), latency_p95=_round(p95),
            served=_round(values["served"]), prequential=_round(values["prequential"]),
            rolling=_round(values["rolling"]), champion=sample.in_service.get("champion"),
            challenger=sample.in_service.get("challenger")))

    def _metric_name(self, sample: Sample) -> str | None:
        """The model metric the charts follow: the first one seen (a pipeline has one)."""
        if self.metric_name is None:
            names = sorted({metric for _, metric in sample.model_metrics})
            if names:
                self.metric_name = names[0]
        return self.metric_name

    def last(self) -> Point | None:
        return self.points[-1] if self.points else None

    def columns(self, last: int | None = None) -> dict[str, list[Any]]:
        """The points as columns (``t``, ``events_per_s``, …), oldest first; the last ``last``."""
        points = list(self.points)
        if last is not None:
            points = points[-last:] if last > 0 else []
        return {name: [getattr(p, name) for p in points] for name in POINT_FIELDS}

    def summary(self) -> dict[str, Any]:
        """The current numbers: the latest point, with totals by topic and by reason."""
        point = self.last()
        sample = self.latest
        out: dict[str, Any] = {name: getattr(point, name) if point else None for name in POINT_FIELDS}
        out["metric"] = self.metric_name
        out["events_by_topic"] = dict(sample.events) if sample else {}
        out["deadletters_by_reason"] = dict(sorted(sample.deadletters.items())) if sample else {}
        out["samples"] = len(self.points)
        return out


class AlertLog:
    """The last ``capacity`` alerts, each numbered (``seq``) in the order they came.

    >>> log = AlertLog(capacity=2)
    >>> for kind in ("a", "b", "c"):
    ...     log.add({"kind": kind})
    >>> [a["kind"] for a in log.latest()], log.total
    (['c', 'b'], 3)
    >>> [a["kind"] for a in log.latest(since=2)]
    ['c']
    """

    def __init__(self, capacity: int = 200) -> None:
        self.alerts: deque[dict[str, Any]] = deque(maxlen=capacity)
        self.total = 0
        self.by_kind: dict[str, int] = {}

    def add(self, alert: Mapping[str, Any]) -> None:
        self.total += 1
        kind = str(alert.get("kind", ""))
        self.by_kind[kind] = self.by_kind.get(kind, 0) + 1
        self.alerts.append({**alert, "seq": self.total})

    def latest(self, since: int = 0, limit: int | None = None) -> list[dict[str, Any]]:
        """Alerts numbered above ``since``, newest first (at most ``limit``)."""
        out = [a for a in reversed(self.alerts) if a["seq"] > since]
        return out[:limit] if limit is not None else out
