"""What the agents share in one worker: settings, spec, topics, the scorer, the registry."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import faust

from schemas import Alert, encode
from streams.core.drift import Detection
from streams.core.scoring import Scorer
from streams.core.spec import PipelineSpec
from streams.registry import Registry
from streams.settings import Settings


@dataclass
class Runtime:
    settings: Settings
    spec: PipelineSpec
    app: faust.App
    registry: Registry
    scorer: Scorer
    topics: dict[str, faust.TopicT] = field(default_factory=dict)
    following: bool = False  # the models follower is positioned and reading

    @classmethod
    def build(cls, settings: Settings, spec: PipelineSpec, app: faust.App) -> Runtime:
        topics = {
            name: app.topic(settings.topic(name), key_type=bytes, value_type=bytes, allow_empty=True)
            for name in ("raw", "features", "predictions", "feedback", "deadletter", "alerts", "models", "examples", "labels")
        }
        return cls(settings, spec, app, Registry.connect(settings),
                   Scorer(spec, max_bytes=settings.max_event_bytes), topics)

    def send(self, name: str, value: bytes, key: bytes | None = None) -> None:
        """Buffer a record; Faust flushes the producer before it commits any source offset."""
        self.topics[name].send_soon(key=key, value=value)

    def alert(self, kind: str, severity: str, subject: str, message: str, **detail: Any) -> None:
        record = Alert(alert_id=uuid.uuid4().hex, alert_kind=kind, severity=severity,  # type: ignore[arg-type]
                       subject=subject, message=message, ts=time.time(), detail=detail)
        self.send("alerts", encode(record))

    def drift_alert(self, found: Detection, **where: Any) -> None:
        severity = "critical" if found.kind == "concept_drift" else "warning"
        self.alert(found.kind, severity, found.subject,
                   f"{found.kind.replace('_', ' ')} in {found.subject} ({found.detector}: {found.before:.4g} -> {found.statistic:.4g})",
                   detector=found.detector, statistic=found.statistic, before=found.before, at_event=found.position, **where)
