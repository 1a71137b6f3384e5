"""Typed records for the seven value kinds of the contract, one frozen dataclass each.

Each carries ``schema_version`` so that producers and consumers can evolve apart; ``to_dict``
gives the JSON-ready object the contract describes.
"""

from __future__ import annotations

import base64
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any, ClassVar, Literal

from schemas.reasons import Reason

SCHEMA_VERSION = 1

Scalar = str | int | float | bool | None
Label = bool | int | float | str


class AlertKind(StrEnum):
    DATA_DRIFT = "data_drift"
    CONCEPT_DRIFT = "concept_drift"
    PREDICTION_DRIFT = "prediction_drift"
    PERFORMANCE_DROP = "performance_drop"
    MODEL_PUBLISHED = "model_published"
    MODEL_PROMOTED = "model_promoted"
    MODEL_ROLLED_BACK = "model_rolled_back"
    DEADLETTER_RATE = "deadletter_rate"


class _Record:
    kind: ClassVar[str]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)  # type: ignore[call-overload,no-any-return]


@dataclass(frozen=True, slots=True, kw_only=True)
class RawEvent(_Record):
    """An event as users produce it to ``<prefix>.raw``."""

    kind: ClassVar[str] = "raw"
    event_id: str
    data: dict[str, Scalar]
    entity_id: str | None = None
    ts: float | None = None
    schema_version: int = SCHEMA_VERSION


@dataclass(frozen=True, slots=True, kw_only=True)
class FeatureVector(_Record):
    """A validated event's features, on ``<prefix>.features`` (keyed by event id)."""

    kind: ClassVar[str] = "features"
    event_id: str
    entity_id: str | None
    ts: float
    features: dict[str, Scalar]
    source_partition: int | None = None
    source_offset: int | None = None
    model_version: int | None = None  # the version that scored it (None: not scored yet)
    prediction: Label | None = None  # what was served, so the join can measure served metrics
    schema_version: int = SCHEMA_VERSION


@dataclass(frozen=True, slots=True, kw_only=True)
class Prediction(_Record):
    """A scored event on ``<prefix>.predictions``; ``challenger`` only while one shadows.

    ``model_version`` 0 is the untrained model a pipeline starts with; ``prediction`` is null
    while a model cannot predict yet (for example a tree that has seen no label).
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

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        if out["challenger"] is None:
            del out["challenger"]
        return out


@dataclass(frozen=True, slots=True, kw_only=True)
class Feedback(_Record):
    """A label for an earlier event, on ``<prefix>.feedback``."""

    kind: ClassVar[str] = "feedback"
    event_id: str
    label: Label
    ts: float | None = None
    schema_version: int = SCHEMA_VERSION


@dataclass(frozen=True, slots=True, kw_only=True)
class DeadLetter(_Record):
    """A rejected record with its reason, its original bytes and where it came from."""

    kind: ClassVar[str] = "deadletter"
    reason: Reason
    detail: str
    source_topic: str
    partition: int | None
    offset: int | None
    payload: str
    payload_encoding: Literal["text", "base64"] = "text"
    ts: float
    schema_version: int = SCHEMA_VERSION

    @classmethod
    def for_bytes(
        cls,
        reason: Reason,
        detail: str,
        payload: bytes | None,
        *,
        source_topic: str = "",
        partition: int | None = None,
        offset: int | None = None,
        ts: float,
    ) -> DeadLetter:
        """Keep the payload as text when it is UTF-8, else as base64.

        >>> DeadLetter.for_bytes(Reason.INVALID_JSON, "x", b"\\xff", ts=0.0).payload
        '/w=='
        """
        raw = payload or b""
        try:
            text, encoding = raw.decode("utf-8"), "text"
        except UnicodeDecodeError:
            text, encoding = base64.b64encode(raw).decode("ascii"), "base64"
        return cls(
            reason=Reason(reason), detail=detail, source_topic=source_topic, partition=partition,
            offset=offset, payload=text, payload_encoding=encoding, ts=ts,  # type: ignore[arg-type]
        )

    def payload_bytes(self) -> bytes:
        """The original bytes of the rejected record."""
        if self.payload_encoding == "base64":
            return base64.b64decode(self.payload)
        return self.payload.encode("utf-8")

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["reason"] = str(self.reason)
        return out


@dataclass(frozen=True, slots=True, kw_only=True)
class Alert(_Record):
    """An alert on ``<prefix>.alerts``; ``detail`` keys are flattened into the object."""

    kind: ClassVar[str] = "alerts"
    alert_id: str
    alert_kind: str
    severity: Literal["info", "warning", "critical"]
    subject: str
    message: str
    ts: float
    detail: dict[str, Any] = field(default_factory=dict)
    schema_version: int = SCHEMA_VERSION

    NAMED: ClassVar[frozenset[str]] = frozenset(
        {"alert_id", "kind", "severity", "subject", "message", "ts", "schema_version"}
    )

    def to_dict(self) -> dict[str, Any]:
        out = {k: v for k, v in self.detail.items() if k not in self.NAMED}
        out.update(
            alert_id=self.alert_id, kind=self.alert_kind, severity=self.severity, subject=self.subject,
            message=self.message, ts=self.ts, schema_version=self.schema_version,
        )
        return out


MODEL_STATUSES = ("candidate", "challenger", "champion", "retired")


@dataclass(frozen=True, slots=True, kw_only=True)
class ModelVersion(_Record):
    """A model-version event on ``<prefix>.models`` (compacted, keyed by version)."""

    kind: ClassVar[str] = "models"
    version: int
    parent: int | None
    status: Literal["candidate", "challenger", "champion", "retired"]
    created_at: float
    trained_examples: int
    metrics: dict[str, float]
    artifact_sha256: str
    reason: str
    schema_version: int = SCHEMA_VERSION


RECORD_TYPES: dict[str, type[_Record]] = {
    cls.kind: cls for cls in (RawEvent, FeatureVector, Prediction, Feedback, DeadLetter, Alert, ModelVersion)
}
