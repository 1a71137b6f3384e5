"""Joining labels to the features (and the prediction) of the same event.

Scored events wait ``horizon`` seconds for their label; a label that arrives first waits
``early_grace`` seconds of event time for its event. A label whose event is unknown, or already expired, is an
``unknown_event``. A second label for an event (joined already, or with a label waiting) is a
:class:`DuplicateLabel`: the first label stands, the second is dead-lettered, never dropped. Time is the records' own time, so replay joins exactly as live did.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from streams.core.example import Example

#: the feedback agent's header on a label: ``"<partition>:<offset>"`` of the user's feedback record
SOURCE_HEADER = "driftline-source"

Where = tuple[str, int | None, int | None]


def source_of(headers: Any, topic: str, where: Where) -> Where:
    """Where the user's feedback record was, from the feedback agent's header; else ``where``.

    >>> source_of([(SOURCE_HEADER, b"3:41")], "feedback", ("labels", 0, 9))
    ('feedback', 3, 41)
    >>> source_of(None, "feedback", ("labels", 0, 9))
    ('labels', 0, 9)
    """
    pairs = headers.items() if isinstance(headers, Mapping) else (headers or ())
    for name, value in pairs:
        if name == SOURCE_HEADER:
            partition, _, offset = bytes(value).partition(b":")
            if partition.isdigit() and offset.isdigit():
                return topic, int(partition), int(offset)
    return where


_NONE = object()


class Scored(NamedTuple):
    """What the join keeps of a scored event (named tuples, this and :class:`Label`: one per
    record, made at a fifth of a frozen dataclass's cost, and smaller while they wait)."""

    x: dict[str, Any]
    ts: float
    served: Any
    served_version: int | None


class Label(NamedTuple):
    value: Any
    ts: float
    raw: bytes = b""
    where: tuple[str, int | None, int | None] = ("", None, None)
    #: the record's own header naming where it came from, read only if it is dead-lettered
    origin: Any = None
    #: the user's feedback record this label is (its topic, partition, offset): the same label
    #: written again after a crash has the same source, and is not a second label
    source: Any = None


@dataclass(frozen=True)
class DuplicateLabel:
    """A label for an event that has one already: to dead-letter as ``duplicate_label``."""

    event_id: str
    label: Label


@dataclass
class JoinCounts:
    joined: int = 0
    expired_events: int = 0
    unknown_labels: int = 0
    duplicate_labels: int = 0
    reread_labels: int = 0  # the same feedback record's label seen again (a re-write after a crash)


@dataclass
class Joiner:
    horizon: float = 3600.0
    early_grace: float = 60.0
    events: OrderedDict[str, Scored] = field(default_factory=OrderedDict)
    early: OrderedDict[str, Label] = field(default_factory=OrderedDict)
    done: OrderedDict[str, tuple[float, Any]] = field(default_factory=OrderedDict)  # joined: (when, label's source)
    counts: JoinCounts = field(default_factory=JoinCounts)
    now: float = 0.0
    events_now: float = 0.0  # the scored events' clock: early labels wait on it

    def scored(self, event_id: str, scored: Scored) -> Example | None:
        """A scored event arrives; the example if its label was already waiting."""
        self.now = max(self.now, scored.ts)
        self.events_now = max(self.events_now, scored.ts)
        label = self.early.pop(event_id, None)
        if label is not None:
            return self._join(event_id, scored, label)
        self.events[event_id] = scored
        return None

    def label(self, event_id: str, label: Label) -> Example | DuplicateLabel | None:
        """A label arrives; the example if its event is waiting, else it waits a little; a
        second label for an event is a :class:`DuplicateLabel`."""
        self.now = max(self.now, label.ts)
        scored = self.events.pop(event_id, None)
        if scored is not None:
            return self._join(event_id, scored, label)
        standing = self.done[event_id][1] if event_id in self.done else (
            self.early[event_id].source if event_id in self.early else _NONE)
        if standing is not _NONE:
            if label.source is not None and standing == label.source:
                self.counts.reread_labels += 1  # the same feedback record, written again
                return None
            self.counts.duplicate_labels += 1
            return DuplicateLabel(event_id, label)
        self.early[event_id] = label
        return None

    def _join(self, event_id: str, scored: Scored, label: Label) -> Example:
        self.counts.joined += 1
        self.done[event_id] = (self.now, label.source)
        return Example(event_id, scored.x, label.value, scored.ts, scored.served, scored.served_version)

    def expire(self) -> list[tuple[str, Label]]:
        """Forget what is past its horizon; return the labels that never found their event."""
        cutoff = self.now - self.horizon
        while self.events and next(iter(self.events.values())).ts < cutoff:
            self.events.popitem(last=False)
            self.counts.expired_events += 1
        while self.done and next(iter(self.done.values()))[0] < cutoff:
            self.done.popitem(last=False)
        unknown = []
        # a label's event happened before the label: once the events' own clock is past the
        # label's time by the grace, the event is not coming (labels may run ahead of events)
        grace = self.events_now - self.early_grace
        while self.early and next(iter(self.early.values())).ts < grace:
            unknown.append(self.early.popitem(last=False))
        self.counts.unknown_labels += len(unknown)
        return unknown


def step(next_offset: int | None, offset: int) -> str:
    """What the join does with a partition's record at ``offset`` when its state holds every
    record below ``next_offset`` (None: it holds no state for the partition).

    >>> step(10, 10), step(10, 4), step(10, 12), step(None, 0)
    ('apply', 'skip', 'rebuild', 'rebuild')

    ``skip``: the record is in the state already (Faust went back to a committed offset, or a
    rebuild read past it); ``rebuild``: records before it were read elsewhere, or never here.
    """
    if next_offset is None or offset > next_offset:
        return "rebuild"
    return "apply" if offset == next_offset else "skip"
