"""The model registry on Redis: version numbers, signed artifacts, lineage, statuses, aliases.

Numbers come from an atomic counter and are never reused. A version's artifact, metadata and the
alias that points at it are written in one MULTI/EXEC transaction, so no reader sees a
half-written version or an alias pointing at nothing. Status changes (promote, roll back,
retire) are optimistic transactions (WATCH) over the aliases they move.

The ``models`` topic is the log of truth: every change is a model-version event there carrying
the signed artifact, so :meth:`Registry.restore` rebuilds an emptied Redis from it. The counter
only moves with :data:`_INCR_IF_PRESENT`: after a ``FLUSHALL`` a publisher gets
:class:`RegistryLost` instead of number 1 again, and rebuilds first.
"""

from __future__ import annotations

import base64
import platform
import time
from collections.abc import Iterable
from dataclasses import dataclass, replace
from importlib import metadata
from typing import Any

import orjson
import redis

from schemas import ModelVersion
from streams.settings import Settings
from streams.state.artifacts import ArtifactRefused, pack, unpack

#: statuses that name an alias: at most one version holds each
ALIASED = ("champion", "challenger")

_INCR_IF_PRESENT = """
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
return redis.call('INCR', KEYS[1])
"""


class RegistryLost(RuntimeError):
    """Redis holds no registry (it was emptied or is new): rebuild it from the ``models`` topic."""


class UnknownVersion(KeyError):
    """No such model version in the registry."""

    def __str__(self) -> str:
        return f"model version {self.args[0]} is not in the registry"


def libraries() -> dict[str, str]:
    """The versions of what a model was trained with."""
    out = {"python": platform.python_version()}
    for name in ("river", "scikit-learn", "driftline"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return out


@dataclass(frozen=True)
class Keys:
    prefix: str

    @property
    def counter(self) -> str:
        return f"{self.prefix}:registry:next_version"

    def version(self, v: int) -> str:
        return f"{self.prefix}:registry:version:{v}"

    def alias(self, name: str) -> str:
        return f"{self.prefix}:registry:alias:{name}"


class Registry:
    def __init__(self, client: redis.Redis, prefix: str, key: bytes) -> None:
        self.client = client
        self.keys = Keys(prefix)
        self.key = key
        self._incr = client.register_script(_INCR_IF_PRESENT)

    @classmethod
    def connect(cls, settings: Settings) -> Registry:
        return cls(redis.Redis.from_url(settings.redis_url), settings.topic_prefix, settings.signing_key())

    # -- writing ----------------------------------------------------------------------------

    def is_present(self) -> bool:
        """Whether Redis holds this registry (its counter exists)."""
        return bool(self.client.exists(self.keys.counter))

    def publish(self, model: object, *, parent: int | None, status: str, reason: str, trained_examples: int,
                metrics: dict[str, float], spec_sha256: str = "", trained_range: tuple[int, int] | None = None,
                changed_by: str = "trainer") -> list[ModelVersion]:
        """Store a new, signed version; as champion or challenger it takes the alias and the
        version holding it is retired, in the same transaction.

        Returns every changed record, the new one first, each carrying its artifact: send them to
        the ``models`` topic as they are."""
        from streams.core.model import describe  # River's import is slow: only when publishing

        art = pack(model, self.key)
        version = int(self._incr(keys=[self.keys.counter]))
        if version < 0:
            raise RegistryLost("the registry is not in Redis (emptied?): rebuild it from the models topic")
        record = ModelVersion(version=version, parent=parent, status=status,  # type: ignore[arg-type]
                              created_at=time.time(), trained_examples=trained_examples, metrics=metrics,
                              artifact_sha256=art.sha256, reason=reason, artifact_signature=art.signature,
                              artifact=base64.b64encode(art.blob).decode(), spec_sha256=spec_sha256,
                              libraries=libraries(), trained_range=trained_range, changed_by=changed_by,
                              model=describe(model))
        return self._commit(record, changed_by)

    def set_status(self, version: int, status: str, reason: str, changed_by: str) -> list[ModelVersion]:
        """Move a version to ``status``; a new champion (or challenger) retires the one before.
        Returns every changed record, artifacts included, for the ``models`` topic."""
        current = self._stored(version)
        if current is None:
            raise UnknownVersion(version)
        return self._commit(replace(current, status=status, reason=reason, changed_by=changed_by), changed_by)  # type: ignore[arg-type]

    def _commit(self, record: ModelVersion, changed_by: str) -> list[ModelVersion]:
        """Write a record and retire whoever held its alias, atomically (WATCH, then MULTI/EXEC)."""
        while True:
            with self.client.pipeline(transaction=True) as tx:
                try:
                    tx.watch(*(self.keys.alias(a) for a in ALIASED))
                    holders = {a: tx.get(self.keys.alias(a)) for a in ALIASED}
                    changes = [record]
                    holder = holders.get(record.status)
                    if holder is not None and int(holder) != record.version:
                        old = self._stored(int(holder), tx)
                        if old is not None:
                            changes.append(replace(old, status="retired", changed_by=changed_by,  # type: ignore[arg-type]
                                                   reason=f"replaced by version {record.version} as {record.status}"))
                    tx.multi()
                    for a, v in holders.items():  # a version holds one alias at most
                        if v is not None and int(v) == record.version and a != record.status:
                            tx.delete(self.keys.alias(a))
                    for change in changes:
                        self._write(tx, change, base64.b64decode(change.artifact or ""))
                    tx.execute()
                    return changes
                except redis.WatchError:
                    continue

    def _write(self, tx: Any, record: ModelVersion, blob: bytes) -> None:
        meta = replace(record, artifact=None)
        tx.hset(self.keys.version(record.version), mapping={"artifact": blob, "meta": orjson.dumps(meta)})
        if record.status in ALIASED:
            tx.set(self.keys.alias(record.status), record.version)

    def restore(self, records: Iterable[ModelVersion]) -> int:
        """Rebuild the registry from model-version events, the latest per version winning.
        Returns how many versions it holds; the counter continues after the highest."""
        latest: dict[int, ModelVersion] = {}
        for record in records:
            if record.artifact:
                latest[record.version] = record
        with self.client.pipeline(transaction=True) as tx:
            for record in sorted(latest.values(), key=lambda r: r.version):
                self._write(tx, record, base64.b64decode(record.artifact or ""))
            tx.set(self.keys.counter, max(latest, default=0), nx=False)
            tx.execute()
        return len(latest)

    def ensure(self) -> None:
        """Start an empty registry (counter at 0) if none is there; keep an existing one."""
        self.client.set(self.keys.counter, 0, nx=True)

    # -- reading ----------------------------------------------------------------------------

    def _stored(self, version: int, client: Any = None) -> ModelVersion | None:
        """A version's record with its artifact, or None."""
        blob, meta = (client or self.client).hmget(self.keys.version(version), ["artifact", "meta"])
        if blob is None or meta is None:
            return None
        from schemas import Accepted, decode

        outcome = decode("models", meta, max_bytes=len(meta))
        if not isinstance(outcome, Accepted):
            return None
        return replace(outcome.value, artifact=base64.b64encode(blob).decode())

    def record(self, version: int) -> ModelVersion:
        """A version's metadata (without the artifact)."""
        stored = self._stored(version)
        if stored is None:
            raise UnknownVersion(version)
        return replace(stored, artifact=None)

    def load(self, version: int) -> object:
        """The model of a version, its checksum and signature verified (else ArtifactRefused)."""
        stored = self._stored(version)
        if stored is None:
            raise UnknownVersion(version)
        return self.load_record(stored)

    def load_record(self, record: ModelVersion) -> object:
        """The model an event carries, verified the same way."""
        if not record.artifact:
            raise ArtifactRefused(f"model version {record.version} carries no artifact")
        return unpack(base64.b64decode(record.artifact), record.artifact_sha256, record.artifact_signature, self.key)

    def alias(self, name: str) -> int | None:
        raw = self.client.get(self.keys.alias(name))
        return None if raw is None else int(raw)

    def versions(self) -> list[ModelVersion]:
        """Every version's metadata, oldest first."""
        top = int(self.client.get(self.keys.counter) or 0)
        out = []
        for v in range(1, top + 1):
            stored = self._stored(v)
            if stored is not None:
                out.append(replace(stored, artifact=None))
        return out
