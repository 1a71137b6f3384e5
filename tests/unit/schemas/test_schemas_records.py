"""Records: round trips through encode/decode, their JSON objects, dead letters' payloads."""

from __future__ import annotations

import base64
import dataclasses

import orjson
import pytest

from schemas import (
    RECORD_TYPES,
    Accepted,
    Alert,
    AlertKind,
    DeadLetter,
    FeatureVector,
    Prediction,
    RawEvent,
    Reason,
    Rejected,
    decode,
    encode,
)


def test_each_sample_decodes_back_to_an_equal_record(sample: object) -> None:
    outcome = decode(type(sample), encode(sample))  # type: ignore[arg-type]
    assert isinstance(outcome, Accepted), outcome.dead_letter.detail
    assert outcome.value == sample
    assert type(outcome.value) is type(sample)


def test_the_samples_cover_every_kind(samples_by_kind: dict[str, object]) -> None:
    assert set(samples_by_kind) == set(RECORD_TYPES) == {
        "raw", "features", "predictions", "feedback", "deadletter", "alerts", "models"}


#: the records the hot path makes per event: no slots, and built with ``made`` (see FeatureVector.made)
MADE_PER_EVENT = (RawEvent, FeatureVector, Prediction)


def test_records_are_frozen_and_slotted_but_the_hot_paths(sample: object) -> None:
    assert hasattr(sample, "__dict__") == isinstance(sample, MADE_PER_EVENT)
    first = dataclasses.fields(sample)[0].name  # type: ignore[arg-type]
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(sample, first, None)


def test_made_gives_the_record_init_gives_field_for_field(sample: object) -> None:
    """``made`` fills every field, in the class's order (orjson writes them in that order), and
    the record equals and encodes as the one ``__init__`` builds."""
    if not isinstance(sample, MADE_PER_EVENT):
        return
    names = [f.name for f in dataclasses.fields(sample)]  # type: ignore[arg-type]
    values = {n: getattr(sample, n) for n in names}
    made = type(sample).made(**{n: v for n, v in values.items() if n != "schema_version"})  # type: ignore[attr-defined]
    assert list(vars(made)) == names
    assert made == sample
    assert encode(made) == encode(sample)
    with pytest.raises(dataclasses.FrozenInstanceError):
        made.event_id = "other"  # type: ignore[misc]


def test_to_dict_names_every_field_and_the_schema_version(sample: object) -> None:
    out = sample.to_dict()  # type: ignore[attr-defined]
    assert out["schema_version"] == 1
    names = {f.name for f in dataclasses.fields(sample)}  # type: ignore[arg-type]
    if isinstance(sample, Alert):
        names = names - {"alert_kind", "detail"} | {"kind"} | set(sample.detail)
    if isinstance(sample, Prediction) and sample.challenger is None:
        names.discard("challenger")
    assert set(out) == names
    assert orjson.loads(orjson.dumps(out)) == out  # JSON-ready as it is


def test_the_raw_event_object_is_the_contract_shape() -> None:
    event = RawEvent(event_id="e-1", entity_id="c-9", ts=1732280000.5, data={"amount": 12.5, "country": "FR"})
    assert event.to_dict() == {"event_id": "e-1", "entity_id": "c-9", "ts": 1732280000.5,
                               "data": {"amount": 12.5, "country": "FR"}, "schema_version": 1}


def test_a_prediction_carries_challenger_only_while_one_shadows() -> None:
    base = dict(event_id="e", entity_id=None, model_version=1, prediction=1, proba=None, ts=1.0, scored_at=2.0)
    assert "challenger" not in Prediction(**base).to_dict()  # type: ignore[arg-type]
    shadowed = Prediction(**base, challenger={"model_version": 2, "prediction": 0}).to_dict()  # type: ignore[arg-type]
    assert shadowed["challenger"] == {"model_version": 2, "prediction": 0}
    assert shadowed["proba"] is None  # named by the contract, so present even when null


def test_alert_detail_is_flattened_without_overwriting_named_fields() -> None:
    alert = Alert(alert_id="a", alert_kind=AlertKind.CONCEPT_DRIFT, severity="critical", subject="model", message="m",
                  ts=1.0, detail={"kind": "evil", "ts": -5, "severity": "info", "error_rate": 0.3})
    assert alert.to_dict() == {"alert_id": "a", "kind": "concept_drift", "severity": "critical", "subject": "model",
                               "message": "m", "ts": 1.0, "schema_version": 1, "error_rate": 0.3}
    assert type(alert.to_dict()["kind"]) is str


def test_alert_kinds_have_the_contract_strings() -> None:
    assert {k.value for k in AlertKind} == {
        "data_drift", "concept_drift", "prediction_drift", "performance_drop",
        "model_published", "model_promoted", "model_rolled_back", "model_retired", "model_rejected", "deadletter_rate"}


def test_a_dead_letter_reason_is_written_as_its_plain_code() -> None:
    letter = DeadLetter.for_bytes(Reason.OVERSIZED, "too big", b"{}", ts=1.0)
    assert orjson.loads(encode(letter))["reason"] == "oversized"


# --- dead letters -------------------------------------------------------------------------

def test_a_binary_payload_is_kept_as_base64_and_gives_back_the_same_bytes() -> None:
    binary = b"\x00\xff\xfe not utf-8 \x80"
    outcome = decode("raw", binary, source_topic="driftline.raw", partition=3, offset=99, now=lambda: 123.0)
    assert isinstance(outcome, Rejected)
    letter = outcome.dead_letter
    assert letter.reason is Reason.INVALID_JSON
    assert letter.payload_encoding == "base64"
    assert base64.b64decode(letter.payload) == binary
    assert letter.payload_bytes() == binary
    again = decode("deadletter", encode(letter))  # the dead letter itself survives the topic
    assert isinstance(again, Accepted) and again.value.payload_bytes() == binary


def test_a_text_payload_stays_text() -> None:
    outcome = decode("raw", "[1, 2, \"é\"]".encode())
    assert isinstance(outcome, Rejected)
    assert (outcome.dead_letter.payload, outcome.dead_letter.payload_encoding) == ('[1, 2, "é"]', "text")


def test_a_dead_letter_carries_source_topic_partition_offset_and_the_clock() -> None:
    outcome = decode("feedback", b'{"event_id": "e"}', source_topic="driftline.feedback", partition=5, offset=1234,
                     record_ts=1.0, now=lambda: 99.5)
    assert isinstance(outcome, Rejected)
    letter = outcome.dead_letter
    assert (letter.source_topic, letter.partition, letter.offset, letter.ts) == ("driftline.feedback", 5, 1234, 99.5)
    assert letter.to_dict() == {
        "reason": "missing_field", "detail": "required field 'label' is missing", "source_topic": "driftline.feedback",
        "partition": 5, "offset": 1234, "payload": '{"event_id": "e"}', "payload_encoding": "text", "ts": 99.5,
        "schema_version": 1}


def test_an_empty_or_missing_payload_makes_an_empty_text_dead_letter() -> None:
    for payload in (None, b""):
        outcome = decode("raw", payload)
        assert isinstance(outcome, Rejected)
        assert (outcome.dead_letter.payload, outcome.dead_letter.payload_encoding) == ("", "text")


@pytest.mark.parametrize("payload", [bytearray(b"\xff{"), memoryview(b"\xff{")])
def test_bytes_like_payloads_are_read_and_kept_too(payload: bytes) -> None:
    outcome = decode("raw", payload)
    assert isinstance(outcome, Rejected) and outcome.dead_letter.payload_bytes() == b"\xff{"


def test_a_dead_letter_with_a_broken_base64_payload_is_rejected() -> None:
    body = {"reason": "invalid_json", "detail": "", "source_topic": "", "payload": "not base64!",
            "payload_encoding": "base64", "ts": 1}
    outcome = decode("deadletter", orjson.dumps(body))
    assert isinstance(outcome, Rejected) and outcome.dead_letter.reason is Reason.WRONG_TYPE
