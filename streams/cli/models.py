"""`driftline models list | show V | promote V | rollback | diff V W | register FILE`: the registry for people.

Every change a person makes is written to Redis and to the ``models`` topic (so workers take it
into service and a rebuilt registry keeps it), with who made it and why, and raises an alert.
"""

from __future__ import annotations

import getpass
import sys
import time
import uuid
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import orjson
from rich.table import Table

from schemas import Alert, ModelVersion, encode
from streams.cli.console import output_console
from streams.errors import EnvironmentProblem, UsageError
from streams.kafka import admin, clients
from streams.outside import described
from streams.register.check import Options
from streams.settings import Settings
from streams.state import models_log
from streams.state.registry import Registry, UnknownVersion


def open_registry(settings: Settings) -> Registry:
    import redis

    registry = Registry.connect(settings)
    try:
        registry.client.ping()
    except redis.RedisError as exc:
        raise EnvironmentProblem(described(exc, settings) or f"Redis at {settings.redis_url_shown}: {exc}") from None
    admin.require_broker(settings)  # the rebuild reads the models topic
    models_log.rebuild(settings, registry)
    return registry


def _when(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def _metrics(m: dict[str, float]) -> str:
    return ", ".join(f"{k}={v:.4g}" for k, v in sorted(m.items()))


def known_record(registry: Registry, version: int) -> ModelVersion:
    try:
        return registry.record(version)
    except UnknownVersion:
        known = [v.version for v in registry.versions()]
        span = f"1..{max(known)}" if known else "none yet"
        raise UsageError(f"unknown model version {version} (versions: {span})") from None


def _public(record: ModelVersion) -> dict[str, Any]:
    return orjson.loads(encode(record))  # type: ignore[no-any-return]


def list_versions(settings: Settings, *, as_json: bool) -> int:
    registry = open_registry(settings)
    records = registry.versions()
    if as_json:
        print(orjson.dumps([_public(r) for r in records]).decode())
        return 0
    table = Table(title=f"model registry ({settings.topic_prefix})")
    for column in ("version", "status", "model", "created (UTC)", "examples", "metrics", "parent", "reason"):
        table.add_column(column)
    for r in records:
        table.add_row(str(r.version), r.status, r.model, _when(r.created_at), str(r.trained_examples), _metrics(r.metrics),
                      "-" if r.parent is None else str(r.parent), r.reason)
    output_console().print(table if records else "no model versions yet")
    return 0


def lineage(registry: Registry, record: ModelVersion) -> list[int]:
    """The version's ancestors, nearest first."""
    out: list[int] = []
    parent = record.parent
    while parent is not None and parent not in out:
        out.append(parent)
        try:
            parent = registry.record(parent).parent
        except UnknownVersion:
            break
    return out


def show(settings: Settings, version: int, *, as_json: bool) -> int:
    registry = open_registry(settings)
    record = known_record(registry, version)
    data = {**_public(record), "lineage": lineage(registry, record), "experiments": _experiments_of(settings, record.spec_sha256)}
    if as_json:
        print(orjson.dumps(data).decode())
        return 0
    console = output_console()
    for key, value in data.items():
        if key == "created_at":
            value = f"{_when(value)} UTC"
        console.print(f"[bold]{key:>18}[/bold]  {value}")
    return 0


def _experiments_of(settings: Settings, spec_sha256: str) -> list[str]:
    """The recorded backtests that ran the spec this version was trained under (what justified
    it), newest first: "<id> (<name>, <headline metric>)"."""
    from streams.experiments import log

    found = [r for r in log.read_all(settings) if r["spec"]["sha256"] == spec_sha256]
    out = []
    for r in reversed(found):
        metric = r.get("metric") or "accuracy"
        value = r["metrics"].get(f"prequential_{metric}")
        label = ", ".join(x for x in (r.get("name") or "", f"{metric} {value:.4f}" if isinstance(value, float) else "") if x)
        out.append(f"{r['id']} ({label})" if label else r["id"])
    return out


def diff(settings: Settings, v: int, w: int) -> int:
    registry = open_registry(settings)
    a, b = known_record(registry, v), known_record(registry, w)
    table = Table(title=f"version {v} vs {w}")
    for column in ("", str(v), str(w)):
        table.add_column(column)
    rows: list[tuple[str, Any, Any]] = [
        ("status", a.status, b.status), ("model", a.model, b.model), ("parent", a.parent, b.parent), ("created (UTC)", _when(a.created_at), _when(b.created_at)),
        ("examples", a.trained_examples, b.trained_examples), ("trained range", a.trained_range, b.trained_range),
        ("spec sha256", a.spec_sha256[:16], b.spec_sha256[:16] + ("" if a.spec_sha256 == b.spec_sha256 else "  (differs)")),
    ]
    for name in sorted(set(a.metrics) | set(b.metrics)):
        rows.append((name, a.metrics.get(name, "-"), b.metrics.get(name, "-")))
    for name in sorted(set(a.libraries) | set(b.libraries)):
        rows.append((name, a.libraries.get(name, "-"), b.libraries.get(name, "-")))
    for name, x, y in rows:
        table.add_row(name, str(x), str(y))
    output_console().print(table)
    return 0


def _announce(settings: Settings, changes: list[ModelVersion], kind: str, message: str, **detail: Any) -> None:
    """Alert a change the registry made (and logged to the models topic first)."""
    alert = Alert(alert_id=uuid.uuid4().hex, alert_kind=kind, severity="warning", subject=f"model {changes[0].version}",  # type: ignore[arg-type]
                  message=message, ts=time.time(), detail=detail)
    producer = clients.producer(settings)
    payload = encode(alert)
    try:
        producer.send(settings.topic("alerts"), value=payload)
        producer.flush()
    finally:
        producer.close()
    if settings.alert_webhook:  # as a worker's alerts do: the command waits a little for delivery
        from streams.worker.webhook import WebhookSender

        sender = WebhookSender(settings.alert_webhook)
        sender.submit(orjson.loads(payload))
        sender.close(timeout=10.0)


def promote(settings: Settings, version: int, *, reason: str | None) -> int:
    registry = open_registry(settings)
    record = known_record(registry, version)
    if record.status == "champion":
        raise UsageError(f"model version {version} is already the champion")
    who = f"{getpass.getuser()} (cli)"
    why = reason or f"promoted by hand by {who}"
    changes = registry.set_status(version, "champion", why, who)
    previous = next((c.version for c in changes[1:]), None)
    _announce(settings, changes, "model_promoted", f"model version {version} promoted to champion by {who}: {why}",
              version=version, previous=previous, changed_by=who)
    print(f"model version {version} is the champion" + (f" (version {previous} retired)" if previous else ""))
    return 0


def previous_champion(registry: Registry) -> int | None:
    """The champion before the current one: the most recent version retired as champion."""
    current = registry.alias("champion")
    for r in reversed(registry.versions()):
        if r.version != current and r.status == "retired" and r.reason.startswith(f"replaced by version {current} as champion"):
            return r.version
    record = registry.record(current) if current is not None else None
    return record.parent if record is not None else None


def rollback(settings: Settings, *, reason: str | None) -> int:
    registry = open_registry(settings)
    current = registry.alias("champion")
    if current is None:
        raise UsageError("there is no champion to roll back")
    target = previous_champion(registry)
    if target is None:
        raise UsageError(f"model version {current} has no earlier champion to roll back to")
    who = f"{getpass.getuser()} (cli)"
    why = reason or f"rolled back from version {current} by {who}"
    changes = registry.set_status(target, "champion", why, who)
    _announce(settings, changes, "model_rolled_back", f"model version {current} rolled back to {target} by {who}: {why}",
              version=target, rolled_back=current, changed_by=who)
    print(f"rolled back: model version {target} is the champion again (version {current} retired)")
    return 0


#: recent feature records a model to register is checked on, from the end of each partition
SAMPLE_PER_PARTITION = 100


def recent_features(settings: Settings, per_partition: int = SAMPLE_PER_PARTITION) -> list[tuple[str, dict[str, Any]]]:
    """The last feature records of the ``features`` topic: ``("<topic> partition P offset O", x)``."""
    from kafka import TopicPartition

    from schemas import Accepted, decode
    from streams.kafka.tail import tail

    topic = settings.topic("features")
    consumer = clients.consumer(settings)
    try:
        partitions = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        ends = consumer.end_offsets(tps) if tps else {}
        out = []
        for record in tail(consumer, ends, per_partition, timeout_s=10.0):
            outcome = decode("features", record.value)
            if isinstance(outcome, Accepted):
                out.append((f"{topic} partition {record.partition} offset {record.offset}", outcome.value.features))
        return out
    finally:
        consumer.close()


def register(settings: Settings, path: Path, *, status: str, reason: str | None, trust: Sequence[str] = (),
             options: Options = Options()) -> int:
    """A model trained elsewhere as a new signed version: loaded, checked on the stream's recent
    features, then published as ``status`` (challenger or candidate) with its file's sha256."""
    from streams.register.check import prepare, try_on, version_warnings
    from streams.register.load import load
    from streams.specs.load import load_spec
    from streams.state.registry import libraries

    spec = load_spec(settings.pipeline)
    loaded = load(path, trust)
    prepared = prepare(loaded, spec, options)
    samples = recent_features(settings)
    predicted = try_on(prepared, samples, spec.task != "regression")
    if loaded.ran_code:  # said once it is a model: a refusal stays one line
        print(f"note: loading {loaded.file} ran the code it holds (a pickle is code); a .skops file loads without running any",
              file=sys.stderr)
    for line in version_warnings(loaded.saved_with, libraries()):
        print(f"warning: {line}", file=sys.stderr)
    registry = open_registry(settings)
    registry.ensure()
    who = f"{getpass.getuser()} (cli)"
    why = reason or f"registered from {loaded.file} by {who}"
    source = {"file": loaded.file, "sha256": loaded.sha256, "format": loaded.form, "library": prepared.library,
              "learns": "yes" if prepared.learns else "no"}
    if prepared.expects:
        source["features"] = ",".join(prepared.expects)
    changes = registry.publish(prepared.model, parent=None, status=status, reason=why, trained_examples=0, metrics={},
                               spec_sha256=spec.digest, changed_by=who, saved_with=loaded.saved_with, source=source)
    record = changes[0]
    _announce(settings, changes, "model_published",
              f"model version {record.version} registered as {status} by {who} from {loaded.file}: {why}",
              version=record.version, status=status, changed_by=who, source=source,
              retired=[c.version for c in changes[1:]])
    common = ", ".join(f"{k!r} {n}" for k, n in predicted.most_common(3))
    print(f"checked on {len(samples)} recent feature records: it predicted {common}")
    then = {"challenger": "shadowed on every event from now; the promotion gate judges it against the champion",
            "candidate": f"serving nothing until promoted (`driftline models promote {record.version}`)"}[status]
    retired = f" (version {changes[1].version} retired)" if len(changes) > 1 else ""
    print(f"model version {record.version} registered as {status}{retired}: {record.model}, sha256 {loaded.sha256[:16]}; {then}")
    return 0
