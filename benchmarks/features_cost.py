"""What a lookup and a plugin's feature function cost per event: the hot path's core (validate,
featurize, score) in process on the same events, with the demo's spec alone and with one
addition each; the difference per event is the addition's cost.

Run alone: ``python -m benchmarks.features_cost``.
"""

from __future__ import annotations

import itertools
import time

import orjson

from streams.core.lookup import Lookups, Version
from streams.core.scoring import Scorer, Where
from streams.core.spec import PipelineSpec, parse_spec
from streams.kafka.sources import builtin
from streams.specs.load import DEFAULT_SPEC_PATH

EVENTS = 20_000
ENTITIES = 1_000  # the built-in stream's customers: c-0 .. c-999

LOOKUP = """[[features.lookup]]
name = "customer"
topic = "customers"
key = "entity_id"
fields = ["segment", "limit"]
prefix = "customer_"

"""
STATELESS = """[[features.function]]
name = "loan_to_salary"

"""
STATEFUL = """[[features.function]]
name = "salary_vs_usual"

"""


def _spec(extra: str) -> PipelineSpec:
    return parse_spec(DEFAULT_SPEC_PATH.read_text().replace("[model]", extra + "[model]"))


def _customers() -> Lookups:
    lookups = Lookups()
    for i in range(ENTITIES):  # each customer's row, and an update for one in ten later on
        lookups.table("customers").put(f"c-{i}", Version(0.0, 0, i, {"segment": f"s{i % 7}", "limit": float(i)}))
        if i % 10 == 0:
            lookups.table("customers").put(f"c-{i}", Version(1_700_000_100.0, 0, ENTITIES + i, {"segment": "vip", "limit": 1e6}))
    return lookups


def per_event_us(spec: PipelineSpec, values: list[bytes], lookups: Lookups | None = None) -> float:
    """Microseconds per event through validate, featurize and score (the untrained model)."""
    scorer = Scorer(spec, clock=lambda: 0.0)
    if lookups is not None:
        scorer.lookups = lookups
    return scored_in(scorer, values) / len(values) * 1e6


def scored_in(scorer: Scorer, values: list[bytes]) -> float:
    """Seconds ``scorer`` takes to validate, featurize and score ``values`` (raw events, in order,
    their entities' state carried along as the worker carries it)."""
    states: dict[str, object] = {}
    began = time.perf_counter()
    for offset, value in enumerate(values):
        where = Where("raw", 0, offset, None)
        event = scorer.validate(value, where)
        key = event.entity_id  # type: ignore[union-attr]
        _, _, states[key], _ = scorer.score(event, states.get(key), where)  # type: ignore[arg-type]
    return time.perf_counter() - began


def costs(events: int = EVENTS) -> dict[str, tuple[float, float]]:
    """Each addition's microseconds per event, and the demo spec's alone, best of five."""
    values = [orjson.dumps(e) for e, _ in itertools.islice(builtin("agrawal-drift", seed=3, drift_at=10**9), events)]
    runs = {"demo spec": (_spec(""), None), "+ lookup (1,000 customers)": (_spec(LOOKUP), _customers()),
            "+ plugin feature, stateless": (_spec(STATELESS), None), "+ plugin feature, per-entity state": (_spec(STATEFUL), None)}
    best = {name: float("inf") for name in runs}
    for _ in range(5):  # in turn, so that a slow moment of the machine does not fall on one of them
        for name, (spec, lookups) in runs.items():
            best[name] = min(best[name], per_event_us(spec, values, lookups))
    base = best["demo spec"]
    return {name: (us, us - base) for name, us in best.items()}


if __name__ == "__main__":
    for name, (us, extra) in costs().items():
        print(f"{name:<38} {us:7.1f} µs/event  ({extra:+.1f})")
