"""Featurizing: passthrough and transformed fields, and per-entity running aggregates.

An entity's state is a small, JSON-ready dict of running aggregates, never a history to rescan:
each event costs the same work however long the entity has lived, and the state's size is bound
by the spec alone.

- A window of the ``last`` N events keeps those N values (N is fixed by the spec).
- A window of ``seconds`` keeps :data:`BUCKETS` buckets (count, sum, sum of squares, min, max),
  each ``seconds / BUCKETS`` wide. An event leaves the window with its bucket: up to one bucket
  width (1/60 of the window) later than an exact sliding window would drop it.
- ``"t"`` is the entity's last event time (for ``time_since_previous`` and the TTL), ``"o"`` the
  raw record (partition and offset) the state covers: a record of that partition read again
  after a restart (offset not above it) reads the aggregates without counting twice.
- An entity idle for longer than the spec's ``entity_ttl_seconds`` starts afresh. That rule uses
  event time only, so replay expires exactly what live did, and a worker may forget such an
  entity's state to bound its memory without changing any feature.

:func:`featurize` updates the state in place and returns it (``None`` starts a new one).

>>> from streams.specs.load import load_spec
>>> from schemas import RawEvent
>>> spec = load_spec(None)
>>> data = {"salary": 1.0, "commission": 0.0, "age": 30, "elevel": 1, "car": 2, "zipcode": 3, "hvalue": 1.0, "hyears": 2, "loan": 10.0}
>>> x, state = featurize(spec, RawEvent(event_id="e", entity_id="c", ts=0.0, data=data), None)
>>> x["loan_mean_last_10"], x["events_last_hour"]
(10.0, 1.0)
>>> x, state = featurize(spec, RawEvent(event_id="f", entity_id="c", ts=1.0, data={**data, "loan": 20.0}), state)
>>> x["loan_mean_last_10"], x["events_last_hour"]
(15.0, 2.0)
>>> x, state = featurize(spec, RawEvent(event_id="g", entity_id="c", ts=7200.0, data=data), state)
>>> x["events_last_hour"]  # the first two left the one-hour window
1.0
"""

from __future__ import annotations

import math
import operator
from collections.abc import Iterable
from typing import Any

import orjson

from schemas.reasons import Reason
from schemas.records import RawEvent
from streams.core import plugins
from streams.core.spec import PipelineSpec

EntityState = dict[str, Any]
BUCKETS = 60  # buckets in a time window: its memory bound and its resolution

_OPS = {
    "log1p": lambda v: math.log1p(v) if v > -1 else 0.0,
    "sqrt": lambda v: math.sqrt(v) if v >= 0 else 0.0,
    "square": lambda v: v * v,
    "abs": abs,
}

# a time bucket: [start, events, values, sum, sum of squares, min, max]
_START, _EVENTS, _N, _SUM, _SQ, _MIN, _MAX = range(7)
_events_of, _n_of, _sum_of, _squares_of = (operator.itemgetter(i) for i in (_EVENTS, _N, _SUM, _SQ))


_NUMBERS = (int, float)  # a tuple: ``int | float`` is built anew at every isinstance, 2.5 times slower


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, _NUMBERS) and not isinstance(value, bool) else None


def _last_aggregate(agg: str, window: list[Any]) -> float:
    if agg == "count":
        return float(len(window))
    values = window if None not in window else [v for v in window if v is not None]
    if not values:
        return 0.0
    if agg == "mean":
        return sum(values) / len(values)
    if agg == "min":
        return min(values)
    if agg == "max":
        return max(values)
    mean = sum(values) / len(values)
    return math.sqrt(sum((v - mean) ** 2 for v in values) / len(values))  # std


def _time_update(window: list[list[Any]], value: float | None, now: float, seconds: float) -> None:
    width = seconds / BUCKETS
    cutoff = now - seconds
    while window and window[0][_START] + width <= cutoff:  # wholly before the window
        del window[0]
    start = math.floor(now / width) * width
    if window and window[-1][_START] >= start:
        bucket = window[-1]  # this bucket, or an event older than the newest one: counted there
    else:
        bucket = [start, 0, 0, 0.0, 0.0, None, None]
        window.append(bucket)
    bucket[_EVENTS] += 1
    if value is not None:
        bucket[_N] += 1
        bucket[_SUM] += value
        bucket[_SQ] += value * value
        bucket[_MIN] = value if bucket[_MIN] is None else min(bucket[_MIN], value)
        bucket[_MAX] = value if bucket[_MAX] is None else max(bucket[_MAX], value)


def _time_aggregate(agg: str, window: list[list[Any]]) -> float:
    # sums over the buckets with map and itemgetter: a full window has 60 buckets, and a
    # generator over them cost several microseconds per event
    if agg == "count":
        return float(sum(map(_events_of, window)))
    n = sum(map(_n_of, window))
    if not n:
        return 0.0
    if agg == "min":
        return float(min(b[_MIN] for b in window if b[_N]))
    if agg == "max":
        return float(max(b[_MAX] for b in window if b[_N]))
    mean = sum(map(_sum_of, window)) / n
    if agg == "mean":
        return mean
    return math.sqrt(max(0.0, sum(map(_squares_of, window)) / n - mean * mean))  # std


def new_state(spec: PipelineSpec) -> EntityState:
    """An entity never seen (or idle past the TTL). ``"f"`` holds each stateful feature
    function's own state, by its name."""
    return {"t": None, "o": None, "w": [[] for _ in spec.entity], "f": {}}


class Unscorable(ValueError):
    """An event whose features cannot be computed (a feature function raised): it is
    dead-lettered with ``reason``, and the entity's state is left as it was."""

    def __init__(self, reason: Reason, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


def _call(spec: PipelineSpec, event: RawEvent, x: dict[str, Any], state: EntityState | None, counted: bool) -> None:
    """The plugins' feature functions' values into ``x``. A stateful one is given a copy of its
    state in ``state["f"]``, kept there with the values it returned once it returned. For a
    record ``counted`` already it is not called: its last values are read, as the aggregates are.
    The states are kept once every function returned: one that raises leaves them all as they were."""
    view = {"event_id": event.event_id, "entity_id": event.entity_id, "ts": event.ts, "data": event.data}
    updates: dict[str, Any] = {}
    for f in spec.functions:
        fn = plugins.load(plugins.FEATURES, f.name)
        try:
            if f.stateful:
                kept = (state or {}).get("f", {}).get(f.name) or {"s": {}, "x": {}}
                if counted:
                    values = kept["x"]
                else:
                    mine = orjson.loads(orjson.dumps(kept["s"]))  # a copy, JSON as it is kept; deepcopy costs 5x
                    values = fn(view, state=mine, **dict(f.params))
                    if state is not None and isinstance(values, dict):
                        kept = {"s": mine, "x": dict(values)}
                        orjson.dumps(kept)  # the entity's state is kept as JSON: a value that is not is the function's error
                        updates[f.name] = kept
            else:
                values = fn(view, **dict(f.params))
        except Exception as exc:  # noqa: BLE001 - the plugin's own code: whatever it raises is the reason
            raise Unscorable(Reason.FEATURE_FAILED, f"feature function {f.name!r} raised {type(exc).__name__}: {exc}") from None
        if not isinstance(values, dict):
            raise Unscorable(Reason.FEATURE_FAILED, f"feature function {f.name!r} returned a {type(values).__name__}, not a dict")
        for name in f.outputs:
            value = values.get(name)
            if value is not None:
                x[name] = value
    if updates and state is not None:
        state.setdefault("f", {}).update(updates)


def expired(spec: PipelineSpec, state: EntityState, now: float) -> bool:
    """Whether an entity's state is past its TTL at event time ``now``: it counts as new."""
    last = state.get("t")
    return last is not None and now - last > spec.entity_ttl


#: entities past the TTL dropped per batch beyond the batch's own count: the backlog a sweep works off
SWEEP_BACKLOG = 256


def expired_run(spec: PipelineSpec, oldest_first: Iterable[tuple[bytes, bytes]], now: float, batch: int) -> list[bytes]:
    """The keys of the entities to drop after a batch of ``batch`` events: those at the head of
    the states in recency order (key, JSON) that are past the TTL at event time ``now``.

    At most ``batch + SWEEP_BACKLOG`` of them, so a batch costs a bounded sweep. A batch brings
    at most ``batch`` new entities, so the expired ones never pile up, however large batches grow
    on a fast stream (a fixed 256 a batch fell behind once batches passed it).
    """
    out: list[bytes] = []
    limit = batch + SWEEP_BACKLOG
    for key, value in oldest_first:
        if len(out) >= limit or not expired(spec, orjson.loads(value), now):
            break
        out.append(key)
    return out


def featurize(spec: PipelineSpec, event: RawEvent, state: EntityState | None,
              position: tuple[int, int] | None = None) -> tuple[dict[str, Any], EntityState]:
    """The event's features, and the entity's state updated in place (or new for ``None``).

    ``position`` is the raw record's (partition, offset): a record of the partition the state
    last covered, at or below its offset, was counted already, so the aggregates are read and
    not updated.
    """
    data = event.data
    x: dict[str, Any] = {}
    for name in spec.passthrough:
        value = data.get(name)
        if value is not None:
            x[name] = value
    for t in spec.transforms:
        value = _number(data.get(t.field))
        if value is not None:
            x[t.name] = float(_OPS[t.op](value))
    if not spec.keyed:
        if spec.functions:
            _call(spec, event, x, None, True)
        return x, state or {}
    now = event.ts or 0.0
    if state is None or "w" not in state or expired(spec, state, now):
        state = new_state(spec)
    covered = state["o"]
    counted = position is not None and covered is not None and position[0] == covered[0] and position[1] <= covered[1]
    if spec.functions:
        _call(spec, event, x, state, counted)
    previous = state["t"]
    for e, window in zip(spec.entity, state["w"], strict=True):
        agg, last = e.agg, e.last
        if agg == "time_since_previous":
            x[e.name] = float(now - previous) if previous is not None else -1.0
            continue
        if last is not None:
            if not counted:
                window.append(_number(data.get(e.field)) if e.field else None)
                if len(window) > last:
                    del window[0]
            x[e.name] = _last_aggregate(agg, window)
        else:
            if not counted:
                _time_update(window, _number(data.get(e.field)) if e.field else None, now, float(e.seconds or 0.0))
            x[e.name] = _time_aggregate(agg, window)
    if not counted:
        state["t"] = now if previous is None or now > previous else previous
        if position is not None:
            state["o"] = list(position)
    return x, state


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
