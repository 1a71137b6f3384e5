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


def test_a_probe_finds_when_redis_refuses_and_when_it_takes_writes_again(stack_settings: Settings) -> None:
    """While Redis refuses the store's writes, :meth:`SeenStore.probe` says so; once it takes them,
    the probe finds it with no event to admit (the agent's timer then says Redis is back)."""
    prefix = f"seen{uuid.uuid4().hex[:8]}"
    admin = redis.Redis.from_url(stack_settings.redis_url)
    user, password = f"u{prefix}", uuid.uuid4().hex
    admin.acl_setuser(user, enabled=True, passwords=[f"+{password}"], commands=["+@all"], keys=[])  # no key of its own
    where = admin.connection_pool.connection_kwargs
    client = redis.Redis(host=where["host"], port=where["port"], username=user, password=password)
    try:
        store = SeenStore(client, prefix, horizon_s=3600)
        assert store.admit([("e-1", "0:1")]) == [True]  # admitted all the same: nothing lost
        assert not store.available and "no permissions" in str(store.error)
        assert store.probe() is False and not store.available
        admin.acl_setuser(user, enabled=True, passwords=[f"+{password}"], commands=["+@all"], keys=[f"{prefix}:*"])
        assert store.probe() is True and store.available and store.error is None
        assert admin.ttl(f"{prefix}:seen-probe") > 0
        assert store.admit([("e-1", "0:1"), ("e-1", "0:2")]) == [True, False]
    finally:
        admin.acl_deluser(user)
        client.close()
