"""The scorer's memory of event ids in a real Redis: new, the same record again, a duplicate."""

from __future__ import annotations

import uuid

import redis

from streams.settings import Settings
from streams.state.seen_store import SeenStore


def test_a_record_read_again_is_admitted_and_another_record_with_its_id_is_not(stack_settings: Settings) -> None:
    prefix = f"seen{uuid.uuid4().hex[:8]}"
    client = redis.Redis.from_url(stack_settings.redis_url)
    first = SeenStore(client, prefix, horizon_s=3600)
    assert first.admit([("e-1", "0:10"), ("e-2", "1:4"), ("e-1", "2:7")]) == [True, True, False]
    restarted = SeenStore(client, prefix, horizon_s=3600)  # a new worker process, the same Redis
    assert restarted.admit([("e-1", "0:10"), ("e-2", "3:1"), ("e-3", "0:11")]) == [True, False, True]
    assert 3500 < client.ttl(f"{prefix}:seen:e-1") <= 3600
    assert first.admit([]) == []
