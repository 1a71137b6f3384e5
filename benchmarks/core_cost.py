"""The hot path's core against the bare work it wraps, in process (no broker): per event,
validate + featurize + score + the drift monitors (:class:`Scorer`), against an orjson decode
of the same bytes and the same model's ``predict_proba_one`` on the same features.

The model is the demo spec's, trained on the stream's first examples and served as a version,
as the worker serves it. Run alone: ``python -m benchmarks.core_cost``.
"""

from __future__ import annotations

import itertools
import time
from typing import Any

import orjson

from benchmarks.features_cost import scored_in
from streams.core.features import featurize_all
from streams.core.model import build_model
from streams.core.scoring import Scorer
from streams.kafka.sources import builtin
from streams.specs.load import load_spec

EVENTS = int(__import__("os").environ.get("CORE_EVENTS", "20000"))
TRAINED = 5_000


def core_against_bare(events: int = EVENTS) -> tuple[float, float]:
    """(microseconds per event through the scorer's core, through the bare decode and predict)."""
    spec = load_spec(None)
    items = list(itertools.islice(builtin("agrawal-drift", seed=7), TRAINED + events))
    model = build_model(spec)
    for x, y in featurize_all(spec, items[:TRAINED]):
        model.learn_one(x, y)  # type: ignore[attr-defined]
    items = items[TRAINED:]
    values = [orjson.dumps(event) for event, _ in items]
    features = [x for x, _ in featurize_all(spec, items)]
    scorer = Scorer(spec, clock=lambda: 0.0)
    scorer.serve(1, model, "champion", TRAINED)
    return scored_in(scorer, values) / events * 1e6, _bare(model, values, features) / events * 1e6


def _bare(model: Any, values: list[bytes], features: list[dict[str, Any]]) -> float:
    began = time.perf_counter()
    for value, x in zip(values, features, strict=True):
        orjson.loads(value)
        model.predict_proba_one(x)
    return time.perf_counter() - began


if __name__ == "__main__":
    ours, bare = core_against_bare()
    print(f"hot path core {ours:.1f} µs/event, bare decode + predict {bare:.1f} µs/event: {ours / bare:.2f}× (target ≤ 2×)")
