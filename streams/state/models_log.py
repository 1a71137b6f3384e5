"""The ``models`` topic as the registry's log of truth: read it back, write changes to it."""

from __future__ import annotations

import base64
import logging
from collections.abc import Iterable
from typing import Any

from kafka import KafkaProducer

from schemas import Accepted, ModelVersion, decode, encode
from streams.kafka.reader import read_topic
from streams.kafka.topics import MODELS_MAX_BYTES
from streams.settings import Settings
from streams.state.artifacts import unpack
from streams.state.registry import Registry

log = logging.getLogger(__name__)


def read_versions(settings: Settings, timeout_s: float = 10.0) -> list[ModelVersion]:
    """Every model-version event on the topic, in order (the latest per version last)."""
    out: list[ModelVersion] = []
    for r in read_topic(settings, "models", timeout_s=timeout_s, max_bytes=MODELS_MAX_BYTES, missing_ok=True):
        outcome = decode("models", r.value, max_bytes=MODELS_MAX_BYTES)
        if isinstance(outcome, Accepted):
            out.append(outcome.value)
        else:
            log.error("models topic offset %s: not a model-version event (%s)", r.offset, outcome.dead_letter.detail)
    return out


def load_models(settings: Settings, timeout_s: float = 10.0) -> dict[int, Any]:
    """Every published version's model, from the topic's signed artifacts (verified)."""
    key = settings.signing_key()
    out: dict[int, Any] = {}
    for mv in read_versions(settings, timeout_s):
        if mv.version not in out and mv.artifact:
            out[mv.version] = unpack(base64.b64decode(mv.artifact), mv.artifact_sha256, mv.artifact_signature, key)
    return out


def rebuild(settings: Settings, registry: Registry) -> int | None:
    """Rebuild an absent registry from the topic; None if Redis already held one."""
    if registry.is_present():
        return None
    count = registry.restore(read_versions(settings))
    return count


def send_versions(settings: Settings, records: Iterable[ModelVersion]) -> None:
    """Write model-version events (keyed by version) and wait until the broker has them."""
    producer = KafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all", max_request_size=MODELS_MAX_BYTES)
    try:
        for record in records:
            producer.send(settings.topic("models"), key=str(record.version).encode(), value=encode(record))
        producer.flush()
    finally:
        producer.close()
