"""The ``driftline`` command: argument parsing and dispatch; the work lives elsewhere.

Every failure reaches the user as one clear line and an exit code: 0 success, 1 the work or the
environment failed, 2 bad usage or bad input. No traceback unless ``DRIFTLINE_DEBUG=1``.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from typing import NoReturn

from streams import __version__
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
    from streams.cmd_stack import print_down, print_status, print_up

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
    from streams.cmd_demo import run_demo

    return run_demo(settings, events=args.events, keep=args.keep, say=_say)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="driftline", description="Online machine learning on live Kafka event streams.")
    parser.add_argument("--version", action="version", version=f"driftline {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    p = sub.add_parser("stack", help="the local stack: a real Kafka (KRaft) broker and Redis")
    p.add_argument("action", choices=["up", "down", "status", "fetch"])
    p.add_argument("--json", action="store_true", help="status as JSON, for scripts")
    p.set_defaults(run=_stack)

    p = sub.add_parser("schemas", help="the event schemas")
    p.add_argument("action", choices=["export"])
    p.add_argument("directory", help="folder to write one JSON Schema per value kind into")
    p.set_defaults(run=_schemas)

    p = sub.add_parser("demo", help="the main job, end to end")
    p.add_argument("--events", type=_positive_int, default=20, help="how many events to send")
    p.add_argument("--keep", action="store_true", help="leave the stack running afterwards")
    p.set_defaults(run=_demo)
    return parser


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1: {value}")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the exit code."""
    debug = os.environ.get("DRIFTLINE_DEBUG") == "1"
    try:
        args = build_parser().parse_args(argv)
        if args.command is None:
            raise UsageError("a command is required (see `driftline --help`)")
        settings = Settings.from_env()
        run: Callable[[argparse.Namespace, Settings], int] = args.run
        return run(args, settings)
    except SettingsError as exc:
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
        _say(f"driftline: internal error: {type(exc).__name__}: {exc} (DRIFTLINE_DEBUG=1 shows the traceback)")
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
