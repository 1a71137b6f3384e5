"""The built-in streams: the same events as River's own generators."""

from __future__ import annotations

import itertools

import pytest
from river.datasets import synth

from streams.kafka.sources import agrawal, builtin


@pytest.mark.parametrize(("function", "seed"), [(0, 42), (2, 43), (0, 1), (2, 2), (5, 7)])
def test_agrawal_gives_rivers_events_keys_in_order(function: int, seed: int) -> None:
    ours = list(itertools.islice(agrawal(function, seed), 2_000))
    rivers = list(itertools.islice(synth.Agrawal(classification_function=function, seed=seed), 2_000))
    assert ours == rivers
    assert [list(x) for x, _ in ours[:3]] == [list(x) for x, _ in rivers[:3]]


def test_agrawal_drift_switches_function_and_seed_at_the_change() -> None:
    items = list(itertools.islice(builtin("agrawal-drift", seed=5, drift_at=300), 600))
    before = list(itertools.islice(synth.Agrawal(classification_function=0, seed=5), 300))
    after = list(itertools.islice(synth.Agrawal(classification_function=2, seed=6), 300))
    assert [(e["data"], y) for e, y in items] == [({k: float(v) if isinstance(v, float) else v for k, v in x.items()}, bool(y))
                                                 for x, y in before + after]
    assert items[0][0]["event_id"] == "agrawal-drift-5-0" and items[-1][0]["entity_id"] == f"c-{(599 * 7919) % 1000}"
