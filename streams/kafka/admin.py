"""Talking to the broker as an administrator: metadata, broker version, topic creation."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from kafka import KafkaAdminClient
from kafka.admin import NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError, UnknownBrokerIdError

from streams.errors import EnvironmentProblem
from streams.kafka import clients
from streams.kafka.topics import TopicSpec
from streams.settings import Settings

T = TypeVar("T")

#: how long a cluster may take to stop listing a broker it lost (the controller fences a broker
#: silent for ``broker.session.timeout.ms``, 9 s by default)
CLUSTER_CHANGE_S = 30.0


@dataclass(frozen=True)
class ClusterInfo:
    """What one metadata request told us about the cluster."""

    cluster_id: str
    brokers: int
    api_version: str  # what the broker's ApiVersions answer implies, e.g. "3.9"


@contextmanager
def _quiet_kafka_logs() -> Iterator[None]:
    """kafka-python logs every refused connection at ERROR; while probing that is expected."""
    logger = logging.getLogger("kafka")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(level)


def _admin(settings: Settings, timeout_ms: int) -> KafkaAdminClient:
    # kafka-python 3 waits 30 s for a first broker unless told otherwise: bound it by ours too
    bounded = {"bootstrap_timeout_ms": timeout_ms} if "bootstrap_timeout_ms" in KafkaAdminClient.DEFAULT_CONFIG else {}
    return clients.admin(settings, client_id="driftline-admin", request_timeout_ms=timeout_ms, **bounded)


def cluster_info(settings: Settings, timeout_ms: int = 2000) -> ClusterInfo | None:
    """A metadata request; None when no broker answers in time. Asked again within the time: a
    cluster that just lost a broker still lists it for a few seconds, and a request the client
    sends there fails at once."""
    deadline = time.monotonic() + timeout_ms / 1000
    while True:
        info = _cluster_info(settings, timeout_ms)
        if info is not None or time.monotonic() + 0.2 > deadline:
            return info
        time.sleep(0.2)


#: how long a command waits for a first broker before it says none answers (kafka-python 3's own
#: clients wait out a 30 s bootstrap timeout first: `models list` with Kafka away sat that long)
ANSWER_MS = 3000


def require_broker(settings: Settings, timeout_ms: int = ANSWER_MS) -> ClusterInfo:
    """The cluster, or :class:`EnvironmentProblem` in one line when no broker answers within
    ``timeout_ms``: what a command or a worker checks before its kafka-python clients would wait
    out their own bootstrap timeout."""
    info = cluster_info(settings, timeout_ms=timeout_ms)
    if info is None:
        # kafka-python raises the same bootstrap timeout for a refused login as for a broker away
        hint = ("start one with `driftline stack up`" if settings.kafka_security_protocol == "PLAINTEXT" else
                f"is it up, and does it take {settings.kafka_security_protocol} and these DRIFTLINE_KAFKA_* credentials?")
        raise EnvironmentProblem(f"no Kafka broker answers at {settings.kafka_bootstrap} ({hint})")
    return info


def _ask(settings: Settings, timeout_ms: int, question: Callable[[KafkaAdminClient], T]) -> T | None:
    """``question`` put to the cluster by an admin client of its own; None when it finds no answer."""
    with _quiet_kafka_logs():
        try:
            admin = _admin(settings, timeout_ms)
        except KafkaError:
            return None
        try:
            return question(admin)
        except (KafkaError, OSError, ValueError, IndexError, KeyError):
            return None
        finally:
            admin.close()


def _cluster_info(settings: Settings, timeout_ms: int) -> ClusterInfo | None:
    def described(admin: KafkaAdminClient) -> ClusterInfo | None:
        cluster = admin.describe_cluster()
        version = _any_version(admin, [b["broker_id"] for b in cluster["brokers"]])
        return None if version is None else ClusterInfo(str(cluster["cluster_id"]), len(cluster["brokers"]), version)

    return _ask(settings, timeout_ms, described)


def _any_version(admin: KafkaAdminClient, brokers: list[int]) -> str | None:
    """The version the first broker that answers implies. A broker just lost is still listed for
    a few seconds (until the controller fences it): asking it alone said no broker answered, and
    a worker starting then refused to start."""
    for broker in brokers:
        try:
            return str(admin.get_broker_version_data(broker)).strip("<>").split()[-1]
        except (KafkaError, OSError):
            continue
    return None


@dataclass(frozen=True)
class Health:
    """The cluster's replication as its metadata says it: which brokers are in, what each leads,
    which partitions lack a copy in sync (under-replicated) or a leader (offline)."""

    brokers: dict[int, str]  # node id -> host:port, the brokers the controller counts as alive
    leaders: dict[int, int]  # node id -> partitions it leads
    under_replicated: tuple[str, ...]  # "topic/partition"
    offline: tuple[str, ...]


def health(settings: Settings, timeout_ms: int = 2000) -> Health | None:
    """One look at every topic's partitions; None when no broker answers in time."""
    return _ask(settings, timeout_ms, lambda admin: replication(admin.describe_cluster()["brokers"], admin.describe_topics()))


def replication(brokers: list[dict], topics: list[dict]) -> Health:  # type: ignore[type-arg]
    """:class:`Health` from a describe_cluster's brokers and a describe_topics answer.

    >>> b = [{"node_id": 1, "host": "h", "port": 1}, {"node_id": 2, "host": "h", "port": 2}]
    >>> t = [{"topic": "d.raw", "partitions": [
    ...     {"partition_index": 0, "leader_id": 1, "replica_nodes": [1, 2], "isr_nodes": [1, 2]},
    ...     {"partition_index": 1, "leader_id": 1, "replica_nodes": [2, 1], "isr_nodes": [1]},
    ...     {"partition_index": 2, "leader_id": -1, "replica_nodes": [3], "isr_nodes": []}]}]
    >>> replication(b, t)
    Health(brokers={1: 'h:1', 2: 'h:2'}, leaders={1: 2}, under_replicated=('d.raw/1', 'd.raw/2'), offline=('d.raw/2',))
    """
    alive = {int(b.get("node_id", b.get("broker_id", -1))): f"{b['host']}:{b['port']}" for b in brokers}
    leaders: dict[int, int] = {}
    under: list[str] = []
    offline: list[str] = []
    for topic in sorted(topics, key=lambda t: str(t.get("topic") or t.get("name"))):
        name = topic.get("topic") or topic.get("name")
        for part in sorted(topic["partitions"], key=lambda p: p["partition_index"]):
            where = f"{name}/{part['partition_index']}"
            leader = part["leader_id"]
            if leader < 0:
                offline.append(where)
            else:
                leaders[leader] = leaders.get(leader, 0) + 1
            if len(part["isr_nodes"]) < len(part["replica_nodes"]):
                under.append(where)
    return Health(alive, leaders, tuple(under), tuple(offline))


def mismatched(specs: Iterable[TopicSpec], partitions: dict[str, int]) -> list[str]:
    """What is wrong with topics that exist with another partition count than the spec's (the
    join needs ``features`` and ``labels`` alike; the trainer, one ``examples`` partition).

    >>> from streams.kafka.topics import TopicSpec
    >>> mismatched([TopicSpec("d.raw", 4), TopicSpec("d.examples", 1)], {"d.raw": 4, "d.examples": 3})
    ['d.examples has 3 partitions, not 1']
    """
    return [f"{spec.name} has {partitions[spec.name]} partitions, not {spec.partitions}"
            for spec in specs if spec.name in partitions and partitions[spec.name] != spec.partitions]


def ensure_topics(settings: Settings, specs: Iterable[TopicSpec], timeout_ms: int = 10000,
                  any_partitions: bool = False) -> list[str]:
    """Create the topics that do not exist yet; return the names created. Idempotent. Topics that
    exist with other partition counts are refused (:class:`EnvironmentProblem`): keys would no
    longer meet their partners; unless ``any_partitions`` (a topic read whole, such as a reference
    topic)."""
    specs = list(specs)
    deadline = time.monotonic() + max(timeout_ms / 1000, CLUSTER_CHANGE_S)
    while True:
        try:
            return _ensure_topics(settings, specs, timeout_ms, any_partitions)
        except KafkaError as exc:
            if not cluster_changing(exc) or time.monotonic() + 1 > deadline:
                raise
            time.sleep(1)


def cluster_changing(exc: KafkaError) -> bool:
    """Whether a request failed because the cluster changes under it, so that asked again (a new
    client: new metadata) it answers. A broker just lost is listed until the controller fences it
    (9 s), and a request sent there fails at once. A metadata response may name as the controller
    a broker that its broker list lacks: one starting (or fenced, on a busy machine), which
    kafka-python reports as ``UnknownBrokerIdError`` (it failed `driftline stack up --brokers 3`
    once, in CI).

    >>> from kafka.errors import NotControllerError, TopicAlreadyExistsError, UnknownBrokerIdError
    >>> cluster_changing(UnknownBrokerIdError(3)), cluster_changing(NotControllerError())
    (True, True)
    >>> cluster_changing(TopicAlreadyExistsError())
    False
    """
    return bool(getattr(exc, "retriable", False)) or isinstance(exc, UnknownBrokerIdError)


def _ensure_topics(settings: Settings, specs: list[TopicSpec], timeout_ms: int, any_partitions: bool) -> list[str]:
    created: list[str] = []
    with _quiet_kafka_logs():
        admin = _admin(settings, timeout_ms)
        try:
            existing = set(admin.list_topics())
            wanted = [spec.name for spec in specs if spec.name in existing]
            counts = {(t.get("topic") or t.get("name")): len(t["partitions"]) for t in admin.describe_topics(wanted)} if wanted else {}
            wrong = [] if any_partitions else mismatched(specs, counts)
            if wrong:
                raise EnvironmentProblem(f"{'; '.join(wrong)} (DRIFTLINE_PARTITIONS sets the event topics'; alerts, "
                                         "models and examples have one): recreate them, or use another DRIFTLINE_TOPIC_PREFIX")
            for spec in specs:
                if spec.name in existing:
                    continue
                new = NewTopic(spec.name, spec.partitions, spec.replication_factor, topic_configs=dict(spec.config))
                try:
                    admin.create_topics([new], timeout_ms=timeout_ms)
                    created.append(spec.name)
                except TopicAlreadyExistsError:
                    pass
            if created:  # the controller has them; the broker's metadata may follow a moment later
                _until_listed(admin, [spec.name for spec in specs], timeout_ms)
        finally:
            admin.close()
    return created


def _until_listed(admin: KafkaAdminClient, names: list[str], timeout_ms: int) -> None:
    """Wait until the broker lists every one of ``names`` (a client that asks right after a
    create may otherwise not find a topic yet)."""
    deadline = time.monotonic() + timeout_ms / 1000
    while True:
        missing = sorted(set(names) - set(admin.list_topics()))
        if not missing:
            return
        if time.monotonic() > deadline:
            raise EnvironmentProblem(f"topics created but not listed by the broker after {timeout_ms / 1000:.0f}s: "
                                     f"{', '.join(missing)}")
        time.sleep(0.2)


_VERSION_LINE = re.compile(r"Kafka version: (\S+)")


def version_from_log(log: Path) -> str | None:
    """The version the broker printed about itself at start-up (AppInfoParser), if logged."""
    try:
        text = log.read_text(errors="replace")
    except OSError:
        return None
    found = _VERSION_LINE.findall(text)
    return found[-1] if found else None


def namespace_topics(settings: Settings, prefix: str, timeout_ms: int = 10000) -> list[str]:
    """The topics named ``<prefix>.*`` and Faust's own ``<prefix>-*`` ones (changelogs)."""
    with _quiet_kafka_logs():
        admin = _admin(settings, timeout_ms)
        try:
            return sorted(t for t in admin.list_topics() if t.startswith((f"{prefix}.", f"{prefix}-")))
        finally:
            admin.close()


def delete_topics(settings: Settings, names: Iterable[str], timeout_ms: int = 30000) -> None:
    """Delete these topics (the broker removes them in the background)."""
    names = list(names)
    if not names:
        return
    with _quiet_kafka_logs():
        admin = _admin(settings, timeout_ms)
        try:
            admin.delete_topics(names, timeout_ms=timeout_ms)
        finally:
            admin.close()
