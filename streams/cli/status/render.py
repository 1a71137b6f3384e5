"""What ``driftline status`` prints: the gathered :class:`~streams.cli.status.model.Status`, with rich."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from streams.cli.alerts import format_alert
from streams.cli.console import output_console

if TYPE_CHECKING:
    from streams.cli.status.model import ModelSummary, Status


def down_line(status: Status) -> str:
    whys = [(c, _why_down(c.detail)) for c in status.stack if not c.healthy]
    down = ", ".join(f"{c.name} {c.address} {why}" for c, why in whys)
    if any(why.startswith("refused the credentials") for _, why in whys):
        return f"the stack does not let driftline in ({down}): set DRIFTLINE_REDIS_URL with its password"
    return f"the stack is down ({down}): start it with `driftline stack up`"


def _why_down(detail: str) -> str:
    """"not answering", or what the component said when it did answer (Redis refusing the
    credentials is a setting to mend, not a stack to start)."""
    return "not answering" if detail.startswith(("no answer", "nothing listens")) else detail


def as_json(status: Status) -> str:
    return json.dumps(asdict(status), indent=2, default=str)


def _when(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC") if ts else "-"


def _model_line(role: str, m: ModelSummary | None) -> str:
    if m is None:
        return f"{role:10} none"
    metrics = ", ".join(f"{k}={v:.4g}" for k, v in sorted(m.metrics.items()))
    return f"{role:10} v{m.version}  {m.model}  created {_when(m.created_at)}  {m.trained_examples} examples  {metrics}"


def _ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1000:.0f} ms"


def render(status: Status, console: Console | None = None) -> None:
    out = console or output_console()
    out.print(f"[bold]driftline status[/] (topics {status.prefix}.*)")
    table = Table("component", "address", "health", "detail", box=None)
    for c in status.stack:
        table.add_row(c.name, escape(c.address), "[green]up[/]" if c.healthy else "[red]down[/]", escape(c.detail))
    out.print(table)
    w = status.worker
    if w.running:
        agents = f" (agents: {escape(', '.join(w.agents))})" if w.agents else ""
        out.print(f"worker: [green]running[/] at {escape(w.url)}{agents}")
    else:
        out.print(f"worker: [yellow]not running[/] ({escape(w.error)})")

    if status.models is not None:
        out.print(f"\n[bold]models[/] ({status.models.versions} versions numbered)")
        out.print(_model_line("champion", status.models.champion), highlight=False, markup=False)
        out.print(_model_line("challenger", status.models.challenger), highlight=False, markup=False)

    if status.topics:
        out.print()
        table = Table("topic", "partitions", "end offset", title="topics", title_justify="left", box=None)
        for t in status.topics:
            table.add_row(escape(t.topic), str(t.partitions), str(t.end_offset))
        out.print(table)
    table = Table("group", "state", "topic", "committed", "end offset", "lag", title="consumer groups",
                  title_justify="left", box=None)
    for g in status.groups:
        table.add_row(escape(g.group), escape(g.state or "-"), escape(g.topic), str(g.committed), str(g.end_offset),
                      f"[yellow]{g.lag}[/]" if g.lag else "0")
    out.print()
    out.print(table if status.groups else "[bold]consumer groups[/]: none has committed offsets on these topics")

    if w.running:
        out.print("\n[bold]worker metrics[/]")
        rows = [
            ("events", ", ".join(f"{k} {v:.0f}" for k, v in sorted(w.events.items())) or "none yet"),
            ("dead letters", ", ".join(f"{k} {v:.0f}" for k, v in sorted(w.deadletters.items())) or "none"),
            ("in service", ", ".join(f"{k} v{v}" for k, v in sorted(w.in_service.items())) or "no model yet"),
            ("model metric", ", ".join(f"{kind} {name} {v:.4f}" for kind, values in sorted(w.model_metric.items())
                                       for name, v in sorted(values.items())) or "none yet"),
        ]
        if w.latency is not None:
            rows.append(("latency", f"p50 {_ms(w.latency.p50)}, p95 {_ms(w.latency.p95)} "
                                    f"(event time to prediction, {w.latency.count} events)"))
        for label, text in rows:
            out.print(f"{label:13}{text}", highlight=False, markup=False)

    out.print("\n[bold]last alerts[/]" + ("" if status.alerts else ": none"))
    for alert in status.alerts:
        out.print(format_alert(alert), highlight=False, markup=False)
    for problem in status.problems:
        out.print(f"[red]could not read[/] {escape(problem)}", highlight=False)
