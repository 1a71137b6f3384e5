"""decode: each reason code from a crafted input, the contract's examples, times and ids."""

from __future__ import annotations

import importlib
import time
from collections.abc import Iterator
from datetime import datetime, timezone

import orjson
import pytest

from schemas import (
    SCHEMA_VERSION,
    Accepted,
    Alert,
    Feedback,
    FieldSpec,
    RawEvent,
    Reason,
    Rejected,
    check_fields,
    decode,
    encode,
)

# Copied from shared/CONTRACT.md.
CONTRACT_RAW = b'{"event_id": "e-1", "entity_id": "c-9", "ts": 1732280000.5, "data": {"amount": 12.5, "country": "FR"}}'
CONTRACT_FEEDBACK = b'{"event_id": "e-1", "label": true, "ts": 1732280060.0}'

MODEL = {"version": 1, "status": "champion", "created_at": 1, "trained_examples": 0, "metrics": {},
         "artifact_sha256": "", "reason": ""}
PREDICTION = {"event_id": "e", "model_version": 1, "prediction": 1, "ts": 1, "scored_at": 1}


def rejected(kind: str, payload: bytes | None, **kw: object) -> Rejected:
    outcome = decode(kind, payload, **kw)  # type: ignore[call-overload]
    assert isinstance(outcome, Rejected), f"accepted: {outcome}"
    return outcome


def accepted(kind: str | type, payload: bytes, **kw: object) -> object:
    outcome = decode(kind, payload, **kw)  # type: ignore[call-overload]
    assert isinstance(outcome, Accepted), outcome.dead_letter.detail
    return outcome.value


def j(obj: object) -> bytes:
    return orjson.dumps(obj)


# --- one or more crafted inputs per reason code --------------------------------------------

CASES = [
    # invalid_json
    ("raw", None, Reason.INVALID_JSON, "empty value"),
    ("raw", b"", Reason.INVALID_JSON, "empty value"),
    ("raw", b"{nope", Reason.INVALID_JSON, "JSON"),
    ("raw", b'{"event_id": "\xff", "data": {}}', Reason.INVALID_JSON, "UTF-8"),
    ("feedback", b"NaN", Reason.INVALID_JSON, "JSON"),
    ("feedback", b'{"event_id": "e", "label": Infinity}', Reason.INVALID_JSON, "JSON"),
    # not_an_object
    ("raw", b'"a string"', Reason.NOT_AN_OBJECT, "got string"),
    ("feedback", b"[]", Reason.NOT_AN_OBJECT, "got array"),
    ("models", b"null", Reason.NOT_AN_OBJECT, "got null"),
    ("alerts", b"3", Reason.NOT_AN_OBJECT, "got number"),
    # missing_field: the detail names the field
    ("raw", b'{"event_id": "e"}', Reason.MISSING_FIELD, "'data'"),
    ("raw", b'{"data": {}}', Reason.MISSING_FIELD, "'event_id'"),
    ("feedback", b'{"event_id": "e"}', Reason.MISSING_FIELD, "'label'"),
    ("predictions", j({k: v for k, v in PREDICTION.items() if k != "scored_at"}), Reason.MISSING_FIELD, "'scored_at'"),
    ("models", j({k: v for k, v in MODEL.items() if k != "artifact_sha256"}), Reason.MISSING_FIELD, "'artifact_sha256'"),
    # wrong_type: the detail names the field, what was expected and what came
    ("raw", b'{"event_id": "e", "data": [1]}', Reason.WRONG_TYPE, "data must be an object, got array"),
    ("raw", b'{"event_id": "e", "data": {"n": {"a": 1}}}', Reason.WRONG_TYPE, "data.n must be a scalar"),
    ("raw", b'{"event_id": "e", "data": {"n": [1]}}', Reason.WRONG_TYPE, "got array"),
    ("raw", b'{"event_id": true, "data": {}}', Reason.WRONG_TYPE, "event_id must be a string or integer, got boolean"),
    ("raw", b'{"event_id": "e", "entity_id": [], "data": {}}', Reason.WRONG_TYPE, "entity_id"),
    ("raw", b'{"event_id": "e", "ts": "yesterday", "data": {}}', Reason.WRONG_TYPE, "'yesterday'"),
    ("raw", b'{"event_id": "e", "ts": false, "data": {}}', Reason.WRONG_TYPE, "ts must be epoch seconds or an ISO-8601 string, got boolean"),
    ("feedback", b'{"event_id": "e", "label": [1]}', Reason.WRONG_TYPE, "label must be a boolean, number or string, got array"),
    ("feedback", b'{"event_id": "e", "label": null}', Reason.WRONG_TYPE, "got null"),
    ("models", j({**MODEL, "version": True}), Reason.WRONG_TYPE, "version must be an integer, got boolean"),
    ("models", j({**MODEL, "version": 1.5}), Reason.WRONG_TYPE, "version must be an integer, got number"),
    ("models", j({**MODEL, "metrics": {"auc": "high"}}), Reason.WRONG_TYPE, "metrics['auc'] must be a number, got string"),
    ("predictions", j({**PREDICTION, "ts": "2024-01-01"}), Reason.WRONG_TYPE, "ts must be a number"),
    ("predictions", j({**PREDICTION, "challenger": {"model_version": "two"}}), Reason.WRONG_TYPE, "challenger.model_version"),
    ("raw", b'{"event_id": "e", "data": {}, "schema_version": "1"}', Reason.WRONG_TYPE, "schema_version"),
    # out_of_range
    ("raw", b'{"event_id": "e", "ts": -1, "data": {}}', Reason.OUT_OF_RANGE, "between 1970 and 9999"),
    ("raw", b'{"event_id": "e", "ts": 253402300800, "data": {}}', Reason.OUT_OF_RANGE, "between 1970 and 9999"),
    ("raw", b'{"event_id": "e", "ts": "1969-12-31T23:59:59Z", "data": {}}', Reason.OUT_OF_RANGE, "1970"),
    ("raw", b'{"event_id": "e", "ts": "9999-12-31T23:59:59-01:00", "data": {}}', Reason.OUT_OF_RANGE, "9999"),
    ("raw", b'{"event_id": "e", "ts": "0001-01-01T00:00:00+01:00", "data": {}}', Reason.OUT_OF_RANGE, "1970"),
    ("raw", b'{"event_id": "", "data": {}}', Reason.OUT_OF_RANGE, "1 to 256 characters, got 0"),
    ("raw", j({"event_id": "e" * 257, "data": {}}), Reason.OUT_OF_RANGE, "got 257"),
    ("raw", b'{"event_id": "e", "data": {}, "schema_version": 99}', Reason.OUT_OF_RANGE, "schema_version 99 is newer"),
    ("raw", b'{"event_id": "e", "data": {}, "schema_version": 0}', Reason.OUT_OF_RANGE, "schema_version"),
    ("models", j({**MODEL, "version": 0}), Reason.OUT_OF_RANGE, "version must be >= 1, got 0"),
    ("models", j({**MODEL, "status": "king"}), Reason.OUT_OF_RANGE, "status must be one of"),
    ("predictions", j({**PREDICTION, "proba": {"1": 1.5}}), Reason.OUT_OF_RANGE, "probability in [0, 1]"),
    ("predictions", j({**PREDICTION, "proba": {"1": -0.1}}), Reason.OUT_OF_RANGE, "probability"),
    ("predictions", j({**PREDICTION, "model_version": -1}), Reason.OUT_OF_RANGE, "model_version must be >= 0"),
    ("alerts", j({"alert_id": "a", "kind": "data_drift", "severity": "panic", "subject": "", "message": "", "ts": 1}),
     Reason.OUT_OF_RANGE, "severity"),
    ("deadletter", j({"reason": "bad_vibes", "detail": "", "source_topic": "", "payload": "", "ts": 1}),
     Reason.OUT_OF_RANGE, "reason"),
    # oversized (see also the exact boundary below)
    ("raw", j({"event_id": "e", "data": {"s": "x" * 70_000}}), Reason.OVERSIZED, "the limit is 65536"),
]


@pytest.mark.parametrize(("kind", "payload", "reason", "detail"), CASES,
                         ids=[f"{c[2].value}-{i}" for i, c in enumerate(CASES)])
def test_a_crafted_input_is_rejected_with_its_reason_code(kind: str, payload: bytes | None, reason: Reason, detail: str) -> None:
    letter = rejected(kind, payload).dead_letter
    assert letter.reason is reason
    assert detail in letter.detail


def test_every_reason_that_decode_or_check_fields_gives_has_a_case_here() -> None:
    from_decode = {c[2] for c in CASES}
    pipeline_state = {Reason.DUPLICATE_EVENT, Reason.UNKNOWN_EVENT, Reason.DUPLICATE_LABEL, Reason.FEATURE_FAILED, Reason.LOOKUP_MISS}
    assert from_decode | {Reason.UNKNOWN_CATEGORY} | pipeline_state == set(Reason)


def test_an_unknown_category_comes_from_check_fields() -> None:
    event = accepted("raw", b'{"event_id": "e", "data": {"country": "IT"}}')
    spec = FieldSpec(name="country", type="category", categories=frozenset({"FR"}), unseen="deadletter")
    problem = check_fields(event.data, [spec])  # type: ignore[attr-defined]
    assert problem is not None and problem[0] is Reason.UNKNOWN_CATEGORY


def test_the_pipeline_reason_codes_have_the_contract_strings() -> None:
    assert Reason.DUPLICATE_EVENT == "duplicate_event" and Reason.UNKNOWN_EVENT == "unknown_event"
    assert [r.value for r in Reason] == [
        "invalid_json", "not_an_object", "missing_field", "wrong_type", "out_of_range",
        "unknown_category", "oversized", "duplicate_event", "unknown_event", "duplicate_label", "feature_failed",
        "lookup_miss",
    ]


# --- what is accepted ---------------------------------------------------------------------

def test_the_contract_raw_event_decodes() -> None:
    assert accepted("raw", CONTRACT_RAW) == RawEvent(
        event_id="e-1", entity_id="c-9", ts=1732280000.5, data={"amount": 12.5, "country": "FR"})


def test_the_contract_feedback_decodes() -> None:
    assert accepted("feedback", CONTRACT_FEEDBACK) == Feedback(event_id="e-1", label=True, ts=1732280060.0)


@pytest.fixture
def local_time_is_not_utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A local zone far from UTC, so that a naive time read as local time would show."""
    monkeypatch.setenv("TZ", "Asia/Kolkata")
    time.tzset()
    assert time.timezone != 0
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.mark.usefixtures("local_time_is_not_utc")
@pytest.mark.parametrize("iso", [
    "2024-11-22T12:53:20.5", "2024-11-22T12:53:20.5Z", "2024-11-22T12:53:20.500+00:00",
    "2024-11-22T13:53:20.5+01:00", "2024-11-22 07:53:20.5-05:00",
])
def test_an_iso_time_decodes_to_its_epoch_seconds_naive_meaning_utc(iso: str) -> None:
    expected = datetime(2024, 11, 22, 12, 53, 20, 500000, tzinfo=timezone.utc).timestamp()
    assert expected == 1732280000.5
    assert accepted("raw", j({"event_id": "e", "ts": iso, "data": {}})).ts == expected  # type: ignore[attr-defined]
    assert accepted("feedback", j({"event_id": "e", "ts": iso, "label": 1})).ts == expected  # type: ignore[attr-defined]


@pytest.mark.parametrize("body", [{"event_id": "e", "data": {}}, {"event_id": "e", "ts": None, "data": {}}])
def test_a_missing_time_takes_the_record_time(body: dict[str, object]) -> None:
    assert accepted("raw", j(body), record_ts=42.5).ts == 42.5  # type: ignore[attr-defined]
    assert accepted("raw", j(body)).ts is None  # type: ignore[attr-defined]
    feedback = {**body, "label": False}
    feedback.pop("data")
    assert accepted("feedback", j(feedback), record_ts=7.0).ts == 7.0  # type: ignore[attr-defined]


def test_a_present_time_wins_over_the_record_time() -> None:
    assert accepted("raw", b'{"event_id": "e", "ts": 10, "data": {}}', record_ts=42.0).ts == 10.0  # type: ignore[attr-defined]


@pytest.mark.parametrize(("entity", "expected"), [(9, "9"), (2.5, "2.5"), ("c-9", "c-9"), (None, None)])
def test_an_entity_id_may_be_a_string_a_number_or_absent(entity: object, expected: str | None) -> None:
    assert accepted("raw", j({"event_id": 17, "entity_id": entity, "data": {}})).entity_id == expected  # type: ignore[attr-defined]
    assert accepted("raw", j({"event_id": 17, "data": {}})).event_id == "17"  # type: ignore[attr-defined]


def test_data_values_are_scalars_of_every_json_type() -> None:
    data = {"s": "x", "i": 3, "f": 1.5, "b": False, "n": None}
    assert accepted("raw", j({"event_id": "e", "data": data})).data == data  # type: ignore[attr-defined]


def test_unknown_extra_fields_are_ignored_and_the_known_schema_version_accepted() -> None:
    body = {"event_id": "e", "data": {}, "future_field": {"x": [1]}, "schema_version": SCHEMA_VERSION}
    assert accepted("raw", j(body)) == RawEvent(event_id="e", data={})


def test_feedback_labels_of_any_scalar_type_are_accepted_here() -> None:
    for label in (True, 0, 2.5, "fraud"):
        assert accepted("feedback", j({"event_id": "e", "label": label})).label == label  # type: ignore[attr-defined]


def test_a_null_prediction_is_accepted_for_a_model_that_cannot_predict_yet() -> None:
    assert accepted("predictions", j({**PREDICTION, "prediction": None})).prediction is None  # type: ignore[attr-defined]


def test_alert_extra_keys_become_its_detail() -> None:
    body = {"alert_id": "a", "kind": "data_drift", "severity": "info", "subject": "amount", "message": "m", "ts": 1,
            "p_value": 0.01, "window": [1, 2]}
    alert = accepted(Alert, j(body))
    assert alert == Alert(alert_id="a", alert_kind="data_drift", severity="info", subject="amount", message="m",
                          ts=1.0, detail={"p_value": 0.01, "window": [1, 2]})


def test_decode_takes_a_record_class_as_well_as_a_kind_name() -> None:
    assert accepted(Feedback, CONTRACT_FEEDBACK) == accepted("feedback", CONTRACT_FEEDBACK)


@pytest.mark.parametrize("kind", ["rawz", "", dict, 3])
def test_an_unknown_kind_is_a_programming_error(kind: object) -> None:
    with pytest.raises(ValueError, match="unknown value kind"):
        decode(kind, b"{}")  # type: ignore[call-overload]


def test_ok_tells_accepted_from_rejected() -> None:
    assert decode("feedback", CONTRACT_FEEDBACK).ok is True
    assert decode("feedback", b"[]").ok is False


def test_an_unexpected_internal_error_still_becomes_a_dead_letter(monkeypatch: pytest.MonkeyPatch) -> None:
    module = importlib.import_module("schemas.decode")

    def broken(obj: object, record_ts: float | None) -> object:
        raise KeyError("surprise")

    monkeypatch.setitem(module._BUILDERS, "raw", broken)
    letter = rejected("raw", CONTRACT_RAW).dead_letter
    assert letter.reason is Reason.WRONG_TYPE
    assert "KeyError" in letter.detail and letter.payload_bytes() == CONTRACT_RAW


# --- size ---------------------------------------------------------------------------------

def _payload_of_size(size: int) -> bytes:
    base = b'{"event_id": "e", "data": {"s": ""}}'
    payload = base.replace(b'""', b'"' + b"x" * (size - len(base)) + b'"')
    assert len(payload) == size
    return payload


@pytest.mark.parametrize("limit", [64, 1000, 65536])
def test_exactly_max_bytes_is_accepted_and_one_byte_more_is_oversized(limit: int) -> None:
    assert isinstance(decode("raw", _payload_of_size(limit), max_bytes=limit), Accepted)
    letter = rejected("raw", _payload_of_size(limit + 1), max_bytes=limit).dead_letter
    assert letter.reason is Reason.OVERSIZED
    assert letter.detail == f"value is {limit + 1} bytes, the limit is {limit}"


def test_size_is_checked_before_parsing() -> None:
    assert rejected("raw", b"{" * 100, max_bytes=99).dead_letter.reason is Reason.OVERSIZED
    assert rejected("raw", b"{" * 99, max_bytes=99).dead_letter.reason is Reason.INVALID_JSON


def test_encode_writes_the_contract_object_as_utf8_json() -> None:
    assert orjson.loads(encode(Feedback(event_id="é-1", label=True, ts=None))) == {
        "event_id": "é-1", "label": True, "ts": None, "schema_version": 1}
    assert "é".encode() in encode(Feedback(event_id="é-1", label=True))


@pytest.mark.parametrize("challenger", [None, {"model_version": 4, "prediction": False}])
def test_a_prediction_encodes_as_its_fields_in_order_without_a_null_challenger(challenger: dict | None) -> None:  # type: ignore[type-arg]
    """Prediction.to_dict is written field by field (speed): the same object, keys in the fields'
    order, as dataclasses.asdict gives, less a null challenger."""
    from dataclasses import asdict, fields

    from schemas import Prediction, encode

    p = Prediction(event_id="e-1", entity_id="c-1", model_version=3, prediction=True, proba={"True": 0.9, "False": 0.1},
                   ts=1.0, scored_at=2.0, challenger=challenger)
    expected = {k: v for k, v in asdict(p).items() if not (k == "challenger" and v is None)}
    assert list(p.to_dict()) == [f.name for f in fields(p) if f.name in expected] == list(expected)
    assert orjson.loads(encode(p)) == expected and encode(p) == orjson.dumps(expected)
