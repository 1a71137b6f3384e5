"""A worker under a steady live stream with labels: does it keep up, how late are its answers,
how fresh are its models, does it recover from a concept change, does its memory stay flat.

One `driftline worker` (every agent) takes ``agrawal-drift`` at a steady rate, its concept
changing halfway, labels ``delay`` events late, all produced by one producer on the same machine
(:class:`tests.support.feed.Feed`), once the worker has its partitions (a running service, as
a user's client meets it: the worker's start-up is not counted). Latency is what a subscriber
sees: a kafka-python consumer follows ``predictions`` while the stream runs and times each
prediction from its raw event's send (the record's create time) to its own receipt. Lag is from
end and committed offsets sampled every 2 s; model freshness from each promotion's record time to
the first prediction served by that version; the rest is read from the topics afterwards.
"""

from __future__ import annotations

import os
import signal
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import orjson

from benchmarks.pipeline import READ_S, _rss_mb, namespace
from streams.kafka.reader import read_topic
from streams.settings import Settings
from streams.stack.ports import free_port
from streams.worker.process import WorkerProcess
from tests.support.feed import Feed
from tests.support.pipeline import committed, end_offsets

LAGGED = ("raw", "rekeyed", "feedback", "features", "labels", "examples")
WINDOW = 3_000  # events: served accuracy before the change, and 3,000 after it
SCORING = "validate,feedback,models"  # the split: what reads the users' topics and answers them
LEARNING = "join,train,models"  # and what learns from their labels (the join's own reading with it)


@dataclass
class KeepUp:
    rate: int
    events: int
    split: bool = False  # scoring and learning in two processes (SCORING, LEARNING)
    produced_s: float = 0.0
    caught_up_s: float = 0.0  # from the first event produced to the last example learned
    max_lag_s: dict[str, float] = field(default_factory=dict)
    rss_warm_mb: float = 0.0
    rss_end_mb: float = 0.0
    latency_ms: dict[str, float] = field(default_factory=dict)  # p50, p99, max over the run, as a subscriber saw them
    written_ms: dict[str, float] = field(default_factory=dict)  # p50, p99 to the prediction record's create time
    freshness_s: list[float] = field(default_factory=list)
    accuracy: dict[str, float] = field(default_factory=dict)  # before, just after, recovered
    unpredicted: int = 0  # events produced with no prediction at the end: lost
    unlearned: int = 0  # labels produced whose example never came: lost (or still waiting, when it fell behind)
    #: the scoring worker's oldest-generation garbage collections: count, seconds in all, the longest's bucket bound
    gc_full: tuple[int, float, float] = (0, 0.0, 0.0)


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def full_collections(page: str) -> tuple[int, float, float]:
    """From a worker's /metrics: its generation-2 collections (count, total seconds, the upper
    bound of the bucket of the longest one).

    >>> full_collections('driftline_gc_pause_seconds_bucket{generation="2",le="0.05"} 1.0\\n'
    ...                  'driftline_gc_pause_seconds_bucket{generation="2",le="0.1"} 3.0\\n'
    ...                  'driftline_gc_pause_seconds_count{generation="2"} 3.0\\n'
    ...                  'driftline_gc_pause_seconds_sum{generation="2"} 0.21\\n')
    (3, 0.21, 0.1)
    """
    count, total, longest, below = 0, 0.0, 0.0, 0.0
    for line in page.splitlines():
        if not line.startswith("driftline_gc_pause_seconds") or 'generation="2"' not in line:
            continue
        name, value = line.rsplit(" ", 1)
        if name.startswith("driftline_gc_pause_seconds_count"):
            count = int(float(value))
        elif name.startswith("driftline_gc_pause_seconds_sum"):
            total = float(value)
        elif 'le="' in name:
            bound = name.split('le="')[1].split('"')[0]
            if float(value) > below and bound != "+Inf":
                longest, below = float(bound), float(value)
            elif float(value) > below:
                longest, below = float("inf"), float(value)
    return count, total, longest


class Subscriber:
    """:mod:`benchmarks.subscriber` in a process of its own (a thread here shared the GIL with the
    producer): ``received`` maps each event id to the wall time (ms) its first prediction reached it."""

    def __init__(self, settings: Settings, events: int, folder: Path) -> None:
        self.settings, self.events = settings, events
        self.out, self.ready = folder / "subscriber.json", folder / "subscriber.ready"
        self.received: dict[str, float] = {}
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Subscriber:
        self.out.parent.mkdir(parents=True, exist_ok=True)
        self.out.unlink(missing_ok=True)
        self.ready.unlink(missing_ok=True)
        self.proc = subprocess.Popen([sys.executable, "-m", "benchmarks.subscriber", str(self.events), str(self.out), str(self.ready)],
                                     env={**os.environ, **self.settings.as_env()}, cwd=Path(__file__).resolve().parent.parent)
        deadline = time.monotonic() + 60
        while not self.ready.exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the subscriber did not get its partitions within 60 s")
            time.sleep(0.1)
        return self

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(60)
        self.received = orjson.loads(self.out.read_bytes()) if self.out.exists() else {}


def keep_up(settings: Settings, tmp: Path, rate: int, seconds: int, delay: int = 300, split: bool = False) -> KeepUp:
    """Run the stream, sample lag and memory while it runs, then read the figures back. With
    ``split``, scoring (``--agents validate,feedback,models``) and learning (``--agents
    join,train,models``) run in two processes, as tests/integration/test_keep_up.py runs them; the memory figures are the scoring process's."""
    s = namespace(settings, tmp, f"live{rate}{'split' if split else ''}")
    events = rate * seconds
    out = KeepUp(rate, events, split)
    worker = WorkerProcess(s, tmp / f"live{rate}.log", agents=SCORING if split else "")
    trainer = WorkerProcess(replace(s, web_port=free_port()), tmp / f"live{rate}-trainer.log", agents=LEARNING)
    worker.start()
    if split:
        trainer.start()
    worker.wait_assigned()
    if split:
        trainer.wait_assigned()
    assert worker.proc is not None
    subscriber = Subscriber(s, events, tmp / f"live{rate}{'split' if split else ''}").start()
    began = time.monotonic()
    feed = Feed(s, events, rate=rate, label_delay=delay, seed=11, pace_every=1).start()  # a steady stream
    done, labels = feed.done, feed.labels
    lag: dict[str, list[int]] = {name: [] for name in LAGGED}
    try:
        while True:
            time.sleep(2)
            for name in LAGGED:
                lag[name].append(end_offsets(s, name) - committed(s, name))
            if not out.rss_warm_mb and time.monotonic() - began > seconds / 4:
                out.rss_warm_mb = _rss_mb(worker.proc.pid)
            if done.is_set() and not out.produced_s:
                out.produced_s = time.monotonic() - began
            if done.is_set() and end_offsets(s, "predictions") >= events and committed(s, "examples") >= events:
                break
            if time.monotonic() - began > seconds * 4 + 120:
                break  # fell too far behind: the figures say so
        out.caught_up_s = time.monotonic() - began
        out.rss_end_mb = _rss_mb(worker.proc.pid)
        out.gc_full = full_collections(worker.metrics())
    finally:
        worker.stop()
        trainer.stop()
        subscriber.stop()
    # a committed offset lags by up to a commit interval (2.8 s) when all is well
    out.max_lag_s = {name: max(values, default=0) / rate for name, values in lag.items()}
    raw_ts = {orjson.loads(r.value)["event_id"]: r.timestamp for r in read_topic(s, "raw", timeout_s=READ_S)}
    predictions = [(r.timestamp, orjson.loads(r.value)) for r in read_topic(s, "predictions", timeout_s=READ_S)]
    latency = [received - raw_ts[event_id] for event_id, received in subscriber.received.items() if event_id in raw_ts]
    out.latency_ms = {"p50": _quantile(latency, 0.5), "p99": _quantile(latency, 0.99), "max": max(latency, default=float("nan"))}
    # the worker's part: from the raw record's create time to the prediction record's (stamped when
    # the worker hands it to its producer, before the producer's linger and the subscriber's fetch)
    written = [float(ts - raw_ts[p["event_id"]]) for ts, p in predictions if p["event_id"] in raw_ts]
    out.written_ms = {"p50": _quantile(written, 0.5), "p99": _quantile(written, 0.99)}
    first_served: dict[int, int] = {}
    for ts, p in predictions:
        v = p.get("model_version")
        if v is not None and (v not in first_served or ts < first_served[v]):
            first_served[v] = ts
    for r in read_topic(s, "models", timeout_s=READ_S):
        change = orjson.loads(r.value)
        v = change.get("version")
        if change.get("status") == "champion" and v in first_served and first_served[v] >= r.timestamp:
            out.freshness_s.append((first_served[v] - r.timestamp) / 1000)
    served = {p["event_id"]: p.get("prediction") for _, p in predictions}
    out.unpredicted = len(set(labels) - set(served))
    out.unlearned = len(set(labels) - {orjson.loads(r.value)["event_id"] for r in read_topic(s, "examples", timeout_s=READ_S)})
    order = list(labels)  # event ids in the order produced

    def accuracy(lo: int, hi: int) -> float:
        ids = [e for e in order[max(0, lo):hi] if e in served and e in labels]
        return statistics.fmean(served[e] == labels[e] for e in ids) if ids else float("nan")

    change = events // 2
    out.accuracy = {"before": accuracy(change - WINDOW, change), "just after": accuracy(change, change + 1_000),
                    "3,000 after": accuracy(change + WINDOW, change + 2 * WINDOW)}
    return out
