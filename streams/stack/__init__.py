"""The local stack: a real single-node Apache Kafka (KRaft) and a real Redis on 127.0.0.1.

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
from dataclasses import dataclass
from pathlib import Path

from streams.errors import EnvironmentProblem
from streams.kafka import admin
from streams.kafka.topics import topic_specs
from streams.settings import Settings
from streams.stack import docker, kafka, redis
from streams.stack.ports import is_listening
from streams.stack.procs import PidFiles, ProcessRecord, stop
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
        ("DRIFTLINE_KAFKA_BOOTSTRAP", settings.kafka_host_port[0]),
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

        host, port = settings.kafka_host_port
        if pids.read("kafka") is None and not _docker_marker(settings).exists():
            if is_listening(host, port):
                if admin.cluster_info(settings, timeout_ms=5000) is None:
                    raise _port_taken("Kafka", host, port, "DRIFTLINE_KAFKA_BOOTSTRAP")
                say(f"Kafka on {host}:{port} is running already, not started by driftline: using it")
                source = "running already, not started by driftline"
            else:
                jars = kafka.cached_jars(settings)
                if jars is None and _can_fetch():
                    jars = kafka.ensure_jars(settings, logs / "maven.log", say)
                if jars is not None:
                    say(f"starting Kafka {settings.kafka_version} (KRaft) on {host}:{port} from {jars.source}")
                    record = kafka.start(settings, jars, logs / "kafka.log")
                    pids.write(record)
                    started.append(record)
                    source = jars.source
                elif docker.engine_answers():
                    say("starting Kafka with Docker compose")
                    docker.compose("up", "-d", "--wait", "kafka")
                    _docker_marker(settings).write_text(json.dumps({"services": ["kafka"]}))
                    kafka.wait_ready(settings, None, logs / "kafka.log")
                    source = "docker compose"
                else:
                    raise EnvironmentProblem(
                        "no way to run Kafka: set KAFKA_HOME to an unpacked Apache Kafka, or install "
                        "Java 17 and Maven to fetch its jars, or start a Docker engine for docker compose"
                    )
        created = admin.ensure_topics(settings, topic_specs(settings))
    except BaseException:
        for record in reversed(started):  # nothing half-started is left running
            stop(record.pid, grace=10)
            pids.remove(record.name)
        raise
    return UpReport(
        settings.kafka_bootstrap, settings.redis_url_shown, time.monotonic() - began,
        tuple(r.name for r in started), source, tuple(created),
    )


def _can_fetch() -> bool:
    import shutil

    return shutil.which("java") is not None and shutil.which("mvn") is not None


def down(settings: Settings, say: Callable[[str], None] = lambda _: None) -> list[str]:
    """Stop what ``up`` started (Kafka first, so it can still flush), gracefully then by force."""
    pids, _ = _paths(settings)
    stopped: list[str] = []
    for name in ("kafka", "redis"):
        record = pids.read(name)
        if record is None:
            continue
        say(f"stopping {name} (pid {record.pid})")
        forced = stop(record.pid, grace=30 if name == "kafka" else 10)
        pids.remove(name)
        stopped.append(f"{name} (forced)" if forced else name)
    marker = _docker_marker(settings)
    if marker.exists():
        docker.compose("stop", "kafka")
        marker.unlink()
        stopped.append("kafka (docker compose)")
    return stopped


def status(settings: Settings) -> list[Component]:
    """Each process of the stack, its address and whether it answers."""
    pids, logs = _paths(settings)
    out: list[Component] = []
    record = pids.read("kafka")
    info = admin.cluster_info(settings, timeout_ms=1500)
    version = admin.version_from_log(logs / "kafka.log") if record else None
    detail = (
        f"Apache Kafka {version or info.api_version}, cluster {info.cluster_id}"
        if info else "no answer to a metadata request"
    )
    out.append(Component("kafka", settings.kafka_bootstrap, record.pid if record else None, info is not None, detail))
    record = pids.read("redis")
    said = redis.answer(settings.redis_connect_url)
    out.append(Component("redis", settings.redis_url_shown, record.pid if record else None, said == "PONG", said))
    return out
