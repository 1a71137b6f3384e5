"""The exported JSON Schemas: valid draft 2020-12, and in agreement with encode and decode."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from jsonschema import Draft202012Validator

from schemas import RECORD_TYPES, Reason, Rejected, decode, encode, export_schemas, json_schemas

KINDS = sorted(RECORD_TYPES)


def test_export_writes_one_pretty_sorted_file_per_kind(tmp_path: Path) -> None:
    directory = tmp_path / "not" / "there" / "yet"
    paths = export_schemas(directory)
    assert sorted(p.name for p in paths) == sorted(f"{kind}.schema.json" for kind in KINDS)
    assert all(p.parent == directory for p in paths)
    for path in paths:
        kind = path.name.removesuffix(".schema.json")
        text = path.read_bytes()
        assert orjson.loads(text) == json_schemas()[kind]
        assert text == orjson.dumps(json_schemas()[kind], option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"
        assert b'\n  "' in text


def test_export_overwrites_what_an_earlier_export_wrote(tmp_path: Path) -> None:
    (tmp_path / "raw.schema.json").write_text("stale")
    export_schemas(tmp_path)
    assert orjson.loads((tmp_path / "raw.schema.json").read_bytes())["$id"] == "driftline:raw:v1"


@pytest.mark.parametrize("kind", KINDS)
def test_each_schema_is_valid_draft_2020_12_with_a_hostless_id(kind: str) -> None:
    schema = json_schemas()[kind]
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] == f"driftline:{kind}:v1"
    assert schema["title"] and schema["description"]


def test_each_schema_accepts_what_driftline_writes(sample: object) -> None:
    schema = json_schemas()[type(sample).kind]  # type: ignore[attr-defined]
    Draft202012Validator(schema).validate(orjson.loads(encode(sample)))  # type: ignore[arg-type]


@pytest.mark.parametrize("kind", KINDS)
def test_each_schema_and_decode_reject_an_object_missing_any_required_field(
    kind: str, samples_by_kind: dict[str, object]
) -> None:
    schema = json_schemas()[kind]
    full = orjson.loads(encode(samples_by_kind[kind]))  # type: ignore[arg-type]
    assert schema["required"]
    for name in schema["required"]:
        obj = {k: v for k, v in full.items() if k != name}
        assert not Draft202012Validator(schema).is_valid(obj), name
        outcome = decode(kind, orjson.dumps(obj))
        assert isinstance(outcome, Rejected) and outcome.dead_letter.reason is Reason.MISSING_FIELD, name
        assert repr(name) in outcome.dead_letter.detail


@pytest.mark.parametrize(("kind", "body"), [
    ("raw", {"event_id": "e", "data": [1]}),
    ("raw", {"event_id": "e", "data": {"n": {"nested": 1}}}),
    ("raw", {"event_id": "", "data": {}}),
    ("raw", {"event_id": "e", "data": {}, "schema_version": 2}),
    ("feedback", {"event_id": "e", "label": None}),
    ("predictions", {"event_id": "e", "model_version": 1, "prediction": 1, "ts": 1, "scored_at": 1, "proba": {"a": 2}}),
    ("models", {"version": 0, "parent": None, "status": "champion", "created_at": 1, "trained_examples": 0,
                "metrics": {}, "artifact_sha256": "", "reason": ""}),
    ("alerts", {"alert_id": "a", "kind": "data_drift", "severity": "panic", "subject": "", "message": "", "ts": 1}),
    ("deadletter", {"reason": "nope", "detail": "", "source_topic": "", "payload": "", "ts": 1}),
])
def test_the_schemas_reject_what_decode_rejects_for_type_and_range(kind: str, body: dict[str, object]) -> None:
    assert not Draft202012Validator(json_schemas()[kind]).is_valid(body)
    assert isinstance(decode(kind, orjson.dumps(body)), Rejected)
