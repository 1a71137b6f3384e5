"""Bytes in, a typed record or a dead letter out: the one way agents read a value.

``decode`` never raises into an agent: every problem becomes a :class:`Rejected` holding a
:class:`~schemas.records.DeadLetter` with a contract reason code and the original bytes.
The checks run in this order: empty, size (before parsing), JSON, object, ``schema_version``,
then the kind's fields. Unknown extra fields are ignored, so that producers can run ahead.

>>> decode("raw", b'{"event_id": "e-1", "data": {"amount": 12.5}}').value.data
{'amount': 12.5}
>>> decode("raw", b'{"data": {}}').dead_letter.reason
<Reason.MISSING_FIELD: 'missing_field'>
"""

from __future__ import annotations

import binascii
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar, overload

import orjson

from schemas import readers as r
from schemas.readers import Invalid, Obj
from schemas.reasons import Reason
from schemas.records import (
    MODEL_STATUSES,
    SCHEMA_VERSION,
    SEVERITIES,
    Alert,
    DeadLetter,
    FeatureVector,
    Feedback,
    ModelVersion,
    Prediction,
    RawEvent,
    _Record,
)

T = TypeVar("T")
R = TypeVar("R", bound=_Record)


@dataclass(frozen=True, slots=True)
class Accepted(Generic[T]):
    """A value that decoded: ``value`` is the typed record."""

    value: T

    @property
    def ok(self) -> bool:
        """Always True: the value decoded."""
        return True


@dataclass(frozen=True, slots=True)
class Rejected:
    """A value that did not decode: ``dead_letter`` says why and keeps its bytes."""

    dead_letter: DeadLetter

    @property
    def ok(self) -> bool:
        """Always False: the value goes to the dead-letter topic."""
        return False


Decoded = Accepted[Any] | Rejected


def _raw(obj: Obj, record_ts: float | None) -> RawEvent:
    r.require(obj, "event_id", "data")
    ts = r.read_optional_time(obj, "ts")
    return RawEvent(
        event_id=r.read_id(obj, "event_id"), data=r.read_scalars(obj, "data"),
        entity_id=r.read_optional_id(obj, "entity_id", numbers=True), ts=record_ts if ts is None else ts,
    )


def _features(obj: Obj, record_ts: float | None) -> FeatureVector:
    r.require(obj, "event_id", "ts", "features")
    return FeatureVector(
        event_id=r.read_id(obj, "event_id"), entity_id=r.read_optional_id(obj, "entity_id", numbers=True),
        ts=r.read_epoch(obj, "ts"), features=r.read_scalars(obj, "features"),
        source_partition=r.read_optional_integer(obj, "source_partition", 0),
        source_offset=r.read_optional_integer(obj, "source_offset", 0),
        model_version=r.read_optional_integer(obj, "model_version", 0),
        prediction=r.read_optional_label(obj, "prediction"),
        scored_position=r.read_optional_integer(obj, "scored_position", 0),
        lookups=_lookups_used(obj),
    )


def _lookups_used(obj: Obj) -> dict[str, list[int] | None] | None:
    if obj.get("lookups") is None:
        return None
    out: dict[str, list[int] | None] = {}
    for name, where in r.read_object(obj, "lookups").items():
        if where is not None and not (isinstance(where, list) and len(where) == 2 and all(type(v) is int and v >= 0 for v in where)):
            raise r.Invalid(Reason.WRONG_TYPE, f"lookups.{name} must be [partition, offset] or null")
        out[str(name)] = where
    return out


def _challenger(obj: Obj) -> dict[str, Any] | None:
    if obj.get("challenger") is None:
        return None
    challenger = r.read_object(obj, "challenger")
    named = {f"challenger.{k}": v for k, v in challenger.items()}
    r.read_optional_integer(named, "challenger.model_version", 0)
    r.read_optional_label(named, "challenger.prediction")
    return challenger


def _prediction(obj: Obj, record_ts: float | None) -> Prediction:
    r.require(obj, "event_id", "model_version", "prediction", "ts", "scored_at")
    return Prediction(
        event_id=r.read_id(obj, "event_id"), entity_id=r.read_optional_id(obj, "entity_id", numbers=True),
        model_version=r.read_integer(obj, "model_version", 0), prediction=r.read_optional_label(obj, "prediction"),
        proba=r.read_probabilities(obj, "proba"), ts=r.read_epoch(obj, "ts"),
        scored_at=r.read_epoch(obj, "scored_at"), challenger=_challenger(obj),
    )


def _feedback(obj: Obj, record_ts: float | None) -> Feedback:
    r.require(obj, "event_id", "label")
    ts = r.read_optional_time(obj, "ts")
    return Feedback(event_id=r.read_id(obj, "event_id"), label=r.read_label(obj, "label"),
                    ts=record_ts if ts is None else ts)


def _deadletter(obj: Obj, record_ts: float | None) -> DeadLetter:
    r.require(obj, "reason", "detail", "source_topic", "payload", "ts")
    reason = r.read_choice(obj, "reason", tuple(Reason))
    encoding = "text" if obj.get("payload_encoding") is None else r.read_choice(obj, "payload_encoding", ("text", "base64"))
    payload = r.read_string(obj, "payload")
    if encoding == "base64":
        try:
            binascii.a2b_base64(payload, strict_mode=True)
        except (binascii.Error, ValueError):
            raise Invalid(Reason.WRONG_TYPE, "payload must be base64 when payload_encoding is base64") from None
    return DeadLetter(
        reason=Reason(reason), detail=r.read_string(obj, "detail"), source_topic=r.read_string(obj, "source_topic"),
        partition=r.read_optional_integer(obj, "partition", 0), offset=r.read_optional_integer(obj, "offset", 0),
        payload=payload, payload_encoding=encoding, ts=r.read_epoch(obj, "ts"),  # type: ignore[arg-type]
    )


def _alert(obj: Obj, record_ts: float | None) -> Alert:
    r.require(obj, "alert_id", "kind", "severity", "subject", "message", "ts")
    return Alert(
        alert_id=r.read_id(obj, "alert_id"), alert_kind=r.read_string(obj, "kind", r.MAX_ID),
        severity=r.read_choice(obj, "severity", SEVERITIES),  # type: ignore[arg-type]
        subject=r.read_string(obj, "subject"), message=r.read_string(obj, "message"), ts=r.read_epoch(obj, "ts"),
        detail={k: v for k, v in obj.items() if k not in Alert.NAMED},
    )


def _model(obj: Obj, record_ts: float | None) -> ModelVersion:
    r.require(obj, "version", "status", "created_at", "trained_examples", "metrics", "artifact_sha256", "reason")
    return ModelVersion(
        version=r.read_integer(obj, "version", 1), parent=r.read_optional_integer(obj, "parent", 1),
        status=r.read_choice(obj, "status", MODEL_STATUSES),  # type: ignore[arg-type]
        created_at=r.read_epoch(obj, "created_at"), trained_examples=r.read_integer(obj, "trained_examples", 0),
        metrics=r.read_numbers(obj, "metrics"), artifact_sha256=r.read_string(obj, "artifact_sha256"),
        reason=r.read_string(obj, "reason"),
        artifact_signature=_optional_string(obj, "artifact_signature") or "",
        artifact=_optional_string(obj, "artifact"), spec_sha256=_optional_string(obj, "spec_sha256") or "",
        libraries={k: str(v) for k, v in r.read_object(obj, "libraries").items()} if obj.get("libraries") is not None else {},
        trained_range=_range(obj, "trained_range"), changed_by=_optional_string(obj, "changed_by") or "",
        model=_optional_string(obj, "model") or "",
        source={k: str(v) for k, v in r.read_object(obj, "source").items()} if obj.get("source") is not None else {},
    )


def _optional_string(obj: Obj, name: str) -> str | None:
    return None if obj.get(name) is None else r.read_string(obj, name)


def _range(obj: Obj, name: str) -> tuple[int, int] | None:
    value = obj.get(name)
    if value is None:
        return None
    if not (isinstance(value, list) and len(value) == 2 and all(type(v) is int for v in value)):
        raise r.Invalid(Reason.WRONG_TYPE, f"{name} must be a list of two integers (first, last)")
    return value[0], value[1]


_BUILDERS: dict[str, Callable[[Obj, float | None], _Record]] = {
    "raw": _raw, "features": _features, "predictions": _prediction, "feedback": _feedback,
    "deadletter": _deadletter, "alerts": _alert, "models": _model,
}


def _parse(payload: bytes | None, max_bytes: int) -> dict[str, Any]:
    if not payload:
        raise Invalid(Reason.INVALID_JSON, "empty value")
    if len(payload) > max_bytes:
        raise Invalid(Reason.OVERSIZED, f"value is {len(payload)} bytes, the limit is {max_bytes}")
    try:
        obj = orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        raise Invalid(Reason.INVALID_JSON, f"not valid UTF-8 JSON: {exc}") from None
    if not isinstance(obj, dict):
        raise Invalid(Reason.NOT_AN_OBJECT, f"value must be a JSON object, got {r.json_type(obj)}")
    if "schema_version" in obj:
        version = r.read_integer(obj, "schema_version", 1)
        if version > SCHEMA_VERSION:
            raise Invalid(Reason.OUT_OF_RANGE,
                          f"schema_version {version} is newer than {SCHEMA_VERSION}, the newest this driftline reads")
    return obj


@overload
def decode(kind: type[R], payload: bytes | None, *, max_bytes: int = ..., source_topic: str = ...,
           partition: int | None = ..., offset: int | None = ..., record_ts: float | None = ...,
           now: Callable[[], float] = ...) -> Accepted[R] | Rejected: ...


@overload
def decode(kind: str, payload: bytes | None, *, max_bytes: int = ..., source_topic: str = ...,
           partition: int | None = ..., offset: int | None = ..., record_ts: float | None = ...,
           now: Callable[[], float] = ...) -> Decoded: ...


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
    """Decode one record's value as ``kind``: a contract kind name or a record class.

    Parameters
    ----------
    kind
        ``"raw"``, ``"features"``, ``"predictions"``, ``"feedback"``, ``"deadletter"``,
        ``"alerts"``, ``"models"``, or the record class itself.
    payload
        The record's value bytes, as they came from Kafka.
    max_bytes
        Larger values are ``oversized``, before any parsing.
    source_topic, partition, offset
        Where the value came from, kept in the dead letter.
    record_ts
        The Kafka record time (epoch seconds), the default of ``ts`` for raw events and feedback.
    now
        The clock that stamps dead letters.

    Returns
    -------
    Accepted or Rejected
        ``Accepted(record)``, or ``Rejected(dead_letter)``. An unknown ``kind`` is a programming
        error and raises ValueError; nothing else raises.

    Examples
    --------
    >>> decode("feedback", b'{"event_id": "e-1"}', partition=0, offset=7).dead_letter.detail
    "required field 'label' is missing"
    >>> decode(Feedback, b'{"event_id": "e-1", "label": 1}', record_ts=5.0).value.ts
    5.0
    """
    name = kind if isinstance(kind, str) else getattr(kind, "kind", None)
    builder = _BUILDERS.get(name) if isinstance(name, str) else None
    if builder is None:
        raise ValueError(f"unknown value kind {kind!r}; one of {', '.join(_BUILDERS)}")
    try:
        return Accepted(builder(_parse(payload, max_bytes), record_ts))
    except Invalid as bad:
        reason, detail = bad.reason, bad.detail
    except Exception as exc:  # noqa: BLE001 - decode must never raise into an agent
        reason, detail = Reason.WRONG_TYPE, f"unreadable value: {type(exc).__name__}: {exc}"
    letter = DeadLetter.for_bytes(reason, detail, payload, source_topic=source_topic, partition=partition,
                                  offset=offset, ts=now())
    return Rejected(letter)


def quick_raw(payload: bytes | None, max_bytes: int, record_ts: float | None,
              fits: Callable[[Obj], bool]) -> RawEvent | None:
    """The hot path's decode of a raw event: the :class:`RawEvent` that ``decode("raw", ...)``
    gives, when the value is the common case (string ids, epoch seconds or no ``ts``, scalar
    data that ``fits`` the declared fields, see :func:`~schemas.fields.fits_compiled`). None
    means "not sure": ask :func:`decode` and ``check_fields``, which say why. It never returns
    an event they would not accept, nor a different one.

    >>> from schemas.fields import FieldSpec, fits_compiled
    >>> fits = fits_compiled([FieldSpec(name="amount", type="number")])
    >>> quick_raw(b'{"event_id": "e-1", "data": {"amount": 12.5}}', 1024, 5.0, fits)
    RawEvent(event_id='e-1', data={'amount': 12.5}, entity_id=None, ts=5.0, schema_version=1)
    >>> quick_raw(b'{"event_id": "e-1", "data": {"amount": "12.5"}}', 1024, 5.0, fits) is None
    True
    """
    obj = _quick_object(payload, max_bytes)
    if obj is None:
        return None
    get = obj.get
    event_id, data, entity_id, ts = get("event_id"), get("data"), get("entity_id"), get("ts")
    if not _quick_ids(event_id, entity_id) or not _quick_scalars(data):
        return None
    if ts is None:
        ts = record_ts
    elif (type(ts) is float or type(ts) is int) and 0 <= ts <= r.MAX_TS:
        ts = float(ts)
    else:
        return None
    if not fits(data):
        return None
    return RawEvent.made(event_id, data, entity_id, ts)


def _quick_object(payload: bytes | None, max_bytes: int) -> dict[str, Any] | None:
    """The quick paths' JSON object, of a schema version this code reads; None: ask decode."""
    if not payload or len(payload) > max_bytes:
        return None
    try:
        obj = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return None
    if type(obj) is not dict:
        return None
    version = obj.get("schema_version", 1)
    if type(version) is not int or not 1 <= version <= SCHEMA_VERSION:
        return None
    return obj


def _quick_ids(event_id: Any, entity_id: Any) -> bool:
    """A string event id and a string entity id or none, each of 1 to ``MAX_ID`` characters (decode
    also takes numbers, and converts them: the quick paths leave those to it)."""
    if type(event_id) is not str or not 0 < len(event_id) <= r.MAX_ID:
        return False
    return entity_id is None or (type(entity_id) is str and 0 < len(entity_id) <= r.MAX_ID)


def _quick_scalars(values: Any) -> bool:
    """An object whose values are all scalars (no object, no array)."""
    if type(values) is not dict:
        return False
    for value in values.values():
        if type(value) is dict or type(value) is list:
            return False
    return True


def quick_features(payload: bytes | None) -> FeatureVector | None:
    """The join's decode of a feature vector: the :class:`FeatureVector` that
    ``decode("features", ...)`` gives, when the value is the common case (the scorer's own: string
    ids, epoch seconds, scalar features, no lookups). None means "not sure": ask :func:`decode`,
    which says why. It never returns a record decode would not accept, nor a different one.

    >>> quick_features(b'{"event_id": "e-1", "entity_id": null, "ts": 5, "features": {"a": 1}}').ts
    5.0
    >>> quick_features(b'{"event_id": "e-1", "ts": 5, "features": {"a": [1]}}') is None
    True
    """
    obj = _quick_object(payload, _FEATURES_MAX_BYTES)
    if obj is None:
        return None
    get = obj.get
    event_id, entity_id, ts, features = get("event_id"), get("entity_id"), get("ts"), get("features")
    if not _quick_ids(event_id, entity_id) or not _quick_scalars(features):
        return None
    if not ((type(ts) is float or type(ts) is int) and 0 <= ts <= r.MAX_TS) or get("lookups") is not None:
        return None
    counts = get("source_partition"), get("source_offset"), get("model_version"), get("scored_position")
    for n in counts:
        if n is not None and (type(n) is not int or n < 0):
            return None
    prediction = get("prediction")
    if prediction is not None and not (type(prediction) in (bool, int, str) or (type(prediction) is float and math.isfinite(prediction))):
        return None
    return FeatureVector.made(event_id, entity_id, float(ts), features, *counts[:3], prediction, counts[3], None)


_FEATURES_MAX_BYTES = 64 * 1024  # decode's default bound, which the join decodes features with


def encode(record: _Record) -> bytes:
    """The record as the UTF-8 JSON object the contract describes.

    >>> encode(Feedback(event_id="e-1", label=True, ts=1.0))
    b'{"event_id":"e-1","label":true,"ts":1.0,"schema_version":1}'
    """
    if type(record).to_dict is _Record.to_dict:
        return orjson.dumps(record)  # orjson writes a dataclass itself, many times faster than asdict
    return orjson.dumps(record.to_dict())
