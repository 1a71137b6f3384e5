"""The model registry on Redis: version numbers, artifacts, aliases (champion, challenger).

Numbers come from an atomic counter and are never reused; a version's artifact, metadata and the
alias that points at it are written in one MULTI/EXEC transaction, so no reader sees a
half-written version or an alias pointing at nothing. (Signing, lineage, promotion and rebuild
from the ``models`` topic come with the registry issue.)
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import orjson
import redis

from schemas import ModelVersion
from streams.core.model import from_artifact, to_artifact
from streams.settings import Settings


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
    def __init__(self, client: redis.Redis, prefix: str) -> None:
        self.client = client
        self.keys = Keys(prefix)

    @classmethod
    def connect(cls, settings: Settings) -> Registry:
        return cls(redis.Redis.from_url(settings.redis_url), settings.topic_prefix)

    def publish(self, model: object, *, parent: int | None, status: str, reason: str,
                trained_examples: int, metrics: dict[str, float]) -> ModelVersion:
        """Store a new version (and point the alias named by ``status`` at it), atomically."""
        blob, sha = to_artifact(model)  # type: ignore[arg-type]
        version = int(self.client.incr(self.keys.counter))
        record = ModelVersion(version=version, parent=parent, status=status,  # type: ignore[arg-type]
                              created_at=time.time(), trained_examples=trained_examples,
                              metrics=metrics, artifact_sha256=sha, reason=reason)
        with self.client.pipeline(transaction=True) as tx:
            tx.hset(self.keys.version(version), mapping={"artifact": blob, "meta": orjson.dumps(record.to_dict())})
            if status in ("champion", "challenger"):
                tx.set(self.keys.alias(status), version)
            tx.execute()
        return record

    def meta(self, version: int) -> dict[str, object] | None:
        raw = self.client.hget(self.keys.version(version), "meta")
        return None if raw is None else orjson.loads(raw)  # type: ignore[no-any-return]

    def load(self, version: int) -> object:
        """The model of a version, its checksum verified."""
        blob, meta = self.client.hmget(self.keys.version(version), ["artifact", "meta"])
        if blob is None or meta is None:
            raise KeyError(f"model version {version} is not in the registry")
        return from_artifact(blob, orjson.loads(meta)["artifact_sha256"])

    def alias(self, name: str) -> int | None:
        raw = self.client.get(self.keys.alias(name))
        return None if raw is None else int(raw)

    def versions(self) -> list[dict[str, object]]:
        top = int(self.client.get(self.keys.counter) or 0)
        return [m for v in range(1, top + 1) if (m := self.meta(v)) is not None]
