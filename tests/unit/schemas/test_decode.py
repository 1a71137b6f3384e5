from __future__ import annotations

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas import (
    RECORD_TYPES, Accepted, Alert, DeadLetter, FeatureVector, Feedback, ModelVersion, Prediction,
    RawEvent, Reason, Rejected, decode, encode,
)

CONTRACT_RAW = b'{"event_id": "e-1", "entity_id": "c-9", "ts": 1732280000.5, "data": {"amount": 12.5, "country": "FR"}}'
CONTRACT_FEEDBACK = b'{"event_id": "e-1", "label": true, "ts": 1732280060.0}'

SAMPLES = [
    RawEvent(event_id="e-1", entity_id="c-9", ts=1732280000.5, data={"amount": 12.5, "country": "FR", "vip": True, "note": None}),
    FeatureVector(event_id="e-1", entity_id=None, ts=1.0, features={"amount": 12.5, "country=FR": 1.0}, source_partition=2, source_offset=40),
    Prediction(event_id="e-1", entity_id="c-9", model_version=3, prediction=True, proba={"True": 0.8, "False": 0.2}, ts=1.0, scored_at=1.5),
    Prediction(event_id="e-2", entity_id=None, model_version=1, prediction=4.5, proba=None, ts=1.0, scored_at=1.5, challenger={"model_version": 2, "prediction": 4.0}),
    Feedback(event_id="e-1", label=True, ts=1732280060.0),
    DeadLetter.for_bytes(Reason.WRONG_TYPE, "data must be an object", b'{"x": 1}', source_topic="driftline.raw", partition=1, offset=7, ts=5.0),
    Alert(alert_id="a-1", alert_kind="data_drift", severity="warning", subject="amount", message="drift in amount", ts=9.0, detail={"detector": "ADWIN", "at_event": 1200}),
    ModelVersion(version=2, parent=1, status="champion", created_at=3.0, trained_examples=1000, metrics={"accuracy": 0.91}, artifact_sha256="ab" * 32, reason="published"),
]


def reason_of(kind: str, payload: bytes | None, **kw: object) -> Reason | None:
    outcome = decode(kind, payload, **kw)  # type: ignore[arg-type]
    return None if isinstance(outcome, Accepted) else outcome.dead_letter.reason


@pytest.mark.parametrize("record", SAMPLES, ids=lambda r: type(r).__name__)
def test_encode_then_decode_gives_the_same_record(record: object) -> None:
    outcome = decode(type(record).kind, encode(record))  # type: ignore[arg-type,attr-defined]
    assert isinstance(outcome, Accepted)
    assert outcome.value == record


def test_the_contract_examples_decode() -> None:
    raw = decode("raw", CONTRACT_RAW)
    assert isinstance(raw, Accepted)
    assert raw.value == RawEvent(event_id="e-1", entity_id="c-9", ts=1732280000.5, data={"amount": 12.5, "country": "FR"})
    feedback = decode("feedback", CONTRACT_FEEDBACK)
    assert isinstance(feedback, Accepted) and feedback.value.label is True


def test_iso_time_is_read_as_utc_and_a_missing_time_takes_the_record_time() -> None:
    iso = decode("raw", b'{"event_id": "e", "ts": "2024-11-22T12:53:20.5", "data": {}}')
    assert isinstance(iso, Accepted) and iso.value.ts == 1732280000.5
    offset = decode("raw", b'{"event_id": "e", "ts": "2024-11-22T13:53:20.5+01:00", "data": {}}')
    assert isinstance(offset, Accepted) and offset.value.ts == 1732280000.5
    missing = decode("raw", b'{"event_id": "e", "data": {}}', record_ts=42.0)
    assert isinstance(missing, Accepted) and missing.value.ts == 42.0


def test_numeric_ids_become_strings() -> None:
    outcome = decode("raw", b'{"event_id": 17, "entity_id": 9, "data": {}}')
    assert isinstance(outcome, Accepted)
    assert (outcome.value.event_id, outcome.value.entity_id) == ("17", "9")


@pytest.mark.parametrize(
    ("kind", "payload", "reason"),
    [
        ("raw", b"", Reason.INVALID_JSON),
        ("raw", b"{nope", Reason.INVALID_JSON),
        ("raw", b'{"event_id": "\xff"}', Reason.INVALID_JSON),
        ("raw", b'"a string"', Reason.NOT_AN_OBJECT),
        ("feedback", b"[]", Reason.NOT_AN_OBJECT),
        ("raw", b'{"event_id": "e"}', Reason.MISSING_FIELD),
        ("feedback", b'{"event_id": "e"}', Reason.MISSING_FIELD),
        ("raw", b'{"event_id": "e", "data": [1]}', Reason.WRONG_TYPE),
        ("raw", b'{"event_id": "e", "data": {"nested": {"a": 1}}}', Reason.WRONG_TYPE),
        ("raw", b'{"event_id": true, "data": {}}', Reason.WRONG_TYPE),
        ("raw", b'{"event_id": "e", "ts": "yesterday", "data": {}}', Reason.WRONG_TYPE),
        ("raw", b'{"event_id": "e", "ts": false, "data": {}}', Reason.WRONG_TYPE),
        ("feedback", b'{"event_id": "e", "label": [1]}', Reason.WRONG_TYPE),
        ("raw", b'{"event_id": "e", "ts": -1, "data": {}}', Reason.OUT_OF_RANGE),
        ("raw", b'{"event_id": "", "data": {}}', Reason.OUT_OF_RANGE),
        ("raw", b'{"event_id": "e", "data": {}, "schema_version": 99}', Reason.OUT_OF_RANGE),
        ("models", b'{"version": 0, "status": "champion", "created_at": 1, "trained_examples": 0, "metrics": {}, "artifact_sha256": "", "reason": ""}', Reason.OUT_OF_RANGE),
        ("predictions", b'{"event_id": "e", "model_version": 1, "prediction": 1, "proba": {"1": 1.5}, "ts": 1, "scored_at": 1}', Reason.OUT_OF_RANGE),
    ],
)
def test_each_bad_input_gets_its_reason_code(kind: str, payload: bytes, reason: Reason) -> None:
    assert reason_of(kind, payload) is reason


def test_size_limit_is_exact() -> None:
    base = b'{"event_id": "e", "data": {"s": ""}}'
    limit = len(base) + 10
    fits = base.replace(b'""', b'"' + b"x" * 10 + b'"')
    assert len(fits) == limit
    assert reason_of("raw", fits, max_bytes=limit) is None
    assert reason_of("raw", fits.replace(b'"x', b'"xx'), max_bytes=limit) is Reason.OVERSIZED


def test_pipeline_reason_codes_have_the_contract_strings() -> None:
    assert {r.value for r in Reason} >= {
        "invalid_json", "not_an_object", "missing_field", "wrong_type", "out_of_range",
        "unknown_category", "oversized", "duplicate_event", "unknown_event",
    }


def test_a_dead_letter_carries_the_original_bytes_and_coordinates() -> None:
    binary = b"\x00\xff\xfe not utf-8"
    outcome = decode("raw", binary, source_topic="driftline.raw", partition=3, offset=99, now=lambda: 123.0)
    assert isinstance(outcome, Rejected)
    letter = outcome.dead_letter
    assert (letter.source_topic, letter.partition, letter.offset, letter.ts) == ("driftline.raw", 3, 99, 123.0)
    assert letter.payload_encoding == "base64"
    assert letter.payload_bytes() == binary
    text = decode("raw", b"[1, 2]")
    assert isinstance(text, Rejected)
    assert text.dead_letter.payload == "[1, 2]" and text.dead_letter.payload_encoding == "text"


def test_alert_detail_is_flattened_without_overwriting_named_fields() -> None:
    alert = Alert(alert_id="a", alert_kind="data_drift", severity="info", subject="s", message="m", ts=1.0, detail={"kind": "evil", "feature": "amount"})
    out = alert.to_dict()
    assert out["kind"] == "data_drift"
    assert out["feature"] == "amount"


def test_an_unknown_kind_is_a_programming_error() -> None:
    with pytest.raises(ValueError):
        decode("rawz", b"{}")


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=5),
    max_leaves=20,
)
fieldish = st.dictionaries(
    st.sampled_from(["event_id", "entity_id", "ts", "data", "label", "version", "status", "metrics", "reason",
                     "detail", "payload", "source_topic", "proba", "model_version", "prediction", "scored_at",
                     "features", "kind", "severity", "alert_id", "subject", "message", "schema_version", "created_at"]),
    json_values, max_size=10,
)


@settings(max_examples=150, deadline=None)
@given(kind=st.sampled_from(sorted(RECORD_TYPES)), payload=st.binary(max_size=200))
def test_decode_never_raises_on_arbitrary_bytes(kind: str, payload: bytes) -> None:
    assert isinstance(decode(kind, payload), Accepted | Rejected)


@settings(max_examples=300, deadline=None)
@given(kind=st.sampled_from(sorted(RECORD_TYPES)), obj=fieldish)
def test_decode_never_raises_on_arbitrary_objects(kind: str, obj: dict[str, object]) -> None:
    try:
        payload = orjson.dumps(obj)
    except orjson.JSONEncodeError:  # integers beyond 64 bits
        return
    outcome = decode(kind, payload)
    assert isinstance(outcome, Accepted | Rejected)
    if isinstance(outcome, Accepted):  # what is accepted re-encodes and decodes to itself
        assert decode(kind, encode(outcome.value)) == outcome


# The exported JSON Schemas agree with decode: what driftline writes, they accept.
from pathlib import Path  # noqa: E402

from jsonschema import Draft202012Validator  # noqa: E402

from schemas import export_schemas, json_schemas  # noqa: E402


def test_exported_schemas_are_valid_and_accept_what_driftline_writes(tmp_path: Path) -> None:
    paths = export_schemas(tmp_path / "out")
    assert sorted(p.name for p in paths) == sorted(f"{k}.schema.json" for k in RECORD_TYPES)
    schemas = {p.name.split(".")[0]: orjson.loads(p.read_bytes()) for p in paths}
    for record in SAMPLES:
        schema = schemas[type(record).kind]  # type: ignore[attr-defined]
        Draft202012Validator.check_schema(schema)
        Draft202012Validator(schema).validate(orjson.loads(encode(record)))  # type: ignore[arg-type]


@pytest.mark.parametrize("kind", sorted(RECORD_TYPES))
def test_a_schema_rejects_an_object_missing_a_required_field(kind: str) -> None:
    schema = json_schemas()[kind]
    sample = next(r for r in SAMPLES if type(r).kind == kind)  # type: ignore[attr-defined]
    obj = orjson.loads(encode(sample))  # type: ignore[arg-type]
    del obj[schema["required"][0]]
    assert not Draft202012Validator(schema).is_valid(obj)
    assert reason_of(kind, orjson.dumps(obj)) is Reason.MISSING_FIELD
