"""Experiment records on the compacted ``<prefix>.experiments`` topic, keyed by their id.

Why a topic and not Redis: a record is the evidence a spec change is judged by, so it is kept the
way the model registry's log of truth is (``models``): replicated with the topics, readable by
users' own clients, never lost to a Redis flush, and one read rebuilds the list. The topic is
made on the first record, with one partition so records stay in the order they were made.
"""

from __future__ import annotations

from typing import Any

import orjson

from streams.kafka import clients
from streams.kafka.admin import ensure_topics, require_broker
from streams.kafka.reader import read_topic
from streams.kafka.topics import MODELS_MAX_BYTES, TopicSpec, durability
from streams.settings import Settings, kafka_address
from streams.stack.ports import is_listening

NAME = "experiments"


def topic_spec(settings: Settings) -> TopicSpec:
    config = (("cleanup.policy", "compact"), ("max.message.bytes", str(MODELS_MAX_BYTES)))
    return TopicSpec(settings.topic(NAME), 1, config + durability(settings.replication_factor), settings.replication_factor)


def broker_answers(settings: Settings) -> bool:
    """Whether the first bootstrap address takes a connection (at once: no client's retries)."""
    host, port = kafka_address(settings.kafka_bootstrap.split(",")[0])
    return is_listening(host, port)


def append(settings: Settings, record: dict[str, Any]) -> None:
    """Write a record durably (acknowledged by every in-sync replica)."""
    ensure_topics(settings, [topic_spec(settings)])
    producer = clients.producer(settings, acks="all", max_request_size=MODELS_MAX_BYTES)
    try:
        producer.send(settings.topic(NAME), key=record["id"].encode(), value=orjson.dumps(record)).get(timeout=60)
    finally:
        producer.close()


def read_all(settings: Settings) -> list[dict[str, Any]]:
    """Every record, the latest of each id, oldest first."""
    require_broker(settings)
    latest: dict[str, dict[str, Any]] = {}
    for r in read_topic(settings, NAME, missing_ok=True, max_bytes=MODELS_MAX_BYTES):
        if r.value is None:
            latest.pop(r.key.decode(), None)
            continue
        record = orjson.loads(r.value)
        latest[record["id"]] = record
    return sorted(latest.values(), key=lambda rec: rec["created_at"])


def find(records: list[dict[str, Any]], wanted: str) -> dict[str, Any] | None:
    """The record with this id; else the only one whose id starts with it; else the newest one
    of that ``--name`` (records are oldest first). None when there is none, or the prefix is ambiguous.

    >>> rs = [{"id": "ab1", "name": "w"}, {"id": "ab2", "name": "w"}, {"id": "cd3", "name": ""}]
    >>> [find(rs, x)["id"] if find(rs, x) else None for x in ("ab2", "cd", "w", "ab", "zz")]
    ['ab2', 'cd3', 'ab2', None, None]
    """
    for r in records:
        if r["id"] == wanted:
            return r
    prefixed = [r for r in records if r["id"].startswith(wanted)]
    if len(prefixed) == 1:
        return prefixed[0]
    named = [r for r in records if r.get("name") == wanted]
    return named[-1] if named else None
