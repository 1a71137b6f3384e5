"""The dashboard's series: rates, latency percentiles from bucket deltas, version changes, alerts."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from streams.worker.series import AlertLog, Sample, Series, bucket_deltas, quantile, read_sample

INF = float("inf")
BOUNDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)  # driftline_end_to_end_seconds


def histogram(observations: list[float], bounds: tuple[float, ...] = BOUNDS) -> tuple[tuple[float, float], ...]:
    """Cumulative buckets as Prometheus keeps them (an observation counts in every bound >= it)."""
    return tuple((b, float(sum(o <= b for o in observations))) for b in (*bounds, INF))


def test_quantile_interpolates_within_the_bucket_like_prometheus() -> None:
    buckets = ((0.1, 10.0), (0.2, 30.0), (0.4, 40.0), (INF, 40.0))
    # rank 20 of 40 is halfway through the (0.1, 0.2] bucket, which holds ranks 11..30
    assert quantile(0.5, buckets) == pytest.approx(0.15)
    # rank 38 is 8/10 through (0.2, 0.4]
    assert quantile(0.95, buckets) == pytest.approx(0.36)
    # the first bucket starts at zero
    assert quantile(0.25, buckets) == pytest.approx(0.1)
    assert quantile(0.1, buckets) == pytest.approx(0.04)


def test_a_quantile_in_the_inf_bucket_is_the_highest_finite_bound() -> None:
    assert quantile(0.95, histogram([0.001, 50.0, 60.0, 70.0])) == 30


def test_no_observations_no_quantile_and_q_must_be_a_fraction() -> None:
    assert quantile(0.5, histogram([])) is None
    assert quantile(0.5, ()) is None
    with pytest.raises(ValueError):
        quantile(1.0, histogram([0.1]))
    with pytest.raises(ValueError):
        quantile(0.0, histogram([0.1]))


@given(st.lists(st.floats(min_value=0, max_value=40, allow_nan=False), min_size=1, max_size=300),
       st.floats(min_value=0.01, max_value=0.99))
def test_the_estimate_lies_in_the_bucket_that_holds_the_true_quantile(values: list[float], q: float) -> None:
    estimate = quantile(q, histogram(values))
    assert estimate is not None
    ordered = sorted(values)
    true = ordered[max(0, math.ceil(q * len(ordered)) - 1)]  # the rank-th observation
    upper = next((b for b in BOUNDS if true <= b), INF)
    lower = max((b for b in BOUNDS if b < true), default=0.0)
    if math.isinf(upper):
        assert estimate == BOUNDS[-1]
    else:
        assert lower <= estimate <= upper


@given(st.lists(st.floats(min_value=0, max_value=40, allow_nan=False), min_size=1, max_size=200))
def test_p50_never_exceeds_p95(values: list[float]) -> None:
    buckets = histogram(values)
    assert quantile(0.5, buckets) <= quantile(0.95, buckets)  # type: ignore[operator]


def test_bucket_deltas_count_only_what_came_between_two_readings() -> None:
    before = histogram([0.003] * 100)  # a slow start that must not weigh on the next window
    now = histogram([0.003] * 100 + [0.3] * 10)
    delta = bucket_deltas(now, before)
    assert delta == histogram([0.3] * 10)
    assert quantile(0.5, delta) == pytest.approx(0.25 + 0.25 * 0.5)
    # a bound the earlier reading lacks counts from zero; a count that went down (a reset) too
    assert bucket_deltas(((0.1, 3.0), (INF, 5.0)), ((INF, 9.0),)) == ((0.1, 3.0), (INF, 5.0))


def sample(ts: float, events: float = 0, dead: dict[str, float] | None = None, lat: list[float] | None = None,
           served: float | None = None, champion: int | None = None, challenger: int | None = None) -> Sample:
    metrics = {("served", "accuracy"): served, ("prequential", "accuracy"): served and served - 0.01}
    roles = {"champion": champion, "challenger": challenger}
    return Sample(ts, {"predictions": events}, dead or {}, histogram(lat or []),
                  {k: v for k, v in metrics.items() if v is not None}, {k: v for k, v in roles.items() if v is not None})


def test_rates_and_percentiles_are_over_the_window_of_samples() -> None:
    s = Series(capacity=100, window=2)
    s.add(sample(100.0, events=0, lat=[]))
    first = s.last()
    assert first is not None and first.events_per_s is None and first.latency_p50 is None  # nothing to compare yet
    s.add(sample(101.0, events=300, dead={"invalid_json": 3}, lat=[0.02] * 300))
    assert s.last().events_per_s == 300 and s.last().deadletters_per_s == 3  # type: ignore[union-attr]
    s.add(sample(102.0, events=900, dead={"invalid_json": 3, "oversized": 1}, lat=[0.02] * 300 + [0.4] * 600))
    point = s.last()
    assert point is not None
    # over the last two seconds: 900 events, 4 dead letters
    assert point.events_per_s == 450 and point.deadletters_per_s == 2 and point.deadletters_total == 4
    # 300 at 20 ms, 600 at 400 ms: the median is in (0.25, 0.5], p95 too
    assert 0.25 < point.latency_p50 < point.latency_p95 <= 0.5  # type: ignore[operator]
    s.add(sample(103.0, events=1000, lat=[0.02] * 400 + [0.4] * 600))
    # the window moved on: only what came since t=101 (600 slow, 100 fast) counts
    assert s.last().events_per_s == 350  # type: ignore[union-attr]
    assert s.last().latency_p50 == pytest.approx(quantile(0.5, histogram([0.02] * 100 + [0.4] * 600)))  # type: ignore[union-attr]


def test_an_idle_window_has_no_latency_and_zero_throughput() -> None:
    s = Series(window=1)
    s.add(sample(1.0, events=50, lat=[0.01] * 50))
    s.add(sample(2.0, events=50, lat=[0.01] * 50))
    assert s.last().events_per_s == 0 and s.last().latency_p50 is None  # type: ignore[union-attr]


def test_model_metrics_follow_the_first_metric_name_seen() -> None:
    s = Series()
    s.add(sample(1.0))
    assert s.last().served is None and s.metric_name is None  # type: ignore[union-attr]
    s.add(sample(2.0, served=0.91))
    assert s.metric_name == "accuracy"
    assert s.last().served == 0.91 and s.last().prequential == pytest.approx(0.90)  # type: ignore[union-attr]


def test_version_changes_are_marked_when_a_role_changes_not_at_start() -> None:
    s = Series()
    s.add(sample(1.0, champion=3))  # already serving at start: not a change
    s.add(sample(2.0, champion=3))
    s.add(sample(3.0, champion=4))
    s.add(sample(4.0, champion=4, challenger=5))
    s.add(sample(5.0, champion=5))  # the challenger promoted
    assert list(s.version_changes) == [
        {"t": 3.0, "role": "champion", "version": 4, "previous": 3},
        {"t": 4.0, "role": "challenger", "version": 5, "previous": None},
        {"t": 5.0, "role": "champion", "version": 5, "previous": 4},
        {"t": 5.0, "role": "challenger", "version": None, "previous": 5},
    ]
    assert s.columns()["champion"] == [3, 3, 4, 4, 5]


def test_the_ring_buffer_keeps_the_last_capacity_points_in_time_order() -> None:
    s = Series(capacity=5, window=1)
    for i in range(12):
        s.add(sample(float(i), events=10 * i))
    s.add(sample(5.0, events=999))  # a clock that went back is not a new point
    columns = s.columns()
    assert columns["t"] == [7.0, 8.0, 9.0, 10.0, 11.0]
    assert columns["events_per_s"] == [10.0] * 5
    assert s.columns(last=2)["t"] == [10.0, 11.0] and s.columns(last=0)["t"] == []
    summary = s.summary()
    assert summary["events_total"] == 110 and summary["samples"] == 5 and summary["events_by_topic"] == {"predictions": 110}


def test_read_sample_reads_the_driftline_metrics_from_a_registry() -> None:
    registry = CollectorRegistry()
    events = Counter("driftline_events_total", "", ["topic"], registry=registry)
    dead = Counter("driftline_deadletters_total", "", ["reason"], registry=registry)
    latency = Histogram("driftline_end_to_end_seconds", "", buckets=BOUNDS, registry=registry)
    metric = Gauge("driftline_model_metric", "", ["kind", "metric"], registry=registry)
    serving = Gauge("driftline_model_version_in_service", "", ["role"], registry=registry)
    Counter("other_total", "", registry=registry).inc()
    events.labels("predictions").inc(42)
    dead.labels("invalid_json").inc(2)
    dead.labels("oversized").inc()
    for seconds in (0.003, 0.03, 0.3, 40.0):
        latency.observe(seconds)
    metric.labels("served", "accuracy").set(0.875)
    metric.labels("rolling", "accuracy").set(0.9)
    serving.labels("champion").set(7)

    got = read_sample(registry, ts=12.5)
    assert got.ts == 12.5
    assert got.events == {"predictions": 42}
    assert got.deadletters == {"invalid_json": 2, "oversized": 1}
    assert got.latency == histogram([0.003, 0.03, 0.3, 40.0])
    assert got.model_metrics == {("served", "accuracy"): 0.875, ("rolling", "accuracy"): 0.9}
    assert got.in_service == {"champion": 7}
    s = Series(window=1)
    s.add(read_sample(CollectorRegistry(), ts=1.0))  # no driftline metrics yet: an empty sample
    s.add(got)
    assert s.last().events_per_s == pytest.approx(42 / 11.5, rel=1e-5) and s.last().latency_p95 == 30  # type: ignore[union-attr]


def test_the_alert_log_keeps_the_last_alerts_newest_first_and_numbers_them() -> None:
    log = AlertLog(capacity=3)
    for i in range(5):
        log.add({"kind": "model_published" if i % 2 else "concept_drift", "ts": float(i)})
    assert log.total == 5 and log.by_kind == {"concept_drift": 3, "model_published": 2}
    assert [a["seq"] for a in log.latest()] == [5, 4, 3]
    assert [a["seq"] for a in log.latest(since=3)] == [5, 4]
    assert [a["seq"] for a in log.latest(limit=1)] == [5]
