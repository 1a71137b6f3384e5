"""Reading and appending the ``models`` topic, the registry's log of model-version events."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence

from kafka import KafkaProducer

from schemas import Accepted, ModelVersion, decode, encode
from streams.kafka import clients
from streams.kafka.reader import read_topic
from streams.kafka.topics import MODELS_MAX_BYTES
from streams.settings import Settings

#: how long a change waits for the broker before the publish fails (the producer retries meanwhile)
DELIVERY_TIMEOUT_S = 120.0

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



class TopicLog:
    """The registry's log: appends model-version events (keyed by version) to the ``models``
    topic and returns once the broker has every one of them (acks from all in-sync replicas).
    Its producer is made at the first append and kept; safe to call from any thread."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._producer: KafkaProducer | None = None
        self._lock = threading.Lock()

    def __call__(self, records: Sequence[ModelVersion]) -> None:
        with self._lock:
            if self._producer is None:
                self._producer = clients.producer(
                    self.settings, max_request_size=MODELS_MAX_BYTES, request_timeout_ms=30_000,
                    reconnect_backoff_max_ms=2_000)
            sent = [self._producer.send(self.settings.topic("models"), key=str(r.version).encode(), value=encode(r))
                    for r in records]
            self._producer.flush(timeout=DELIVERY_TIMEOUT_S)
            for future in sent:
                future.get(timeout=0)  # raises the broker's refusal, if any

    def close(self) -> None:
        with self._lock:
            if self._producer is not None:
                self._producer.close()
                self._producer = None
