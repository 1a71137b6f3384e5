"""Drift detection on a signal: River detectors behind one small interface, debounced.

A monitor watches one signal (the model's errors, its predictions, or one feature's values) and
reports a :class:`Detection` at most once per ``cooldown`` updates, never during ``warmup``. On
the error signal only a rise in the error rate counts as concept drift: a model getting better
is not an alert.
"""

from __future__ import annotations

import math
from collections import Counter, deque
from dataclasses import dataclass
from typing import Any

from river import drift as river_drift
from river.drift import binary as river_binary

from streams.core.spec import DriftSpec

#: defaults that raise no alert on 100,000 events of a stationary stream (tests pin this)
DEFAULT_PARAMS: dict[tuple[str, str], dict[str, Any]] = {
    ("error", "ADWIN"): {"delta": 0.0002},
    ("feature", "ADWIN"): {"delta": 1e-5},
    ("prediction", "ADWIN"): {"delta": 1e-5},
    ("feature", "PageHinkley"): {"threshold": 200.0, "mode": "both"},
}

#: on the error signal, the smallest rise in the error rate that counts as concept drift
MIN_INCREASE = 0.01

KIND = {"error": "concept_drift", "prediction": "prediction_drift", "feature": "data_drift"}


@dataclass(frozen=True)
class Detection:
    """One drift found: what, by which detector, its statistic, and where in the stream."""

    kind: str
    subject: str
    detector: str
    statistic: float
    before: float
    position: int


class FrequencyShift:
    """Categorical drift: population stability index of recent vs. reference frequencies."""

    def __init__(self, window: int = 2000, threshold: float = 0.25, every: int = 200) -> None:
        self.window, self.threshold, self.every = window, threshold, every
        self.reference: Counter[str] = Counter()
        self.recent: deque[str] = deque(maxlen=window)
        self.seen = 0
        self.drift_detected = False
        self.psi = 0.0

    def update(self, value: Any) -> None:
        self.drift_detected = False
        self.seen += 1
        key = str(value)
        if sum(self.reference.values()) < self.window:
            self.reference[key] += 1
            return
        self.recent.append(key)
        if len(self.recent) == self.window and self.seen % self.every == 0:
            self.psi = psi(self.reference, Counter(self.recent))
            if self.psi > self.threshold:
                self.drift_detected = True
                self.reference = Counter(self.recent)  # the new normal
                self.recent.clear()


def psi(reference: Counter[str], current: Counter[str]) -> float:
    """Population stability index between two frequency tables (0 = identical)."""
    total_r, total_c = sum(reference.values()), sum(current.values())
    out = 0.0
    for key in set(reference) | set(current):
        r = max(reference[key] / total_r, 1e-4)
        c = max(current[key] / total_c, 1e-4)
        out += (c - r) * math.log(c / r)
    return out


def make_detector(spec: DriftSpec) -> Any:
    params = {**DEFAULT_PARAMS.get((spec.signal, spec.detector), {}), **dict(spec.params)}
    if spec.detector == "ADWIN":
        return river_drift.ADWIN(**params)
    if spec.detector == "PageHinkley":
        return river_drift.PageHinkley(**params)
    if spec.detector == "KSWIN":
        return river_drift.KSWIN(**params)
    if spec.detector == "DDM":
        return river_binary.DDM(**params)
    if spec.detector == "HDDM_A":
        return river_binary.HDDMA(**params)
    if spec.detector == "HDDM_W":
        return river_binary.HDDMW(**params)
    return FrequencyShift(**params)


class DriftMonitor:
    """One detector on one signal, with warm-up, debouncing and direction rules."""

    def __init__(self, spec: DriftSpec, subject: str) -> None:
        self.spec = spec
        self.subject = subject
        self.detector = make_detector(spec)
        self.updates = 0
        self.quiet_until = spec.warmup
        self.mean = 0.0
        params = dict(spec.params)
        self.min_increase = float(params.pop("min_increase", MIN_INCREASE)) if spec.signal == "error" else 0.0
        self.detector = make_detector(DriftSpec(spec.signal, spec.detector, spec.feature, tuple(params.items()), spec.warmup, spec.cooldown))

    def update(self, value: Any, position: int) -> Detection | None:
        """Feed one value (an error 0/1, a prediction, a feature value); maybe a detection."""
        self.updates += 1
        before = float(getattr(self.detector, "estimation", self.mean))
        if isinstance(value, bool):
            value = float(value)
        if isinstance(value, int | float):
            self.mean += (float(value) - self.mean) / min(self.updates, 500)
        self.detector.update(value)
        if not self.detector.drift_detected or self.updates <= self.quiet_until:
            return None
        statistic = float(getattr(self.detector, "estimation", getattr(self.detector, "psi", self.mean)))
        if self.spec.signal == "error" and self.spec.detector in ("ADWIN", "KSWIN", "PageHinkley") and statistic - before < self.min_increase:
            return None  # the error rate fell, or rose too little to matter: not concept drift
        self.quiet_until = self.updates + self.spec.cooldown
        return Detection(KIND[self.spec.signal], self.subject, self.spec.detector, statistic, before, position)
