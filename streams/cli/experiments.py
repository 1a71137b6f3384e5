"""`driftline experiments`: the recorded backtests, listed, shown, compared and reported on."""

from __future__ import annotations

import datetime as dt
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import orjson
from rich.table import Table

from streams.cli.console import output_console
from streams.core.replay import ReplayResult
from streams.errors import UsageError
from streams.experiments import log
from streams.experiments.record import best, compare, matches, spec_diff
from streams.settings import Settings


def _when(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, tz=dt.UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def _headline(record: dict[str, Any]) -> str:
    metric = record.get("metric") or "accuracy"
    value = record["metrics"].get(f"prequential_{metric}")
    return f"{metric} {value:.4f}" if isinstance(value, float) else "-"


def _records(settings: Settings, ids: list[str]) -> list[dict[str, Any]]:
    records = log.read_all(settings)
    out = []
    for wanted in ids:
        found = log.find(records, wanted)
        if found is None:
            raise UsageError(f"no experiment {wanted!r} (driftline experiments list shows them)")
        out.append(found)
    return out


def list_runs(settings: Settings, *, tag: str | None, spec: str | None, source: str | None, as_json: bool) -> int:
    records = [r for r in log.read_all(settings) if matches(r, tag=tag, spec=spec, source=source)]
    if as_json:
        print(orjson.dumps([{k: v for k, v in r.items() if k != "summary"} for r in records]).decode())
        return 0
    table = Table(title=f"experiments ({len(records)})")
    for column in ("id", "when", "name", "tags", "spec", "source", "events", "prequential", "by"):
        table.add_column(column)
    for r in records:
        table.add_row(r["id"], _when(r["created_at"]), r.get("name") or "", ",".join(r.get("tags", [])),
                      f"{r['spec']['name']} {r['spec']['sha256'][:8]}", str(r["source"].get("name", "")),
                      f"{r['metrics'].get('events', 0):,}", _headline(r), r.get("user", ""))
    output_console().print(table)
    return 0


def show(settings: Settings, wanted: str, *, as_json: bool) -> int:
    (r,) = _records(settings, [wanted])
    if as_json:
        print(orjson.dumps(r, option=orjson.OPT_INDENT_2).decode())
        return 0
    print(f"experiment {r['id']}" + (f" ({r['name']})" if r.get("name") else ""))
    print(f"  run by {r.get('user')} at {_when(r['created_at'])}, {r['wall_s']:.1f} s; tags: {', '.join(r.get('tags', [])) or 'none'}")
    print(f"  spec: {r['spec']['name']} (sha256 {r['spec']['sha256']})")
    source = r["source"]
    print(f"  source: {source.get('name')}" + (f" (sha256 {source['sha256']})" if source.get("sha256") else "")
          + (f", offsets {source.get('from')} to {source.get('to')}" if source.get("kind") == "topic" else "")
          + f"; labels {r['label_delay']}")
    print("  libraries: " + ", ".join(f"{k} {v}" for k, v in sorted(r.get("libraries", {}).items())))
    for name, value in sorted(r["metrics"].items()):
        print(f"  {name}: {value:.4f}" if isinstance(value, float) else f"  {name}: {value:,}")
    summary = r.get("summary", {})
    drifts = [a["at_event"] for a in summary.get("alerts", []) if a.get("kind") == "concept_drift"]
    print(f"  concept drift at: {', '.join(f'{d:,}' for d in drifts) or 'none'}")
    print(f"  versions: {len({v['version'] for v in summary.get('versions', [])})}")
    dead = summary.get("deadletters") or {}
    print(f"  dead letters: {', '.join(f'{k} {v}' for k, v in sorted(dead.items())) or 'none'}")
    return 0


def compare_runs(settings: Settings, ids: list[str]) -> int:
    if len(ids) < 2:
        raise UsageError("experiments compare takes two experiment ids or more")
    records = _records(settings, ids)
    top = best(records)
    table = Table(title="experiments compared (differences from the first; * the best prequential metric)")
    table.add_column("metric")
    for n, r in enumerate(records):
        table.add_column(f"{r['id']}{' *' if n == top else ''}\n{r['spec']['name']}")
    table.add_column("difference")
    for name, values, diff in compare(records):
        table.add_row(name, *(f"{v:.4f}" if isinstance(v, float) else f"{v:,}" if isinstance(v, int) else "-" for v in values), diff)
    output_console().print(table)
    for other in records[1:]:
        diff = spec_diff(records[0], other)
        print(diff if diff else f"specs of {records[0]['id']} and {other['id']}: the same text")
    return 0


def as_result(record: dict[str, Any]) -> ReplayResult:
    """A recorded run, back as a result the report draws (its series, alerts, versions)."""
    s = record.get("summary", {})
    metric = record.get("metric") or "accuracy"
    served = float(s.get("served_accuracy") or 0.0)
    return ReplayResult(events=int(s.get("events", 0)), examples=int(s.get("examples", 0)),
                        served_correct=round(served * 1_000_000), served_labelled=1_000_000 if served else 0,
                        deadletters=Counter(s.get("deadletters") or {}), alerts=list(s.get("alerts", [])),
                        versions=list(s.get("versions", [])), timeline=[tuple(t) for t in s.get("timeline", [])],  # type: ignore[misc]
                        prequential=float(s.get(f"prequential_{metric}", 0.0)), metric=metric,
                        clock=[(int(p), float(t)) for p, t in s.get("clock", [])],
                        timeline_events=[int(n) for n in s.get("timeline_events", [])])


def report(settings: Settings, ids: list[str], out: Path) -> int:
    from streams.replay.report import write_report

    records = _records(settings, ids)
    results = [(f"{r['id']} {r['spec']['name']}" + (f" ({r['name']})" if r.get("name") else ""), as_result(r)) for r in records]
    sources = sorted({str(r["source"].get("name")) for r in records})
    path = write_report(out, ", ".join(sources), results, records=records)
    print(f"report: {path}", file=sys.stderr)
    return 0
