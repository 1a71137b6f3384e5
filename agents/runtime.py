"""What the agents share in one worker: settings, spec, topics, the scorer, the registry."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import faust
import orjson

from schemas import Alert, encode
from streams.core.drift import Detection, explained
from streams.core.scoring import Scorer
from streams.core.spec import PipelineSpec
from streams.settings import Settings
from streams.state.registry import Registry
from streams.worker.outbox import Outbox

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    settings: Settings
    spec: PipelineSpec
    app: faust.App
    registry: Registry
    scorer: Scorer
    topics: dict[str, faust.TopicT] = field(default_factory=dict)
    following: bool = False  # the models follower is positioned and reading
    promoted_by_hand: tuple[int, Any] | None = None  # a champion a person promoted, for the trainer
    registered_challenger: tuple[int, Any, str] | None = None  # a challenger a person registered: version, model, why
    #: called with each alert's JSON-ready dict after it is handed to the ``alerts`` topic
    #: (the webhook, the dashboard); a listener must not block
    alert_listeners: list[Callable[[dict[str, Any]], None]] = field(default_factory=list)

    @classmethod
    def build(cls, settings: Settings, spec: PipelineSpec, app: faust.App) -> Runtime:
        topics = {
            name: app.topic(settings.topic(name), key_type=bytes, value_type=bytes, allow_empty=True)
            for name in ("raw", "rekeyed", "features", "predictions", "feedback", "deadletter", "alerts", "models", "examples", "labels")
        }
        return cls(settings, spec, app, Registry.connect(settings),
                   Scorer(spec, max_bytes=settings.max_event_bytes), topics)

    async def send(self, name: str, value: bytes | None, key: bytes | None = None, *, timestamp: float | None = None,
                   headers: list[tuple[str, bytes]] | None = None, partition: int | None = None,
                   full_name: bool = False) -> None:
        """Hand a record to the producer's batches and go on, without waiting for the broker.

        ``name`` is a contract name (``"features"``), or a whole topic name with ``full_name``.
        Faust's consumer flushes this same producer before it commits any source offset, so an
        offset is committed only after the records sent for it are written. (Faust's own
        ``send_soon`` buffer sends one record at a time and stalls the stream when it holds 100.)
        """
        topic = name if full_name else self.settings.topic(name)
        fut = await self.app.producer.send(topic, key, value, partition, timestamp, headers)
        fut.add_done_callback(self._check_sent)

    def outbox(self) -> Outbox:
        """An agent's outbox: its records for one input batch, submitted as whole producer batches."""
        return Outbox(self.app.producer._ensure_producer, self._check_sent)

    def _check_sent(self, fut: Any) -> None:
        if not fut.cancelled() and fut.exception() is not None:
            # a record that could not be written: stop before any later offset is committed
            if getattr(self.app, "send_failed", None) is not None:
                log.debug("could not write a record either: %r", fut.exception())
                return  # stopping already: one line, one crash
            log.critical("could not write a record, stopping: %r", fut.exception())
            self.app.send_failed = fut.exception()  # at once: no offset is committed past it
            asyncio.ensure_future(self.app.crash(fut.exception()))

    async def alert(self, kind: str, severity: str, subject: str, message: str, **detail: Any) -> None:
        record = Alert(alert_id=uuid.uuid4().hex, alert_kind=kind, severity=severity,  # type: ignore[arg-type]
                       subject=subject, message=message, ts=time.time(), detail=detail)
        payload = encode(record)
        await self.send("alerts", payload)
        if self.alert_listeners:
            as_dict = orjson.loads(payload)
            for listener in self.alert_listeners:
                try:
                    listener(as_dict)
                except Exception:  # noqa: BLE001 - a listener never stops the pipeline
                    log.exception("alert listener %r failed", listener)

    async def drift_alert(self, found: Detection, *, counts: str = "at_event", **where: Any) -> None:
        """A drift alert; its position named by what the detector counts: ``at_event`` (events
        scored) or ``at_example`` (the trainer's labelled examples)."""
        severity = {"concept_drift": "critical", "performance_recovered": "info"}.get(found.kind, "warning")
        await self.alert(found.kind, severity, found.subject, found.sentence(), **explained(found),
                         **{counts: found.position}, **where)
