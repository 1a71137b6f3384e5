"""`driftline replay SOURCE`: a backtest through the pipeline's own core (fast mode), or through
the real agents in a namespace of their own (live mode, :mod:`streams.replay.live`).

Each ``--spec`` runs on the same ordered stream; the summary shows them side by side, ``--out``
writes ``metrics.json`` per spec, and ``--fail-under METRIC=VALUE`` turns a missed gate into
exit code 1, so a backtest can gate a CI pipeline.
"""

from __future__ import annotations

import itertools
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from streams.cli.console import output_console
from streams.core.replay import ReplayResult, recorded, replay_as_live, replay_records
from streams.core.spec import PipelineSpec, higher_is_better
from streams.errors import EXIT_FAILED, UsageError
from streams.kafka.reference import read_reference
from streams.kafka.sources import BUILTIN, open_source, replay_length
from streams.replay.recorded import read_range, read_schedule
from streams.settings import Settings
from streams.specs.load import load_spec


@dataclass
class Recorder:
    """Keeps each run of a replay as an experiment (:mod:`streams.experiments`), when a broker
    answers; says where it is, or why it is not kept."""

    settings: Settings | None
    source: dict[str, Any]
    label_delay: str
    name: str = ""
    tags: list[str] = field(default_factory=list)
    enabled: bool = True
    specs: dict[str, PipelineSpec] = field(default_factory=dict)
    walls: dict[str, float] = field(default_factory=dict)
    baseline: str = ""  # an experiment id: each run must not be worse than it by more than the margin
    margin: float = 0.0

    def save(self, results: list[tuple[str, ReplayResult]], say: Any) -> list[dict[str, Any]]:
        from streams.experiments import log
        from streams.experiments.record import make_record
        from streams.state.registry import libraries

        records = [make_record(spec_name=name, spec_text=self.specs[name].source_text, spec_sha256=self.specs[name].digest,
                               source=self.source, label_delay=self.label_delay, summary=result.summary(),
                               wall_s=self.walls.get(name, 0.0), libraries=libraries(), name=self.name, tags=self.tags)
                   for name, result in results]
        if not self.enabled:
            return records
        settings = self.settings or Settings.from_env()
        if not log.broker_answers(settings):
            say(f"experiment not recorded: no broker answers at {settings.kafka_bootstrap} "
                "(start the stack to keep a record; --no-record not to try)")
            return records
        for record in records:
            log.append(settings, record)
            say(f"experiment {record['id']} recorded ({record['spec']['name']}): driftline experiments show {record['id']}")
        return records


@dataclass(frozen=True)
class Gate:
    metric: str
    minimum: float


def parse_gate(text: str) -> Gate:
    """``METRIC=VALUE``, e.g. ``prequential_accuracy=0.9``."""
    name, sep, value = text.partition("=")
    try:
        minimum = float(value)
    except ValueError:
        minimum = float("nan")
    if not sep or not name or minimum != minimum:
        raise UsageError(f"--fail-under takes METRIC=VALUE, e.g. prequential_accuracy=0.9: {text!r}")
    return Gate(name, minimum)


def gate_failures(summary: dict[str, object], gates: list[Gate]) -> list[str]:
    """One line per gate missed; a gate naming no reported metric is bad usage."""
    failures = []
    for gate in gates:
        value = summary.get(gate.metric)
        if not isinstance(value, int | float):
            known = ", ".join(k for k, v in summary.items() if isinstance(v, float))
            raise UsageError(f"--fail-under {gate.metric}: no such metric (reported: {known})")
        if value < gate.minimum:
            failures.append(f"{gate.metric} {value:.4f} is under {gate.minimum:g}")
    return failures


def run(source: str, specs: list[str], *, label_delay: int, limit: int | None, seed: int, drift_at: int,
        out: Path | None, gates: list[Gate], mode: str, settings: Settings | None = None,
        start: str | None = None, end: str | None = None, as_live: bool = False, speed: float = 1.0,
        keep: bool = False, name: str = "", tags: list[str] | None = None, record: bool = True,
        baseline: str = "", margin: float = 0.0, model: str | None = None) -> int:
    # no --spec: the pipeline the workers run (DRIFTLINE_PIPELINE), else the built-in one
    parsed = [(path or "built-in", load_spec(path or None)) for path in (specs or [settings.pipeline if settings else ""])]
    if model is not None and (as_live or mode != "fast"):
        raise UsageError("--model starts a fast replay from a model; --as-live and --mode live serve the registry's versions")
    if limit is None and source in BUILTIN:  # a built-in stream never ends: a replay of it must
        limit = replay_length(drift_at)
    recorder = Recorder(settings, _source(source, seed=seed, drift_at=drift_at, limit=limit, start=start, end=end,
                                          settings=settings),
                        "as recorded" if source == "topic" else f"{label_delay} events late", name, list(tags or []),
                        record, dict(parsed), baseline=baseline, margin=margin)
    if as_live:
        if source != "topic" or mode != "fast":
            raise UsageError("--as-live replays a recorded live run in fast mode: use it with SOURCE `topic`")
        recorder.label_delay = "as live"
        return _as_live(settings or Settings.from_env(), parsed, start, end, out, gates, recorder)
    if source == "topic":
        settings = settings or Settings.from_env()
        records = read_range(settings, start, end)
        if limit is not None:  # the first ``limit`` events and the feedback recorded among them
            raws = [n for n, r in enumerate(records) if r.kind == "raw"]
            records = records[: raws[limit] if limit < len(raws) else len(records)]
        source = settings.topic("raw")
    else:
        if start is not None or end is not None:
            raise UsageError("--from/--to select a range of a recorded topic: use them with SOURCE `topic`")
        records = list(recorded(itertools.islice(open_source(source, seed=seed, drift_at=drift_at), limit), label_delay))
    events = sum(1 for r in records if r.kind == "raw")
    if not events:
        raise UsageError(f"{source}: no events to replay in that range")
    console = Console(stderr=True)
    results: list[tuple[str, ReplayResult]] = []
    delay = "as recorded" if source.endswith(".raw") else f"{label_delay} events late"
    if mode == "live":
        from streams.replay.live import run_live

        settings = settings or Settings.from_env()
        with Progress(console=console, transient=True) as bar:
            for name, spec in parsed:
                task = bar.add_task(f"producing live with {name}", total=events)
                began = time.monotonic()
                run_ = run_live(settings, spec, records, speed=speed, keep=keep, say=_line(console),
                                progress=lambda n, t=task: bar.update(t, completed=n) if n % 100 == 0 else None)
                results.append((name, run_.result))
                recorder.walls[name] = time.monotonic() - began
                if keep:
                    _line(console)(f"kept: DRIFTLINE_TOPIC_PREFIX={run_.namespace} names its topics and registry")
        return _finish(source, f"{events} events, labels {delay}, live at {speed:g}x", results, out, gates, recorder)
    with Progress(console=console, transient=True) as bar:
        for name, spec in parsed:
            task = bar.add_task(f"replaying with {name}", total=events)
            began = time.monotonic()
            tables = read_reference(settings or Settings.from_env(), spec) if spec.lookups else None
            champion = starting_model(model, spec, settings) if model is not None else None
            results.append((name, replay_records(spec, records, lookups=tables, champion=champion,
                                                 progress=lambda n, t=task: bar.update(t, completed=n) if n % 500 == 0 else None)))
            recorder.walls[name] = time.monotonic() - began
    return _finish(source, f"{events} events, labels {delay}", results, out, gates, recorder)


def starting_model(model: str, spec: PipelineSpec, settings: Settings | None) -> Any:
    """What ``--model`` names: a registry version (a number), or a model file as ``driftline models
    register`` reads it (checked against the spec the same way)."""
    from streams.register.check import prepare
    from streams.register.load import load

    if model.isdigit():
        from streams.cli.models import known_record, open_registry

        registry = open_registry(settings or Settings.from_env())
        version = int(model)
        known_record(registry, version)  # an unknown version: one line
        return registry.load(version)
    return prepare(load(Path(model)), spec).model


def baseline_failures(recorder: Recorder, results: list[tuple[str, ReplayResult]]) -> list[str]:
    """One line per run worse than the recorded baseline's prequential metric by more than the margin."""
    from streams.experiments import log

    settings = recorder.settings or Settings.from_env()
    base = log.find(log.read_all(settings), recorder.baseline)
    if base is None:
        raise UsageError(f"--fail-under-baseline {recorder.baseline}: no such experiment (driftline experiments list)")
    metric = base.get("metric") or "accuracy"
    key = f"prequential_{metric}"
    reference = base["metrics"].get(key)
    lower = not higher_is_better(metric)
    out = []
    for name, result in results:
        if result.metric != metric or not isinstance(reference, int | float):
            raise UsageError(f"--fail-under-baseline {recorder.baseline}: it measured {metric}, this run {result.metric}")
        worse = (result.prequential - reference) if lower else (reference - result.prequential)
        if worse > recorder.margin:
            out.append(f"{name}: {key} {result.prequential:.4f} is worse than experiment {base['id']}'s "
                       f"{reference:.4f} by {worse:.4f} (margin {recorder.margin:g})")
    return out


def _source(source: str, *, seed: int, drift_at: int, limit: int | None, start: str | None, end: str | None,
            settings: Settings | None) -> dict[str, Any]:
    """What a replay ran on, for its experiment record."""
    if source == "topic":
        topic = (settings or Settings.from_env()).topic("raw")
        return {"kind": "topic", "name": topic, "from": start, "to": end, "limit": limit}
    path = Path(source)
    if path.suffix in (".csv", ".jsonl") and path.is_file():
        from streams.experiments.record import file_sha256

        return {"kind": "file", "name": str(path), "sha256": file_sha256(path), "limit": limit}
    return {"kind": "built-in", "name": source, "seed": seed, "drift_at": drift_at, "limit": limit}


def _as_live(settings: Settings, parsed: list[tuple[str, PipelineSpec]], start: str | None, end: str | None,
             out: Path | None, gates: list[Gate], recorder: Recorder) -> int:
    """The recorded range on the live run's schedule: the live numbers, recomputed exactly."""
    from streams.state.models_log import load_models, trained_examples

    records = read_range(settings, start, end)
    events = sum(1 for r in records if r.kind == "raw")
    if not events:
        raise UsageError(f"{settings.topic('raw')}: no events to replay in that range")
    schedule, models, trained = read_schedule(settings), load_models(settings), trained_examples(settings)
    results = []
    with Progress(console=Console(stderr=True), transient=True) as bar:
        for name, spec in parsed:
            task = bar.add_task(f"replaying with {name}", total=len(schedule.scored))
            tables = read_reference(settings, spec) if spec.lookups else None
            results.append((name, replay_as_live(spec, records, schedule, models, trained=trained, lookups=tables,
                                                 progress=lambda n, t=task: bar.update(t, completed=n) if n % 500 == 0 else None)))
    code = _finish(settings.topic("raw"), f"{events} events on the live run's schedule", results, out, gates, recorder)
    differ = sum(r.reproduced["differ"] for _, r in results)
    if differ:
        _line(Console(stderr=True))(f"driftline: {differ} recomputed predictions differ from the recorded ones "
                                    "(a different spec, or models that are not the ones served)")
        return EXIT_FAILED
    return code


def _finish(source: str, what: str, results: list[tuple[str, ReplayResult]], out: Path | None, parsed_gates: list[Gate],
            recorder: Recorder | None = None) -> int:
    """Print the side-by-side summary, keep the experiments, write the report, apply the gates."""
    console = Console(stderr=True)
    table = Table(title=f"replay of {source} ({what})")
    table.add_column("")
    for name, _ in results:
        table.add_column(name)
    rows = ("events", "examples", "prequential", "served_accuracy", "concept drift at", "versions", "promotions", "dead letters")
    for row in rows:
        table.add_row(row, *(_cell(row, r) for _, r in results))
    output_console().print(table)
    failed: list[str] = []
    for n, (name, result) in enumerate(results):
        summary = result.summary()
        if out is not None:
            folder = out if len(results) == 1 else out / f"spec-{n + 1}"
            folder.mkdir(parents=True, exist_ok=True)
            (folder / "metrics.json").write_bytes(orjson.dumps({"source": source, "spec": name, **summary}, option=orjson.OPT_INDENT_2))
        failed += [f"{name}: {line}" for line in gate_failures(summary, parsed_gates)]
    if recorder is not None and recorder.baseline:
        failed += baseline_failures(recorder, results)
    kept = recorder.save(results, lambda line: print(line, file=sys.stderr)) if recorder is not None else None
    if out is not None:
        from streams.replay.report import write_report

        change = recorder.source.get("drift_at") if recorder is not None and recorder.source.get("kind") == "built-in" else None
        _line(console)(f"report: {write_report(out, source, results, records=kept, change_at=change)}")
    for line in failed:
        _line(console)(f"driftline: gate missed: {line}")
    return EXIT_FAILED if failed else 0


def _line(console: Console) -> Callable[[str], None]:
    """Print a message as one line, as written: never wrapped at the terminal's width (scripts grep
    these; a long path once split "worse than experiment" over two lines), no markup read in it."""
    return lambda text: console.print(text, soft_wrap=True, markup=False, highlight=False)


def _cell(row: str, r: ReplayResult) -> str:
    if row == "prequential":
        return f"{r.metric} {r.prequential:.4f}"
    if row == "served_accuracy":
        return f"{r.served_accuracy:.4f}"
    if row == "concept drift at":
        return ", ".join(str(a["at_event"]) for a in r.alerts if a["kind"] == "concept_drift") or "-"
    if row == "versions":
        return str(len({v["version"] for v in r.versions}))
    if row == "promotions":
        return str(sum(1 for a in r.alerts if a["kind"] == "model_promoted"))
    if row == "dead letters":
        return ", ".join(f"{k} {v}" for k, v in sorted(r.deadletters.items())) or "0"
    return str(getattr(r, row))


def redrive_deadletters(settings: Settings, spec_path: str | None) -> int:
    """Send the dead-lettered raw events that pass the spec now back to ``raw``; say what stayed."""
    from streams.replay.redrive import redrive

    result = redrive(settings, load_spec(spec_path))
    stayed = ", ".join(f"{k} {v}" for k, v in sorted(result.still_failing.items())) or "none"
    skipped = ", ".join(f"{k} {v}" for k, v in sorted(result.skipped.items())) or "none"
    print(f"re-driven to {settings.topic('raw')}: {result.sent}; still failing: {stayed}; left alone: {skipped}")
    return 0
