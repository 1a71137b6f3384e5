"""What ``driftline stack`` prints."""

from __future__ import annotations

import json
from dataclasses import asdict

from rich.table import Table

from streams.cli.console import output_console
from streams.stack import Component, UpReport


def print_up(report: UpReport) -> None:
    started = ", ".join(report.started) or "nothing (already running)"
    print(f"kafka   {report.bootstrap}  ({report.kafka_source})")
    print(f"redis   {report.redis_url}")
    print(f"started {started} in {report.seconds:.1f}s")
    if report.topics_created:
        print(f"topics  created {len(report.topics_created)}: {', '.join(report.topics_created)}")
    brokers = report.bootstrap.count(",") + 1
    if brokers > 1:  # workers create Faust's changelogs themselves: they must ask for the copies too
        copies = min(brokers, 3)
        print(f"workers export DRIFTLINE_KAFKA_BOOTSTRAP={report.bootstrap} DRIFTLINE_REPLICATION_FACTOR={copies}")


def print_down(stopped: list[str]) -> None:
    print(f"stopped {', '.join(stopped)}" if stopped else "nothing of ours was running")


def print_status(components: list[Component], *, as_json: bool) -> None:
    if as_json:
        print(json.dumps([asdict(c) for c in components], indent=2))
        return
    table = Table("component", "address", "pid", "health", "detail", box=None)
    cluster = any(c.name.startswith("kafka-") for c in components)
    for c in components:
        pid = str(c.pid) if c.pid else ("not ours" if c.healthy else "not running")
        if cluster and c.name == "kafka":
            pid = "-"  # the cluster as a whole: its brokers' rows have theirs
        table.add_row(c.name, c.address, pid, "[green]up[/]" if c.healthy else "[red]down[/]", c.detail)
    output_console().print(table)
