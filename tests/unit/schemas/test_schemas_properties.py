"""Properties: decode never raises, and what it accepts is stable and fits the JSON Schema."""

from __future__ import annotations

from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from schemas import RECORD_TYPES, Accepted, Reason, Rejected, decode, encode, json_schemas

KINDS = st.sampled_from(sorted(RECORD_TYPES))
VALIDATORS = {kind: Draft202012Validator(schema) for kind, schema in json_schemas().items()}
FIELD_NAMES = sorted({
    "event_id", "entity_id", "ts", "data", "label", "version", "parent", "status", "metrics", "reason", "detail",
    "payload", "payload_encoding", "source_topic", "partition", "offset", "proba", "model_version", "prediction",
    "scored_at", "features", "kind", "severity", "alert_id", "subject", "message", "schema_version", "created_at",
    "trained_examples", "artifact_sha256", "challenger", "source_partition", "source_offset", "scored_position",
})

scalars = (st.none() | st.booleans() | st.integers(min_value=-(2**63), max_value=2**64 - 1)
           | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20)
           | st.sampled_from(["2024-11-22T12:53:20Z", "champion", "info", "text", "base64", "wrong_type", "AA=="]))
json_values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)
objects = st.dictionaries(st.sampled_from(FIELD_NAMES) | st.text(max_size=8), json_values, max_size=12)

# Valid objects of each kind, as driftline writes them, to mutate one field at a time.
VALID: dict[str, dict[str, Any]] = {
    "raw": {"event_id": "e", "entity_id": "c", "ts": 1.0, "data": {"a": 1}},
    "features": {"event_id": "e", "entity_id": None, "ts": 1.0, "features": {"a": 1.0}, "source_partition": 0,
                 "source_offset": 1, "model_version": 1, "prediction": True, "scored_position": 7},
    "predictions": {"event_id": "e", "entity_id": None, "model_version": 1, "prediction": 1, "proba": {"1": 0.5},
                    "ts": 1.0, "scored_at": 2.0, "challenger": {"model_version": 2, "prediction": 0}},
    "feedback": {"event_id": "e", "label": True, "ts": 1.0},
    "deadletter": {"reason": "wrong_type", "detail": "d", "source_topic": "t", "partition": 0, "offset": 0,
                   "payload": "AA==", "payload_encoding": "base64", "ts": 1.0},
    "alerts": {"alert_id": "a", "kind": "data_drift", "severity": "info", "subject": "s", "message": "m", "ts": 1.0},
    "models": {"version": 1, "parent": None, "status": "champion", "created_at": 1.0, "trained_examples": 0,
               "metrics": {"accuracy": 0.5}, "artifact_sha256": "ab", "reason": "r"},
}


@st.composite
def mutated(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    kind = draw(st.sampled_from(sorted(VALID)))
    obj = dict(VALID[kind])
    name = draw(st.sampled_from(sorted(obj)))
    if draw(st.booleans()):
        del obj[name]
    else:
        obj[name] = draw(json_values)
    return kind, obj


def _dumps(obj: object) -> bytes | None:
    try:
        return orjson.dumps(obj)
    except orjson.JSONEncodeError:  # an integer beyond 64 bits: not JSON any producer can write
        return None


def check(kind: str, payload: bytes) -> None:
    """decode returns an outcome; an accepted value is stable and fits the schema."""
    outcome = decode(kind, payload, source_topic="t", partition=1, offset=2, now=lambda: 3.0)
    assert isinstance(outcome, Accepted | Rejected)
    if isinstance(outcome, Rejected):
        letter = outcome.dead_letter
        assert isinstance(letter.reason, Reason) and letter.detail
        assert letter.payload_bytes() == payload
        assert (letter.source_topic, letter.partition, letter.offset, letter.ts) == ("t", 1, 2, 3.0)
        return
    again = decode(kind, encode(outcome.value))
    assert again == outcome
    VALIDATORS[kind].validate(orjson.loads(payload))
    VALIDATORS[kind].validate(orjson.loads(encode(outcome.value)))


@settings(max_examples=300, deadline=None)
@given(kind=KINDS, payload=st.binary(min_size=1, max_size=300))
def test_decode_never_raises_on_arbitrary_bytes(kind: str, payload: bytes) -> None:
    check(kind, payload)


@settings(max_examples=300, deadline=None)
@given(kind=KINDS, value=json_values)
def test_decode_never_raises_on_arbitrary_json(kind: str, value: object) -> None:
    payload = _dumps(value)
    if payload is not None:
        check(kind, payload)


@settings(max_examples=400, deadline=None)
@given(kind=KINDS, obj=objects)
def test_decode_never_raises_on_arbitrary_objects_with_contract_field_names(kind: str, obj: dict[str, Any]) -> None:
    payload = _dumps(obj)
    if payload is not None:
        check(kind, payload)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=mutated())
def test_decode_never_raises_on_valid_objects_with_one_field_changed(case: tuple[str, dict[str, Any]]) -> None:
    kind, obj = case
    payload = _dumps(obj)
    if payload is not None:
        check(kind, payload)


def test_the_unmutated_objects_are_accepted() -> None:
    for kind, obj in VALID.items():
        assert isinstance(decode(kind, orjson.dumps(obj)), Accepted), kind
