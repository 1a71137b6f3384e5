"""A stack of the test's own for each fault (its broker and Redis are the processes it may kill)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from streams import stack
from streams.settings import Settings
from streams.stack.ports import free_port


@pytest.fixture
def own_stack(tmp_path: Path) -> Iterator[Settings]:
    """Kafka and Redis of this test's own (ports, state folder), down after it."""
    base = Settings.from_env({"DRIFTLINE_STATE_DIR": str(tmp_path / "stack"),
                              "DRIFTLINE_KAFKA_BOOTSTRAP": f"127.0.0.1:{free_port()}",
                              "DRIFTLINE_REDIS_URL": f"redis://127.0.0.1:{free_port()}/0",
                              "DRIFTLINE_CACHE_DIR": str(Settings.from_env().cache_dir)})
    try:
        stack.up(base)
        # the generated Redis password and model key, spelled out: workers have state folders of their own
        yield replace(base, redis_url=base.redis_connect_url, model_key=base.signing_key().decode())
    finally:
        stack.down(base)
