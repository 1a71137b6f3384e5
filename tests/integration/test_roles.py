"""Scoring and training in processes of their own (real broker and Redis): one consumer group,
each process running a subset of the agents; a standby trainer takes over from a killed one."""

from __future__ import annotations

import signal
import time
import uuid
from collections import Counter
from dataclasses import replace
from pathlib import Path

import orjson

from streams.kafka import admin
from streams.kafka.produce import ProduceOptions, produce
from streams.kafka.topics import topic_specs
from streams.settings import Settings
from tests.support.pipeline import Worker, checkpoint_covering, end_offsets, read_all, settled

# the models follower is not named: it runs beside validate and train by itself (the scorer
# below must come to serve a version the trainer published)
SCORING = "validate,feedback,join"
TRAINING = "train"


def test_a_scoring_process_and_two_trainers_share_the_loop_and_a_standby_trainer_takes_over(
        stack_settings: Settings, tmp_path: Path) -> None:
    s = replace(stack_settings, topic_prefix=f"roles{uuid.uuid4().hex[:8]}")
    admin.ensure_topics(s, topic_specs(s))
    scorer = Worker(s, tmp_path / "scorer", loglevel="INFO", agents=SCORING)
    s = scorer.settings  # its signing key is everyone's
    trainers = [Worker(s, tmp_path / name, loglevel="INFO", agents=TRAINING) for name in ("trainer-a", "trainer-b")]
    try:
        for w in [scorer, *trainers]:
            w.start()
        assert scorer.health()["agents"] == ["validate", "feedback", "join", "models"]
        assert trainers[0].health()["agents"] == ["train", "models"]
        settled(s, 3)  # a process answers before it has joined the group: no rebalance mid-stream
        produce(s, ProduceOptions("agrawal-drift", limit=3_000, feedback_delay=100, seed=5))
        first = checkpoint_covering(s, 3_000)
        # the versions the trainer published reached the scorer's process: it serves one of them
        deadline = time.monotonic() + 60
        while scorer.health()["model_version"] == 0 and time.monotonic() < deadline:
            time.sleep(0.5)
        assert scorer.health()["model_version"] > 0
        # the trainer that holds the examples partition dies; the standby takes it over after the
        # session timeout, from the checkpoint
        learning = [t for t in trainers if "resumes at" in t.log.read_text()]
        assert len(learning) == 1, [t.log.read_text()[-2000:] for t in trainers]
        (dead,) = learning
        standby = next(t for t in trainers if t is not dead)
        assert dead.proc is not None
        dead.proc.send_signal(signal.SIGKILL)
        dead.proc.wait()
        produce(s, ProduceOptions("agrawal-drift", limit=3_000, feedback_delay=100, seed=6))  # new event ids
        deadline = time.monotonic() + 180
        while (examples := end_offsets(s, "examples")) < 6_000 and time.monotonic() < deadline:
            time.sleep(0.5)
        last = checkpoint_covering(s, examples)
    finally:
        for w in [scorer, *trainers]:
            w.stop()
    assert "resumes at" in standby.log.read_text()  # it learned, from the checkpoint
    predictions = Counter(orjson.loads(r.value)["event_id"] for r in read_all(s, "predictions", 6_000))
    # every event predicted; the rebalance after the kill may score again what was read and not
    # yet committed (at least once, as a restart does)
    assert set(predictions) == {f"agrawal-drift-{seed}-{n}" for seed in (5, 6) for n in range(3_000)}
    joined = {orjson.loads(r.value)["event_id"] for r in read_all(s, "examples", examples)}
    assert joined == set(predictions)  # every label met its event, across the rebalances
    assert first.state.position == 3_000
    # every example learned once, across the two trainers and the kill
    assert last.offset == examples and last.state.position == len(joined)
