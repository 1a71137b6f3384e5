"""JSON Schema (draft 2020-12) for each value kind, for producers written in other languages.

The schemas describe what ``decode`` accepts, as far as JSON Schema can say it (it cannot check
that an ISO-8601 string parses). Extra fields are allowed, as ``decode`` ignores them.

>>> sorted(json_schemas())
['alerts', 'deadletter', 'features', 'feedback', 'models', 'predictions', 'raw']
>>> json_schemas()["raw"]["$id"]
'driftline:raw:v1'
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from schemas.readers import MAX_ID, MAX_TS
from schemas.reasons import Reason
from schemas.records import MODEL_STATUSES, SCHEMA_VERSION, SEVERITIES

Schema = dict[str, Any]

_SCALAR: Schema = {"type": ["string", "number", "boolean", "null"]}
_LABEL: Schema = {"type": ["boolean", "number", "string"]}
_OPTIONAL_LABEL: Schema = {"type": ["boolean", "number", "string", "null"]}
_TEXT: Schema = {"type": "string", "minLength": 1, "maxLength": MAX_ID}
_ID: Schema = {**_TEXT, "type": ["string", "integer"], "description": "a string, or an integer read as its decimal string"}
_ENTITY: Schema = {**_TEXT, "type": ["string", "number", "null"], "description": "a string, or a number read as a string"}
_EPOCH: Schema = {"type": "number", "minimum": 0, "maximum": MAX_TS, "description": "epoch seconds"}
_TIME: Schema = {
    "type": ["number", "string", "null"], "minimum": 0, "maximum": MAX_TS,
    "description": "epoch seconds, or an ISO-8601 string (UTC when naive); absent or null: the Kafka record time",
}
_COUNT: Schema = {"type": ["integer", "null"], "minimum": 0}
_VERSION: Schema = {"type": "integer", "minimum": 1, "maximum": SCHEMA_VERSION}


def _schema(kind: str, title: str, description: str, required: list[str], properties: Schema) -> Schema:
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"driftline:{kind}:v{SCHEMA_VERSION}",
        "title": title,
        "description": description,
        "type": "object",
        "required": required,
        "properties": {**properties, "schema_version": _VERSION},
        "additionalProperties": True,
    }


def _raw() -> Schema:
    return _schema("raw", "driftline raw event", "An event as users produce it to <prefix>.raw.", ["event_id", "data"], {
        "event_id": _ID, "entity_id": _ENTITY, "ts": _TIME,
        "data": {"type": "object", "additionalProperties": _SCALAR, "description": "field name -> scalar"},
    })


def _features() -> Schema:
    return _schema("features", "driftline feature vector", "A validated event's features, on <prefix>.features.",
                   ["event_id", "ts", "features"], {
        "event_id": _ID, "entity_id": _ENTITY, "ts": _EPOCH,
        "features": {"type": "object", "additionalProperties": _SCALAR},
        "source_partition": _COUNT, "source_offset": _COUNT, "model_version": _COUNT, "prediction": _OPTIONAL_LABEL,
        "scored_position": _COUNT,
        "lookups": {"type": ["object", "null"], "description": "the reference record each lookup used: [partition, offset], or null",
                    "additionalProperties": {"type": ["array", "null"], "items": {"type": "integer", "minimum": 0},
                                             "minItems": 2, "maxItems": 2}},
    })


def _predictions() -> Schema:
    return _schema("predictions", "driftline prediction", "A scored event on <prefix>.predictions.",
                   ["event_id", "model_version", "prediction", "ts", "scored_at"], {
        "event_id": _ID, "entity_id": _ENTITY, "model_version": {"type": "integer", "minimum": 0},
        "prediction": _OPTIONAL_LABEL,
        "proba": {"type": ["object", "null"], "additionalProperties": {"type": "number", "minimum": 0, "maximum": 1},
                  "description": "classification: class -> probability"},
        "ts": _EPOCH, "scored_at": _EPOCH,
        "challenger": {"type": ["object", "null"], "description": "present while a challenger shadows",
                       "properties": {"model_version": _COUNT, "prediction": _OPTIONAL_LABEL}},
    })


def _feedback() -> Schema:
    return _schema("feedback", "driftline feedback", "A label for an earlier event, on <prefix>.feedback.",
                   ["event_id", "label"], {"event_id": _ID, "label": _LABEL, "ts": _TIME})


def _deadletter() -> Schema:
    return _schema("deadletter", "driftline dead letter", "Rejected input on <prefix>.deadletter, with its reason.",
                   ["reason", "detail", "source_topic", "payload", "ts"], {
        "reason": {"enum": [reason.value for reason in Reason]}, "detail": {"type": "string"},
        "source_topic": {"type": "string"}, "partition": _COUNT, "offset": _COUNT,
        "payload": {"type": "string", "description": "the original bytes, as text or base64"},
        "payload_encoding": {"enum": ["text", "base64", None]}, "ts": _EPOCH,
    })


def _alerts() -> Schema:
    return _schema("alerts", "driftline alert", "An alert on <prefix>.alerts; more keys carry its detail.",
                   ["alert_id", "kind", "severity", "subject", "message", "ts"], {
        "alert_id": _ID, "kind": _TEXT, "severity": {"enum": list(SEVERITIES)},
        "subject": {"type": "string"}, "message": {"type": "string"}, "ts": _EPOCH,
    })


def _models() -> Schema:
    return _schema("models", "driftline model-version event", "A model version on <prefix>.models.",
                   ["version", "status", "created_at", "trained_examples", "metrics", "artifact_sha256", "reason"], {
        "version": {"type": "integer", "minimum": 1}, "parent": {"type": ["integer", "null"], "minimum": 1},
        "status": {"enum": list(MODEL_STATUSES)}, "created_at": _EPOCH,
        "trained_examples": {"type": "integer", "minimum": 0},
        "metrics": {"type": "object", "additionalProperties": {"type": "number"}},
        "artifact_sha256": {"type": "string"}, "reason": {"type": "string"},
        "artifact_signature": {"type": "string"}, "artifact": {"type": ["string", "null"]},
        "spec_sha256": {"type": "string"}, "libraries": {"type": "object", "additionalProperties": {"type": "string"}},
        "trained_range": {"type": ["array", "null"], "items": {"type": "integer"}, "minItems": 2, "maxItems": 2},
        "changed_by": {"type": "string"}, "model": {"type": "string"},
        "source": {"type": "object", "additionalProperties": {"type": "string"}},
    })


def json_schemas() -> dict[str, Schema]:
    """One JSON Schema per contract value kind, keyed by kind (the topic name)."""
    return {
        "raw": _raw(), "features": _features(), "predictions": _predictions(), "feedback": _feedback(),
        "deadletter": _deadletter(), "alerts": _alerts(), "models": _models(),
    }


def export_schemas(directory: Path) -> list[Path]:
    """Write ``<kind>.schema.json`` for every kind into ``directory`` (made if needed).

    The files are indented with sorted keys, so that they diff well; the paths come back in
    the order of :func:`json_schemas`.
    """
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for kind, schema in json_schemas().items():
        path = directory / f"{kind}.schema.json"
        path.write_bytes(orjson.dumps(schema, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n")
        written.append(path)
    return written
