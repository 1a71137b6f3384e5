"""driftline's event schemas: typed records, one decode function, field checks, JSON Schema.

The shapes are the contract's (``shared/CONTRACT.md``); ``decode`` turns bytes into a record or
a dead letter with a reason code and never raises into an agent.
"""

from schemas.decode import Accepted, Decoded, Rejected, decode, encode
from schemas.fields import FieldSpec, check_fields, check_value
from schemas.jsonschema import export_schemas, json_schemas
from schemas.reasons import Reason
from schemas.records import (
    RECORD_TYPES,
    SCHEMA_VERSION,
    Alert,
    AlertKind,
    DeadLetter,
    FeatureVector,
    Feedback,
    ModelVersion,
    Prediction,
    RawEvent,
)

__all__ = [
    "Accepted", "Alert", "AlertKind", "DeadLetter", "Decoded", "FeatureVector", "Feedback", "FieldSpec",
    "ModelVersion", "Prediction", "RECORD_TYPES", "RawEvent", "Reason", "Rejected", "SCHEMA_VERSION",
    "check_fields", "check_value", "decode", "encode", "export_schemas", "json_schemas",
]
