"""Featurizing: passthrough and transformed fields, and per-entity aggregates over recent events.

An entity's state is a plain, JSON-ready dict, so a Faust table (changelog-backed) can hold it
and replay can rebuild it; :func:`featurize` returns the new state rather than mutating.

>>> from streams.core.spec import load_spec
>>> from schemas import RawEvent
>>> spec = load_spec(None)
>>> data = {"salary": 1.0, "commission": 0.0, "age": 30, "elevel": 1, "car": 2, "zipcode": 3, "hvalue": 1.0, "hyears": 2, "loan": 10.0}
>>> x, state = featurize(spec, RawEvent(event_id="e", entity_id="c", ts=0.0, data=data), None)
>>> x["loan_mean_last_10"], x["events_last_hour"]
(10.0, 1.0)
>>> x, state = featurize(spec, RawEvent(event_id="f", entity_id="c", ts=1.0, data={**data, "loan": 20.0}), state)
>>> x["loan_mean_last_10"], x["events_last_hour"]
(15.0, 2.0)
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from schemas.records import RawEvent
from streams.core.spec import EntityFeatureSpec, PipelineSpec

EntityState = dict[str, Any]
MAX_HISTORY = 1000  # bound on events kept per entity for time windows

_OPS = {
    "log1p": lambda v: math.log1p(v) if v > -1 else 0.0,
    "sqrt": lambda v: math.sqrt(v) if v >= 0 else 0.0,
    "square": lambda v: v * v,
    "abs": abs,
}


def _window(spec: EntityFeatureSpec, history: list[list[Any]], now: float) -> list[list[Any]]:
    if spec.last is not None:
        return history[-spec.last :]
    cutoff = now - (spec.seconds or 0.0)
    return [h for h in history if h[0] >= cutoff]


def _aggregate(spec: EntityFeatureSpec, window: list[list[Any]]) -> float:
    if spec.agg == "count":
        return float(len(window))
    values = [float(v) for _, vals in window if isinstance(v := vals.get(spec.field), int | float) and not isinstance(v, bool)]
    if not values:
        return 0.0
    if spec.agg == "mean":
        return sum(values) / len(values)
    if spec.agg == "min":
        return min(values)
    if spec.agg == "max":
        return max(values)
    mean = sum(values) / len(values)
    return math.sqrt(sum((v - mean) ** 2 for v in values) / len(values))  # std


def featurize(spec: PipelineSpec, event: RawEvent, state: EntityState | None) -> tuple[dict[str, Any], EntityState]:
    """The event's features and the entity's new state (None-safe: a new entity starts empty)."""
    data = event.data
    x: dict[str, Any] = {}
    for name in spec.passthrough:
        value = data.get(name)
        if value is not None:
            x[name] = value
    for t in spec.transforms:
        value = data.get(t.field)
        if isinstance(value, int | float) and not isinstance(value, bool):
            x[t.name] = float(_OPS[t.op](float(value)))
    if not spec.entity:
        return x, state or {}
    now = event.ts or 0.0
    history: list[list[Any]] = list(state.get("h", [])) if state else []
    previous = history[-1][0] if history else None
    needed = {e.field for e in spec.entity if e.field}
    history.append([now, {k: data[k] for k in needed if k in data}])
    for e in spec.entity:
        if e.agg == "time_since_previous":
            x[e.name] = float(now - previous) if previous is not None else -1.0
        else:
            x[e.name] = _aggregate(e, _window(e, history, now))
    keep_last = max((e.last or 0) for e in spec.entity)
    horizon = max((e.seconds or 0.0) for e in spec.entity)
    cutoff = now - horizon
    start = len(history) - keep_last
    kept = [h for i, h in enumerate(history) if i >= start or (horizon and h[0] >= cutoff)]
    return x, {"h": kept[-max(MAX_HISTORY, keep_last):]}


def featurize_all(spec: PipelineSpec, items: Iterable[tuple[dict[str, Any], Any]]) -> list[tuple[dict[str, Any], Any]]:
    """``(raw event dict, label)`` pairs as ``(features, label)``, entity state carried along:
    the examples a model learns from, for evaluations outside the pipeline."""
    states: dict[str, EntityState] = {}
    out = []
    for event, label in items:
        raw = RawEvent(event_id=event["event_id"], entity_id=event.get("entity_id"), ts=event.get("ts"), data=event["data"])
        key = raw.entity_id or ""
        x, states[key] = featurize(spec, raw, states.get(key))
        out.append((x, label))
    return out
