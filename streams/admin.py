"""Talking to the broker as an administrator: metadata, broker version, topic creation."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from kafka import KafkaAdminClient
from kafka.admin import NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError

from streams.topics import TopicSpec


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


def _admin(bootstrap: str, timeout_ms: int) -> KafkaAdminClient:
    return KafkaAdminClient(
        bootstrap_servers=bootstrap.split(","),
        client_id="driftline-admin",
        request_timeout_ms=timeout_ms,
    )


def cluster_info(bootstrap: str, timeout_ms: int = 2000) -> ClusterInfo | None:
    """A metadata request; None when no broker answers in time."""
    with _quiet_kafka_logs():
        try:
            admin = _admin(bootstrap, timeout_ms)
        except KafkaError:
            return None
        try:
            cluster = admin.describe_cluster()
            first = cluster["brokers"][0]["broker_id"]
            version = str(admin.get_broker_version_data(first)).strip("<>").split()[-1]
            return ClusterInfo(str(cluster["cluster_id"]), len(cluster["brokers"]), version)
        except (KafkaError, OSError, ValueError, IndexError, KeyError):
            return None
        finally:
            admin.close()


def ensure_topics(bootstrap: str, specs: Iterable[TopicSpec], timeout_ms: int = 10000) -> list[str]:
    """Create the topics that do not exist yet; return the names created. Idempotent."""
    created: list[str] = []
    with _quiet_kafka_logs():
        admin = _admin(bootstrap, timeout_ms)
        try:
            existing = set(admin.list_topics())
            for spec in specs:
                if spec.name in existing:
                    continue
                new = NewTopic(spec.name, spec.partitions, 1, topic_configs=dict(spec.config))
                try:
                    admin.create_topics([new], timeout_ms=timeout_ms)
                    created.append(spec.name)
                except TopicAlreadyExistsError:
                    pass
        finally:
            admin.close()
    return created


_VERSION_LINE = re.compile(r"Kafka version: (\S+)")


def version_from_log(log: Path) -> str | None:
    """The version the broker printed about itself at start-up (AppInfoParser), if logged."""
    try:
        text = log.read_text(errors="replace")
    except OSError:
        return None
    found = _VERSION_LINE.findall(text)
    return found[-1] if found else None
