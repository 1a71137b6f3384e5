"""A stack of the test's own for each fault (its broker and Redis are the processes it may kill)."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from streams import stack
from streams.settings import Settings
from streams.stack.ports import free_port

SMALL_DISK_MB = 256  # the broker's log directory on a disk of this size, for the full-disk fault


def stack_settings(tmp_path: Path) -> Settings:
    """Settings for a stack of the test's own: its ports and state folder."""
    return Settings.from_env({"DRIFTLINE_STATE_DIR": str(tmp_path / "stack"),
                              "DRIFTLINE_KAFKA_BOOTSTRAP": f"127.0.0.1:{free_port()}",
                              "DRIFTLINE_REDIS_URL": f"redis://127.0.0.1:{free_port()}/0",
                              "DRIFTLINE_CACHE_DIR": str(Settings.from_env().cache_dir)})


@pytest.fixture
def own_stack(tmp_path: Path) -> Iterator[Settings]:
    """Kafka and Redis of this test's own (ports, state folder), down after it."""
    base = stack_settings(tmp_path)
    try:
        stack.up(base)
        yield base.with_credentials()
    finally:
        stack.down(base)


@pytest.fixture
def small_disk_stack(tmp_path: Path) -> Iterator[Settings]:
    """The same, with the broker's log directory on a tmpfs of ``SMALL_DISK_MB`` (the test may
    fill it). Mounting needs root, as CI and the project's container run."""
    base = stack_settings(tmp_path)
    data = base.state_dir / "kafka" / "data"
    data.mkdir(parents=True)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={SMALL_DISK_MB}m,mode=0700", "tmpfs", str(data)],
                             capture_output=True, text=True, check=False)
    assert mounted.returncode == 0, f"a small disk for the broker needs a tmpfs mount (root): {mounted.stderr.strip()}"
    try:
        stack.up(base)
        yield base.with_credentials()
    finally:
        try:
            stack.down(base)
        finally:
            subprocess.run(["umount", "-l", str(data)], check=False)
