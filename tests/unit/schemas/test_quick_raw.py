"""The hot path's quick decode agrees with the careful one: ``quick_raw`` returns an event only
when ``decode`` and ``check_fields`` accept the value, and then the very same event."""

from __future__ import annotations

import math
from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas import Accepted, FieldSpec, check_fields, decode, fits_compiled, quick_raw

FIELDS = [
    FieldSpec(name="amount", type="number", min=0, max=1000),
    FieldSpec(name="items", type="integer", min=1),
    FieldSpec(name="ratio", type="number", required=False),
    FieldSpec(name="kind", type="category", categories=frozenset({"a", "b"}), unseen="deadletter"),
    FieldSpec(name="tag", type="category", required=False),
    FieldSpec(name="ok", type="boolean", required=False),
    FieldSpec(name="note", type="text", required=False),
]
FITS = fits_compiled(FIELDS)
GOOD: dict[str, Any] = {"amount": 12.5, "items": 3, "ratio": -2.0, "kind": "a", "tag": 7, "ok": True, "note": "n"}

values = (st.none() | st.booleans() | st.integers(min_value=-5, max_value=2**63 - 1) | st.sampled_from([0, 1, 1000, 1001, -1])
          | st.floats() | st.sampled_from([0.0, 1000.0, 2.0, float("inf"), float("nan")]) | st.sampled_from(["a", "b", "c", ""])
          | st.lists(st.integers(), max_size=2) | st.dictionaries(st.text(max_size=3), st.integers(), max_size=2))
ids = st.text(max_size=300) | st.sampled_from(["e-1", "x" * 256, "x" * 257]) | st.integers() | st.none() | st.floats()
times = (st.none() | st.floats() | st.integers(min_value=-10, max_value=2**40) | st.sampled_from(["2024-11-22T12:53:20Z", True, 253402300800.0])
         | st.just(1.7e9))


@st.composite
def raw_values(draw: st.DrawFn) -> dict[str, Any]:
    data = dict(GOOD)
    for name in draw(st.lists(st.sampled_from([*GOOD, "extra"]), max_size=3)):
        if draw(st.booleans()):
            data.pop(name, None)
        else:
            data[name] = draw(values)
    obj: dict[str, Any] = {"event_id": "e-1", "entity_id": "c-1", "ts": 1.7e9, "data": data}
    for name, strategy in (("event_id", ids), ("entity_id", ids), ("ts", times), ("schema_version", st.none() | st.integers(-1, 3))):
        choice = draw(st.sampled_from(["keep", "drop", "change"]))
        if choice == "drop":
            obj.pop(name, None)
        elif choice == "change":
            obj[name] = draw(strategy)
    if draw(st.integers(0, 9)) == 0:
        obj["data"] = draw(values)
    return obj


def careful(payload: bytes, record_ts: float | None) -> Any:
    outcome = decode("raw", payload, max_bytes=4096, record_ts=record_ts)
    if not isinstance(outcome, Accepted) or check_fields(outcome.value.data, FIELDS) is not None:
        return None
    return outcome.value


@settings(max_examples=400, deadline=None)
@given(obj=raw_values(), record_ts=st.none() | st.just(5.0))
def test_quick_raw_returns_an_event_only_when_the_careful_path_accepts_it_and_the_same_event(obj: dict[str, Any], record_ts: float | None) -> None:
    try:
        payload = orjson.dumps(obj)
    except orjson.JSONEncodeError:
        return
    quick = quick_raw(payload, 4096, record_ts, FITS)
    if quick is not None:
        assert quick == careful(payload, record_ts)
        assert type(quick.ts) is float or quick.ts is None


def test_the_common_event_takes_the_quick_path() -> None:
    payload = orjson.dumps({"event_id": "e-1", "entity_id": "c-1", "ts": 1.7e9, "data": GOOD})
    assert quick_raw(payload, 4096, None, FITS) == careful(payload, None) is not None


def test_fits_never_says_yes_to_data_that_does_not_fit() -> None:
    bad = [{**GOOD, "amount": v} for v in (-0.5, 1000.5, math.inf, math.nan, True, "1")] + [
        {**GOOD, "items": v} for v in (0, 2.5, False)] + [{**GOOD, "kind": "c"}, {k: v for k, v in GOOD.items() if k != "items"}]
    for data in bad:
        assert check_fields(data, FIELDS) is not None
        assert not FITS(data), data


def test_the_quick_path_leaves_what_it_is_not_sure_of_to_decode() -> None:
    # an integer id, a numeric entity id and an ISO time are accepted by decode, with conversions
    for obj in ({"event_id": 7, "data": GOOD}, {"event_id": "e", "entity_id": 9, "data": GOOD},
                {"event_id": "e", "ts": "2024-11-22T12:53:20Z", "data": GOOD}, {"event_id": "e", "data": {**GOOD, "items": 2.0}}):
        payload = orjson.dumps(obj)
        assert quick_raw(payload, 4096, None, FITS) is None
        assert careful(payload, None) is not None
    assert quick_raw(orjson.dumps({"event_id": "e", "data": GOOD}), 10, None, FITS) is None  # oversized


def test_infinite_bounds_and_awkward_names_compile() -> None:
    fields = [FieldSpec(name="it's", type="number", min=float("-inf"), max=float("inf")), FieldSpec(name='a"b', type="integer", max=3)]
    fits = fits_compiled(fields)
    assert fits({"it's": 1e300, 'a"b': 3}) and not fits({"it's": 1.0, 'a"b': 4}) and not fits({"it's": float("inf"), 'a"b': 1})
    for data in ({"it's": 1e300, 'a"b': 3}, {"it's": 1.0, 'a"b': 4}, {"it's": float("inf"), 'a"b': 1}):
        assert fits(data) == (check_fields(data, fields) is None)
