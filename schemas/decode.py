"""Bytes in, a typed record or a dead letter out: the one way agents read a value.

``decode`` never raises into an agent: every problem becomes a :class:`Rejected` holding a
:class:`~schemas.records.DeadLetter` with a contract reason code and the original bytes.

>>> decode("raw", b'{"event_id": "e-1", "data": {"amount": 12.5}}').value.data
{'amount': 12.5}
>>> decode("raw", b'{"data": {}}').dead_letter.reason
<Reason.MISSING_FIELD: 'missing_field'>
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Generic, TypeVar

import orjson

from schemas.reasons import Reason
from schemas.records import (
    MODEL_STATUSES,
    RECORD_TYPES,
    SCHEMA_VERSION,
    Alert,
    DeadLetter,
    Feedback,
    FeatureVector,
    ModelVersion,
    Prediction,
    RawEvent,
    _Record,
)

T = TypeVar("T")
MAX_TS = 253402300799.0  # 9999-12-31T23:59:59Z
MAX_ID = 256


@dataclass(frozen=True, slots=True)
class Accepted(Generic[T]):
    value: T

    @property
    def ok(self) -> bool:
        return True


@dataclass(frozen=True, slots=True)
class Rejected:
    dead_letter: DeadLetter

    @property
    def ok(self) -> bool:
        return False


Decoded = Accepted[Any] | Rejected


class _Bad(Exception):
    def __init__(self, reason: Reason, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


def _type_name(value: object) -> str:
    return {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}.get(
        type(value), "number" if isinstance(value, int | float) else type(value).__name__
    )


def _number(obj: dict[str, Any], name: str) -> float:
    value = obj[name]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _Bad(Reason.WRONG_TYPE, f"{name} must be a number, got {_type_name(value)}")
    if not math.isfinite(value):
        raise _Bad(Reason.OUT_OF_RANGE, f"{name} must be finite")
    return float(value)


def _integer(obj: dict[str, Any], name: str, minimum: int) -> int:
    value = obj[name]
    if isinstance(value, bool) or not isinstance(value, int):
        raise _Bad(Reason.WRONG_TYPE, f"{name} must be an integer, got {_type_name(value)}")
    if value < minimum:
        raise _Bad(Reason.OUT_OF_RANGE, f"{name} must be >= {minimum}, got {value}")
    return value


def _string(obj: dict[str, Any], name: str, max_len: int | None = None) -> str:
    value = obj[name]
    if not isinstance(value, str):
        raise _Bad(Reason.WRONG_TYPE, f"{name} must be a string, got {_type_name(value)}")
    if max_len is not None and not 0 < len(value) <= max_len:
        raise _Bad(Reason.OUT_OF_RANGE, f"{name} must hold 1..{max_len} characters, got {len(value)}")
    return value


def _id(obj: dict[str, Any], name: str) -> str:
    value = obj[name]
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
        obj = {name: value}
    return _string(obj, name, MAX_ID)


def _optional_id(obj: dict[str, Any], name: str) -> str | None:
    return None if obj.get(name) is None else _id(obj, name)


def _object(obj: dict[str, Any], name: str) -> dict[str, Any]:
    value = obj[name]
    if not isinstance(value, dict):
        raise _Bad(Reason.WRONG_TYPE, f"{name} must be an object, got {_type_name(value)}")
    return value


def _scalars(obj: dict[str, Any], name: str) -> dict[str, Any]:
    value = _object(obj, name)
    for key, item in value.items():
        if isinstance(item, dict | list):
            raise _Bad(Reason.WRONG_TYPE, f"{name}.{key} must be a scalar, got {_type_name(item)}")
    return value


def _ts(obj: dict[str, Any], name: str) -> float:
    value = obj[name]
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise _Bad(Reason.WRONG_TYPE, f"{name} must be epoch seconds or ISO-8601, got {value!r}") from None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=timezone.utc)
        seconds = parsed.timestamp()
    else:
        seconds = _number(obj, name)
    if not 0 <= seconds <= MAX_TS:
        raise _Bad(Reason.OUT_OF_RANGE, f"{name} must be between 1970 and 9999, got {value!r}")
    return seconds


def _optional_ts(obj: dict[str, Any], name: str) -> float | None:
    return None if obj.get(name) is None else _ts(obj, name)


def _label(obj: dict[str, Any], name: str) -> bool | int | float | str:
    value = obj[name]
    if isinstance(value, float) and not math.isfinite(value):
        raise _Bad(Reason.OUT_OF_RANGE, f"{name} must be finite")
    if not isinstance(value, bool | int | float | str):
        raise _Bad(Reason.WRONG_TYPE, f"{name} must be a boolean, number or string, got {_type_name(value)}")
    return value


def _proba(obj: dict[str, Any], name: str) -> dict[str, float] | None:
    if obj.get(name) is None:
        return None
    value = _object(obj, name)
    out = {}
    for key in value:
        p = _number(value, key)
        if not 0.0 <= p <= 1.0:
            raise _Bad(Reason.OUT_OF_RANGE, f"{name}.{key} must be a probability in [0, 1], got {p}")
        out[key] = p
    return out


def _require(obj: dict[str, Any], *names: str) -> None:
    for name in names:
        if name not in obj:
            raise _Bad(Reason.MISSING_FIELD, f"required field {name!r} is missing")


def _raw(obj: dict[str, Any], record_ts: float | None) -> RawEvent:
    _require(obj, "event_id", "data")
    ts = _optional_ts(obj, "ts")
    return RawEvent(
        event_id=_id(obj, "event_id"), data=_scalars(obj, "data"), entity_id=_optional_id(obj, "entity_id"),
        ts=record_ts if ts is None else ts,
    )


def _features(obj: dict[str, Any], record_ts: float | None) -> FeatureVector:
    _require(obj, "event_id", "ts", "features")
    return FeatureVector(
        event_id=_id(obj, "event_id"), entity_id=_optional_id(obj, "entity_id"), ts=_ts(obj, "ts"),
        features=_scalars(obj, "features"),
        source_partition=None if obj.get("source_partition") is None else _integer(obj, "source_partition", 0),
        source_offset=None if obj.get("source_offset") is None else _integer(obj, "source_offset", 0),
        model_version=None if obj.get("model_version") is None else _integer(obj, "model_version", 0),
        prediction=None if obj.get("prediction") is None else _label(obj, "prediction"),
    )


def _prediction(obj: dict[str, Any], record_ts: float | None) -> Prediction:
    _require(obj, "event_id", "model_version", "prediction", "ts", "scored_at")
    challenger = obj.get("challenger")
    return Prediction(
        event_id=_id(obj, "event_id"), entity_id=_optional_id(obj, "entity_id"),
        model_version=_integer(obj, "model_version", 0),
        prediction=None if obj["prediction"] is None else _label(obj, "prediction"),
        proba=_proba(obj, "proba"), ts=_ts(obj, "ts"), scored_at=_ts(obj, "scored_at"),
        challenger=None if challenger is None else _object(obj, "challenger"),
    )


def _feedback(obj: dict[str, Any], record_ts: float | None) -> Feedback:
    _require(obj, "event_id", "label")
    ts = _optional_ts(obj, "ts")
    return Feedback(event_id=_id(obj, "event_id"), label=_label(obj, "label"), ts=record_ts if ts is None else ts)


def _deadletter(obj: dict[str, Any], record_ts: float | None) -> DeadLetter:
    _require(obj, "reason", "detail", "source_topic", "payload", "ts")
    reason = _string(obj, "reason")
    if reason not in {r.value for r in Reason}:
        raise _Bad(Reason.OUT_OF_RANGE, f"reason {reason!r} is not a known reason code")
    encoding = obj.get("payload_encoding", "text")
    if encoding not in ("text", "base64"):
        raise _Bad(Reason.OUT_OF_RANGE, f"payload_encoding must be text or base64, got {encoding!r}")
    return DeadLetter(
        reason=Reason(reason), detail=_string(obj, "detail"), source_topic=_string(obj, "source_topic"),
        partition=None if obj.get("partition") is None else _integer(obj, "partition", 0),
        offset=None if obj.get("offset") is None else _integer(obj, "offset", 0),
        payload=_string(obj, "payload"), payload_encoding=encoding, ts=_ts(obj, "ts"),
    )


def _alert(obj: dict[str, Any], record_ts: float | None) -> Alert:
    _require(obj, "alert_id", "kind", "severity", "subject", "message", "ts")
    severity = _string(obj, "severity")
    if severity not in ("info", "warning", "critical"):
        raise _Bad(Reason.OUT_OF_RANGE, f"severity must be info, warning or critical, got {severity!r}")
    return Alert(
        alert_id=_id(obj, "alert_id"), alert_kind=_string(obj, "kind", MAX_ID), severity=severity,  # type: ignore[arg-type]
        subject=_string(obj, "subject"), message=_string(obj, "message"), ts=_ts(obj, "ts"),
        detail={k: v for k, v in obj.items() if k not in Alert.NAMED},
    )


def _model(obj: dict[str, Any], record_ts: float | None) -> ModelVersion:
    _require(obj, "version", "status", "created_at", "trained_examples", "metrics", "artifact_sha256", "reason")
    status = _string(obj, "status")
    if status not in MODEL_STATUSES:
        raise _Bad(Reason.OUT_OF_RANGE, f"status must be one of {', '.join(MODEL_STATUSES)}, got {status!r}")
    metrics = _object(obj, "metrics")
    return ModelVersion(
        version=_integer(obj, "version", 1), parent=None if obj.get("parent") is None else _integer(obj, "parent", 1),
        status=status, created_at=_ts(obj, "created_at"),  # type: ignore[arg-type]
        trained_examples=_integer(obj, "trained_examples", 0),
        metrics={k: _number(metrics, k) for k in metrics},
        artifact_sha256=_string(obj, "artifact_sha256"), reason=_string(obj, "reason"),
    )


_BUILDERS: dict[str, Callable[[dict[str, Any], float | None], _Record]] = {
    "raw": _raw, "features": _features, "predictions": _prediction, "feedback": _feedback,
    "deadletter": _deadletter, "alerts": _alert, "models": _model,
}


def decode(
    kind: str | type,
    payload: bytes | None,
    *,
    max_bytes: int = 64 * 1024,
    source_topic: str = "",
    partition: int | None = None,
    offset: int | None = None,
    record_ts: float | None = None,
    now: Callable[[], float] = time.time,
) -> Decoded:
    """Decode one record's value as ``kind`` (a contract kind name or a record class).

    ``record_ts`` is the Kafka record time, used where the contract lets ``ts`` default to it.
    An unknown ``kind`` is a programming error and raises ValueError; nothing else raises.
    """
    name = kind if isinstance(kind, str) else getattr(kind, "kind", "")
    builder = _BUILDERS.get(name)
    if builder is None:
        raise ValueError(f"unknown value kind {kind!r}; one of {', '.join(_BUILDERS)}")
    try:
        if not payload:
            raise _Bad(Reason.INVALID_JSON, "empty value")
        if len(payload) > max_bytes:
            raise _Bad(Reason.OVERSIZED, f"value is {len(payload)} bytes, the limit is {max_bytes}")
        try:
            obj = orjson.loads(payload)
        except orjson.JSONDecodeError as exc:
            raise _Bad(Reason.INVALID_JSON, f"not valid UTF-8 JSON: {exc}") from None
        if not isinstance(obj, dict):
            raise _Bad(Reason.NOT_AN_OBJECT, f"value must be a JSON object, got {_type_name(obj)}")
        if "schema_version" in obj:
            version = _integer(obj, "schema_version", 1)
            if version > SCHEMA_VERSION:
                raise _Bad(Reason.OUT_OF_RANGE, f"schema_version {version} is newer than {SCHEMA_VERSION}, the newest this driftline reads")
        return Accepted(builder(obj, record_ts))
    except _Bad as bad:
        reason, detail = bad.reason, bad.detail
    except Exception as exc:  # noqa: BLE001 - decode must never raise into an agent
        reason, detail = Reason.WRONG_TYPE, f"unreadable value: {type(exc).__name__}: {exc}"
    return Rejected(
        DeadLetter.for_bytes(reason, detail, payload, source_topic=source_topic, partition=partition, offset=offset, ts=now())
    )


def encode(record: _Record) -> bytes:
    """The record as the UTF-8 JSON object the contract describes."""
    return orjson.dumps(record.to_dict())


__all__ = ["Accepted", "Decoded", "Rejected", "decode", "encode", "RECORD_TYPES"]
