"""The join's quick decode of the scorer's feature vectors agrees with the careful one:
``quick_features`` returns a record only when ``decode("features", ...)`` accepts the value, and
then the very same record."""

from __future__ import annotations

from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas import Accepted, FeatureVector, decode, encode, quick_features

GOOD: dict[str, Any] = {"event_id": "e-1", "entity_id": "c-1", "ts": 1.7e9, "features": {"a": 1.5, "b": 2, "c": "x", "d": True, "e": None},
                        "source_partition": 0, "source_offset": 12, "model_version": 3, "prediction": True, "scored_position": 40,
                        "lookups": None, "schema_version": 1}
values = (st.none() | st.booleans() | st.integers(min_value=-5, max_value=2**63 - 1) | st.sampled_from([0, 1, -1, 2.0])
          | st.floats() | st.sampled_from(["", "x", "x" * 257]) | st.text(max_size=3)
          | st.lists(st.integers(), max_size=2) | st.dictionaries(st.text(max_size=3), st.integers(), max_size=2))


@st.composite
def feature_values(draw: st.DrawFn) -> dict[str, Any]:
    obj = dict(GOOD, features=dict(GOOD["features"]))
    if draw(st.booleans()):
        obj["features"][draw(st.text(max_size=2))] = draw(values)
    for name in draw(st.lists(st.sampled_from([*GOOD, "extra"]), max_size=3)):
        if draw(st.booleans()):
            obj.pop(name, None)
        else:
            obj[name] = draw(values)
    return obj


def careful(payload: bytes) -> Any:
    outcome = decode("features", payload)
    return outcome.value if isinstance(outcome, Accepted) else None


@settings(max_examples=500, deadline=None)
@given(obj=feature_values())
def test_quick_features_returns_a_record_only_when_decode_accepts_it_and_the_same_record(obj: dict[str, Any]) -> None:
    try:
        payload = orjson.dumps(obj)
    except orjson.JSONEncodeError:
        return
    quick = quick_features(payload)
    if quick is not None:
        assert quick == careful(payload)
        assert type(quick.ts) is float


def test_the_scorers_own_record_takes_the_quick_path() -> None:
    record = FeatureVector(event_id="e-1", entity_id=None, ts=1.7e9, features={"a": 1.0}, source_partition=2, source_offset=7,
                           model_version=None, prediction=None, scored_position=1)
    assert quick_features(encode(record)) == careful(encode(record)) == record


def test_the_quick_path_leaves_what_it_is_not_sure_of_to_decode() -> None:
    # a numeric id, a record with lookups and an oversized one: decode converts, checks or refuses them
    for obj in ({**GOOD, "entity_id": 9}, {**GOOD, "lookups": {"customers": [0, 4]}}, {**GOOD, "event_id": 5}):
        payload = orjson.dumps(obj)
        assert quick_features(payload) is None
        assert careful(payload) is not None
    big = orjson.dumps({**GOOD, "features": {f"f{i}": "x" * 100 for i in range(700)}})
    assert quick_features(big) is None and careful(big) is None
