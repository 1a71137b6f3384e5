"""The local Apache Kafka broker: find it, configure it (KRaft, one node), start it.

Kafka comes, in this order, from an unpacked distribution named by ``KAFKA_HOME``; from Apache
Kafka's own jars, resolved by Maven from ``kafka-pom.xml`` into a cache outside the repository
(fetched once per machine); or from Docker compose when a Docker engine answers (see
``streams.stack.docker``).
"""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from streams.errors import EnvironmentProblem
from streams.kafka.admin import cluster_info
from streams.settings import Settings
from streams.stack.procs import ProcessRecord, is_alive, start_ticks, stop

POM = Path(__file__).with_name("kafka-pom.xml")
READY_TIMEOUT = 120.0


@dataclass(frozen=True)
class KafkaJars:
    """Where the broker's classes come from."""

    source: str  # "KAFKA_HOME" or "maven"
    classpath: str
    log4j: Path | None  # the distribution's own log4j config, if any


def jars_dir(settings: Settings) -> Path:
    return settings.cache_dir / f"kafka-{settings.kafka_version}" / "lib"


def cached_jars(settings: Settings) -> KafkaJars | None:
    """KAFKA_HOME's jars, else the Maven cache when it is complete; None when neither."""
    home = os.environ.get("KAFKA_HOME")
    if home:
        libs = Path(home) / "libs"
        if not any(libs.glob("kafka_2.13-*.jar")):
            raise EnvironmentProblem(f"KAFKA_HOME={home}: no libs/kafka_2.13-*.jar there")
        log4j = Path(home) / "config" / "log4j.properties"
        return KafkaJars("KAFKA_HOME", f"{libs}/*", log4j if log4j.exists() else None)
    lib = jars_dir(settings)
    if (lib / f"kafka_2.13-{settings.kafka_version}.jar").exists():
        return KafkaJars("maven", f"{lib}/*", None)
    return None


def fetch_jars(settings: Settings, log: Path) -> KafkaJars:
    """Resolve Kafka's jars with Maven into the cache (atomically: a half fetch never counts)."""
    mvn = shutil.which("mvn")
    if mvn is None:
        raise EnvironmentProblem("Maven (mvn) not found: it fetches Kafka's jars once per machine")
    lib = jars_dir(settings)
    tmp = lib.with_name(f"lib.partial-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    log.parent.mkdir(parents=True, exist_ok=True)
    cmd = [
        mvn, "-q", "-B", "-f", str(POM), "dependency:copy-dependencies",
        f"-DoutputDirectory={tmp}", "-DincludeScope=runtime",
        f"-Dkafka.version={settings.kafka_version}",
    ]
    with log.open("ab") as out:
        result = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, check=False)
    if result.returncode != 0 or not (tmp / f"kafka_2.13-{settings.kafka_version}.jar").exists():
        shutil.rmtree(tmp, ignore_errors=True)
        raise EnvironmentProblem(f"Maven could not fetch Apache Kafka {settings.kafka_version}; see {log}")
    shutil.rmtree(lib, ignore_errors=True)
    tmp.rename(lib)
    return KafkaJars("maven", f"{lib}/*", None)


def ensure_jars(settings: Settings, log: Path, say: Callable[[str], None] = lambda _: None) -> KafkaJars:
    """The cached jars, fetching them with Maven first when they are missing."""
    jars = cached_jars(settings)
    if jars is not None:
        return jars
    java()
    say(f"fetching Apache Kafka {settings.kafka_version} jars with Maven (once per machine)")
    return fetch_jars(settings, log)


def java() -> str:
    found = shutil.which("java")
    if found is None:
        raise EnvironmentProblem("Java not found: the local Kafka broker needs Java 17 (apt-get install openjdk-17-jre-headless)")
    return found


def new_cluster_id() -> str:
    """A random KRaft cluster id: a UUID in URL-safe base64, never starting with '-'.

    An id starting with '-' reads as an option to the storage tool's argument parser (Kafka's
    own ``Uuid.randomUuid`` avoids those ids for the same reason).
    """
    while True:
        cid = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cid.startswith("-"):
            return cid


def _cluster_id(kafka_dir: Path) -> str:
    path = kafka_dir / "cluster.id"
    if path.exists():
        return path.read_text().strip()
    cid = new_cluster_id()
    path.write_text(cid)
    return cid


def _controller_port(settings: Settings, kafka_dir: Path) -> int:
    """The configured controller port, else the one this state folder used before, else free."""
    from streams.stack.ports import free_port

    path = kafka_dir / "controller.port"
    if settings.kafka_controller_port:
        port = settings.kafka_controller_port
    elif path.exists():
        port = int(path.read_text())
    else:
        port = free_port()
    path.write_text(str(port))
    return port


def write_config(settings: Settings, kafka_dir: Path) -> tuple[Path, Path]:
    """Write server.properties (absolute paths, KRaft, one node) and log4j.properties."""
    host, port = settings.kafka_host_port
    cport = _controller_port(settings, kafka_dir)
    props = {
        "process.roles": "broker,controller",
        "node.id": "1",
        "controller.quorum.voters": f"1@{host}:{cport}",
        "listeners": f"PLAINTEXT://{host}:{port},CONTROLLER://{host}:{cport}",
        "advertised.listeners": f"PLAINTEXT://{host}:{port}",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "log.dirs": str((kafka_dir / "data").resolve()),
        "num.partitions": str(settings.partitions),
        "offsets.topic.replication.factor": "1",
        "offsets.topic.num.partitions": "1",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "transaction.state.log.num.partitions": "1",
        "share.coordinator.state.topic.replication.factor": "1",
        "group.initial.rebalance.delay.ms": "0",
        "auto.create.topics.enable": "true",
        "log.flush.interval.messages": "9223372036854775807",
    }
    server = kafka_dir / "server.properties"
    server.write_text("".join(f"{k}={v}\n" for k, v in props.items()))
    log4j = kafka_dir / "log4j.properties"
    log4j.write_text(
        "log4j.rootLogger=INFO, stdout\n"
        "log4j.appender.stdout=org.apache.log4j.ConsoleAppender\n"
        "log4j.appender.stdout.layout=org.apache.log4j.PatternLayout\n"
        "log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n\n"
        "log4j.logger.kafka=INFO\nlog4j.logger.org.apache.kafka=INFO\n"
        "log4j.logger.state.change.logger=WARN\nlog4j.logger.kafka.request.logger=WARN\n"
    )
    return server, log4j


#: a small broker for one machine: the client compiler alone and the serial collector (the same
#: work for about 40% less CPU to format, start and serve here than the JVM's server defaults)
LOCAL_JVM_OPTS = ("-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC")


def _java_cmd(settings: Settings, jars: KafkaJars, log4j: Path, main: list[str]) -> list[str]:
    return [
        java(), *LOCAL_JVM_OPTS, *settings.kafka_heap_opts.split(), "-Djava.awt.headless=true",
        f"-Dlog4j.configuration=file:{log4j}", "-cp", jars.classpath, *main,
    ]


def start(settings: Settings, jars: KafkaJars, log: Path) -> ProcessRecord:
    """Format the storage (once) and start the broker; return when a metadata request succeeds."""
    kafka_dir = settings.state_dir / "kafka"
    kafka_dir.mkdir(parents=True, exist_ok=True)
    server, log4j = write_config(settings, kafka_dir)
    log.parent.mkdir(parents=True, exist_ok=True)
    fmt = _java_cmd(
        settings, jars, log4j,
        ["kafka.tools.StorageTool", "format", "-t", _cluster_id(kafka_dir), "-c", str(server), "--ignore-formatted"],
    )
    with log.open("ab") as out:
        result = subprocess.run(fmt, stdout=out, stderr=subprocess.STDOUT, check=False)
    if result.returncode != 0:
        raise EnvironmentProblem(f"Kafka could not format its storage in {kafka_dir}; see {log}")
    with log.open("ab") as out:
        proc = subprocess.Popen(
            _java_cmd(settings, jars, log4j, ["kafka.Kafka", str(server)]),
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True, cwd=kafka_dir,
        )
    record = ProcessRecord("kafka", proc.pid, start_ticks(proc.pid), settings.kafka_host_port[1])
    try:
        wait_ready(settings, proc.pid, log)
    except BaseException:
        stop(proc.pid, grace=10)  # never leave a half-started broker behind
        raise
    return record


def wait_ready(settings: Settings, pid: int | None, log: Path, timeout: float = READY_TIMEOUT) -> None:
    """Poll with metadata requests until the broker answers; fail fast if the process died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pid is not None and not is_alive(pid):
            raise EnvironmentProblem(f"Kafka exited during start-up; see {log}")
        if cluster_info(settings, timeout_ms=1500) is not None:
            return
        time.sleep(0.3)
    raise EnvironmentProblem(f"Kafka did not answer a metadata request within {timeout:.0f}s; see {log}")
