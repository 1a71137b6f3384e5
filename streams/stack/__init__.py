"""The local stack: a real Apache Kafka (KRaft: one broker, or a cluster of three) and a real
Redis on 127.0.0.1.

``up`` is idempotent and leaves nothing half-started; a Kafka or Redis that answers at the
configured address but was started by something else (a container, a service) is used, not
started again; ``down`` stops only what ``up`` started (gracefully, then by force); stale pid
files after a crash are noticed and removed.
"""

from __future__ import annotations

import json
import os
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from streams.errors import EnvironmentProblem
from streams.kafka import admin
from streams.kafka.topics import topic_specs
from streams.settings import Settings
from streams.stack import docker, kafka, redis
from streams.stack.ports import is_listening
from streams.stack.procs import PidFiles, ProcessRecord, stop, stop_all
from streams.state import redis_trouble

LOOPBACK = {"127.0.0.1", "localhost", "::1"}


@dataclass(frozen=True)
class Component:
    """One part of the stack as ``status`` sees it."""

    name: str
    address: str
    pid: int | None
    healthy: bool
    detail: str


@dataclass(frozen=True)
class UpReport:
    bootstrap: str
    redis_url: str
    seconds: float
    started: tuple[str, ...]
    kafka_source: str
    topics_created: tuple[str, ...]


def _paths(settings: Settings) -> tuple[PidFiles, Path]:
    return PidFiles(settings.state_dir / "run"), settings.state_dir / "logs"


def _docker_marker(settings: Settings) -> Path:
    return settings.state_dir / "run" / "docker.json"


def _check_local(settings: Settings) -> None:
    for what, host in (
        *(("DRIFTLINE_KAFKA_BOOTSTRAP", host) for host, _ in kafka.addresses(settings)),
        ("DRIFTLINE_REDIS_URL", settings.redis_host_port[0]),
    ):
        if host not in LOOPBACK:
            raise EnvironmentProblem(f"{what} points at {host}: the local stack runs only on 127.0.0.1")


def _port_taken(name: str, host: str, port: int, variable: str) -> EnvironmentProblem:
    return EnvironmentProblem(
        f"port {port} on {host} is taken by a process the stack did not start; stop it or set "
        f"{variable} to a free address (wanted for {name})"
    )


def ensure_model_key(settings: Settings) -> None:
    """Generate the local stack's model signing key once (owner-only), unless one is given."""
    path = settings.model_key_file
    if settings.model_key or path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(secrets.token_hex(32) + "\n")


def up(settings: Settings, say: Callable[[str], None] = lambda _: None) -> UpReport:
    """Start what is not running yet, wait until it answers, create the contract's topics."""
    _check_local(settings)
    began = time.monotonic()
    ensure_model_key(settings)
    pids, logs = _paths(settings)
    started: list[ProcessRecord] = []
    source = "already running"
    try:
        host, port = settings.redis_host_port
        if pids.read("redis") is None:
            if is_listening(host, port):
                if not redis_trouble.answers(settings):
                    raise _port_taken("Redis", host, port, "DRIFTLINE_REDIS_URL")
                say(f"Redis on {host}:{port} is running already, not started by driftline: using it")
            else:
                say(f"starting Redis on {host}:{port}")
                record = redis.start(settings, logs / "redis.log")
                pids.write(record)
                started.append(record)

        layout = kafka.nodes(settings)
        if len(layout) > 1:
            source = _up_cluster(settings, layout, pids, logs, started, say)
        else:
            source = _up_broker(settings, pids, logs, started, say)
        # a cluster's own topics get its copies even when the setting is left at one
        copies = max(settings.replication_factor, kafka.replicas(len(layout))[0])
        created = admin.ensure_topics(settings, topic_specs(replace(settings, replication_factor=copies)))
    except BaseException:
        for record in reversed(started):  # nothing half-started is left running
            stop(record.pid, grace=10)
            pids.remove(record.name)
        raise
    return UpReport(
        settings.kafka_bootstrap, settings.redis_url_shown, time.monotonic() - began,
        tuple(r.name for r in started), source, tuple(created),
    )


def _up_broker(settings: Settings, pids: PidFiles, logs: Path, started: list[ProcessRecord],
               say: Callable[[str], None]) -> str:
    """The single broker: used when it answers already, else started; where it came from."""
    host, port = settings.kafka_host_port
    if pids.read("kafka") is not None or _docker_marker(settings).exists():
        return "already running"
    if is_listening(host, port):
        if admin.cluster_info(settings, timeout_ms=5000) is None:
            raise _port_taken("Kafka", host, port, "DRIFTLINE_KAFKA_BOOTSTRAP")
        say(f"Kafka on {host}:{port} is running already, not started by driftline: using it")
        return "running already, not started by driftline"
    jars = kafka.cached_jars(settings)
    if jars is None and _can_fetch():
        jars = kafka.ensure_jars(settings, logs / "maven.log", say)
    if jars is not None:
        say(f"starting Kafka {settings.kafka_version} (KRaft) on {host}:{port} from {jars.source}")
        for record in kafka.start(settings, jars, logs):
            pids.write(record)
            started.append(record)
        return jars.source
    if docker.engine_answers():
        say("starting Kafka with Docker compose")
        docker.compose("up", "-d", "--wait", "kafka")
        _docker_marker(settings).write_text(json.dumps({"services": ["kafka"]}))
        kafka.wait_ready(settings, None, logs / "kafka.log")
        return "docker compose"
    raise EnvironmentProblem(
        "no way to run Kafka: set KAFKA_HOME to an unpacked Apache Kafka, or install "
        "Java 17 and Maven to fetch its jars, or start a Docker engine for docker compose"
    )


def _up_cluster(settings: Settings, layout: list[kafka.Node], pids: PidFiles, logs: Path,
                started: list[ProcessRecord], say: Callable[[str], None]) -> str:
    """A cluster's brokers that are not running, started (from Apache's jars only)."""
    missing = [node for node in layout if pids.read(node.name) is None]
    if not missing:
        return "already running"
    if len(missing) == len(layout) and all(is_listening(n.host, n.port) for n in layout) \
            and admin.cluster_info(settings, timeout_ms=5000) is not None:
        say(f"Kafka at {settings.kafka_bootstrap} is running already, not started by driftline: using it")
        return "running already, not started by driftline"
    for node in missing:
        if is_listening(node.host, node.port):
            raise _port_taken(f"Kafka broker {node.node_id}", node.host, node.port, "DRIFTLINE_KAFKA_BOOTSTRAP")
    jars = kafka.cached_jars(settings) or kafka.ensure_jars(settings, logs / "maven.log", say)
    say(f"starting Kafka {settings.kafka_version} (KRaft) brokers {', '.join(n.address for n in missing)} "
        f"from {jars.source}")
    for record in kafka.start(settings, jars, logs, missing):
        pids.write(record)
        started.append(record)
    return f"{jars.source}, a cluster of {len(layout)}"


def _can_fetch() -> bool:
    import shutil

    return shutil.which("java") is not None and shutil.which("mvn") is not None


def down(settings: Settings, say: Callable[[str], None] = lambda _: None) -> list[str]:
    """Stop what ``up`` started (Kafka first, so it can still flush), gracefully then by force."""
    pids, _ = _paths(settings)
    stopped: list[str] = []
    brokers = [record for record in map(pids.read, _broker_names(settings)) if record is not None]
    for record in brokers:
        say(f"stopping {record.name} (pid {record.pid})")
    # a cluster's brokers are stopped together: one left alone waits for a quorum to shut down
    for record, forced in zip(brokers, stop_all([r.pid for r in brokers], grace=30)):
        pids.remove(record.name)
        stopped.append(f"{record.name} (forced)" if forced else record.name)
    record = pids.read("redis")
    if record is not None:
        say(f"stopping redis (pid {record.pid})")
        forced = stop(record.pid, grace=10)
        pids.remove("redis")
        stopped.append("redis (forced)" if forced else "redis")
    marker = _docker_marker(settings)
    if marker.exists():
        docker.compose("stop", "kafka")
        marker.unlink()
        stopped.append("kafka (docker compose)")
    return stopped


def _broker_names(settings: Settings) -> list[str]:
    """Pid file names of the brokers this state folder may hold: the configured ones, and any
    other a former layout left running."""
    names = [node.name for node in kafka.nodes(settings)]
    run = settings.state_dir / "run"
    others = sorted(p.stem for p in run.glob("kafka*.pid")) if run.is_dir() else []
    return names + [n for n in others if n not in names]


def status(settings: Settings) -> list[Component]:
    """Each process of the stack, its address and whether it answers; in a cluster, each broker
    and the partitions under-replicated or without a leader."""
    pids, logs = _paths(settings)
    out: list[Component] = []
    layout = kafka.nodes(settings)
    record = pids.read(layout[0].name)
    info = admin.cluster_info(settings, timeout_ms=1500)
    version = admin.version_from_log(logs / f"{layout[0].name}.log") if record else None
    seen = admin.health(settings, timeout_ms=1500) if info else None
    detail = (
        f"Apache Kafka {version or info.api_version}, cluster {info.cluster_id}"
        if info else "no answer to a metadata request"
    )
    if seen is not None and (len(layout) > 1 or len(seen.brokers) > 1):
        detail += f", {len(seen.brokers)} brokers, {_replication(seen)}"
    out.append(Component("kafka", settings.kafka_bootstrap, record.pid if record and len(layout) == 1 else None,
                         info is not None and not (seen and seen.offline), detail))
    if len(layout) > 1 or (seen is not None and len(seen.brokers) > 1):
        out += _brokers(layout, pids, seen)
    record = pids.read("redis")
    said = redis.answer(settings.redis_connect_url)
    out.append(Component("redis", settings.redis_url_shown, record.pid if record else None, said == "PONG", said))
    return out


def _replication(seen: admin.Health) -> str:
    """What is short of copies, said briefly (the first few named)."""
    def named(parts: tuple[str, ...]) -> str:
        more = f" and {len(parts) - 5} more" if len(parts) > 5 else ""
        return ", ".join(parts[:5]) + more

    said = f"{len(seen.under_replicated)} under-replicated partitions"
    if seen.under_replicated:
        said += f" ({named(seen.under_replicated)})"
    if seen.offline:
        said += f", {len(seen.offline)} without a leader ({named(seen.offline)})"
    return said


def _brokers(layout: list[kafka.Node], pids: PidFiles, seen: admin.Health | None) -> list[Component]:
    """One line per broker: ours by node id, and any other the cluster counts."""
    ours = {node.node_id: node for node in layout} if len(layout) > 1 else {}
    ids = sorted(set(ours) | set(seen.brokers if seen else ()))
    out = []
    for node_id in ids:
        node = ours.get(node_id)
        record = pids.read(node.name) if node else None
        address = seen.brokers.get(node_id) if seen and node_id in seen.brokers else (node.address if node else "?")
        alive = seen is not None and node_id in seen.brokers
        detail = (f"node {node_id}, leads {seen.leaders.get(node_id, 0)} partitions" if alive and seen
                  else f"node {node_id}, not in the cluster ({'its process runs' if record else 'not running'})")
        out.append(Component(f"kafka-{node_id}", address, record.pid if record else None, alive, detail))
    return out
