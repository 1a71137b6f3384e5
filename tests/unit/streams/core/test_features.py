"""Entity aggregates: running state of a bounded size, exact counts, no double counting."""

from __future__ import annotations

import math
import random
from dataclasses import replace

import orjson
import pytest

from schemas import RawEvent
from streams.core.features import BUCKETS, featurize
from streams.core.spec import EntityFeatureSpec
from streams.specs.load import load_spec

SPEC = load_spec(None)
TIME_SPEC = replace(SPEC, entity_ttl=86400.0, entity=(
    EntityFeatureSpec("amount_mean_hour", "mean", "loan", None, 3600.0),
    EntityFeatureSpec("amount_std_hour", "std", "loan", None, 3600.0),
    EntityFeatureSpec("amount_max_hour", "max", "loan", None, 3600.0),
    EntityFeatureSpec("gap", "time_since_previous", None, None, None),
))
DATA = {"salary": 1.0, "commission": 0.0, "age": 30, "elevel": 1, "car": 2, "zipcode": 3, "hvalue": 1.0, "hyears": 2}


def event(ts: float, loan: float) -> RawEvent:
    return RawEvent(event_id=f"e-{ts}", entity_id="c", ts=ts, data={**DATA, "loan": loan})


def test_the_state_stays_the_same_size_however_long_an_entity_lives() -> None:
    state = None
    sizes = []
    for i in range(20_000):
        _, state = featurize(SPEC, event(float(i), float(i % 7)), state)
        if i in (5_000, 19_999):
            sizes.append(len(orjson.dumps(state)))
    assert sizes[1] <= sizes[0] * 1.1  # bounded by the spec (10 values, 60 buckets), not by history
    assert len(state["w"][1]) <= BUCKETS + 1


def test_time_window_aggregates_match_an_exact_window_to_within_one_bucket() -> None:
    rng = random.Random(4)
    state, history = None, []
    for i in range(3_000):
        ts, loan = i * 7.0, rng.uniform(0, 100)
        history.append((ts, loan))
        x, state = featurize(TIME_SPEC, event(ts, loan), state)
        width = 3600.0 / BUCKETS
        start = math.floor((ts - 3600.0) / width) * width  # the oldest bucket kept starts here
        window = [v for t, v in history if t >= start]
        mean = sum(window) / len(window)
        assert x["amount_mean_hour"] == pytest.approx(mean)
        assert x["amount_max_hour"] == max(window)
        assert x["amount_std_hour"] == pytest.approx(math.sqrt(sum((v - mean) ** 2 for v in window) / len(window)), rel=1e-6, abs=1e-6)
        assert x["gap"] == (7.0 if i else -1.0)


def test_a_record_read_again_after_a_restart_is_not_counted_twice() -> None:
    state = None
    for offset in range(5):
        x, state = featurize(SPEC, event(float(offset), 10.0 * (offset + 1)), state, position=(2, offset))
    counted = x["events_last_hour"]
    again, state = featurize(SPEC, event(3.0, 40.0), state, position=(2, 3))  # reprocessed after a crash
    assert again["events_last_hour"] == counted and state["o"] == [2, 4]
    other, _ = featurize(SPEC, event(5.0, 60.0), state, position=(1, 3))  # another partition's record counts
    assert other["events_last_hour"] == counted + 1


def test_an_entity_idle_past_its_ttl_starts_afresh() -> None:
    x, state = featurize(TIME_SPEC, event(0.0, 10.0), None)
    x, state = featurize(TIME_SPEC, event(86_400.0 + 1, 30.0), state)
    assert x["gap"] == -1.0 and x["amount_mean_hour"] == 30.0


def test_the_ttl_sweep_keeps_up_with_batches_larger_than_its_backlog_share() -> None:
    """Each entity seen once, batches of 1,000 new ones, a TTL of 2,000 s of event time: the store
    holds the entities within the TTL and no more than a batch and the backlog share beyond. (A
    fixed 256 drops a batch fell behind: 100,000 entities left 28,000 past the TTL in memory.)"""
    from streams.core.features import SWEEP_BACKLOG, expired_run

    spec = replace(SPEC, entity_ttl=2000.0)
    store: dict[bytes, bytes] = {}  # in recency order, as the worker keeps it
    batch, ts, most = 1000, 0.0, 0
    for _ in range(60):
        for _ in range(batch):
            ts += 1.0
            store[f"e{ts:.0f}".encode()] = orjson.dumps({"t": ts})
        for key in expired_run(spec, store.items(), ts, batch):
            del store[key]
        most = max(most, len(store))
    assert len(store) == 2001  # exactly those within the TTL (its end included), at the end
    assert most <= 2000 + batch + SWEEP_BACKLOG
    active = {b"kept": orjson.dumps({"t": ts})}  # one touched just now stops the run: none after it is looked at
    assert expired_run(spec, [*active.items(), (b"old", orjson.dumps({"t": 0.0}))], ts, batch) == []
    assert expired_run(spec, [(b"new", orjson.dumps({}))], ts, batch) == []  # no time seen yet: never expired
