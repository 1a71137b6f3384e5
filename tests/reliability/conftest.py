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


BROKERS = 3


@pytest.fixture(scope="module")
def cluster_base(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """A three-broker cluster (each broker a KRaft controller too) and Redis, for a module's tests,
    as ``driftline stack up --brokers 3`` starts it; down after them."""
    from dataclasses import replace

    from streams.stack.kafka import remember

    base = remember(stack_settings(tmp_path_factory.mktemp("cluster")), BROKERS)
    base = replace(base, replication_factor=BROKERS)
    try:
        stack.up(base)
        yield base
    finally:
        stack.down(base)


@pytest.fixture
def cluster(cluster_base: Settings, request: pytest.FixtureRequest) -> Settings:
    """The module's cluster whole again (every broker up, no partition short of a copy), and a
    namespace of the test's own on it."""
    from dataclasses import replace

    from streams.kafka import admin
    from tests.support.pipeline import wait_for

    stack.up(cluster_base)  # brokers an earlier test left down are started again
    wait_for("every broker in and no partition under-replicated", lambda: whole(cluster_base), 180)
    prefix = "c" + "".join(ch for ch in request.node.name if ch.isalnum())[:40]
    s = replace(cluster_base, topic_prefix=prefix).with_credentials()
    from streams.kafka.topics import topic_specs

    admin.ensure_topics(s, topic_specs(s))
    return s


def whole(settings: Settings) -> bool:
    """Every broker of the cluster is in, and no partition lacks a copy in sync."""
    from streams.kafka import admin

    seen = admin.health(settings, timeout_ms=3000)
    return seen is not None and len(seen.brokers) == BROKERS and not seen.under_replicated and not seen.offline
