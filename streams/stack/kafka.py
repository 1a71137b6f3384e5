"""The local Apache Kafka broker, or a cluster of them: find it, configure it (KRaft), start it.

One address in ``DRIFTLINE_KAFKA_BOOTSTRAP`` is one broker, which is its own controller; several
addresses (``driftline stack up --brokers 3`` lists them) are a cluster: one JVM per address, each a
broker and a member of the controller quorum, one folder each under ``<state>/kafka/``, one cluster
id, and the durability a production cluster has (three copies, two in sync for a write).

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
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields, replace
from pathlib import Path

from streams.errors import EnvironmentProblem
from streams.kafka.admin import cluster_info
from streams.settings import Settings
from streams.stack import class_data
from streams.stack.procs import ProcessRecord, is_alive, start_ticks, stop

POM = Path(__file__).with_name("kafka-pom.xml")
READY_TIMEOUT = 120.0
#: each broker's heap in a local cluster, unless DRIFTLINE_KAFKA_HEAP_OPTS says otherwise: three fit
#: beside the test suite on a small machine
CLUSTER_HEAP_OPTS = "-Xms128m -Xmx256m"


@dataclass(frozen=True)
class Node:
    """One broker of the local stack: its id, its address, its folder and its pid file's name."""

    node_id: int
    host: str
    port: int
    folder: Path
    name: str  # "kafka" for a single broker, "kafka-<id>" in a cluster

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"


def addresses(settings: Settings) -> list[tuple[str, int]]:
    """Every ``host:port`` of the bootstrap list, in order."""
    from streams.settings import kafka_address

    return [kafka_address(part) for part in settings.kafka_bootstrap.split(",") if part.strip()]


def cluster_bootstrap(settings: Settings, brokers: int) -> str:
    """The bootstrap list of a local cluster of ``brokers``: the addresses given, then the ports
    after the last one.

    >>> cluster_bootstrap(Settings(), 3)
    '127.0.0.1:9092,127.0.0.1:9093,127.0.0.1:9094'
    """
    listed = addresses(settings)[:brokers]
    host, port = listed[-1]
    listed += [(host, port + k) for k in range(1, brokers - len(listed) + 1)]
    return ",".join(f"{h}:{p}" for h, p in listed)


def _layout_file(settings: Settings) -> Path:
    return settings.state_dir / "kafka" / "brokers"


def remember(settings: Settings, brokers: int) -> Settings:
    """``stack up --brokers N``: the settings of a local cluster of ``brokers``, kept in the state
    folder so that later stack commands given only the first address find every broker."""
    bootstrap = cluster_bootstrap(settings, brokers)
    path = _layout_file(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(bootstrap + "\n")
    return replace(settings, kafka_bootstrap=bootstrap)


def nodes(settings: Settings) -> list[Node]:
    """The local stack's brokers: one per bootstrap address; a cluster the state folder keeps
    (``stack up --brokers``) when the bootstrap names its first broker only."""
    kafka_dir = settings.state_dir / "kafka"
    listed = addresses(settings)
    kept = _layout_file(settings)
    if len(listed) == 1 and kept.exists():
        cluster = addresses(replace(settings, kafka_bootstrap=kept.read_text().strip()))
        if cluster[0] == listed[0]:
            listed = cluster
    if len(listed) == 1:
        return [Node(1, *listed[0], kafka_dir, "kafka")]
    return [Node(i, host, port, kafka_dir / f"node-{i}", f"kafka-{i}") for i, (host, port) in enumerate(listed, 1)]


def replicas(brokers: int) -> tuple[int, int]:
    """Copies of each partition on a cluster of ``brokers``, and how many must have a write.

    >>> replicas(1), replicas(2), replicas(3), replicas(5)
    ((1, 1), (2, 1), (3, 2), (3, 2))
    """
    copies = min(brokers, 3)
    return copies, copies - 1 if copies >= 3 else 1


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


def controller_ports(settings: Settings, layout: list[Node]) -> dict[int, int]:
    """Each node's controller port: the single broker's as before; a cluster's, the ones its state
    folder used before, else free ones (kept, as every node names them all as the quorum)."""
    kafka_dir = settings.state_dir / "kafka"
    kafka_dir.mkdir(parents=True, exist_ok=True)
    if len(layout) == 1:
        return {1: _controller_port(settings, kafka_dir)}
    from streams.stack.ports import free_port

    path = kafka_dir / "controller.ports"
    kept = [int(p) for p in path.read_text().split()] if path.exists() else []
    if len(kept) != len(layout):
        kept = [free_port() for _ in layout]
        path.write_text(" ".join(map(str, kept)))
    return {node.node_id: port for node, port in zip(layout, kept)}


def write_config(settings: Settings, node: Node, controllers: dict[int, int]) -> tuple[Path, Path]:
    """Write a node's server.properties (absolute paths, KRaft) and log4j.properties."""
    host, port, cport = node.host, node.port, controllers[node.node_id]
    kafka_dir = node.folder
    kafka_dir.mkdir(parents=True, exist_ok=True)
    copies, in_sync = replicas(len(controllers))
    voters = ",".join(f"{nid}@{host}:{p}" for nid, p in sorted(controllers.items()))
    props = {
        "process.roles": "broker,controller",
        "node.id": str(node.node_id),
        "controller.quorum.voters": voters,
        "listeners": f"PLAINTEXT://{host}:{port},CONTROLLER://{host}:{cport}",
        "advertised.listeners": f"PLAINTEXT://{host}:{port}",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "log.dirs": str((kafka_dir / "data").resolve()),
        "num.partitions": str(settings.partitions),
        "default.replication.factor": str(copies),
        "min.insync.replicas": str(in_sync),
        "offsets.topic.replication.factor": str(copies),
        "offsets.topic.num.partitions": "1",
        "transaction.state.log.replication.factor": str(copies),
        "transaction.state.log.min.isr": str(in_sync),
        "transaction.state.log.num.partitions": "1",
        "share.coordinator.state.topic.replication.factor": str(copies),
        "share.coordinator.state.topic.min.isr": str(in_sync),
        "group.initial.rebalance.delay.ms": "0",
        "leader.imbalance.check.interval.seconds": "30",  # a broker back leads its share again soon
        "auto.create.topics.enable": "true",
        "log.flush.interval.messages": "9223372036854775807",
        # the controller's no-op record on the metadata log (a liveness beat, KIP-835) every 5 s,
        # not every 0.5 s: an idle broker here used 4.1 s of CPU a minute with it at 0.5 s, 3.0 at 10
        "metadata.max.idle.interval.ms": "5000",
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


def _heap(settings: Settings, brokers: int) -> list[str]:
    """The heap options: the setting's, but a cluster's smaller ones when the setting is its default."""
    default = next(f.default for f in fields(Settings) if f.name == "kafka_heap_opts")
    chosen = CLUSTER_HEAP_OPTS if brokers > 1 and settings.kafka_heap_opts == default else settings.kafka_heap_opts
    return chosen.split()


def _java_cmd(settings: Settings, jars: KafkaJars, log4j: Path, main: list[str], brokers: int = 1,
              jvm: Sequence[str] = ()) -> list[str]:
    return [
        java(), *LOCAL_JVM_OPTS, *jvm, *_heap(settings, brokers), "-Djava.awt.headless=true",
        f"-Dlog4j.configuration=file:{log4j}", "-cp", jars.classpath, *main,
    ]


def formatted(node: Node) -> bool:
    """Whether the node's storage was formatted already: Kafka's format writes the quorum's
    bootstrap checkpoint, then ``meta.properties`` last (what ``--ignore-formatted`` looks for)."""
    data = node.folder / "data"
    return (data / "meta.properties").is_file() and (data / "bootstrap.checkpoint").is_file()


def start(settings: Settings, jars: KafkaJars, logs: Path, which: list[Node] | None = None) -> list[ProcessRecord]:
    """Format the storage (once) and start the stack's brokers (``which`` of them, else all);
    return when each answers a metadata request. A cluster's nodes all start before any is waited
    for: a quorum needs most of its members."""
    layout = nodes(settings)
    controllers = controller_ports(settings, layout)
    cluster_id = _cluster_id(settings.state_dir / "kafka")
    logs.mkdir(parents=True, exist_ok=True)
    every, one = class_data.options(settings, java(), jars.classpath)
    started: list[tuple[Node, ProcessRecord, Path]] = []
    try:
        for n, node in enumerate(which if which is not None else layout):
            log = logs / f"{node.name}.log"
            server, log4j = write_config(settings, node, controllers)
            if not formatted(node):  # a JVM of its own: a broker started again skips it
                fmt = _java_cmd(settings, jars, log4j,
                                ["kafka.tools.StorageTool", "format", "-t", cluster_id, "-c", str(server),
                                 "--ignore-formatted"], len(layout), every)
                with log.open("ab") as out:
                    result = subprocess.run(fmt, stdout=out, stderr=subprocess.STDOUT, check=False)
                if result.returncode != 0:
                    raise EnvironmentProblem(f"Kafka could not format its storage in {node.folder}; see {log}")
            with log.open("ab") as out:
                proc = subprocess.Popen(
                    _java_cmd(settings, jars, log4j, ["kafka.Kafka", str(server)], len(layout),
                              [*every, *(one if n == 0 else [])]),
                    stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                    start_new_session=True, cwd=node.folder,
                )
            started.append((node, ProcessRecord(node.name, proc.pid, start_ticks(proc.pid), node.port), log))
        for node, record, log in started:
            wait_ready(replace(settings, kafka_bootstrap=node.address), record.pid, log)
        if len(layout) > 1 and started:  # and until every broker is in the metadata each one serves
            # (an admin client told of a controller not yet registered fails: UnknownBrokerIdError)
            for node in layout:
                wait_ready(replace(settings, kafka_bootstrap=node.address), None, logs / f"{node.name}.log",
                           brokers=len(layout))
    except BaseException:
        for _, record, _ in started:  # never leave a half-started broker behind
            stop(record.pid, grace=10)
        raise
    return [record for _, record, _ in started]


def wait_ready(settings: Settings, pid: int | None, log: Path, timeout: float = READY_TIMEOUT, brokers: int = 1) -> None:
    """Poll with metadata requests until the broker answers, naming at least ``brokers`` brokers;
    fail fast if the process died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pid is not None and not is_alive(pid):
            raise EnvironmentProblem(f"Kafka exited during start-up; see {log}")
        info = cluster_info(settings, timeout_ms=1500)
        if info is not None and info.brokers >= brokers:
            return
        time.sleep(0.3)
    raise EnvironmentProblem(f"Kafka did not answer a metadata request naming {brokers} broker(s) within "
                             f"{timeout:.0f}s; see {log}")
