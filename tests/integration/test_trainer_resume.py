"""A trainer goes on from its checkpoint, not from what Faust committed (real broker and Redis)."""

from __future__ import annotations

import signal
import time
import uuid
from dataclasses import replace
from pathlib import Path

import orjson
import redis
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.errors import KafkaError
from kafka.structs import OffsetAndMetadata

from streams.kafka import admin
from streams.kafka.topics import topic_specs
from streams.settings import Settings
from tests.support.pipeline import Worker, checkpoint_covering, committed, wait_for


def produce_examples(s: Settings, numbers: range) -> None:
    producer = KafkaProducer(bootstrap_servers=s.kafka_bootstrap, acks="all")
    for i in numbers:
        example = {"event_id": f"e{i}", "x": {"age": 20 + i % 50, "salary": 1000.0 * (i % 7)}, "y": i % 3 == 0,
                   "ts": time.time(), "served": None, "served_version": None}
        producer.send(s.topic("examples"), key=f"e{i}".encode(), value=orjson.dumps(example), partition=0)
    producer.flush()
    producer.close()


def commit_examples(s: Settings, offset: int, timeout_s: float = 60) -> None:
    """Commit the group's examples offset from outside, once the stopped worker left the group."""
    tp = TopicPartition(s.topic("examples"), 0)
    deadline = time.monotonic() + timeout_s
    while True:
        consumer = KafkaConsumer(bootstrap_servers=s.kafka_bootstrap, group_id=f"{s.topic_prefix}-worker",
                                 enable_auto_commit=False)
        try:
            consumer.commit({tp: OffsetAndMetadata(offset, "", -1)})
            return
        except KafkaError:
            if time.monotonic() > deadline:
                raise
            time.sleep(1)
        finally:
            consumer.close()


def trainer_only(stack_settings: Settings, tmp_path: Path) -> Worker:
    """A worker running the trainer alone, on a namespace of its own, logging at INFO."""
    s = replace(stack_settings, topic_prefix=f"resume{uuid.uuid4().hex[:8]}")
    admin.ensure_topics(s, topic_specs(s))
    return Worker(s, tmp_path, loglevel="INFO", agents="train")


def learned_after_a_start(worker: Worker, end: int) -> int:
    """Start the worker, wait until its trainer's checkpoint covers the examples below ``end``
    (and no more), stop it: how many examples the checkpointed trainer learned."""
    worker.start()
    try:
        last = checkpoint_covering(worker.settings, end)
    finally:
        worker.stop()
    assert last.offset == end
    return int(last.state.position)


def test_a_trainer_whose_commit_ran_ahead_of_its_checkpoint_seeks_back_and_skips_nothing(
        stack_settings: Settings, tmp_path: Path) -> None:
    # a regression: a trainer restarted past its checkpoint went on from Faust's offset, and the
    # examples in between were never learned
    worker = trainer_only(stack_settings, tmp_path)
    s = worker.settings
    worker.start()
    try:
        produce_examples(s, range(100))
        first = checkpoint_covering(s, 100)
        assert (first.offset, first.state.position) == (100, 100)
    finally:
        worker.stop()
    # as if it had died after Faust committed 150 and before it checkpointed them
    produce_examples(s, range(100, 200))
    commit_examples(s, 150)
    assert committed(s, "examples") == 150
    assert learned_after_a_start(worker, 200) == 200  # examples 100 to 149 were learned too, each once
    assert "seeks back to 100" in worker.log.read_text()


def test_a_trainer_killed_before_its_first_checkpoint_leaves_nothing_unlearned(
        stack_settings: Settings, tmp_path: Path) -> None:
    # a regression: a trainer SIGKILLed after Faust committed its first examples and before its
    # first checkpoint left none, and the next went on from the commit: the examples below it were
    # never learned (32 of 6,000 in the worker-lost cluster fault, in CI). Here its checkpoints are
    # refused (its Redis user may not run scripts, the checkpoint's check-and-set): the old trainer
    # learned on in memory and Faust committed; now it checkpoints where it starts before it
    # learns, and waits, with an alert, until it can.
    worker = trainer_only(stack_settings, tmp_path)
    s = worker.settings
    client = redis.Redis.from_url(s.redis_connect_url)
    client.execute_command("ACL", "SETUSER", "default", "-@scripting")
    try:
        worker.start()
        produce_examples(s, range(60))
        wait_for("the trainer to learn the examples and Faust to commit them, or to wait for Redis",
                 lambda: committed(s, "examples") >= 60 or "the registry's Redis refuses this user" in worker.log.read_text(), 120)
        worker.stop(signal.SIGKILL)
    finally:
        client.execute_command("ACL", "SETUSER", "default", "+@all")
        worker.stop()
    produce_examples(s, range(60, 80))
    assert learned_after_a_start(worker, 80) == 80  # each example learned once, those the killed trainer learned too
