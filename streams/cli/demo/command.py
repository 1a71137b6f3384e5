"""``driftline demo``: the main job, end to end, in a namespace of its own.

It starts the local stack when it is not up, a `driftline worker` in a fresh namespace
(:func:`streams.replay.namespace.running_worker`), and produces River's Agrawal loans at a steady rate
with labels 500 events late and a concept drift halfway (:func:`streams.replay.namespace.produce_paced`),
showing the worker's numbers live (:mod:`streams.cli.demo.watch`). When the worker has consumed
everything, it replays the namespace's topics on the live run's schedule for a backtest report
(the live numbers, recomputed), says where the drift was detected, which versions were published
and promoted and how the served accuracy went (:mod:`streams.cli.demo.outcome`), then stops what it
started and deletes the namespace (unless ``keep``).

Exit 0 when the drift was detected and a new model took over; 1 when not.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from rich.console import Console

from streams import stack
from streams.cli.demo.outcome import Outcome, event_position, outcome, summary_lines
from streams.cli.demo.watch import Plan, watching
from streams.core.replay import ReplayResult, recorded
from streams.errors import EXIT_FAILED
from streams.kafka.reader import read_topic
from streams.kafka.sources import builtin
from streams.replay.namespace import (
    produce_paced,
    replay_namespace,
    running_worker,
    shielded,
    wait_consumed,
)
from streams.settings import Settings
from streams.specs.load import load_spec

SOURCE = "agrawal-drift"
SEED = 42
LABEL_DELAY = 500  # events between an event and its label
BEHIND_S = 30.0  # a worker done later than this after the last event fell well behind the stream


@dataclass(frozen=True)
class DemoOptions:
    events: int = 48_000  # two minutes at the default rate
    #: events per second: what one worker keeps up with, with room, on a 2-core machine that also
    #: runs the broker and this producer (at 500/s there it ran up to 7,900 events behind, and
    #: answered seconds late)
    rate: float = 400.0
    keep: bool = False  # keep the namespace (and the stack, if the demo started it)
    out: Path = Path("demo-report")

    @property
    def drift_at(self) -> int:
        return self.events // 2


@dataclass(frozen=True)
class DemoRun:
    namespace: str
    outcome: Outcome
    report: Path
    differ: int  # recomputed predictions that differ from the served ones
    behind_s: float  # seconds from the last event produced to the worker having consumed everything
    most_behind: int  # the most events produced and not scored yet, as the worker answered


def run_demo(settings: Settings, options: DemoOptions, *, say: Callable[[str], None]) -> int:
    """Run the demo; print its summary; 0 when the drift was detected and a new model took over."""
    began = time.monotonic()
    up = None
    try:
        with shielded():  # a stack half started is still stopped
            up = stack.up(settings, say=say)
        if up.started:
            say(f"stack up: kafka {up.bootstrap}, redis {up.redis_url} ({up.seconds:.1f}s)")
        run = _run(settings, options, say)
    finally:
        with shielded():
            if up is not None and up.started:
                if options.keep:
                    say("the stack the demo started keeps running: `driftline stack down` stops it")
                else:
                    stack.down(settings, say=say)
    _print_summary(options, run, time.monotonic() - began)
    if run.outcome.detected is None:
        say(f"driftline: the concept drift at event {options.drift_at:,} was never detected")
        return EXIT_FAILED
    if not run.outcome.took_over:
        say("driftline: no new model took over after the drift (no model_promoted alert)")
        return EXIT_FAILED
    return 0


def _print_summary(options: DemoOptions, run: DemoRun, seconds: float) -> None:
    console = Console()

    def show(line: str) -> None:
        console.print(line, markup=False, highlight=False, soft_wrap=True)

    show(f"\ndriftline demo: {options.events:,} events of {SOURCE} at {options.rate:g}/s, labels {LABEL_DELAY} events "
         f"late, the concept changed at event {options.drift_at:,}; {seconds:.0f}s in all")
    for line in summary_lines(run.outcome, _prefix()):
        show(f"  {line}")
    hint = ": it fell behind the stream, a lower --rate keeps it closer" if run.behind_s > BEHIND_S else ""
    show(f"  the worker ran up to {run.most_behind:,} events behind the producer and had consumed everything "
         f"{run.behind_s:.0f}s after the last event{hint}")
    if run.differ:
        show(f"  {run.differ} predictions recomputed for the report differ from the served ones")
    show(f"  report: {run.report}")
    if options.keep:
        show(f"  kept: look at it with DRIFTLINE_TOPIC_PREFIX={run.namespace} driftline models list "
             "(or status, alerts --from-beginning)")


def _prefix() -> str:
    return f"{SOURCE}-{SEED}-"


def _stream(options: DemoOptions, labels: list[Any]) -> Iterator[tuple[dict[str, Any], Any]]:
    """The Agrawal loans with the concept drift halfway, each stamped with the wall-clock time it
    is due at (the rate's pace from the first one taken); the labels are kept by position."""
    start = time.time()
    items = builtin(SOURCE, seed=SEED, drift_at=options.drift_at)
    for n, (event, label) in enumerate(itertools.islice(items, options.events)):
        event["ts"] = start + n / options.rate
        labels.append(label)
        yield event, label


def _run(settings: Settings, options: DemoOptions, say: Callable[[str], None]) -> DemoRun:
    spec = load_spec(None)  # the built-in pipeline: the one made for these events
    labels: list[Any] = []
    console = Console()
    with running_worker(settings, spec, kind="demo", keep=options.keep, say=say) as ns:
        say(f"the worker's live dashboard: {ns.worker.url}/")
        plan = Plan(ns.settings.topic_prefix, SOURCE, options.events, options.rate, options.drift_at, LABEL_DELAY)
        with watching(ns.worker.url, plan, live=console.is_terminal, console=console) as view:
            def progress(n: int) -> None:
                view.produced = n

            produce_paced(ns.settings, recorded(_stream(options, labels), LABEL_DELAY), 1.0, progress, ns.worker)
            produced = time.monotonic()
            view.phase = "waiting for the worker to finish"
            wait_consumed(ns.settings, ns.worker, timeout_s=max(120.0, options.events / 50))
            behind = time.monotonic() - produced
            view.phase = "done"
        ns.worker.stop()
        say("replaying the run from its topics for the report")
        result, schedule = replay_namespace(ns.settings, spec)
        alerts = [orjson.loads(r.value) for r in read_topic(ns.settings, "alerts")]
        served = _served(ns.settings)
        found = outcome(events=options.events, drift_at=options.drift_at, prefix=_prefix(), alerts=alerts,
                        learned=schedule.learned, served=served, labels=labels)
        report = _write_report(options.out, ns.settings.topic("raw"), spec.name, result, found)
        if not options.keep:
            say(f"cleaning up namespace {ns.settings.topic_prefix}")
        return DemoRun(ns.settings.topic_prefix, found, report, result.reproduced["differ"], behind, view.most_behind)


def _served(settings: Settings) -> dict[int, Any]:
    """The prediction served for each event, by its position in the stream."""
    out: dict[int, Any] = {}
    for r in read_topic(settings, "predictions", timeout_s=60.0):
        p = orjson.loads(r.value)
        position = event_position(str(p.get("event_id", "")), _prefix())
        if position is not None:
            out.setdefault(position, p.get("prediction"))
    return out


def _write_report(folder: Path, source: str, name: str, result: ReplayResult, found: Outcome) -> Path:
    """The backtest report of the live run (``report.html``, its plots) and ``metrics.json``."""
    from streams.replay.report import write_report

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "metrics.json").write_bytes(orjson.dumps({"source": source, "spec": name, **result.summary(),
                                                        "demo": found.as_json()}, option=orjson.OPT_INDENT_2))
    return write_report(folder, source, [(name, result)], change_at=found.drift_at).resolve()
