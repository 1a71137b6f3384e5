"""The ``driftline`` command: argument parsing and dispatch; the work lives elsewhere.

Every failure reaches the user as one clear line and an exit code: 0 success, 1 the work or the
environment failed, 2 bad usage or bad input. No traceback unless ``DRIFTLINE_DEBUG=1``.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NoReturn

from streams import __version__
from streams.core.spec import SpecError
from streams.errors import EXIT_FAILED, EXIT_USAGE, DriftlineError, UsageError
from streams.settings import Settings, SettingsError


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line and exit code 2."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see `{self.prog} --help`)")


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _stack(args: argparse.Namespace, settings: Settings) -> int:
    from streams import stack
    from streams.cli.stack import print_down, print_status, print_up

    if args.brokers is not None:
        from streams.stack.kafka import remember

        settings = remember(settings, args.brokers)
    if args.action == "up":
        print_up(stack.up(settings, say=_say))
        return 0
    if args.action == "fetch":
        from streams.stack.kafka import ensure_jars

        jars = ensure_jars(settings, settings.state_dir / "logs" / "maven.log", say=_say)
        print(f"Apache Kafka {settings.kafka_version} jars: {jars.classpath} (from {jars.source})")
        return 0
    if args.action == "down":
        print_down(stack.down(settings, say=_say))
        return 0
    components = stack.status(settings)
    print_status(components, as_json=args.json)
    return 0 if all(c.healthy for c in components) else EXIT_FAILED


def _schemas(args: argparse.Namespace, settings: Settings) -> int:
    from pathlib import Path

    from schemas import export_schemas

    for path in export_schemas(Path(args.directory)):
        print(path)
    return 0


def _demo(args: argparse.Namespace, settings: Settings) -> int:
    from streams.cli.demo.command import DemoOptions, run_demo

    return run_demo(settings, DemoOptions(events=args.events, rate=args.rate, keep=args.keep, out=args.out), say=_say)


def _events_per_second(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not 0.0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"a rate is events per second > 0: {text!r}")
    return value


def _worker(args: argparse.Namespace, settings: Settings) -> int:
    from streams.worker.build import AGENTS, run

    agents = [a.strip() for a in args.agents.split(",") if a.strip()] if args.agents else list(AGENTS)
    return run(settings, agents, loglevel=args.loglevel)


def _produce(args: argparse.Namespace, settings: Settings) -> int:
    from rich.progress import Progress

    from streams.kafka.produce import ProduceOptions, produce

    opts = ProduceOptions(args.source, args.limit, None if args.rate in (None, "max") else float(args.rate),
                          args.feedback_delay, args.feedback_fraction, args.seed, args.drift_at)
    with Progress(transient=True, disable=not sys.stderr.isatty()) as bar:
        task = bar.add_task(f"producing {args.source}", total=args.limit)
        sent, labels = produce(settings, opts, progress=lambda n: bar.update(task, completed=n))
    print(f"produced {sent} events and {labels} labels to {settings.topic('raw')} / {settings.topic('feedback')}")
    return 0


def _models(args: argparse.Namespace, settings: Settings) -> int:
    from streams.cli import models as cmd_models

    if args.action == "list":
        return cmd_models.list_versions(settings, as_json=args.json)
    if args.action == "show":
        return cmd_models.show(settings, args.version, as_json=args.json)
    if args.action == "promote":
        return cmd_models.promote(settings, args.version, reason=args.reason)
    if args.action == "rollback":
        return cmd_models.rollback(settings, reason=args.reason)
    if args.action == "register":
        features = tuple(f.strip() for f in (args.features or "").split(",") if f.strip())
        options = cmd_models.Options(features, args.learn, args.refit_every or 0, args.window)
        return cmd_models.register(settings, args.path, status=args.status, reason=args.reason, trust=args.trust,
                                   options=options)
    return cmd_models.diff(settings, args.version, args.other)


def _replay(args: argparse.Namespace, settings: Settings) -> int:
    from streams.cli import replay as cmd_replay

    if args.deadletter:
        if args.source is not None or len(args.spec) > 1:
            raise UsageError("--deadletter takes no SOURCE and one --spec (the fixed one)")
        return cmd_replay.redrive_deadletters(settings, args.spec[0] if args.spec else None)
    if args.source is None:
        raise UsageError("replay needs a SOURCE: `topic`, a built-in stream or a file (or --deadletter)")
    gates = [cmd_replay.parse_gate(text) for text in args.fail_under]
    return cmd_replay.run(args.source, args.spec, label_delay=args.label_delay, limit=args.limit, seed=args.seed,
                          drift_at=args.drift_at, out=args.out, gates=gates, mode=args.mode, settings=settings,
                          start=args.start, end=args.end, as_live=args.as_live,
                          speed=args.speed, keep=args.keep, name=args.name or "", tags=args.tag, record=not args.no_record,
                          baseline=args.fail_under_baseline or "", margin=args.baseline_margin, model=args.model)


def _experiments(args: argparse.Namespace, settings: Settings) -> int:
    from streams.cli import experiments as cmd

    if args.action == "list":
        return cmd.list_runs(settings, tag=args.tag, spec=args.spec, source=args.source, as_json=args.json)
    if args.action == "show":
        return cmd.show(settings, args.id, as_json=args.json)
    if args.action == "compare":
        return cmd.compare_runs(settings, args.ids)
    return cmd.report(settings, args.ids, args.out)


def _spec(args: argparse.Namespace, settings: Settings) -> int:
    from streams.cli.spec_init import infer

    print(infer(args.file), end="")
    return 0


def _alerts(args: argparse.Namespace, settings: Settings) -> int:
    from streams.cli.alerts import print_alerts

    return print_alerts(settings, follow=args.follow, from_beginning=args.from_beginning, as_json=args.json)


def _status(args: argparse.Namespace, settings: Settings) -> int:
    from streams.cli.status.command import run

    return run(settings, as_json_output=args.json, say=_say)


def _rate(text: str) -> str:
    if text != "max":
        try:
            if float(text) <= 0:
                raise ValueError
        except ValueError:
            raise argparse.ArgumentTypeError(f"a rate is events per second > 0, or 'max': {text!r}") from None
    return text


def _speed(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not value > 0.0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"a speed is a multiple of the recorded pace > 0: {text!r}")
    return value


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"a fraction is between 0 and 1: {text!r}")
    return value


def _brokers(text: str) -> int:
    value = _positive_int(text)
    if value > 5:
        raise argparse.ArgumentTypeError(f"{value}: at most 5 brokers on one machine")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="driftline", description="Online machine learning on live Kafka event streams.")
    parser.add_argument("--version", action="version", version=f"driftline {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    p = sub.add_parser("stack", help="the local stack: a real Kafka (KRaft) broker, or a cluster of them, and Redis")
    p.add_argument("action", choices=["up", "down", "status", "fetch"],
                   help="up: start the broker and Redis; down: stop them; status: say how they are; fetch: Kafka's jars only")
    p.add_argument("--json", action="store_true", help="status as JSON, for scripts")
    p.add_argument("--brokers", type=_brokers, help="a cluster of this many brokers (1 to 5) on the bootstrap's port and "
                   "the ones after it, each a KRaft controller too; kept for later stack commands")
    p.set_defaults(run=_stack)

    p = sub.add_parser("schemas", help="the event schemas")
    p.add_argument("action", choices=["export"], help="export: write the schemas out")
    p.add_argument("directory", help="folder to write one JSON Schema per value kind into")
    p.set_defaults(run=_schemas)

    p = sub.add_parser("worker", help="one worker running every agent")
    p.add_argument("--agents", help="comma-separated subset of: validate, feedback, join, train, models")
    p.add_argument("--loglevel", default="WARNING", type=str.upper, choices=["DEBUG", "INFO", "WARNING", "ERROR"],
                   help="how much the worker logs")
    p.set_defaults(run=_worker)

    p = sub.add_parser("produce", help="produce raw events and feedback from a built-in stream or a file")
    p.add_argument("source", help="agrawal-drift, sea-drift, hyperplane, or a .csv / .jsonl file")
    p.add_argument("--limit", type=_positive_int, help="stop after this many events")
    p.add_argument("--rate", type=_rate, help="events per second, or 'max' (the default)")
    p.add_argument("--feedback-delay", type=_count, default=0, help="labels follow their events by this many events")
    p.add_argument("--feedback-fraction", type=_fraction, default=1.0, help="share of events that get a label")
    p.add_argument("--seed", type=int, default=42, help="the built-in stream's random seed: the same seed, the same events")
    p.add_argument("--drift-at", type=_positive_int, default=10_000, help="event where the built-in concept changes")
    p.set_defaults(run=_produce)

    p = sub.add_parser("alerts", help="print alerts")
    p.add_argument("--follow", action="store_true", help="keep printing new alerts")
    p.add_argument("--from-beginning", action="store_true", help="start from the first alert kept")
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    p.set_defaults(run=_alerts)

    p = sub.add_parser("status", help="stack health, topics and lag, models in service, last alerts, worker metrics")
    p.add_argument("--json", action="store_true", help="one JSON object, for scripts")
    p.set_defaults(run=_status)

    p = sub.add_parser("models", help="the model registry: list, show, promote, rollback, diff, register")
    models = p.add_subparsers(dest="action", metavar="ACTION", parser_class=_Parser, required=True)
    q = models.add_parser("list", help="every version: status, created, examples, metrics, parent")
    q.add_argument("--json", action="store_true", help="as JSON, for scripts")
    q = models.add_parser("show", help="everything about one version, with its lineage")
    q.add_argument("version", type=_positive_int, help="the version's number")
    q.add_argument("--json", action="store_true", help="as JSON, for scripts")
    q = models.add_parser("promote", help="make a version the champion (recorded with who and why)")
    q.add_argument("version", type=_positive_int, help="the version's number")
    q.add_argument("--reason", help="why, for the record")
    q = models.add_parser("rollback", help="put the previous champion back in service")
    q.add_argument("--reason", help="why, for the record")
    q = models.add_parser("diff", help="two versions side by side")
    q.add_argument("version", type=_positive_int, help="one version's number")
    q.add_argument("other", type=_positive_int, help="the other's")
    q = models.add_parser("register", help="a model trained elsewhere as a new signed version (checked on the stream first)")
    q.add_argument("path", type=Path, help="a .skops, .joblib or .pkl/.pickle file (scikit-learn or River), or an MLflow model directory")
    q.add_argument("--as", dest="status", choices=["challenger", "candidate"], required=True,
                   help="challenger: shadowed on every event and judged by the promotion gate; candidate: kept until promoted")
    q.add_argument("--reason", help="why, for the record")
    q.add_argument("--features", help="the features in the model's column order, for a model fitted on an array (a,b,c)")
    q.add_argument("--trust", action="append", default=[], metavar="TYPE",
                   help="a type the .skops file holds that skops does not trust by default (repeatable)")
    q.add_argument("--learn", action="store_true", help="a River model goes on learning from the stream's labels")
    q.add_argument("--refit-every", type=_positive_int, metavar="N",
                   help="a scikit-learn model is refitted every N labelled examples on the last --window")
    q.add_argument("--window", type=_positive_int, default=1000, help="with --refit-every: the examples it is refitted on")
    p.set_defaults(run=_models)

    p = sub.add_parser("replay", help="backtest: a stream through the pipeline's own logic, in-process or live")
    p.add_argument("source", nargs="?", help="`topic` (the recorded raw and feedback topics), agrawal-drift, sea-drift, hyperplane, or a .csv / .jsonl file")
    p.add_argument("--deadletter", action="store_true",
                   help="re-drive dead-lettered raw events that pass --spec now back to raw (after a spec fix)")
    p.add_argument("--from", dest="start", help="with `topic`: an offset or ISO-8601 time to start at")
    p.add_argument("--to", dest="end", help="with `topic`: an offset or ISO-8601 time to stop before")
    p.add_argument("--as-live", "--as-trained", dest="as_live", action="store_true",
                   help="with `topic`: replay on the live run's schedule (its scorer's order and served versions, its "
                        "trainer's order): the live metrics and drift positions, recomputed exactly")
    p.add_argument("--spec", action="append", default=[],
                   help="a pipeline spec (repeat to compare); default: the workers' (DRIFTLINE_PIPELINE), else the built-in one")
    p.add_argument("--model", metavar="VERSION|FILE",
                   help="start from this model: a registry version, or a model file as `models register` reads it")
    p.add_argument("--label-delay", type=_count, default=0, help="labels follow their events by this many events")
    p.add_argument("--mode", choices=["fast", "live"], default="fast",
                   help="fast: in-process; live: through a worker and the broker, in a namespace of its own")
    p.add_argument("--speed", type=_speed, default=1.0, help="live mode: a multiple of the recorded pace")
    p.add_argument("--keep", action="store_true", help="live mode: keep the namespace's topics and registry afterwards")
    p.add_argument("--out", type=Path, help="a folder for metrics.json")
    p.add_argument("--fail-under", action="append", default=[], metavar="METRIC=VALUE",
                   help="exit 1 when a reported metric is under VALUE (repeatable)")
    p.add_argument("--limit", type=_positive_int,
                   help="stop after this many events (a built-in stream, which never ends: twice --drift-at, 20000)")
    p.add_argument("--seed", type=int, default=42, help="a built-in stream's random seed: the same seed, the same events")
    p.add_argument("--drift-at", type=_positive_int, default=10_000, help="event where the built-in concept changes")
    p.add_argument("--name", help="a name for this run's experiment record")
    p.add_argument("--tag", action="append", default=[], help="a tag for this run's experiment record (repeatable)")
    p.add_argument("--no-record", action="store_true", help="keep no experiment record of this run")
    p.add_argument("--fail-under-baseline", metavar="ID",
                   help="exit 1 when a spec's prequential metric is worse than this recorded experiment's by more than the margin")
    p.add_argument("--baseline-margin", type=float, default=0.0, help="with --fail-under-baseline: how much worse is allowed")
    p.set_defaults(run=_replay)

    p = sub.add_parser("experiments", help="the recorded backtests: list, show, compare, report")
    ex = p.add_subparsers(dest="action", metavar="ACTION", parser_class=_Parser, required=True)
    q = ex.add_parser("list", help="every recorded run: when, name, tags, spec, source, headline metric")
    q.add_argument("--tag", help="only runs with this tag")
    q.add_argument("--spec", help="only runs of this spec (its file name or a sha256 prefix)")
    q.add_argument("--source", help="only runs on this source (or part of its name)")
    q.add_argument("--json", action="store_true", help="as JSON, for scripts")
    q = ex.add_parser("show", help="everything about one run")
    q.add_argument("id", help="an experiment id (or a unique prefix, or its --name)")
    q.add_argument("--json", action="store_true", help="as JSON, for scripts")
    q = ex.add_parser("compare", help="runs side by side: metrics, differences, the spec diff")
    q.add_argument("ids", nargs="+", metavar="ID", help="experiment ids (or unique prefixes, or --name)")
    q = ex.add_parser("report", help="one HTML report of these runs, with their comparison")
    q.add_argument("ids", nargs="+", metavar="ID", help="experiment ids (or unique prefixes, or --name)")
    q.add_argument("--out", type=Path, required=True, help="the report's folder")
    p.set_defaults(run=_experiments)

    p = sub.add_parser("spec", help="pipeline specs: infer one from a sample file")
    p.add_argument("action", choices=["init"], help="init: write a spec inferred from the sample")
    p.add_argument("file", type=Path, help="a .csv or .jsonl sample with a label column")
    p.set_defaults(run=_spec)

    p = sub.add_parser("demo", help="the main job, end to end: a worker, a stream with a concept drift, a new model taking over")
    p.add_argument("--events", type=_positive_int, default=48_000,
                   help="how many events to send (default 48000; the concept changes halfway)")
    p.add_argument("--rate", type=_events_per_second, default=400.0, help="events per second (default 400)")
    p.add_argument("--keep", action="store_true",
                   help="keep the demo's namespace (topics, registry) and the stack, if the demo started it, afterwards")
    p.add_argument("--out", type=Path, default=Path("demo-report"), help="the report folder (default demo-report/)")
    p.set_defaults(run=_demo)
    return parser


def _int_at_least(minimum: int) -> Callable[[str], int]:
    """An argparse type: an integer of at least ``minimum``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}: {value}")
        return value

    return parse


_positive_int = _int_at_least(1)
_count = _int_at_least(0)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the exit code."""
    debug = os.environ.get("DRIFTLINE_DEBUG") == "1"
    settings: Settings | None = None
    try:
        args = build_parser().parse_args(argv)
        if args.command is None:
            raise UsageError("a command is required (see `driftline --help`)")
        settings = Settings.from_env()
        run: Callable[[argparse.Namespace, Settings], int] = args.run
        return run(args, settings)
    except (SettingsError, SpecError) as exc:
        _say(f"driftline: {exc}")
        return EXIT_USAGE
    except DriftlineError as exc:
        _say(f"driftline: {exc}")
        return exc.exit_code
    except KeyboardInterrupt:
        _say("driftline: interrupted")
        return 130
    except Exception as exc:  # noqa: BLE001 - the last line of defence against tracebacks
        if debug:
            raise
        from streams.outside import described

        outside = described(exc, settings)
        if outside is not None:  # a cause the user can meet and mend: never an internal error
            _say(f"driftline: {outside}")
            return EXIT_FAILED
        _say(f"driftline: internal error: {type(exc).__name__}: {exc} (DRIFTLINE_DEBUG=1 shows the traceback)")
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
