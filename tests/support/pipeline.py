"""Helpers for tests against a real broker: a worker subprocess, and reading a topic whole."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import redis
from kafka import TopicPartition
from kafka.errors import KafkaError

from streams.kafka import clients
from streams.settings import Settings
from streams.specs.load import DEFAULT_SPEC_PATH
from streams.stack.ports import free_port
from streams.state.checkpoint import Checkpoint, CheckpointStore
from streams.worker.process import DRIFTLINE, WorkerProcess

__all__ = ["DRIFTLINE", "Worker", "checkpoint_covering", "committed", "end_offsets", "read_all", "settled", "wait_for"]


class Worker(WorkerProcess):
    """A `driftline worker` subprocess on its own web port and state folder, for tests."""

    def __init__(self, settings: Settings, tmp: Path, spec_text: str | None = None, loglevel: str = "",
                 agents: str = "") -> None:
        tmp.mkdir(parents=True, exist_ok=True)
        spec = tmp / "pipeline.toml"
        spec.write_text(spec_text or DEFAULT_SPEC_PATH.read_text())
        super().__init__(replace(settings.with_credentials(), web_port=free_port(), pipeline=str(spec),
                                 state_dir=tmp / "state"),
                         tmp / "worker.log", agents=agents, loglevel=loglevel)


def read_all(settings: Settings, name: str, until: int, timeout: float = 240) -> list:  # type: ignore[type-arg]
    """Records of a topic, waiting until at least ``until`` arrived (or the time is up)."""
    consumer = clients.consumer(settings)
    topic = settings.topic(name)
    tps = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic)]
    consumer.assign(tps)
    consumer.seek_to_beginning(*tps)
    out: list = []  # type: ignore[type-arg]
    deadline = time.monotonic() + timeout
    quiet_since = time.monotonic()
    while time.monotonic() < deadline:
        batch = consumer.poll(timeout_ms=500)
        got = [r for records in batch.values() for r in records]
        out.extend(got)
        if got:
            quiet_since = time.monotonic()
        elif len(out) >= until and time.monotonic() - quiet_since > 3:
            break
    consumer.close()
    return out


def end_offsets(settings: Settings, name: str, timeout_s: float = 120) -> int:
    """Records ever written to a topic: the sum of its partitions' end offsets.

    A client that still knew a broker just restarted as a leader timed out on its question
    (30 s, after a rolling restart): each try has a client of its own, until ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while True:
        consumer = clients.consumer(settings)
        try:
            topic = settings.topic(name)
            tps = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
            return sum(consumer.end_offsets(tps).values()) if tps else 0
        except KafkaError:
            if time.monotonic() > deadline:
                raise
            time.sleep(1.0)
        finally:
            consumer.close()


def committed(settings: Settings, name: str) -> int:
    """Offsets the worker's consumer group committed on a topic, summed over its partitions."""
    consumer = clients.consumer(settings, group_id=f"{settings.topic_prefix}-worker",
                             enable_auto_commit=False)
    try:
        topic = settings.topic(name)
        return sum(consumer.committed(TopicPartition(topic, p)) or 0 for p in consumer.partitions_for_topic(topic) or ())
    finally:
        consumer.close()


def wait_for(what: str, done: Callable[[], bool], timeout_s: float) -> None:
    """Wait until ``done()``; past the deadline, fail naming ``what`` was waited for."""
    deadline = time.monotonic() + timeout_s
    while not done():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what} after {timeout_s:.0f}s")
        time.sleep(0.5)


def checkpoint_covering(settings: Settings, offset: int, timeout_s: float = 180) -> Checkpoint:
    """The trainer's checkpoint once it covers ``offset`` of the examples topic (or a failure)."""
    store = CheckpointStore(redis.Redis.from_url(settings.redis_connect_url), settings.topic_prefix, settings.model_key.encode())
    deadline = time.monotonic() + timeout_s
    saved = None
    while time.monotonic() < deadline:
        saved = store.load()
        if saved is not None and saved.offset >= offset:
            return saved
        time.sleep(0.3)
    last = "none" if saved is None else f"offset {saved.offset}, example {saved.state.position}"
    raise AssertionError(f"no trainer checkpoint covering examples offset {offset} within {timeout_s:.0f}s "
                         f"(the last: {last}; examples written: {end_offsets(settings, 'examples')})")


def settled(settings: Settings, members: int, timeout_s: float = 120) -> None:
    """Wait until the worker group is stable with ``members`` members: every process has its
    share (a process answers on its web port before it has joined the group)."""
    group = f"{settings.topic_prefix}-worker"
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        # a client of its own each time: one that knew a broker since lost keeps asking it
        admin = clients.admin(settings)
        try:
            if hasattr(admin, "describe_groups"):  # kafka-python 3
                found = admin.describe_groups([group])[group]
                state, joined = found["group_state"], len(found["members"])
            else:
                found = admin.describe_consumer_groups([group])[0]
                state, joined = found.state, len(found.members)
        except KafkaError:  # a new broker has no group coordinator for a moment
            state, joined = "", 0
        finally:
            admin.close()
        if state == "Stable" and joined == members:
            return
        time.sleep(0.5)
    raise AssertionError(f"the group {group} did not settle with {members} members within {timeout_s:.0f}s")


def replayed_as_live(settings: Settings, out: Path) -> dict[str, int]:
    """``driftline replay topic --as-live`` of the namespace's live run, as a user runs it: its
    ``reproduced`` counts (predictions recomputed, and how many ``differ`` from the live ones)."""
    import subprocess

    import orjson

    ran = subprocess.run([DRIFTLINE, "replay", "topic", "--as-live", "--no-record", "--out", str(out)],
                         env=settings.as_env(), capture_output=True, text=True, timeout=300)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    return orjson.loads((out / "metrics.json").read_bytes())["reproduced"]  # type: ignore[no-any-return]
