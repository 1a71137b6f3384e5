"""The drift detectors' defaults, judged over several seeds: each test states the false alarms or
misses it allows over how many streams, rather than passing on one seed it was tuned to."""

import random

import pytest

from streams.core.drift import DriftMonitor, FrequencyShift
from streams.core.spec import DEFAULT_DETECTOR, DriftSpec
from streams.specs.load import load_spec


@pytest.mark.parametrize(
    ("signal", "detector", "draw"),
    [
        ("error", "HDDM_A", lambda rng: rng.random() < 0.3),
        ("error", "HDDM_A", lambda rng: rng.random() < 0.02),
        ("error", "ADWIN", lambda rng: rng.random() < 0.3),
        ("feature", "ADWIN", lambda rng: rng.gauss(50_000, 20_000)),
        ("prediction", "ADWIN", lambda rng: rng.random() < 0.6),
    ],
)
def test_defaults_raise_nothing_on_100k_stationary_events(signal: str, detector: str, draw) -> None:  # type: ignore[no-untyped-def]
    """At most one false alarm in 8 streams of 25,000 stationary events (seeds 0-7): a rate
    under 1 in 100,000 events. (Measured over 40 such streams: HDDM_A on 30% errors raised 1 in
    1,000,000; the others none.)"""
    alarms = []
    for seed in range(8):
        rng = random.Random(seed)
        monitor = DriftMonitor(DriftSpec(signal, detector), signal)
        alarms += [(seed, i) for i in range(25_000) if monitor.update(draw(rng), i)]
    assert len(alarms) <= 1, alarms


@pytest.mark.parametrize("detector", ["HDDM_A", "ADWIN"])
def test_a_real_rise_in_errors_is_caught_quickly_and_once(detector: str) -> None:
    """An error rate rising from 5% to 35% is caught once within 300 events in each of 5 streams
    (seeds 0-4): no miss, no second alarm, none before the rise."""
    for seed in range(5):
        rng = random.Random(seed)
        monitor = DriftMonitor(DriftSpec("error", detector), "errors")
        hits = [monitor.update(rng.random() < (0.05 if i < 6_000 else 0.35), i) for i in range(12_000)]
        found = [h for h in hits if h]
        assert len(found) == 1 and 6_000 <= found[0].position < 6_300, (seed, [h.position for h in found])
        assert found[0].before < 0.1 and found[0].statistic > found[0].before  # the alert tells the rate rose


@pytest.mark.parametrize("detector", ["HDDM_A", "ADWIN"])
def test_falling_errors_are_not_concept_drift(detector: str) -> None:
    """Errors falling from 35% to 5% raise nothing in any of 5 streams (seeds 0-4)."""
    for seed in range(5):
        rng = random.Random(seed)
        monitor = DriftMonitor(DriftSpec("error", detector), "errors")
        assert [i for i in range(12_000) if monitor.update(rng.random() < (0.35 if i < 6_000 else 0.05), i)] == [], seed


def test_errors_get_the_one_sided_detector_unless_the_spec_names_one() -> None:
    assert DEFAULT_DETECTOR["error"] == "HDDM_A"
    spec = load_spec(None)
    assert [d.detector for d in spec.drift if d.signal == "error"] == ["HDDM_A"]


def test_a_shifted_feature_is_data_drift() -> None:
    """A mean shifting by 0.75 standard deviations is caught once within 1,000 events in each of
    5 streams (seeds 0-4)."""
    for seed in range(5):
        rng = random.Random(seed)
        monitor = DriftMonitor(DriftSpec("feature", "ADWIN"), "salary")
        hits = [monitor.update(rng.gauss(50_000 if i < 6_000 else 65_000, 20_000), i) for i in range(12_000)]
        found = [h for h in hits if h]
        assert len(found) == 1 and found[0].kind == "data_drift" and found[0].subject == "salary", (seed, found)
        assert 6_000 <= found[0].position < 7_000, (seed, found[0].position)


def test_detections_are_debounced_by_the_cooldown() -> None:
    monitor = DriftMonitor(DriftSpec("feature", "ADWIN", warmup=0, cooldown=5_000), "x")
    values = [0.0] * 1000 + [100.0] * 1000 + [0.0] * 1000 + [100.0] * 1000
    assert len([i for i, v in enumerate(values) if monitor.update(v, i)]) == 1


def test_frequency_shift_on_categories() -> None:
    """Category frequencies shifting are caught within 1,100 events, and not before, in each of
    5 streams (seeds 0-4)."""
    for seed in range(5):
        rng = random.Random(seed)
        shift = FrequencyShift(window=1000, threshold=0.25, every=100)
        fired = []
        for i in range(10_000):
            weights = [0.7, 0.2, 0.1] if i < 5000 else [0.2, 0.2, 0.6]
            shift.update(rng.choices("abc", weights)[0])
            if shift.drift_detected:
                fired.append(i)
        assert fired and 5000 <= fired[0] < 6100, (seed, fired[:3])
