"""Lookups: enrich an event with the record of a reference table (a compacted topic keyed by id)
as it was at the event's time.

Each reference record is a version of its key's row, valid from its time (the value's ``ts`` when
it has one, else the Kafka record's timestamp) until the next version; a record with no value (a
tombstone) deletes the row from its time. An event at time ``t`` sees, for its id, the latest
version valid at ``t`` among those read: never a record newer than the event. That rule is the
same live and in replay, so a backtest's features hold no leakage from the future, and a live
worker uses an update as soon as it has read it for every event from the update's time on.

A features record names the version each lookup used (its partition and offset), so a replay of a
live run (``--as-live``) takes the very versions live took, even one that arrived a moment late.

>>> table = ReferenceTable()
>>> table.put("c-1", Version(100.0, 0, 0, {"segment": "retail"}))
>>> table.put("c-1", Version(200.0, 0, 1, {"segment": "premium"}))
>>> [table.as_of("c-1", t).values["segment"] if table.as_of("c-1", t) else None for t in (50.0, 150.0, 250.0)]
[None, 'retail', 'premium']
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from schemas.reasons import Reason
from schemas.records import RawEvent
from streams.core.features import Unscorable
from streams.core.spec import LookupSpec, PipelineSpec


@dataclass(frozen=True)
class Version:
    """One reference record: valid from ``ts``; ``values`` None for a tombstone."""

    ts: float
    partition: int
    offset: int
    values: dict[str, Any] | None


@dataclass
class ReferenceTable:
    """One reference topic's rows, each key's versions in time order."""

    rows: dict[str, list[Version]] = field(default_factory=dict)
    records: int = 0  # versions read

    def put(self, key: str, version: Version) -> None:
        versions = self.rows.setdefault(key, [])
        if versions and versions[-1].ts <= version.ts:
            versions.append(version)
        else:  # an update stamped earlier than one read before it: in time order
            bisect.insort(versions, version, key=lambda v: (v.ts, v.partition, v.offset))
        self.records += 1

    def as_of(self, key: str, ts: float) -> Version | None:
        """The latest version of ``key`` valid at ``ts`` (None: none yet, or a tombstone)."""
        versions = self.rows.get(key)
        if not versions:
            return None
        if versions[-1].ts <= ts:
            found = versions[-1]
        else:
            i = bisect.bisect_right(versions, ts, key=lambda v: v.ts)
            found = versions[i - 1] if i else None
        return found if found is not None and found.values is not None else None

    def at(self, key: str, partition: int, offset: int) -> Version | None:
        """The version of ``key`` read from ``partition`` at ``offset`` (what a live run used)."""
        for version in self.rows.get(key, ()):
            if version.partition == partition and version.offset == offset:
                return version
        return None

    def forget_before(self, ts: float) -> None:
        """Drop the versions no event at ``ts`` or later can see: each key keeps its latest version
        valid at ``ts`` and those after it (a worker's memory stays one row per key, plus updates
        still ahead of its events)."""
        for key, versions in list(self.rows.items()):
            i = bisect.bisect_right(versions, ts, key=lambda v: v.ts)
            if i > 1:
                del versions[: i - 1]
            if len(versions) == 1 and versions[0].values is None and versions[0].ts <= ts:
                del self.rows[key]


def record_time(value: Mapping[str, Any] | None, record_ts_ms: int | None) -> float:
    """When a reference record is valid from: its ``ts`` field (epoch seconds), else the Kafka
    record's time."""
    ts = value.get("ts") if isinstance(value, Mapping) else None
    if isinstance(ts, int | float) and not isinstance(ts, bool) and math.isfinite(ts):
        return float(ts)
    return (record_ts_ms or 0) / 1000.0


def version_of(key: bytes | None, value: bytes | None, partition: int, offset: int,
               timestamp_ms: int | None) -> tuple[str, Version] | str:
    """A reference record as its key and version; or why it is left out (no key, not a JSON
    object).

    >>> version_of(b"c-1", b'{"segment": "retail", "ts": 5.0}', 0, 7, 9000)
    ('c-1', Version(ts=5.0, partition=0, offset=7, values={'segment': 'retail', 'ts': 5.0}))
    >>> version_of(b"c-1", None, 0, 8, 9000)[1].values is None, version_of(None, b"{}", 0, 9, 0)
    (True, 'no key')
    """
    if key is None:
        return "no key"
    values: Any = None
    if value is not None:
        try:
            values = orjson.loads(value)
        except orjson.JSONDecodeError:
            return "not a JSON object"
        if not isinstance(values, dict):
            return "not a JSON object"
    return key.decode("utf-8", "replace"), Version(record_time(values, timestamp_ms), partition, offset, values)


@dataclass
class Lookups:
    """Every reference table a spec's lookups read, by topic; and, replaying a live run, the
    versions each event used live (``pinned``: ``{lookup name: (partition, offset) or None}``)."""

    tables: dict[str, ReferenceTable] = field(default_factory=dict)
    pinned: Mapping[str, tuple[int, int] | None] | None = None

    def table(self, topic: str) -> ReferenceTable:
        return self.tables.setdefault(topic, ReferenceTable())

    def enrich(self, spec: PipelineSpec, event: RawEvent, ts: float, x: dict[str, Any]) -> dict[str, list[int] | None]:
        """Each lookup's fields into ``x``; what each used, ``{name: [partition, offset]}`` (None:
        a miss filled from the default). A miss of a lookup that dead-letters raises Unscorable."""
        used: dict[str, list[int] | None] = {}
        for lookup in spec.lookups:
            key = _key_of(lookup, event)
            version = None
            if key is not None:
                table = self.table(lookup.topic)
                if self.pinned is not None:
                    where = self.pinned.get(lookup.name)
                    version = table.at(key, *where) if where is not None else None
                else:
                    version = table.as_of(key, ts)
            if version is None:
                if lookup.on_miss == "deadletter":
                    what = f"{lookup.key} {key!r}" if key is not None else f"no {lookup.key}"
                    raise Unscorable(Reason.LOOKUP_MISS, f"lookup {lookup.name!r}: {lookup.topic} has no record for {what} "
                                                         "at or before the event's time")
                values: Mapping[str, Any] = dict(lookup.default)
                used[lookup.name] = None
            else:
                values = version.values or {}
                used[lookup.name] = [version.partition, version.offset]
            defaults = dict(lookup.default)
            for name in lookup.fields:
                value = values.get(name, defaults.get(name))
                if value is not None:
                    x[lookup.prefix + name] = value
        return used


def _key_of(lookup: LookupSpec, event: RawEvent) -> str | None:
    if lookup.key == "entity_id":
        return event.entity_id
    value = event.data.get(lookup.key)
    return None if value is None else str(value)
