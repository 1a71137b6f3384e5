"""Fault 6: a feedback storm. At 2,000 feedback records a second: labels before their events,
two different labels for one event, labels for ids never seen, and labels after their event's
horizon. Every feedback record ends as exactly one example or one dead letter with its reason
(``duplicate_label``, ``unknown_event``); the first of two labels stands; the trainer learns each
example once; every event is predicted.

The join's clock is the records' own time, so the test moves it with the events' ``ts`` (a later
batch of events, "the clock") rather than by waiting: each phase is produced, then waited for
(the group's commits reach the topics' ends), so the outcome does not depend on the machine's speed.
"""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path
from typing import Any

import orjson
import pytest
from kafka import KafkaProducer

from streams.kafka import clients
from streams.kafka.reader import read_topic
from streams.settings import Settings
from streams.specs.load import DEFAULT_SPEC_PATH
from tests.support.invariants import Sent, caught_up, stream_problems
from tests.support.pipeline import Worker, settled

pytestmark = pytest.mark.reliability

RATE = 2_000.0  # feedback records a second in the storm
EARLY, DUPLICATED, UNKNOWN, LATE = 2_000, 1_000, 1_000, 1_000
CLOCK = 400  # events that move the join's clock: at least one expiry sweep (every 200 records) follows
HORIZON, GRACE = 600.0, 60.0
CAUGHT_UP_S = 240.0
ENTITIES = 64
DATA = {"salary": 50000.0, "commission": 0.0, "age": 40, "elevel": 1, "car": 3, "zipcode": 2,
        "hvalue": 100000.0, "hyears": 10, "loan": 20000.0}
SPEC = DEFAULT_SPEC_PATH.read_text() + f"""
[join]
horizon_seconds = {HORIZON}
early_label_grace_seconds = {GRACE}
"""


class Storm:
    """The test's own client: events and feedback with the times it chooses, paced, and where
    each feedback record landed."""

    def __init__(self, s: Settings) -> None:
        self.s = s
        self.producer: KafkaProducer = clients.producer(s, acks="all", linger_ms=5)
        self.events: set[str] = set()
        self.feedback: dict[tuple[int, int], tuple[str, bytes]] = {}  # (partition, offset) -> (event id, value)
        self.rates: list[float] = []

    def send_events(self, ids: list[str], ts: float) -> None:
        for n, event_id in enumerate(ids):
            entity = f"c-{n % ENTITIES}"
            event = {"event_id": event_id, "entity_id": entity, "ts": ts, "data": DATA}
            self.producer.send(self.s.topic("raw"), key=entity.encode(), value=orjson.dumps(event))
            self.events.add(event_id)
        self.producer.flush()

    def send_feedback(self, labels: list[tuple[str, Any, float]]) -> list[tuple[int, int]]:
        """Feedback records at ``RATE`` a second; where each one landed, in order."""
        futures = []
        began = time.monotonic()
        for n, (event_id, label, ts) in enumerate(labels):
            if n % 100 == 0:
                time.sleep(max(0.0, n / RATE - (time.monotonic() - began)))
            value = orjson.dumps({"event_id": event_id, "label": label, "ts": ts})
            futures.append((event_id, value, self.producer.send(self.s.topic("feedback"), key=event_id.encode(), value=value)))
        self.producer.flush()
        self.rates.append(len(labels) / max(1e-9, time.monotonic() - began))  # reported, not asserted
        out = []
        for event_id, value, future in futures:
            meta = future.get(timeout=60)
            self.feedback[(meta.partition, meta.offset)] = (event_id, value)
            out.append((meta.partition, meta.offset))
        return out

    def close(self) -> None:
        self.producer.close()


def test_a_feedback_storm_gives_every_label_exactly_one_outcome(own_stack: Settings, tmp_path: Path) -> None:
    s = own_stack
    worker = Worker(s, tmp_path / "worker", spec_text=SPEC)
    worker.start()
    storm = Storm(s)
    t0 = time.time()
    clock_1 = t0 + HORIZON + GRACE + 10  # past the first events' horizon and the early labels' grace
    clock_2 = clock_1 + GRACE + 10  # past the late labels' grace
    early = [f"early-{n}" for n in range(EARLY)]
    duplicated = [f"dup-{n}" for n in range(DUPLICATED)]
    unknown = [f"unknown-{n}" for n in range(UNKNOWN)]
    late = [f"late-{n}" for n in range(LATE)]

    def wait() -> None:
        caught_up(s, worker, CAUGHT_UP_S)

    try:
        settled(s, 1)
        # 1. labels before their events, two labels for an event, labels for ids never seen
        storm.send_feedback([(e, n % 2 == 0, t0) for n, e in enumerate(early)])
        storm.send_events(early + duplicated + late, t0)
        firsts = storm.send_feedback([(e, True, t0) for e in duplicated] + [(e, False, t0) for e in unknown])
        seconds = storm.send_feedback([(e, False, t0 + 1) for e in duplicated])
        wait()
        # 2. the clock moves past the horizon: the unlabelled events expire, the unknown ids' labels
        #    are given up on; then 3. labels for the expired events; 4. the clock moves past their grace
        for ids, ts in (([f"clock-a{n}" for n in range(CLOCK)], clock_1), ([f"clock-b{n}" for n in range(CLOCK)], clock_1)):
            storm.send_events(ids, ts)
            wait()
        storm.send_feedback([(e, True, clock_1) for e in late])
        wait()
        for ids in ([f"clock-c{n}" for n in range(CLOCK)], [f"clock-d{n}" for n in range(CLOCK)]):
            storm.send_events(ids, clock_2)
            wait()
        assert worker.running()
    finally:
        storm.close()
        worker.stop()

    # I1 and I2 over every topic: each event predicted, each labelled event learned once
    problems, figures = stream_problems(s, Sent(valid=storm.events, labelled=set(early + duplicated)), 0)
    assert problems == [], "\n".join(problems)
    examples = [orjson.loads(r.value) for r in read_topic(s, "examples")]
    assert Counter(e["event_id"] for e in examples) == Counter(early + duplicated)
    # the first of two labels stands: the duplicated events were labelled True, then False
    assert all(e["y"] is True for e in examples if e["event_id"].startswith("dup-"))
    assert all(e["y"] is (int(e["event_id"][6:]) % 2 == 0) for e in examples if e["event_id"].startswith("early-"))

    # every feedback record: exactly one outcome, the right one
    letters = [orjson.loads(r.value) for r in read_topic(s, "deadletter")]
    assert all(d["source_topic"] == s.topic("feedback") for d in letters), Counter(d["source_topic"] for d in letters)
    by_record = Counter((d["partition"], d["offset"]) for d in letters)
    assert max(by_record.values()) == 1, "a feedback record has two dead letters"
    reasons = {(d["partition"], d["offset"]): d["reason"] for d in letters}
    expected = {where: "duplicate_label" for where in seconds}
    expected |= {where: "unknown_event" for where, (event_id, _) in storm.feedback.items()
                 if event_id.startswith(("unknown-", "late-"))}
    assert reasons == expected, (Counter(reasons.values()), Counter(expected.values()))
    for d in letters:  # each dead letter carries its own record's bytes
        assert d["payload"].encode() == storm.feedback[(d["partition"], d["offset"])][1]
    joined = len(storm.feedback) - len(letters)
    assert joined == len(examples) == EARLY + DUPLICATED
    assert len(firsts) == DUPLICATED + UNKNOWN
    print(f"\n{len(storm.feedback)} feedback records at {min(storm.rates):.0f}-{max(storm.rates):.0f}/s: {len(examples)} examples, "
          f"{Counter(reasons.values())}; {figures}")
