"""Fault 7: trouble outside the pipeline that Kafka keeps from slowing it down, so that nobody
would notice: a subscriber to ``alerts`` that stops reading (kcat, a client that is not ours,
SIGSTOPped), and the broker's log directory close to full (a small disk, filled). The worker keeps
its guarantees (I1, I2) and says what is wrong: ``subscriber_stalled`` / ``subscriber_recovered``
and ``broker_disk_low`` / ``broker_disk_recovered`` alerts, and their gauges.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from streams.kafka import clients
from streams.kafka.groups import committed_offsets
from streams.settings import Settings
from streams.specs.load import DEFAULT_SPEC_PATH
from tests.support.feed import Feed
from tests.support.invariants import Sent, alerts, caught_up, stream_problems
from tests.support.pipeline import Worker, end_offsets, settled, wait_for

pytestmark = pytest.mark.reliability

EVENTS = 4_000
RATE = 300.0
LABEL_DELAY = 100
CAUGHT_UP_S = 240.0
SPEC = DEFAULT_SPEC_PATH.read_text().replace("publish_every = 2000", "publish_every = 500")  # alerts come often
WATCHING = {"broker_watch_s": 1, "subscriber_stall_s": 5, "broker_disk_min_free_pct": 20}


def check(s: Settings, worker: Worker, feed: Feed) -> None:
    """I1 and I2, once the feed is written and the worker has caught up. Trouble outside the
    worker (a subscriber stalled, the broker's disk filling) neither crashes it nor moves its
    partitions, so nothing is read twice: no duplicate prediction at all."""
    feed.join(timeout=600)
    took = caught_up(s, worker, CAUGHT_UP_S)
    problems, figures = stream_problems(s, Sent(valid=set(feed.labels), labelled=set(feed.labels)), 0)
    print(f"\n{figures} caught up {took:.1f}s after the feed ended")
    assert problems == [], "\n".join(problems)


def test_a_subscriber_that_stops_reading_slows_nothing_and_is_named(own_stack: Settings, tmp_path: Path) -> None:
    s = own_stack
    kcat = shutil.which("kcat")
    assert kcat is not None, "kcat is installed by make's system-deps"
    worker = Worker(replace(s, **WATCHING), tmp_path / "worker", spec_text=SPEC)
    worker.start()
    host, port = s.kafka_host_port
    subscriber = subprocess.Popen([kcat, "-b", f"{host}:{port}", "-G", "ops-team", "-q", "-X", "auto.offset.reset=earliest",
                                   "-X", "auto.commit.interval.ms=200", s.topic("alerts")],
                                  stdout=subprocess.DEVNULL, stderr=(tmp_path / "kcat.log").open("wb"))
    admin = clients.admin(s)
    try:
        settled(s, 1)
        feed = Feed(s, EVENTS, rate=RATE, label_delay=LABEL_DELAY, hold_at=(EVENTS // 3,)).start()
        feed.wait_hold(timeout=300)

        def reading() -> int:
            return sum(committed_offsets(admin, ["ops-team"]).get("ops-team", {}).values())

        wait_for("the subscriber reading alerts", lambda: end_offsets(s, "alerts") > 0 and reading() == end_offsets(s, "alerts"), 120)
        os.kill(subscriber.pid, signal.SIGSTOP)  # it stops reading, its connections open
        stopped_at = reading()
        feed.go_on()
        wait_for("a subscriber_stalled alert", lambda: alerts(s, "subscriber_stalled"), 240)
        stalled = alerts(s, "subscriber_stalled")
        assert len(stalled) == 1, stalled
        assert stalled[0]["subject"] == "ops-team" and stalled[0]["topic"] == s.topic("alerts")
        assert stalled[0]["committed"] == stopped_at and stalled[0]["lag"] > 0
        assert worker.running()
        os.kill(subscriber.pid, signal.SIGCONT)  # it reads again
        wait_for("a subscriber_recovered alert", lambda: alerts(s, "subscriber_recovered"), 240)
        check(s, worker, feed)
        text = worker.metrics()
        assert f'driftline_subscriber_lag{{group="ops-team",topic="{s.topic("alerts")}"}}' in text
        assert worker.running()
    finally:
        admin.close()
        subscriber.kill()
        subscriber.wait(timeout=30)
        worker.stop()


def test_the_brokers_disk_close_to_full_is_said_and_nothing_is_lost(small_disk_stack: Settings,
                                                                   tmp_path: Path) -> None:
    s = small_disk_stack
    worker = Worker(replace(s, **WATCHING), tmp_path / "worker", spec_text=SPEC)
    worker.start()
    data = s.state_dir / "kafka" / "data"
    filler = data / "filler"  # not a Kafka file: the broker leaves files it does not know alone
    try:
        settled(s, 1)
        feed = Feed(s, EVENTS, rate=RATE, label_delay=LABEL_DELAY, hold_at=(EVENTS // 3,)).start()
        feed.wait_hold(timeout=300)
        disk = shutil.disk_usage(data)
        leave = int(disk.total * 0.15)  # below the 20% the worker is told to keep; room for the rest of the feed
        subprocess.run(["fallocate", "-l", str(disk.free - leave), str(filler)], check=True)
        feed.go_on()
        wait_for("a broker_disk_low alert", lambda: alerts(s, "broker_disk_low"), 120)
        low = alerts(s, "broker_disk_low")
        assert len(low) == 1 and low[0]["severity"] == "critical", low
        assert low[0]["log_dir"] == str(data.resolve()) and low[0]["free"] < 0.20
        assert "driftline_broker_disk_free_ratio" in worker.metrics()
        assert worker.running()
        filler.unlink()
        wait_for("a broker_disk_recovered alert", lambda: alerts(s, "broker_disk_recovered"), 120)
        check(s, worker, feed)
        assert len(alerts(s, "broker_disk_low")) == 1  # said once, not every tick
        assert worker.running()
    finally:
        filler.unlink(missing_ok=True)
        worker.stop()
