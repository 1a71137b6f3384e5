"""The trainer's checkpoint store against a real Redis: fencing between trainers, signatures."""

from __future__ import annotations

import uuid

import pytest
import redis

from streams.settings import Settings
from streams.state.artifacts import ArtifactRefused
from streams.state.checkpoint import CheckpointStore, Superseded


def store(settings: Settings, prefix: str, key: bytes = b"k" * 32) -> CheckpointStore:
    return CheckpointStore(redis.Redis.from_url(settings.redis_url), prefix, key)


def test_a_trainer_that_was_superseded_cannot_overwrite_its_successor(stack_settings: Settings) -> None:
    prefix = f"cp{uuid.uuid4().hex[:8]}"
    old, new = store(stack_settings, prefix), store(stack_settings, prefix)
    assert store(stack_settings, prefix).load() is None
    old.begin()
    old.save({"position": 10}, 10)
    new.begin()  # another worker took the examples partition over
    saved = new.load()
    assert saved is not None and saved.state == {"position": 10} and saved.offset == 10
    new.save({"position": 25}, 25)
    with pytest.raises(Superseded):
        old.save({"position": 12}, 12)
    last = store(stack_settings, prefix).load()
    assert last is not None and (last.state, last.offset) == ({"position": 25}, 25)


def test_a_checkpoint_that_does_not_verify_is_refused(stack_settings: Settings) -> None:
    prefix = f"cp{uuid.uuid4().hex[:8]}"
    writer = store(stack_settings, prefix)
    writer.begin()
    writer.save({"position": 1}, 1)
    with pytest.raises(ArtifactRefused):
        store(stack_settings, prefix, key=b"x" * 32).load()
