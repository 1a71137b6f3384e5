"""The ``models`` topic as the registry's log of truth: rebuild or repair Redis from it, load its models."""

from __future__ import annotations

import base64
import logging
from typing import Any

from streams.settings import Settings
from streams.state.artifacts import artifact_context, unpack
from streams.state.models_topic import TopicLog, read_versions
from streams.state.registry import Registry

__all__ = ["TopicLog", "load_models", "read_versions", "rebuild", "repair"]

log = logging.getLogger(__name__)


def load_models(settings: Settings, timeout_s: float = 10.0) -> dict[int, Any]:
    """Every published version's model, from the topic's signed artifacts (verified)."""
    key = settings.signing_key()
    out: dict[int, Any] = {}
    for mv in read_versions(settings, timeout_s):
        if mv.version not in out and mv.artifact:
            out[mv.version] = unpack(base64.b64decode(mv.artifact), mv.artifact_sha256, mv.artifact_signature, key,
                                     artifact_context(mv.version))
    return out


def trained_examples(settings: Settings, timeout_s: float = 10.0) -> dict[int, int]:
    """Every published version's trained examples, from its version event."""
    return {mv.version: mv.trained_examples for mv in read_versions(settings, timeout_s) if not mv.source}


def rebuild(settings: Settings, registry: Registry) -> int | None:
    """Rebuild an absent registry from the topic; None if Redis already held one."""
    if registry.is_present():
        return None
    return registry.restore(read_versions(settings))


def repair(settings: Settings, registry: Registry) -> list[int]:
    """Rebuild an absent registry, or bring a present one level with the topic (see
    :meth:`Registry.repair`). Returns the versions written to Redis."""
    if rebuild(settings, registry) is not None:
        return []
    fixed = registry.repair(read_versions(settings))
    if fixed:
        log.warning("model versions %s were on the models topic and not in Redis: written there now", fixed)
    return fixed
