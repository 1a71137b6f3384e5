"""Worker throughput against the real broker: the hot path, the full loop, a kill -9's gap.

Each measure gives a fresh namespace (topic prefix) a backlog, starts ``driftline worker`` on it
and times it from the first output record to the last, by the records' own broker timestamps or
the group's committed offsets, so start-up is not counted.
"""

from __future__ import annotations

import itertools
import os
import signal
import threading
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import orjson
from kafka import KafkaProducer

from streams.kafka import admin
from streams.kafka.produce import ProduceOptions, produce
from streams.kafka.reader import read_topic
from streams.kafka.sources import builtin
from streams.kafka.topics import topic_specs
from streams.replay.namespace import namespace_settings
from streams.settings import Settings
from streams.specs.load import DEFAULT_SPEC_PATH
from streams.stack.ports import free_port
from streams.worker.process import WorkerProcess
from tests.support.pipeline import committed, end_offsets

READ_S = 300.0  # a benchmark run's whole topic is read back within this


def namespace(settings: Settings, tmp: Path, label: str) -> Settings:
    """A fresh namespace (:func:`streams.replay.namespace.namespace_settings`) with its topics."""
    s = namespace_settings(settings, tmp / label, kind=f"bench-{label}")
    admin.ensure_topics(s, topic_specs(s))
    return s


def timestamps(settings: Settings, name: str) -> list[float]:
    """Broker timestamps (seconds) of every record in a topic."""
    return [r.timestamp / 1000.0 for r in read_topic(settings, name, timeout_s=READ_S)]


def wait_for(what: str, done, timeout: float = 600.0, workers: Sequence[WorkerProcess] = ()) -> None:  # type: ignore[no-untyped-def]
    """Wait until ``done()``; fail at once when one of ``workers`` has exited (a benchmark once
    waited forever on a worker that had died at start)."""
    deadline = time.monotonic() + timeout
    while not done():
        for worker in workers:
            if not worker.running():
                tail = worker.log.read_text(errors="replace").splitlines()[-5:] if worker.log.exists() else []
                raise RuntimeError(f"waiting for {what}: the worker exited; see {worker.log}\n" + "\n".join(tail))
        if time.monotonic() > deadline:
            raise TimeoutError(f"gave up waiting for {what}")
        time.sleep(0.2)


def hot_path(settings: Settings, tmp: Path, events: int, workers: int = 1, label: str = "hot") -> float:
    """Events/s from a backlog through ``--agents validate`` (raw → features + predictions), in
    one worker process or several (one consumer group)."""
    s = namespace(settings, tmp, label)
    produce(s, ProduceOptions("agrawal-drift", limit=events, feedback_fraction=0.0))
    procs = [WorkerProcess(replace(s, web_port=free_port()), tmp / f"{label}-{n}.log", agents="validate")
             for n in range(workers)]
    try:
        for worker in procs:
            worker.start()
        wait_for("every prediction", lambda: end_offsets(s, "predictions") >= events, workers=procs)
    finally:
        for worker in procs:
            worker.stop()
    ts = timestamps(s, "predictions")
    return len(ts) / max(1e-9, max(ts) - min(ts))


def cluster_hot_path(settings: Settings, tmp: Path, events: int) -> float:
    """The hot path on a local three-broker cluster (``driftline stack up --brokers 3``): every
    topic with three copies, ``min.insync.replicas`` 2, every write ``acks=all`` (as always). The
    one-broker stack's Redis serves it too."""
    from streams import stack
    from streams.stack.kafka import remember

    base = replace(settings, kafka_bootstrap=f"127.0.0.1:{free_port()}", state_dir=tmp / "cluster")
    cluster = replace(remember(base, 3), replication_factor=3)
    stack.up(cluster)
    try:
        return hot_path(cluster, tmp, events, label="hot3")
    finally:
        stack.down(cluster)


def scale_out(settings: Settings, tmp: Path, events: int) -> tuple[float, float]:
    """The hot path on 8 partitions with one worker process, then with two."""
    eight = replace(settings, partitions=8)
    return hot_path(eight, tmp, events, 1, "one8"), hot_path(eight, tmp, events, 2, "two8")


def full_loop(settings: Settings, tmp: Path, events: int, delay: int = 500) -> tuple[float, float]:
    """Events/s from a backlog of events and labels through every agent, until the trainer has
    learned (and committed) every example; and the hot path's own rate within that run."""
    s = namespace(settings, tmp, "full")
    produce(s, ProduceOptions("agrawal-drift", limit=events, feedback_delay=delay))
    worker = WorkerProcess(s, tmp / "full.log")
    worker.start()
    try:
        wait_for("every prediction", lambda: end_offsets(s, "predictions") >= events, workers=[worker])
        wait_for("every example learned", lambda: (n := end_offsets(s, "examples")) >= events and committed(s, "examples") >= n,
                 workers=[worker])
        learned_at = time.time()
    finally:
        worker.stop()
    ts = timestamps(s, "predictions")
    return events / max(1e-9, learned_at - min(ts)), len(ts) / max(1e-9, max(ts) - min(ts))


def restart_gap(settings: Settings, tmp: Path, rate: int = 300, seconds: int = 30) -> tuple[float, int]:
    """The longest gap between predictions when the worker is SIGKILLed mid-stream and started
    again at once; and the events predicted twice."""
    s = namespace(settings, tmp, "kill")
    worker = WorkerProcess(s, tmp / "kill.log")
    worker.start()
    total = rate * seconds
    feeder = threading.Thread(target=_steady, args=(s, rate, total), daemon=True)
    feeder.start()
    try:
        time.sleep(seconds / 2)
        assert worker.proc is not None
        killed_at = time.time()
        worker.proc.send_signal(signal.SIGKILL)
        worker.proc.wait()
        worker.start()
        feeder.join()
        wait_for("every prediction", lambda: end_offsets(s, "predictions") >= total, workers=[worker])
    finally:
        worker.stop()
    ts = sorted(timestamps(s, "predictions"))
    around = [b - a for a, b in itertools.pairwise(ts) if b > killed_at - 5]
    return max(around, default=0.0), len(ts) - total


def _steady(settings: Settings, rate: int, total: int) -> None:
    producer = KafkaProducer(bootstrap_servers=settings.kafka_bootstrap, linger_ms=5)
    began = time.monotonic()
    for i, (event, _) in enumerate(itertools.islice(builtin("agrawal-drift", seed=3), total)):
        if i % 20 == 0:
            time.sleep(max(0.0, i / rate - (time.monotonic() - began)))
        event["ts"] = time.time()
        producer.send(settings.topic("raw"), key=event["entity_id"].encode(), value=orjson.dumps(event))
    producer.flush()
    producer.close()


def entity_memory(settings: Settings, tmp: Path, entities: int = 100_000, ttl_s: int = 3600) -> tuple[float, float, int]:
    """Worker memory with ``entities`` entities, each seen once, their event times one second
    apart (so ``entities`` seconds of event time) and ``[features] entity_ttl_seconds`` at
    ``ttl_s``: the memory after a tenth of them and at the end (MB), and the entities dropped."""
    s = namespace(settings, tmp, "entities")
    spec = tmp / "entities.toml"
    spec.write_text(DEFAULT_SPEC_PATH.read_text().replace("[features]\n", f"[features]\nentity_ttl_seconds = {ttl_s}\n", 1))
    s = replace(s, pipeline=str(spec))
    producer = KafkaProducer(bootstrap_servers=s.kafka_bootstrap, linger_ms=20, batch_size=256 * 1024)
    start = time.time() - entities
    for i, (event, _) in enumerate(itertools.islice(builtin("agrawal-drift", seed=5), entities)):
        event["entity_id"], event["ts"] = f"entity-{i}", start + i
        producer.send(s.topic("raw"), key=event["entity_id"].encode(), value=orjson.dumps(event))
    producer.flush()
    producer.close()
    worker = WorkerProcess(s, tmp / "entities.log", agents="validate")
    worker.start()
    assert worker.proc is not None
    try:
        wait_for("a tenth of the predictions", lambda: end_offsets(s, "predictions") >= entities // 10, workers=[worker])
        early = _rss_mb(worker.proc.pid)
        wait_for("every prediction", lambda: end_offsets(s, "predictions") >= entities, workers=[worker])
        time.sleep(2)
        late = _rss_mb(worker.proc.pid)
        dropped = next((int(float(line.split()[-1])) for line in worker.metrics().splitlines()
                        if line.startswith("driftline_entities_expired_total")), 0)
    finally:
        worker.stop()
    return early, late, dropped


def idle_cpu(settings: Settings, tmp: Path, seconds: float = 20.0) -> tuple[float, float]:
    """A whole worker with nothing to read: the CPU seconds its start-up took (to a ready /health),
    and the share of one core it then uses while idle for ``seconds``."""
    worker = WorkerProcess(replace(namespace(settings, tmp, "idle"), web_port=free_port()), tmp / "idle.log")
    worker.start()
    assert worker.proc is not None
    try:
        started = _cpu_s(worker.proc.pid)
        time.sleep(3)  # the group settles, the first timers run
        before, at = _cpu_s(worker.proc.pid), time.monotonic()
        time.sleep(seconds)
        idle = (_cpu_s(worker.proc.pid) - before) / (time.monotonic() - at)
    finally:
        worker.stop()
    return started, idle


def _cpu_s(pid: int) -> float:
    """User and system CPU seconds of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0
