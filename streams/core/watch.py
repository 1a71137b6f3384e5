"""What the broker watch concludes from what the broker says about itself.

Three things can go wrong outside the pipeline that it cannot see by itself:
- a broker's log directory runs close to full: the broker stops when it is full, and the
  pipeline with it;
- partitions have fewer copies in sync than ``min.insync.replicas`` (brokers of a cluster are
  down): the brokers refuse every write to them (``NotEnoughReplicas``) and the pipeline waits;
- a subscriber to one of the pipeline's outputs (``alerts``, ``predictions``, ``deadletter``)
  stops reading: Kafka never lets it slow the pipeline down, so nobody notices until the
  retention deletes what it never read.

:class:`Watch` turns the broker's answers (plain values) into :class:`Finding` s, on edges only:
one when a condition starts, one when it ends, none while it lasts.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

#: a low disk is called recovered once its free share is back above the threshold by this factor
RECOVER_FACTOR = 1.2


@dataclass(frozen=True)
class LogDir:
    """One log directory of one broker: its size and what is left of it."""

    broker: int
    path: str
    total_bytes: int
    usable_bytes: int

    @property
    def free(self) -> float:
        """The share of the directory's disk still usable (1.0 when the broker does not say).

        >>> LogDir(1, "/data", 1000, 50).free
        0.05
        """
        return self.usable_bytes / self.total_bytes if self.total_bytes > 0 else 1.0


@dataclass(frozen=True)
class Subscription:
    """Where a consumer group that is not the pipeline's stands on one of its output topics
    (offsets summed over the partitions it has committed)."""

    group: str
    topic: str
    committed: int
    end: int

    @property
    def lag(self) -> int:
        return max(0, self.end - self.committed)


@dataclass(frozen=True)
class Copies:
    """One partition's copies in sync, and how many a write needs (``min.insync.replicas``)."""

    topic: str
    partition: int
    in_sync: int
    min_in_sync: int


@dataclass(frozen=True)
class Finding:
    """An alert to raise: its kind, severity, subject, sentence and detail."""

    kind: str
    severity: str
    subject: str
    message: str
    detail: dict[str, Any] = field(default_factory=dict)


def _size(n: int) -> str:
    """
    >>> _size(512), _size(3 * 1024 ** 3)
    ('512 B', '3.0 GiB')
    """
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{n} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"  # pragma: no cover


@dataclass
class Watch:
    """Edges of two conditions: a log directory with less than ``min_free`` of its disk usable,
    and a subscriber group with records to read whose committed offsets have not moved for
    ``stall_s`` seconds."""

    min_free: float
    stall_s: float
    low: set[tuple[int, str]] = field(default_factory=set)
    #: (group, topic) -> (committed, since when it has been at that offset, with records to read)
    positions: dict[tuple[str, str], tuple[int, float]] = field(default_factory=dict)
    stalled: set[tuple[str, str]] = field(default_factory=set)
    refused: bool = False  # partitions below min.insync.replicas, said

    def writes(self, parts: Iterable[Copies]) -> list[Finding]:
        """A finding when partitions fall below ``min.insync.replicas`` (writes refused), and one
        when none is any longer.

        >>> w = Watch(0.1, 60)
        >>> [f.kind for f in w.writes([Copies("d.raw", 0, 1, 2), Copies("d.raw", 1, 3, 2)])]
        ['kafka_unwritable']
        >>> w.writes([Copies("d.raw", 0, 1, 2)]), [f.kind for f in w.writes([Copies("d.raw", 0, 2, 2)])]
        ([], ['kafka_writable'])
        """
        short = sorted(((p.topic, p.partition, p.in_sync, p.min_in_sync) for p in parts if p.in_sync < p.min_in_sync))
        if short and not self.refused:
            self.refused = True
            topic, partition, in_sync, needed = short[0]
            named = [f"{t}/{n}" for t, n, _, _ in short]
            return [Finding("kafka_unwritable", "critical", "kafka",
                            f"{len(short)} partitions have fewer copies in sync than min.insync.replicas ({topic}/"
                            f"{partition}: {in_sync} of the {needed} a write needs): the brokers refuse writes to them "
                            "(NotEnoughReplicas); the pipeline waits and loses nothing. Bring the brokers back",
                            {"partitions": named[:20], "count": len(short), "min_insync_replicas": needed})]
        if not short and self.refused:
            self.refused = False
            return [Finding("kafka_writable", "info", "kafka",
                            "every partition has min.insync.replicas copies in sync again: writes go on", {})]
        return []

    def disks(self, dirs: Iterable[LogDir]) -> list[Finding]:
        """Findings for log directories that went below ``min_free``, or came back above it."""
        out = []
        for d in dirs:
            key = (d.broker, d.path)
            detail = {"broker": d.broker, "log_dir": d.path, "usable_bytes": d.usable_bytes,
                      "total_bytes": d.total_bytes, "free": round(d.free, 4), "min_free": self.min_free}
            if key not in self.low and d.free < self.min_free:
                self.low.add(key)
                out.append(Finding("broker_disk_low", "critical", f"broker {d.broker}",
                                   f"broker {d.broker}'s log directory {d.path} has {_size(d.usable_bytes)} of "
                                   f"{_size(d.total_bytes)} left ({d.free:.1%}, below {self.min_free:.0%}): "
                                   "the broker stops when it is full; free space or add disk", detail))
            elif key in self.low and d.free >= min(1.0, self.min_free * RECOVER_FACTOR):
                self.low.discard(key)
                out.append(Finding("broker_disk_recovered", "info", f"broker {d.broker}",
                                   f"broker {d.broker}'s log directory {d.path} has {d.free:.1%} of its disk "
                                   "usable again", detail))
        return out

    def subscribers(self, subs: Iterable[Subscription], now: float) -> list[Finding]:
        """Findings for subscribers that stopped reading with records to read, or read again."""
        out = []
        seen = set()
        for sub in subs:
            key = (sub.group, sub.topic)
            seen.add(key)
            before = self.positions.get(key)
            if before is None or before[0] != sub.committed or sub.lag == 0:
                self.positions[key] = (sub.committed, now)
            since = self.positions[key][1]
            detail = {"group": sub.group, "topic": sub.topic, "lag": sub.lag, "committed": sub.committed,
                      "stalled_s": round(now - since, 1)}
            if key not in self.stalled and sub.lag > 0 and now - since >= self.stall_s:
                self.stalled.add(key)
                out.append(Finding("subscriber_stalled", "warning", sub.group,
                                   f"consumer group {sub.group} has not read {sub.topic} for {now - since:.0f}s "
                                   f"with {sub.lag} records waiting: what the retention deletes first, it never reads",
                                   detail))
            elif key in self.stalled and self.positions[key][1] == now:
                self.stalled.discard(key)
                out.append(Finding("subscriber_recovered", "info", sub.group,
                                   f"consumer group {sub.group} reads {sub.topic} again ({sub.lag} records behind)",
                                   detail))
        for key in set(self.positions) - seen:  # the group is gone (deleted, or its offsets expired)
            del self.positions[key]
            self.stalled.discard(key)
        return out
