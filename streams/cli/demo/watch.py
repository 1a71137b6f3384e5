"""What `driftline demo` shows while it runs: the worker's dashboard numbers, polled in the
background, as a live terminal view (rich) or as plain progress lines when stdout is not a
terminal.

:class:`WorkerPoller` asks the worker's ``/api/summary`` and ``/api/alerts`` (docs/dashboard.md)
and its ``/metrics`` (how far the trainer has got) twice a second in a daemon thread; a slow or
missing answer only makes the view stale, it never holds up the producer. :func:`watching` shows what it has: a view refreshed twice a second, or a
progress line every ~10 s and one line per alert as it arrives.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from prometheus_client.parser import text_string_to_metric_families
from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.panel import Panel
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

POLL_S = 0.5  # seconds between polls
TIMEOUT_S = 2.0  # a poll that takes longer is given up (the view goes stale, nothing waits)
PLAIN_EVERY_S = 10.0  # seconds between plain progress lines
SHOWN_ALERTS = 8


@dataclass(frozen=True)
class Plan:
    """What the demo runs, for the view's heading."""

    namespace: str
    source: str
    events: int
    rate: float
    drift_at: int
    label_delay: int


class WorkerPoller:
    """The worker's latest summary and its alerts, polled in a daemon thread.

    ``on_alert`` is called (from the poller's thread) with each new alert, oldest first;
    ``on_poll`` after every poll, answered or not."""

    def __init__(self, url: str, *, on_alert: Callable[[dict[str, Any]], None] = lambda _: None,
                 on_poll: Callable[[], None] = lambda: None, interval: float = POLL_S, timeout: float = TIMEOUT_S) -> None:
        self.url = url
        self.interval = interval
        self.timeout = timeout
        self.on_alert = on_alert
        self.on_poll = on_poll
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="driftline-demo-poller", daemon=True)
        self._summary: dict[str, Any] | None = None
        self._recent: deque[dict[str, Any]] = deque(maxlen=SHOWN_ALERTS)
        self._seen = 0  # the highest alert ``seq`` taken
        self._error = ""
        self._answered_at: float | None = None

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=self.timeout * 3 + 1)

    def snapshot(self) -> tuple[dict[str, Any] | None, list[dict[str, Any]], str, float | None]:
        """The latest summary, the last alerts (oldest first), the last poll's error ('' when it
        answered) and when the worker last answered (monotonic)."""
        with self._lock:
            return self._summary, list(self._recent), self._error, self._answered_at

    def _get(self, path: str) -> Any:
        with urllib.request.urlopen(f"{self.url}{path}", timeout=self.timeout) as answer:
            body = answer.read()
        return json.loads(body) if path.startswith("/api/") else body.decode("utf-8", errors="replace")

    def poll(self) -> None:
        """One poll: the summary, the alerts not seen yet, how far each agent has read."""
        try:
            summary = self._get("/api/summary")
            answer = self._get(f"/api/alerts?since={self._seen}")
            progress = consumed(self._get("/metrics"))
        except (OSError, ValueError) as exc:
            self._failed(str(getattr(exc, "reason", exc)) or type(exc).__name__)
            return
        if not isinstance(summary, dict) or not isinstance(answer, dict):
            self._failed("the worker's /api answers are not JSON objects")
            return
        summary["consumed_by_topic"] = progress
        alerts = answer.get("alerts")
        fresh = sorted((a for a in alerts if isinstance(a, dict)) if isinstance(alerts, list) else (),
                       key=lambda a: int(a.get("seq", 0)))
        with self._lock:
            self._summary, self._error, self._answered_at = summary, "", time.monotonic()
            self._recent.extend(fresh)
            if fresh:
                self._seen = max(self._seen, *(int(a.get("seq", 0)) for a in fresh))
        for alert in fresh:
            self.on_alert(alert)

    def _failed(self, error: str) -> None:
        with self._lock:
            self._error = error

    def _run(self) -> None:
        while not self._stop.is_set():
            self.poll()
            self.on_poll()
            self._stop.wait(self.interval)


class DemoView:
    """The numbers the demo shows: what it produced (set by the producer) and what the worker
    answered (from the poller)."""

    def __init__(self, plan: Plan, poller: WorkerPoller) -> None:
        self.plan = plan
        self.poller = poller
        self.produced = 0
        self.phase = "producing"
        self.began = time.monotonic()
        self.most_behind = 0  # the most events produced and not scored yet, of every poll answered

    def elapsed(self) -> float:
        return time.monotonic() - self.began

    def render(self) -> RenderableType:
        """The live terminal view."""
        summary, alerts, error, answered_at = self.poller.snapshot()
        s = summary or {}
        plan = self.plan
        grid = Table.grid(padding=(0, 2))
        grid.add_column(style="bold", justify="right")
        grid.add_column()
        drift = (f"the concept changed at event {plan.drift_at:,}" if self.produced >= plan.drift_at
                 else f"the concept changes at event {plan.drift_at:,}")
        grid.add_row("produced", Group(Text(f"{self.produced:,} / {plan.events:,} events of {plan.source} at {plan.rate:g}/s, "
                                            f"labels {plan.label_delay} events late · {drift}"),
                                       ProgressBar(total=plan.events, completed=self.produced, width=50)))
        grid.add_row("scored", f"{_count(s.get('events_total'))} events · {_number(s.get('events_per_s'), '{:.0f}')}/s · "
                               f"{self.behind(s)} behind the producer · the trainer has learned {_count(_learned(s))} examples")
        grid.add_row("latency", f"p50 {_ms(s.get('latency_p50'))} · p95 {_ms(s.get('latency_p95'))} (event time to prediction)")
        grid.add_row("accuracy", f"served {_number(s.get('served'))} · prequential {_number(s.get('prequential'))} "
                                 f"· rolling {_number(s.get('rolling'))}")
        grid.add_row("models", f"champion {_version(s.get('champion'))} · challenger {_version(s.get('challenger'))}")
        grid.add_row("dead letters", _reasons(s.get("deadletters_by_reason")))
        if error:
            since = f" for {time.monotonic() - answered_at:.0f}s" if answered_at is not None else ""
            grid.add_row("worker", Text(f"not answering{since}: {error}", style="yellow"))
        lines = [Text(alert_line(a), style=_style(a)) for a in alerts] or [Text("none yet", style="dim")]
        title = f"driftline demo · namespace {plan.namespace} · {self.elapsed():.0f}s · {self.phase}"
        return Panel(Group(grid, Text(""), Text(f"alerts (last {SHOWN_ALERTS})", style="bold"), *lines), title=title,
                     title_align="left")

    def behind(self, summary: dict[str, Any]) -> str:
        """Events produced and not scored yet."""
        scored = summary.get("events_total")
        return f"{max(0, self.produced - int(scored)):,}" if isinstance(scored, int | float) else "-"

    def observe(self) -> None:
        """After each poll: note how far the worker is behind."""
        summary, _, error, _ = self.poller.snapshot()
        scored = (summary or {}).get("events_total")
        if not error and isinstance(scored, int | float):
            self.most_behind = max(self.most_behind, self.produced - int(scored))

    def plain_line(self) -> str:
        """One progress line, for a log."""
        summary, _, error, _ = self.poller.snapshot()
        s = summary or {}
        line = (f"[{self.elapsed():4.0f}s] {self.phase}: produced {self.produced:,}/{self.plan.events:,} · "
                f"scored {_count(s.get('events_total'))} at {_number(s.get('events_per_s'), '{:.0f}')}/s "
                f"({self.behind(s)} behind) · learned {_count(_learned(s))} · "
                f"latency p50 {_ms(s.get('latency_p50'))} p95 {_ms(s.get('latency_p95'))} · "
                f"accuracy served {_number(s.get('served'))} prequential {_number(s.get('prequential'))} "
                f"rolling {_number(s.get('rolling'))} · champion {_version(s.get('champion'))} "
                f"challenger {_version(s.get('challenger'))} · dead letters {_reasons(s.get('deadletters_by_reason'))}")
        return line + (f" · worker not answering: {error}" if error else "")


def consumed(metrics_text: str) -> dict[str, float]:
    """``driftline_consumed_total`` by topic from the worker's ``/metrics``: records each source
    topic's agent has taken (``examples``: what the trainer has learned from)."""
    out: dict[str, float] = {}
    for family in text_string_to_metric_families(metrics_text):
        for sample in family.samples:
            if sample.name == "driftline_consumed_total":
                out[sample.labels.get("topic", "")] = sample.value
    return out


def alert_line(alert: dict[str, Any]) -> str:
    """An alert as one line: its time, kind, severity and message."""
    ts = alert.get("ts")
    when = time.strftime("%H:%M:%S", time.localtime(ts)) if isinstance(ts, int | float) else "--:--:--"
    return f"{when} {alert.get('kind', '?')} [{alert.get('severity', '?')}] {alert.get('message', '')}"


@contextmanager
def watching(url: str, plan: Plan, *, live: bool, console: Console) -> Iterator[DemoView]:
    """Show the run while the block runs: a live view when ``live``, else plain lines."""
    if live:
        poller = WorkerPoller(url)
        view = DemoView(plan, poller)
        poller.on_poll = view.observe
        poller.start()
        try:
            with Live(get_renderable=view.render, console=console, refresh_per_second=2):
                yield view
        finally:
            poller.stop()
        return
    printed = [time.monotonic()]

    def say(line: str) -> None:
        console.print(line, markup=False, highlight=False, soft_wrap=True)

    def tick() -> None:
        view.observe()
        if time.monotonic() - printed[0] >= PLAIN_EVERY_S:
            printed[0] = time.monotonic()
            say(view.plain_line())

    poller = WorkerPoller(url, on_alert=lambda a: say(f"alert: {alert_line(a)}"), on_poll=tick)
    view = DemoView(plan, poller)
    say(f"driftline demo: {plan.events:,} events of {plan.source} at {plan.rate:g}/s, labels {plan.label_delay} events "
        f"late, the concept changes at event {plan.drift_at:,}; namespace {plan.namespace}")
    poller.start()
    try:
        yield view
    finally:
        poller.stop()
        say(view.plain_line())


def _learned(summary: dict[str, Any]) -> Any:
    by_topic = summary.get("consumed_by_topic")
    return by_topic.get("examples") if isinstance(by_topic, dict) else None


def _number(value: Any, fmt: str = "{:.3f}") -> str:
    return fmt.format(value) if isinstance(value, int | float) else "-"


def _count(value: Any) -> str:
    return f"{int(value):,}" if isinstance(value, int | float) else "-"


def _ms(seconds: Any) -> str:
    return f"{seconds * 1000:.0f} ms" if isinstance(seconds, int | float) else "-"


def _version(value: Any) -> str:
    return f"v{value}" if isinstance(value, int) else "-"


def _reasons(by_reason: Any) -> str:
    if not isinstance(by_reason, dict) or not any(by_reason.values()):
        return "none"
    return ", ".join(f"{reason} {int(n):,}" for reason, n in sorted(by_reason.items()) if n)


def _style(alert: dict[str, Any]) -> str:
    return {"critical": "bold red", "warning": "yellow"}.get(str(alert.get("severity")), "")
