"""The model registry on Redis: version numbers, signed artifacts, lineage, statuses, aliases.

The ``models`` topic is the log of truth, and it is written first: every change is a
model-version event there, carrying the signed artifact, and only once the broker has it is the
change written to Redis. Redis is the fast index over that log; a change that reached the topic
and not Redis (a crash, Redis refusing writes) is written again by :meth:`Registry.repair`, and an
emptied Redis is rebuilt from the topic by :meth:`Registry.restore`.

Numbers come from an atomic counter and are never reused. The counter only moves with
:data:`_INCR_IF_PRESENT`: after a ``FLUSHALL`` a publisher gets :class:`RegistryLost` instead of
number 1 again, and rebuilds first. A version's artifact, metadata and the alias that points at
it are written in one MULTI/EXEC transaction, so no reader sees a half-written version or an
alias pointing at nothing. Status changes (promote, roll back, retire) are optimistic
transactions (WATCH) over the aliases they move. An artifact is signed as its version
("model version 7"), so an old artifact replayed under a new number does not verify.
"""

from __future__ import annotations

import base64
import platform
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from importlib import metadata
from typing import Any

import orjson
import redis

from schemas import ModelVersion
from streams.failpoints import NONE as NO_FAILPOINTS
from streams.failpoints import Failpoints
from streams.settings import Settings
from streams.state.artifacts import ArtifactRefused, artifact_context, pack, unpack
from streams.state.redis_trouble import refuses_writes

#: seconds a Redis call may take before it fails (a hung Redis must not hang a worker)
REDIS_TIMEOUT_S = 5.0

#: statuses that name an alias: at most one version holds each
ALIASED = ("champion", "challenger")

_INCR_IF_PRESENT = """
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
return redis.call('INCR', KEYS[1])
"""


class RegistryLost(RuntimeError):
    """Redis holds no registry (it was emptied or is new): rebuild it from the ``models`` topic."""


class RegistryUnwritable(RuntimeError):
    """The change is on the ``models`` topic, but Redis refused it: :meth:`Registry.repair` once it
    accepts writes again. ``changes`` are the logged records."""

    def __init__(self, message: str, changes: list[ModelVersion]) -> None:
        super().__init__(message)
        self.changes = changes


#: where a registry logs its changes before Redis: returns once the broker has them all, else raises
ModelsLog = Callable[[Sequence[ModelVersion]], None]


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


def _why(exc: redis.RedisError) -> str:
    """Redis's reason, without the command it quotes (an artifact's bytes)."""
    return str(exc).rpartition("caused error: ")[2] or type(exc).__name__


def _refusal(exc: redis.RedisError) -> str:
    """Why Redis did not take a write, in the words of every registry_unwritable alert (the
    trainer's own write and a publish that reached the topic say the same)."""
    if refuses_writes(exc):
        return f"refuses writes ({_why(exc)})"
    if isinstance(exc, redis.ConnectionError | redis.TimeoutError):
        return f"does not answer ({_why(exc)})"
    return f"refused it ({_why(exc)})"


def _unlogged(records: Sequence[ModelVersion]) -> None:
    raise RuntimeError("this registry was opened read-only (no models log): it cannot change versions")


class Registry:
    def __init__(self, client: redis.Redis, prefix: str, key: bytes, log: ModelsLog = _unlogged,
                 failpoints: Failpoints = NO_FAILPOINTS) -> None:
        self.client = client
        self.keys = Keys(prefix)
        self.key = key
        self.log = log
        self.failpoints = failpoints
        self._incr = client.register_script(_INCR_IF_PRESENT)

    @classmethod
    def connect(cls, settings: Settings) -> Registry:
        """The namespace's registry, logging its changes to its ``models`` topic."""
        from streams.state.models_topic import TopicLog

        client = redis.Redis.from_url(settings.redis_connect_url, socket_timeout=REDIS_TIMEOUT_S,
                                      socket_connect_timeout=REDIS_TIMEOUT_S)
        return cls(client, settings.topic_prefix, settings.signing_key(), TopicLog(settings),
                   Failpoints.parse(settings.failpoints))

    # -- writing ----------------------------------------------------------------------------

    def is_present(self) -> bool:
        """Whether Redis holds this registry (its counter exists)."""
        return bool(self.client.exists(self.keys.counter))

    def publish(self, model: object, *, parent: int | None, status: str, reason: str, trained_examples: int,
                metrics: dict[str, float], spec_sha256: str = "", trained_range: tuple[int, int] | None = None,
                changed_by: str = "trainer", saved_with: dict[str, str] | None = None,
                source: dict[str, str] | None = None) -> list[ModelVersion]:
        """Store a new, signed version; as champion or challenger it takes the alias and the
        version holding it is retired, in the same transaction.

        Returns every changed record, the new one first, each carrying its artifact: send them to
        the ``models`` topic as they are. A model registered from a file names the file
        (``source``) and the library versions it was saved with, where known (``saved_with``:
        they override the versions running here)."""
        from streams.core.model import describe  # River's import is slow: only when publishing

        version = int(self._incr(keys=[self.keys.counter]))
        if version < 0:
            raise RegistryLost("the registry is not in Redis (emptied?): rebuild it from the models topic")
        self.failpoints.hit("registry.number_taken")
        art = pack(model, self.key, artifact_context(version))
        record = ModelVersion(version=version, parent=parent, status=status,  # type: ignore[arg-type]
                              created_at=time.time(), trained_examples=trained_examples, metrics=metrics,
                              artifact_sha256=art.sha256, reason=reason, artifact_signature=art.signature,
                              artifact=base64.b64encode(art.blob).decode(), spec_sha256=spec_sha256,
                              libraries={**libraries(), **(saved_with or {})}, trained_range=trained_range,
                              changed_by=changed_by, model=describe(model), source=dict(source or {}))
        return self._commit(record, changed_by)

    def set_status(self, version: int, status: str, reason: str, changed_by: str) -> list[ModelVersion]:
        """Move a version to ``status``; a new champion (or challenger) retires the one before.
        Returns every changed record, artifacts included, as logged to the ``models`` topic."""
        current = self._stored(version)
        if current is None:
            raise UnknownVersion(version)
        return self._commit(replace(current, status=status, reason=reason, changed_by=changed_by), changed_by)  # type: ignore[arg-type]

    def _commit(self, record: ModelVersion, changed_by: str) -> list[ModelVersion]:
        """Log a record, and the retirement of whoever held its alias, to the topic; then write
        them to Redis atomically (WATCH, then MULTI/EXEC). When the aliases moved under it, it
        goes again, and at the end logs Redis's state of any version an earlier try logged and
        the last did not change, so the topic's latest word on every version is Redis's."""
        tried: set[int] = set()
        while True:
            logged = False
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
                    self.log(changes)
                    logged = True
                    self.failpoints.hit("registry.logged")
                    tx.multi()
                    for a, v in holders.items():  # a version holds one alias at most
                        if v is not None and int(v) == record.version and a != record.status:
                            tx.delete(self.keys.alias(a))
                    for change in changes:
                        self._write(tx, change)
                    tx.execute()
                except redis.WatchError:
                    tried.update(c.version for c in changes)
                    continue
                except redis.RedisError as exc:
                    if not logged:
                        raise
                    raise RegistryUnwritable(f"model version {record.version} is on the models topic, but Redis "
                                             f"{_refusal(exc)}: it is written there when Redis accepts writes", changes) from exc
            stale = [r for v in sorted(tried - {c.version for c in changes}) if (r := self._stored(v)) is not None]
            if stale:
                self.log(stale)
            return changes

    def _write(self, tx: Any, record: ModelVersion) -> None:
        meta = replace(record, artifact=None)
        blob = base64.b64decode(record.artifact or "")
        tx.hset(self.keys.version(record.version), mapping={"artifact": blob, "meta": orjson.dumps(meta)})
        if record.status in ALIASED:
            tx.set(self.keys.alias(record.status), record.version)

    @staticmethod
    def latest(records: Iterable[ModelVersion]) -> tuple[dict[int, ModelVersion], dict[str, int]]:
        """The log's last word: each version's latest record, and who holds each alias. An alias
        goes to the version that took it last; one that lost it with no record saying so (a log
        cut short between two records of one change) is counted retired."""
        latest: dict[int, ModelVersion] = {}
        holders: dict[str, int] = {}
        for record in records:
            if not record.artifact:
                continue
            before = latest.get(record.version)
            if before is not None and before.status in ALIASED and holders.get(before.status) == record.version:
                del holders[before.status]
            latest[record.version] = record
            if record.status in ALIASED:
                previous = holders.get(record.status)
                if previous is not None and previous != record.version:
                    latest[previous] = replace(latest[previous], status="retired",  # type: ignore[arg-type]
                                               reason=f"replaced by version {record.version} as {record.status}")
                holders[record.status] = record.version
        return latest, holders

    def restore(self, records: Iterable[ModelVersion]) -> int:
        """Rebuild the registry from model-version events, the latest per version winning.
        Returns how many versions it holds; the counter continues after the highest."""
        latest, holders = self.latest(records)
        with self.client.pipeline(transaction=True) as tx:
            for a in ALIASED:
                tx.delete(self.keys.alias(a))
            for record in sorted(latest.values(), key=lambda r: r.version):
                self._write(tx, record)
            tx.set(self.keys.counter, max(latest, default=0))
            tx.execute()
        return len(latest)

    def repair(self, records: Iterable[ModelVersion]) -> list[int]:
        """Bring Redis level with the log (``records``, the whole ``models`` topic in order):
        write each version whose latest record Redis lacks or holds otherwise, and set the
        aliases as the log has them. A number taken and never logged (a publisher that died in
        between) is given back, so versions stay 1..N with no gap. Call it where no other
        publisher runs (the trainer, as it starts). Returns the versions written."""
        latest, holders = self.latest(records)
        with self.client.pipeline(transaction=True) as tx:
            while True:
                try:
                    tx.watch(self.keys.counter, *(self.keys.alias(a) for a in ALIASED))
                    fixed = [r for v, r in sorted(latest.items()) if self._differs(r, self._stored(v, tx, artifact=False))]
                    aliases = {a: tx.get(self.keys.alias(a)) for a in ALIASED}
                    top = int(tx.get(self.keys.counter) or 0)
                    highest = max([*latest, *self._held(tx, top, latest)], default=0)
                    tx.multi()
                    for record in fixed:
                        self._write(tx, record)
                    for a in ALIASED:
                        want = holders.get(a)
                        if want is None and aliases[a] is not None and int(aliases[a]) in latest:
                            tx.delete(self.keys.alias(a))
                        elif want is not None and (aliases[a] is None or int(aliases[a]) != want):
                            tx.set(self.keys.alias(a), want)
                    if top != highest:
                        tx.set(self.keys.counter, highest)
                    tx.execute()
                    return [r.version for r in fixed]
                except redis.WatchError:
                    continue

    def _held(self, client: Any, top: int, logged: dict[int, ModelVersion]) -> list[int]:
        """Versions up to ``top`` that Redis holds and the log does not (a test's or an older
        deployment's): their numbers are not given back."""
        return [v for v in range(max(logged, default=0) + 1, top + 1) if client.exists(self.keys.version(v))]

    @staticmethod
    def _differs(record: ModelVersion, stored: ModelVersion | None) -> bool:
        if stored is None:
            return True
        return (record.status, record.reason, record.changed_by, record.artifact_sha256) != \
            (stored.status, stored.reason, stored.changed_by, stored.artifact_sha256)

    def ensure(self) -> None:
        """Start an empty registry (counter at 0) if none is there; keep an existing one."""
        self.client.set(self.keys.counter, 0, nx=True)

    # -- reading ----------------------------------------------------------------------------

    def _stored(self, version: int, client: Any = None, *, artifact: bool = True) -> ModelVersion | None:
        """A version's record with its artifact (unless not asked for), or None."""
        if artifact:
            blob, meta = (client or self.client).hmget(self.keys.version(version), ["artifact", "meta"])
            if blob is None:
                return None
        else:
            blob, meta = None, (client or self.client).hget(self.keys.version(version), "meta")
        if meta is None:
            return None
        from schemas import Accepted, decode

        outcome = decode("models", meta, max_bytes=len(meta))
        if not isinstance(outcome, Accepted):
            return None
        return replace(outcome.value, artifact=None if blob is None else base64.b64encode(blob).decode())

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
        return unpack(base64.b64decode(record.artifact), record.artifact_sha256, record.artifact_signature, self.key,
                      artifact_context(record.version))

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
