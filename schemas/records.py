"""Typed records for the seven value kinds of the contract, one frozen dataclass each.

Each carries ``schema_version`` so that producers and consumers can evolve apart, a ``kind``
(the topic name it travels on) and ``to_dict``, the JSON-ready object the contract describes.

>>> RawEvent(event_id="e-1", data={"amount": 12.5}).to_dict()
{'event_id': 'e-1', 'data': {'amount': 12.5}, 'entity_id': None, 'ts': None, 'schema_version': 1}
"""

from __future__ import annotations

import base64
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any, ClassVar, Literal

from schemas.reasons import Reason

SCHEMA_VERSION = 1
"""The newest ``schema_version`` this code writes and reads."""

JSONScalar = str | int | float | bool | None
Label = bool | int | float | str
Severity = Literal["info", "warning", "critical"]
ModelStatus = Literal["candidate", "challenger", "champion", "retired"]
PayloadEncoding = Literal["text", "base64"]

SEVERITIES: tuple[str, ...] = ("info", "warning", "critical")
MODEL_STATUSES: tuple[str, ...] = ("candidate", "challenger", "champion", "retired")


class AlertKind(StrEnum):
    """The alert kinds of the contract (an alert's ``kind`` may also be another string)."""

    DATA_DRIFT = "data_drift"
    CONCEPT_DRIFT = "concept_drift"
    PREDICTION_DRIFT = "prediction_drift"
    PERFORMANCE_DROP = "performance_drop"
    MODEL_PUBLISHED = "model_published"
    MODEL_PROMOTED = "model_promoted"
    MODEL_ROLLED_BACK = "model_rolled_back"
    DEADLETTER_RATE = "deadletter_rate"
    MODEL_RETIRED = "model_retired"
    MODEL_REJECTED = "model_rejected"


class _Record:
    """What every record has: a ``kind`` and a JSON-ready ``to_dict``."""

    __slots__ = ()
    kind: ClassVar[str]

    def to_dict(self) -> dict[str, Any]:
        """The record as the JSON-ready object the contract describes."""
        return asdict(self)  # type: ignore[call-overload,no-any-return]


_new = object.__new__


@dataclass(frozen=True, kw_only=True)  # no slots, for the hot path: see `made`
class RawEvent(_Record):
    """An event as users produce it to ``<prefix>.raw``; ``data`` holds scalars only."""

    kind: ClassVar[str] = "raw"
    event_id: str
    data: dict[str, JSONScalar]
    entity_id: str | None = None
    ts: float | None = None
    schema_version: int = SCHEMA_VERSION

    @classmethod
    def made(cls, event_id: str, data: dict[str, JSONScalar], entity_id: str | None, ts: float | None) -> RawEvent:
        """The record ``RawEvent(...)`` gives, built for the hot path (see :meth:`FeatureVector.made`).

        >>> RawEvent.made("e-1", {"a": 1}, None, 2.0) == RawEvent(event_id="e-1", data={"a": 1}, ts=2.0)
        True
        """
        record = _new(cls)
        record.__dict__.update({"event_id": event_id, "data": data, "entity_id": entity_id, "ts": ts,
                                "schema_version": SCHEMA_VERSION})
        return record


@dataclass(frozen=True, kw_only=True)  # no slots, for the hot path: see `made`
class FeatureVector(_Record):
    """A validated event's features, on ``<prefix>.features`` (keyed by event id).

    ``source_partition``/``source_offset`` point back at the raw record; ``model_version`` and
    ``prediction`` are what was served, so that the join can measure served metrics.
    ``scored_position`` is the scorer's count (this was its Nth scored event; drift alerts count
    the same way): with it, a replay scores a recorded range in the live scorer's order.
    """

    kind: ClassVar[str] = "features"
    event_id: str
    entity_id: str | None
    ts: float
    features: dict[str, JSONScalar]
    source_partition: int | None = None
    source_offset: int | None = None
    model_version: int | None = None
    prediction: Label | None = None
    scored_position: int | None = None
    #: the reference record each lookup of the spec used, ``{lookup: [partition, offset]}`` (null:
    #: none, the default filled in); absent without lookups
    lookups: dict[str, list[int] | None] | None = None
    schema_version: int = SCHEMA_VERSION

    @classmethod
    def made(cls, event_id: str, entity_id: str | None, ts: float, features: dict[str, JSONScalar],
             source_partition: int | None, source_offset: int | None, model_version: int | None,
             prediction: Label | None, scored_position: int | None,
             lookups: dict[str, list[int] | None] | None) -> FeatureVector:
        """The record ``FeatureVector(...)`` gives, built for the hot path, which makes one per event.

        A frozen dataclass's ``__init__`` sets each field through ``object.__setattr__``: 4.7 µs
        for this record's twelve here, a third of that when its ``__dict__`` is filled at once.
        The hot path's three records have no ``__slots__`` for that, and for orjson, which writes
        a dataclass from its ``__dict__`` in a third of the time it takes over slots.
        """
        record = _new(cls)
        record.__dict__.update({"event_id": event_id, "entity_id": entity_id, "ts": ts, "features": features,
                                "source_partition": source_partition, "source_offset": source_offset,
                                "model_version": model_version, "prediction": prediction,
                                "scored_position": scored_position, "lookups": lookups,
                                "schema_version": SCHEMA_VERSION})
        return record


@dataclass(frozen=True, kw_only=True)  # no slots, for the hot path: see `made`
class Prediction(_Record):
    """A scored event on ``<prefix>.predictions``; ``challenger`` only while one shadows.

    ``model_version`` 0 is the untrained model a pipeline starts with; ``prediction`` is null
    while a model cannot predict yet (for example a tree that has seen no label).

    >>> p = Prediction(event_id="e", entity_id=None, model_version=1, prediction=True,
    ...                proba={"True": 0.9, "False": 0.1}, ts=1.0, scored_at=1.5)
    >>> "challenger" in p.to_dict()
    False
    """

    kind: ClassVar[str] = "predictions"
    event_id: str
    entity_id: str | None
    model_version: int
    prediction: Label | None
    proba: dict[str, float] | None
    ts: float
    scored_at: float
    challenger: dict[str, Any] | None = None
    schema_version: int = SCHEMA_VERSION

    @classmethod
    def made(cls, event_id: str, entity_id: str | None, model_version: int, prediction: Label | None,
             proba: dict[str, float] | None, ts: float, scored_at: float, challenger: dict[str, Any] | None) -> Prediction:
        """The record ``Prediction(...)`` gives, built for the hot path (see :meth:`FeatureVector.made`)."""
        record = _new(cls)
        record.__dict__.update({"event_id": event_id, "entity_id": entity_id, "model_version": model_version,
                                "prediction": prediction, "proba": proba, "ts": ts, "scored_at": scored_at,
                                "challenger": challenger, "schema_version": SCHEMA_VERSION})
        return record

    def to_dict(self) -> dict[str, Any]:
        """The contract's object; ``challenger`` is left out when no challenger shadows. Built
        field by field, in the fields' order: ``asdict`` copied it deeply, 19 µs of the hot path's
        encoding of each prediction; the dicts it holds are the record's own (``encode`` only reads)."""
        out = {"event_id": self.event_id, "entity_id": self.entity_id, "model_version": self.model_version,
               "prediction": self.prediction, "proba": self.proba, "ts": self.ts, "scored_at": self.scored_at}
        if self.challenger is not None:
            out["challenger"] = self.challenger
        out["schema_version"] = self.schema_version
        return out


@dataclass(frozen=True, slots=True, kw_only=True)
class Feedback(_Record):
    """A label for an earlier event, on ``<prefix>.feedback``; the task decides its type later."""

    kind: ClassVar[str] = "feedback"
    event_id: str
    label: Label
    ts: float | None = None
    schema_version: int = SCHEMA_VERSION


@dataclass(frozen=True, slots=True, kw_only=True)
class DeadLetter(_Record):
    """A rejected record with its reason, its original bytes and where it came from.

    ``payload`` is the original value as text when it is UTF-8, else as base64
    (``payload_encoding`` says which); :meth:`payload_bytes` gives the bytes back.
    """

    kind: ClassVar[str] = "deadletter"
    reason: Reason
    detail: str
    source_topic: str
    partition: int | None
    offset: int | None
    payload: str
    payload_encoding: PayloadEncoding = "text"
    ts: float
    schema_version: int = SCHEMA_VERSION

    @classmethod
    def for_bytes(
        cls,
        reason: Reason,
        detail: str,
        payload: bytes | bytearray | memoryview | str | None,
        *,
        source_topic: str = "",
        partition: int | None = None,
        offset: int | None = None,
        ts: float,
    ) -> DeadLetter:
        """A dead letter for ``payload``, kept as text when it is UTF-8, else as base64.

        >>> letter = DeadLetter.for_bytes(Reason.INVALID_JSON, "not JSON", b"\\xff", ts=0.0)
        >>> letter.payload, letter.payload_encoding
        ('/w==', 'base64')
        >>> DeadLetter.for_bytes(Reason.INVALID_JSON, "not JSON", b"{oops", ts=0.0).payload
        '{oops'
        """
        raw = payload.encode("utf-8", "surrogatepass") if isinstance(payload, str) else bytes(payload or b"")
        encoding: PayloadEncoding
        try:
            text, encoding = raw.decode("utf-8"), "text"
        except UnicodeDecodeError:
            text, encoding = base64.b64encode(raw).decode("ascii"), "base64"
        return cls(
            reason=Reason(reason), detail=detail, source_topic=source_topic, partition=partition,
            offset=offset, payload=text, payload_encoding=encoding, ts=ts,
        )

    def payload_bytes(self) -> bytes:
        """The original bytes of the rejected record."""
        if self.payload_encoding == "base64":
            return base64.b64decode(self.payload)
        return self.payload.encode("utf-8")

    def to_dict(self) -> dict[str, Any]:
        """The contract's object, with ``reason`` as its plain code string."""
        out = asdict(self)
        out["reason"] = self.reason.value
        return out


@dataclass(frozen=True, slots=True, kw_only=True)
class Alert(_Record):
    """An alert on ``<prefix>.alerts``.

    The JSON field ``kind`` is the attribute ``alert_kind`` (``kind`` names the record kind,
    as on every record). ``detail`` keys are flattened into the object, never overwriting
    the named fields.

    >>> Alert(alert_id="a", alert_kind="data_drift", severity="info", subject="amount",
    ...       message="m", ts=1.0, detail={"kind": "ignored", "p": 0.01}).to_dict()["kind"]
    'data_drift'
    """

    kind: ClassVar[str] = "alerts"
    NAMED: ClassVar[frozenset[str]] = frozenset(
        {"alert_id", "kind", "severity", "subject", "message", "ts", "schema_version"}
    )
    alert_id: str
    alert_kind: str
    severity: Severity
    subject: str
    message: str
    ts: float
    detail: dict[str, Any] = field(default_factory=dict)
    schema_version: int = SCHEMA_VERSION

    def to_dict(self) -> dict[str, Any]:
        """The named fields, plus every ``detail`` key that does not clash with one."""
        out = {k: v for k, v in asdict(self)["detail"].items() if k not in self.NAMED}
        out.update(
            alert_id=self.alert_id, kind=str(self.alert_kind), severity=self.severity, subject=self.subject,
            message=self.message, ts=self.ts, schema_version=self.schema_version,
        )
        return out


@dataclass(frozen=True, slots=True, kw_only=True)
class ModelVersion(_Record):
    """A model-version event on ``<prefix>.models`` (compacted, keyed by version).

    Versions are integers 1, 2, 3, … never reused; ``parent`` is the version it was trained
    from, if any.
    """

    kind: ClassVar[str] = "models"
    version: int
    parent: int | None
    status: ModelStatus
    created_at: float
    trained_examples: int
    metrics: dict[str, float]
    artifact_sha256: str
    reason: str
    #: HMAC-SHA256 of the artifact under the deployment's model key
    artifact_signature: str = ""
    #: the artifact itself (base64 of the zlib-compressed pickle): the topic can rebuild the registry
    artifact: str | None = None
    #: sha256 of the pipeline spec's text, and the library versions it was trained with
    spec_sha256: str = ""
    libraries: dict[str, str] = field(default_factory=dict)
    #: the trainer's example positions (first, last) the model learned from
    trained_range: tuple[int, int] | None = None
    #: who made this change (the trainer, or a person through the CLI)
    changed_by: str = ""
    #: what the model is, e.g. "HoeffdingTreeClassifier" or "sklearn DecisionTreeClassifier (window 1000)"
    model: str = ""
    #: a model registered from a file (``driftline models register``): the file's name, its sha256
    #: and its format; empty for the trainer's own versions
    source: dict[str, str] = field(default_factory=dict)
    schema_version: int = SCHEMA_VERSION


Record = RawEvent | FeatureVector | Prediction | Feedback | DeadLetter | Alert | ModelVersion

RECORD_TYPES: dict[str, type[_Record]] = {
    cls.kind: cls for cls in (RawEvent, FeatureVector, Prediction, Feedback, DeadLetter, Alert, ModelVersion)
}
"""Record class by kind, the topic name it travels on."""
