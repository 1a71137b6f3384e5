"""JSON Schema (draft 2020-12) for each value kind, for producers written in other languages."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from schemas.reasons import Reason
from schemas.records import MODEL_STATUSES, SCHEMA_VERSION

_SCALAR = {"type": ["string", "number", "boolean", "null"]}
_ID = {"type": ["string", "integer"], "minLength": 1, "maxLength": 256}
_TS = {"type": ["number", "string"], "description": "epoch seconds, or an ISO-8601 string (UTC when naive)"}
_EPOCH = {"type": "number", "minimum": 0}
_LABEL = {"type": ["boolean", "number", "string"]}
_VERSION = {"type": "integer", "minimum": 1, "maximum": SCHEMA_VERSION}


def _schema(kind: str, title: str, required: list[str], properties: dict[str, Any], extra: bool = True) -> dict[str, Any]:
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"driftline:{kind}:v{SCHEMA_VERSION}",
        "title": title,
        "type": "object",
        "required": required,
        "properties": {**properties, "schema_version": _VERSION},
        "additionalProperties": extra,
    }


def json_schemas() -> dict[str, dict[str, Any]]:
    """One JSON Schema per contract value kind, keyed by kind."""
    return {
        "raw": _schema("raw", "driftline raw event", ["event_id", "data"], {
            "event_id": _ID, "entity_id": {"type": ["string", "integer", "null"]}, "ts": _TS,
            "data": {"type": "object", "additionalProperties": _SCALAR},
        }),
        "features": _schema("features", "driftline feature vector", ["event_id", "ts", "features"], {
            "event_id": _ID, "entity_id": {"type": ["string", "null"]}, "ts": _EPOCH,
            "features": {"type": "object", "additionalProperties": _SCALAR},
            "source_partition": {"type": ["integer", "null"], "minimum": 0},
            "source_offset": {"type": ["integer", "null"], "minimum": 0},
            "model_version": {"type": ["integer", "null"], "minimum": 0},
            "prediction": {"type": ["boolean", "number", "string", "null"]},
        }),
        "predictions": _schema("predictions", "driftline prediction", ["event_id", "model_version", "prediction", "ts", "scored_at"], {
            "event_id": _ID, "entity_id": {"type": ["string", "null"]},
            "model_version": {"type": "integer", "minimum": 0},
            "prediction": {"type": ["boolean", "number", "string", "null"]},
            "proba": {"type": ["object", "null"], "additionalProperties": {"type": "number", "minimum": 0, "maximum": 1}},
            "ts": _EPOCH, "scored_at": _EPOCH,
            "challenger": {"type": "object", "properties": {"model_version": {"type": "integer"}, "prediction": _LABEL}},
        }),
        "feedback": _schema("feedback", "driftline feedback (a label for an earlier event)", ["event_id", "label"], {
            "event_id": _ID, "label": _LABEL, "ts": _TS,
        }),
        "deadletter": _schema("deadletter", "driftline dead letter", ["reason", "detail", "source_topic", "payload", "ts"], {
            "reason": {"enum": [r.value for r in Reason]}, "detail": {"type": "string"},
            "source_topic": {"type": "string"}, "partition": {"type": ["integer", "null"]},
            "offset": {"type": ["integer", "null"]}, "payload": {"type": "string"},
            "payload_encoding": {"enum": ["text", "base64"]}, "ts": _EPOCH,
        }),
        "alerts": _schema("alerts", "driftline alert", ["alert_id", "kind", "severity", "subject", "message", "ts"], {
            "alert_id": _ID, "kind": {"type": "string"}, "severity": {"enum": ["info", "warning", "critical"]},
            "subject": {"type": "string"}, "message": {"type": "string"}, "ts": _EPOCH,
        }),
        "models": _schema("models", "driftline model-version event", ["version", "status", "created_at", "trained_examples", "metrics", "artifact_sha256", "reason"], {
            "version": {"type": "integer", "minimum": 1}, "parent": {"type": ["integer", "null"], "minimum": 1},
            "status": {"enum": list(MODEL_STATUSES)}, "created_at": _EPOCH,
            "trained_examples": {"type": "integer", "minimum": 0},
            "metrics": {"type": "object", "additionalProperties": {"type": "number"}},
            "artifact_sha256": {"type": "string"}, "reason": {"type": "string"},
        }),
    }


def export_schemas(directory: Path) -> list[Path]:
    """Write ``<kind>.schema.json`` for every kind into ``directory``; return the paths."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for kind, schema in json_schemas().items():
        path = directory / f"{kind}.schema.json"
        path.write_bytes(orjson.dumps(schema, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n")
        written.append(path)
    return written
