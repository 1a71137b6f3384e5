"""driftline's event schemas: typed records, one decode function, field checks, JSON Schema.

The shapes are the contract's: one record class per topic value kind (``raw``, ``features``,
``predictions``, ``feedback``, ``deadletter``, ``alerts``, ``models``). ``decode`` turns bytes
into a record or a dead letter with a reason code and never raises into an agent; ``encode``
turns a record back into bytes; ``check_fields`` checks raw ``data`` against declared fields.

>>> from schemas import Feedback, decode, encode
>>> decode("feedback", encode(Feedback(event_id="e-1", label=True, ts=1.0))).ok
True
"""

from schemas.decode import Accepted, Decoded, Rejected, decode, encode, quick_features, quick_raw
from schemas.fields import FIELD_TYPES, FieldSpec, FieldType, check_fields, check_value, fits_compiled
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
    JSONScalar,
    Label,
    ModelVersion,
    Prediction,
    RawEvent,
    Record,
)

__all__ = [
    "FIELD_TYPES", "RECORD_TYPES", "SCHEMA_VERSION",
    "Accepted", "Alert", "AlertKind", "DeadLetter", "Decoded", "FeatureVector", "Feedback", "FieldSpec", "FieldType",
    "JSONScalar", "Label", "ModelVersion", "Prediction", "RawEvent", "Reason", "Record", "Rejected",
    "check_fields", "check_value", "decode", "encode", "fits_compiled", "quick_features", "quick_raw", "export_schemas", "json_schemas",
]
