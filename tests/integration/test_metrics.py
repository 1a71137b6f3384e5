"""The worker's /metrics against a real broker: consumer lag under a backlog, counters exact.

The worker runs on its own topic prefix in a fresh process, so every counter starts at zero and
every record on its topics is this test's: the counters must match what was produced exactly.
"""

from __future__ import annotations

import signal
import time
import urllib.request
from collections import Counter
from typing import Any

import orjson
from prometheus_client.parser import text_string_to_metric_families

from tests.support.feed import Feed
from tests.support.pipeline import Worker, read_all, settled

EVENTS = 4_000  # valid raw events
BAD = 12  # raw records that are not JSON
LABEL_DELAY = 200  # each label is produced this many events after its event
SOURCES = {"raw", "rekeyed", "feedback", "features", "labels", "examples"}  # what the agents consume

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def not_json(i: int, event: dict[str, Any]) -> list[bytes]:
    """BAD records that are not JSON, spread over the stream."""
    every = EVENTS // BAD
    return [b"not json"] if i % every == 0 and i // every < BAD else []


def scrape(worker: Worker) -> Samples:
    url = f"http://127.0.0.1:{worker.settings.web_port}/metrics"
    with urllib.request.urlopen(url, timeout=5) as response:
        text = response.read().decode()
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def by_label(samples: Samples, name: str, label: str) -> dict[str, float]:
    """A metric's samples summed by one of its labels."""
    out: Counter[str] = Counter()
    for (n, key), v in samples.items():
        if n == name:
            out[dict(key)[label]] += v
    return dict(out)


def lags(samples: Samples) -> dict[tuple[str, int], float]:
    return {(dict(key)["topic"], int(dict(key)["partition"])): v
            for (n, key), v in samples.items() if n == "driftline_consumer_lag"}


def test_lag_rises_with_a_backlog_returns_to_zero_and_the_counters_are_exact(worker: Worker) -> None:
    # the backlog is on the broker before the worker reads any of it (the process is stopped), and
    # the first scrape measures the lag (a scrape does) before any of it can be processed and committed
    settled(worker.settings, 1)  # it holds its partitions: the lag it measures covers them
    assert worker.proc is not None
    worker.proc.send_signal(signal.SIGSTOP)
    try:
        Feed(worker.settings, EVENTS, label_delay=LABEL_DELAY, seed=7, drift_at=10_000, extra=not_json).start().join(timeout=120)
    finally:
        worker.proc.send_signal(signal.SIGCONT)

    # follow /metrics until every record is consumed and every source partition is caught up
    highest = 0.0
    deadline = time.monotonic() + 300
    while True:
        samples = scrape(worker)
        lag = lags(samples)
        highest = max(highest, sum(lag.values()))
        consumed = by_label(samples, "driftline_consumed_total", "topic")
        caught_up = (consumed.get("raw") == EVENTS + BAD and consumed.get("feedback") == EVENTS
                     and {topic for topic, _ in lag} == SOURCES and not any(lag.values()))
        if caught_up:
            break
        assert time.monotonic() < deadline, f"not caught up: consumed {consumed}, lag {lag}"
        time.sleep(1)

    # the backlog showed as lag while it lasted, and no more than what was produced
    assert 0 < highest <= 5 * EVENTS + BAD
    # one series per source partition this worker holds: no changelog, no models follower
    partitions = worker.settings.partitions
    expected = {(t, p) for t in SOURCES - {"examples"} for p in range(partitions)} | {("examples", 0)}
    assert set(lag) == expected
    assert all(v == 0 for v in lag.values())

    # the counters the backlog moved, exactly
    assert value(samples, "driftline_events_total", topic="predictions") == EVENTS
    assert value(samples, "driftline_deadletters_total", reason="invalid_json") == BAD
    assert value(samples, "driftline_processing_seconds_count", agent="validate") == EVENTS + BAD
    assert value(samples, "driftline_end_to_end_seconds_count") == EVENTS

    # every alert is counted by kind: 4,000 labelled examples publish a version every 2,000
    # (the built-in spec). The counter moves as an alert is handed to the producer, so wait for
    # the topic to hold as many.
    while True:
        samples = scrape(worker)
        counted = {k: v for k, v in by_label(samples, "driftline_alerts_total", "kind").items() if v}
        if counted.get("model_published", 0) >= EVENTS // 2_000:
            records = read_all(worker.settings, "alerts", until=int(sum(counted.values())), timeout=30)
            on_topic = Counter(orjson.loads(r.value)["kind"] for r in records)
            if dict(on_topic) == counted:
                break
        assert time.monotonic() < deadline, f"alerts counted {counted}"
        time.sleep(1)
    assert by_label(samples, "driftline_alerts_total", "severity").get("info", 0) >= EVENTS // 2_000
