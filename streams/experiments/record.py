"""An experiment record: what a backtest ran (spec, source, label delay, libraries, who, when, how
long) and what it measured (every metric of ``metrics.json``, the series, the versions, the drift
positions, the dead letters). Plain values in, a JSON-ready dict out; comparing records is plain
Python too."""

from __future__ import annotations

import difflib
import getpass
import hashlib
import time
import uuid
from pathlib import Path
from typing import Any

from streams.core.spec import higher_is_better

SCHEMA_VERSION = 1


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def who() -> str:
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no user name in this environment
        return "unknown"


def make_record(*, spec_name: str, spec_text: str, spec_sha256: str, source: dict[str, Any], label_delay: str,
                summary: dict[str, Any], wall_s: float, libraries: dict[str, str], name: str = "",
                tags: list[str] | None = None, user: str | None = None, now: float | None = None) -> dict[str, Any]:
    """One run of one spec, as it is kept."""
    return {
        "id": uuid.uuid4().hex[:12], "name": name, "tags": sorted(set(tags or [])),
        "created_at": time.time() if now is None else now, "user": user if user is not None else who(),
        "spec": {"name": spec_name, "sha256": spec_sha256, "text": spec_text},
        "source": source, "label_delay": label_delay, "libraries": libraries, "wall_s": round(wall_s, 3),
        "metrics": {k: v for k, v in summary.items() if isinstance(v, int | float) and not isinstance(v, bool)},
        "metric": summary.get("metric"),
        "summary": summary, "schema_version": SCHEMA_VERSION,
    }


def matches(record: dict[str, Any], *, tag: str | None = None, spec: str | None = None, source: str | None = None) -> bool:
    """Whether a record passes the filters: a tag it has, a spec name or sha256 prefix, a source
    name (or part of it).

    >>> r = {"tags": ["nightly"], "spec": {"name": "specs/a.toml", "sha256": "ab12"}, "source": {"name": "week.csv"}}
    >>> matches(r, tag="nightly", spec="ab1", source="week"), matches(r, tag="other")
    (True, False)
    """
    if tag is not None and tag not in record.get("tags", []):
        return False
    named = record["spec"]["name"]
    if spec is not None and spec not in (named, Path(named).name) and not record["spec"]["sha256"].startswith(spec):
        return False
    return source is None or source in str(record["source"].get("name", ""))


def compare(records: list[dict[str, Any]]) -> list[tuple[str, list[Any], str]]:
    """Metrics side by side: (metric, each record's value, the difference from the first).

    >>> compare([{"metrics": {"prequential_accuracy": 0.9, "events": 10}}, {"metrics": {"prequential_accuracy": 0.95, "events": 10}}])
    [('events', [10, 10], '+0'), ('prequential_accuracy', [0.9, 0.95], '+0.0500')]
    """
    names = sorted({k for r in records for k in r["metrics"]})
    out = []
    for name in names:
        values = [r["metrics"].get(name) for r in records]
        first = values[0]
        diffs = []
        for v in values[1:]:
            if isinstance(v, int | float) and isinstance(first, int | float):
                d = v - first
                diffs.append(f"{d:+d}" if isinstance(d, int) else f"{d:+.4f}")
            else:
                diffs.append("-")
        out.append((name, values, ", ".join(diffs)))
    return out


def best(records: list[dict[str, Any]]) -> int:
    """The index of the record with the best headline metric (higher is better, but for errors).

    >>> best([{"metric": "accuracy", "metrics": {"prequential_accuracy": 0.9}}, {"metric": "accuracy", "metrics": {"prequential_accuracy": 0.95}}])
    1
    """
    metric = records[0].get("metric") or "accuracy"
    key = f"prequential_{metric}"
    lower = not higher_is_better(metric)
    values = [r["metrics"].get(key, float("inf") if lower else float("-inf")) for r in records]
    return values.index(min(values) if lower else max(values))


def spec_diff(a: dict[str, Any], b: dict[str, Any]) -> str:
    """The unified diff of two records' specs ("" when they are the same text)."""
    if a["spec"]["sha256"] == b["spec"]["sha256"]:
        return ""
    return "".join(difflib.unified_diff(a["spec"]["text"].splitlines(keepends=True), b["spec"]["text"].splitlines(keepends=True),
                                        fromfile=f"{a['id']} {a['spec']['name']}", tofile=f"{b['id']} {b['spec']['name']}"))
