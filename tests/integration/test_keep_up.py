"""A live stream at 1,000 events/s with labels and a concept change (real broker and Redis), into a
scoring process (validate, feedback) and a learning process (join, train), as the README advises
for this rate: every event is predicted, every label learned, the change is detected and the
served accuracy comes back.

How fast it keeps up (lag, latency, how soon the accuracy recovers) is measured by `make bench`;
this test's verdict waits for completion and asserts what was served. So that it never depends on
the machine's speed, the feed holds before its last WINDOW events until the learning process has
learned every label sent so far, and the recovery is judged on those last events.
"""

from __future__ import annotations

import statistics
import uuid
from collections import Counter
from dataclasses import replace
from pathlib import Path

import orjson
import pytest

from streams.kafka import admin
from streams.kafka.topics import topic_specs
from streams.settings import Settings
from tests.support.feed import Feed
from tests.support.pipeline import Worker, committed, end_offsets, read_all, settled, wait_for

RATE = 1_000
EVENTS = 30_000  # the concept changes halfway
LABEL_DELAY = 300
WINDOW = 3_000  # events: served accuracy just before the change, and over the last of the stream
HOLD = EVENTS - WINDOW  # the feed waits here until learning has caught up


# saturates the cores: never beside the other stream that does, in a parallel run
@pytest.mark.xdist_group("cpu_heavy")
def test_at_1000_events_a_second_the_change_is_detected_and_served_accuracy_recovers(
        stack_settings: Settings, tmp_path: Path) -> None:
    """Over 60 s: 30,000 events at the README's rate of 1,000/s, so that the change halfway is detected
    and the accuracy recovers over the last events, in two processes as the README advises."""
    s = replace(stack_settings, topic_prefix=f"keep{uuid.uuid4().hex[:8]}")
    admin.ensure_topics(s, topic_specs(s))
    scorer = Worker(s, tmp_path / "scorer", agents="validate,feedback,models")
    s = scorer.settings  # its signing key is the trainer's too
    trainer = Worker(s, tmp_path / "trainer", agents="join,train,models", loglevel="INFO")
    try:
        scorer.start()
        trainer.start()
        settled(s, 2)
        feed = Feed(s, EVENTS, rate=RATE, label_delay=LABEL_DELAY, seed=11, hold_at=(HOLD,)).start()
        feed.wait_hold(HOLD / RATE * 3 + 60)
        wait_for("the labels sent so far learned", lambda: committed(s, "examples") >= HOLD - LABEL_DELAY, 180)
        feed.go_on()
        feed.join(timeout=WINDOW / RATE * 3 + 60)
        wait_for("every prediction", lambda: end_offsets(s, "predictions") >= EVENTS, 120)
        wait_for("every example learned", lambda: committed(s, "examples") >= EVENTS, 120)
    finally:
        scorer.stop()
        trainer.stop()

    labels = feed.labels
    predictions = [orjson.loads(r.value) for r in read_all(s, "predictions", EVENTS)]
    served = {p["event_id"]: p["prediction"] for p in predictions}
    version = {p["event_id"]: p["model_version"] for p in predictions}
    assert set(served) == set(labels), "every event is predicted"
    learned = {orjson.loads(r.value)["event_id"] for r in read_all(s, "examples", EVENTS)}
    assert learned == set(labels), "every label ends as an example"

    order = list(labels)  # event ids in the order produced
    change = EVENTS // 2

    def accuracy(lo: int, hi: int) -> float:
        return statistics.fmean(served[e] == labels[e] for e in order[lo:hi])

    before, just_after, last = accuracy(change - WINDOW, change), accuracy(change, change + 500), accuracy(EVENTS - WINDOW, EVENTS)
    # (ci13's one miss served 0.989 before the change, where every run since served 1.000: a version
    # published at 8,100 examples scores 0.980 there, those from 10,100 on 1.000)
    print("versions served before the change:", dict(Counter(version[e] for e in order[change - WINDOW:change])))
    print(f"served accuracy: {before:.3f} before the change, {just_after:.3f} just after, "
          f"{accuracy(HOLD - WINDOW, HOLD):.3f} before the hold, {last:.3f} after it")
    assert just_after < before - 0.2, f"the change must hurt the old model to test anything: {before:.3f} → {just_after:.3f}"
    assert last >= before - 0.05, f"served accuracy {before:.3f} before the change, {last:.3f} over the last {WINDOW} events"

    alerts = [orjson.loads(r.value) for r in read_all(s, "alerts", 1)]
    assert feed.changed_at is not None
    concept = [a for a in alerts if a["kind"] == "concept_drift" and a["ts"] > feed.changed_at]
    told = [(a["kind"], a.get("at_example") or a.get("at_event") or a.get("version"), round(a["ts"] - feed.changed_at, 1))
            for a in alerts]
    print("alerts (kind, at example or event or the version, seconds after the change):", told)
    said = [line for line in trainer.log.read_text(errors="replace").splitlines()
            if any(word in line for word in ("trainer", "WARNING", "ERROR", "CRITICAL", "evoke", "ssign"))]
    assert concept, f"a concept drift alert after the change: {told}; the learning process said: {said[-40:]}"
