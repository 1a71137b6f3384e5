"""The broker watch: every ``DRIFTLINE_BROKER_WATCH_S`` seconds a worker asks the broker how many
copies of the pipeline's partitions are in sync, how full its log directories are
(DescribeLogDirs) and where the consumer groups outside the pipeline stand on its outputs
(``alerts``, ``predictions``, ``deadletter``), sets the gauges ``driftline_broker_disk_free_ratio``
and ``driftline_subscriber_lag``, and raises the alerts :class:`streams.core.watch.Watch` finds
(``kafka_unwritable`` / ``kafka_writable``, ``broker_disk_low`` / ``broker_disk_recovered``,
``subscriber_stalled`` / ``subscriber_recovered``). The copies are asked first and on their own:
with brokers down, the other questions may find no answer.

Every worker sets the gauges; only the one holding partition 0 of its first source topic raises
the alerts, so a group of workers says each thing once (a worker that takes that partition over
says again what still stands). The questions run on a thread with
kafka-python's blocking admin client, off the event loop; a broker that does not answer costs a
debug line and the next tick asks again (the pipeline says so itself, louder).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition

from streams.core.watch import Copies, Finding, LogDir, Subscription, Watch
from streams.kafka import clients
from streams.kafka.groups import committed_offsets, group_states
from streams.kafka.topics import durability, topic_specs
from streams.settings import Settings
from streams.worker import metrics

log = logging.getLogger(__name__)

#: the outputs people subscribe to
WATCHED = ("alerts", "predictions", "deadletter")
TIMEOUT_MS = 10_000


def log_dirs(answers: Iterable[Mapping[str, Any]]) -> list[LogDir]:
    """Log directories from kafka-python's ``describe_log_dirs`` answer; those in error, and
    those whose broker does not tell their size (before Kafka 3.3), are left out.

    >>> log_dirs([{"broker": 1, "log_dirs": [{"error_code": 0, "log_dir": "/d", "total_bytes": 10, "usable_bytes": 4},
    ...                                      {"error_code": 0, "log_dir": "/e", "total_bytes": -1, "usable_bytes": -1}]}])
    [LogDir(broker=1, path='/d', total_bytes=10, usable_bytes=4)]
    """
    out = []
    for broker in answers:
        for d in broker.get("log_dirs", ()):
            total, usable = int(d.get("total_bytes", -1)), int(d.get("usable_bytes", -1))
            if d.get("error_code", 0) == 0 and total > 0 and usable >= 0:
                out.append(LogDir(int(broker["broker"]), str(d["log_dir"]), total, usable))
    return out


def subscriptions(committed: Mapping[str, Mapping[TopicPartition, int]], ends: Mapping[TopicPartition, int],
                  own: Iterable[str]) -> list[Subscription]:
    """Where each group that is not the pipeline's stands on each watched topic it committed on.

    >>> tp = TopicPartition("d.alerts", 0)
    >>> subscriptions({"ops": {tp: 3}, "d-worker": {tp: 9}}, {tp: 9}, ["d-worker"])
    [Subscription(group='ops', topic='d.alerts', committed=3, end=9)]
    """
    mine = set(own)
    out = []
    for group in sorted(set(committed) - mine):
        by_topic: dict[str, list[tuple[int, int]]] = {}
        for tp, offset in committed[group].items():
            if tp in ends:
                by_topic.setdefault(tp.topic, []).append((offset, ends[tp]))
        for topic, pairs in sorted(by_topic.items()):
            out.append(Subscription(group, topic, sum(c for c, _ in pairs), sum(e for _, e in pairs)))
    return out


class BrokerWatch:
    """One worker's watch: its clients (made on first use, on the watch's thread) and its state."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.watch = Watch(min_free=settings.broker_disk_min_free_pct / 100.0, stall_s=float(settings.subscriber_stall_s))
        self._admin: KafkaAdminClient | None = None
        self._consumer: KafkaConsumer | None = None
        self.shown: dict[str, set[tuple[str, ...]]] = {"disk": set(), "lag": set()}

    def copies(self) -> list[Copies]:
        """Each of the pipeline's partitions' copies in sync (blocking: run it on a thread); a
        client of its own each time, as one that knew a broker since lost keeps asking it."""
        needed = dict(durability(self.settings.replication_factor)).get("min.insync.replicas", "1")
        names = [spec.name for spec in topic_specs(self.settings)]
        admin = clients.admin(self.settings, request_timeout_ms=TIMEOUT_MS)
        try:
            topics = admin.describe_topics(names)
        finally:
            admin.close()
        return [Copies(str(t.get("topic") or t.get("name")), int(p["partition_index"]), len(p["isr_nodes"]), int(needed))
                for t in topics for p in t["partitions"]]

    def ask(self) -> tuple[list[LogDir], list[Subscription]]:
        """The broker's answers (blocking: run it on a thread)."""
        if self._admin is None:
            self._admin = clients.admin(self.settings, request_timeout_ms=TIMEOUT_MS)
            self._consumer = clients.consumer(self.settings, request_timeout_ms=TIMEOUT_MS + 1000)
        assert self._consumer is not None
        dirs = log_dirs(self._admin.describe_log_dirs(topic_partitions={}))
        topics = {self.settings.topic(name) for name in WATCHED}
        committed = committed_offsets(self._admin, group_states(self._admin))
        tps = sorted({tp for offsets in committed.values() for tp in offsets if tp.topic in topics})
        ends = self._consumer.end_offsets(tps, timeout_ms=TIMEOUT_MS) if tps else {}
        return dirs, subscriptions(committed, ends, [f"{self.settings.topic_prefix}-worker"])

    def gauges(self, dirs: list[LogDir], subs: list[Subscription]) -> None:
        current = {"disk": {(str(d.broker), d.path) for d in dirs}, "lag": {(s.group, s.topic) for s in subs}}
        for d in dirs:
            metrics.BROKER_DISK_FREE.labels(str(d.broker), d.path).set(d.free)
        for s in subs:
            metrics.SUBSCRIBER_LAG.labels(s.group, s.topic).set(s.lag)
        for name, gauge in (("disk", metrics.BROKER_DISK_FREE), ("lag", metrics.SUBSCRIBER_LAG)):
            for labels in self.shown[name] - current[name]:
                gauge.remove(*labels)
        self.shown = current

    def forget(self) -> None:
        """Drop what the watch found so far."""
        self.watch = Watch(min_free=self.watch.min_free, stall_s=self.watch.stall_s)

    def findings(self, dirs: list[LogDir], subs: list[Subscription], now: float) -> list[Finding]:
        return self.watch.disks(dirs) + self.watch.subscribers(subs, now)

    def close(self) -> None:
        for client in (self._consumer, self._admin):
            if client is not None:
                client.close()
        self._admin = self._consumer = None


def register(app: Any, settings: Settings, first_topic: str | None,
             alert: Callable[[Finding], Awaitable[None]]) -> BrokerWatch | None:
    """Watch the broker every ``settings.broker_watch_s`` seconds; ``alert`` raises a finding, in
    the worker holding partition 0 of ``first_topic`` (None: no source topic, never)."""
    if settings.broker_watch_s <= 0:
        return None
    watcher = BrokerWatch(settings)

    @app.timer(interval=float(settings.broker_watch_s), name="broker-watch")
    async def watch_broker() -> None:
        found: list[Finding] = []
        try:
            found += watcher.watch.writes(await asyncio.to_thread(watcher.copies))
        except Exception as exc:  # noqa: BLE001 - not answering now: the next tick asks again
            log.debug("broker watch: no copies this time: %r", exc)
        try:
            dirs, subs = await asyncio.to_thread(watcher.ask)
        except Exception as exc:  # noqa: BLE001 - not answering now: the next tick asks again
            log.debug("broker watch: no answer this time: %r", exc)
            await asyncio.to_thread(watcher.close)
        else:
            watcher.gauges(dirs, subs)
            found += watcher.findings(dirs, subs, time.time())
        speaks = first_topic is not None and any(
            tp.topic == first_topic and tp.partition == 0 for tp in app.consumer.assignment())
        if not speaks:  # another worker says it; were this one to take over, it says what stands then
            watcher.forget()
            return
        for finding in found:
            log.warning("%s: %s", finding.kind, finding.message)
            await alert(finding)

    async def close(app: Any, **_: Any) -> None:
        await asyncio.to_thread(watcher.close)

    app.on_before_shutdown.connect(close)
    return watcher
