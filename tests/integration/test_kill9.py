"""A worker killed with SIGKILL mid-stream and restarted at once loses nothing.

The stream is produced at a steady rate with labels 1,500 events (5 s) late, longer than the
commit interval, so scored events wait in the join across the kills, while the worker is killed
twice and restarted under the same name (static group membership): every valid event gets a
prediction, and the duplicates a restart makes are bounded by what was processed and not yet
committed (the commit interval's worth of events); every label meets its event although the
join's memory died (it is rebuilt from the topics); the trainer learns every example exactly
once (its checkpoint names the offset it covers).
"""

from __future__ import annotations

import itertools
import signal
import time
import uuid
from collections import Counter
from dataclasses import replace
from pathlib import Path

import orjson
import redis
from kafka import KafkaProducer

from streams.kafka import admin
from streams.kafka.sources import builtin
from streams.kafka.topics import topic_specs
from streams.settings import Settings
from streams.state.checkpoint import CheckpointStore
from streams.worker.app import COMMIT_INTERVAL_S  # the worker's: what a crash can make be scored twice
from tests.support.feed import Feed
from tests.support.pipeline import Worker, committed, end_offsets, read_all, wait_for

EVENTS = 6_000
RATE = 300  # events/s: a rate one worker keeps up with on this machine class with room to spare
LABEL_DELAY = 1_500  # events: 5 s at RATE, longer than the commit interval


def test_a_worker_killed_twice_mid_stream_predicts_every_event(stack_settings: Settings, tmp_path: Path) -> None:
    settings = replace(stack_settings, topic_prefix=f"kill{uuid.uuid4().hex[:8]}")
    admin.ensure_topics(settings, topic_specs(settings))
    worker = Worker(settings, tmp_path, loglevel="INFO")  # its log tells how each restart went
    worker.start()
    s = worker.settings
    holds = (EVENTS // 3, 2 * EVENTS // 3)  # a kill after a third and after two thirds
    feed = Feed(s, EVENTS, rate=RATE, label_delay=LABEL_DELAY, seed=7, hold_at=holds).start()
    kills = 0
    try:
        for at in holds:
            # each kill lands the same way on any machine: everything fed so far scored and
            # committed (the worker caught up, even after the restart before), then a second of
            # the stream at its rate, then the kill, mid-stream
            assert feed.wait_hold(timeout=300) == at
            wait_for(f"the {at} events before kill {kills + 1} committed",
                     lambda: committed(s, "raw") == end_offsets(s, "raw"), 300)
            feed.go_on()
            wait_for(f"a second of the stream after event {at}", lambda: end_offsets(s, "raw") >= at + RATE, 120)
            assert worker.proc is not None
            worker.proc.send_signal(signal.SIGKILL)
            worker.proc.wait()
            kills += 1
            worker.start()  # at once, under the same name (same web port, so the same group member id)
        feed.join(timeout=120)
        # an event sent again after both kills is still known: the memory of event ids survives
        producer = KafkaProducer(bootstrap_servers=s.kafka_bootstrap)
        again = next(itertools.islice(builtin("agrawal-drift", seed=7, drift_at=EVENTS // 2), 10, None))[0]
        producer.send(s.topic("raw"), key=b"again", value=orjson.dumps(again))
        producer.flush()
        producer.close()
        predictions = read_all(s, "predictions", EVENTS, timeout=180)
        deadline = time.monotonic() + 180  # re-joined labels count too: wait for every event's example
        while True:
            examples = read_all(s, "examples", EVENTS, timeout=60)
            if len({orjson.loads(r.value)["event_id"] for r in examples}) >= EVENTS or time.monotonic() > deadline:
                break
            time.sleep(1)
        deadline = time.monotonic() + 120  # every example acked and committed in the end
        while committed(s, "examples") < len(examples) and time.monotonic() < deadline:
            time.sleep(0.5)
        dead = [orjson.loads(r.value) for r in read_all(s, "deadletter", 1, timeout=60)]
    finally:
        worker.stop()
    ids = Counter(orjson.loads(r.value)["event_id"] for r in predictions)
    assert kills == 2
    assert len(ids) == EVENTS  # every event predicted, none lost to the kills
    duplicates = sum(n - 1 for n in ids.values())
    # each kill may repeat what was scored after the last commit: at the stream's rate, a commit
    # interval's events, and those of the commit's own round trip (a second, generously)
    assert duplicates <= kills * int((COMMIT_INTERVAL_S + 1.0) * RATE), duplicates
    # every label met its event, though the join's memory died twice: none is an unknown_event
    joined = Counter(orjson.loads(r.value)["event_id"] for r in examples)
    assert set(joined) == set(ids)
    # the records read again after each kill are scored again, not taken for duplicates; the
    # event sent again is; every label met its event (no unknown_event)
    assert Counter(d["reason"] for d in dead) == {"duplicate_event": 1}
    # the trainer learned each example once: its checkpoint counts every event, none twice
    assert committed(s, "examples") == len(examples)
    saved = CheckpointStore(redis.Redis.from_url(s.redis_url), s.topic_prefix, s.model_key.encode()).load()
    assert saved is not None and saved.offset == len(examples)
    assert saved.state.position == len(joined) == EVENTS

