"""A label takes one hop when its client partitions it as Kafka does, two when it does not
(real broker and Redis): the join reads the users' feedback itself, joins the labels already on
their event's partition, and re-keys only the others through the internal ``labels`` topic."""

from __future__ import annotations

import itertools
import uuid
from dataclasses import replace
from pathlib import Path

import orjson
from kafka import KafkaProducer

from streams.core.join import SOURCE_HEADER
from streams.kafka import admin
from streams.kafka.partitioner import key_hash
from streams.kafka.reader import read_topic
from streams.kafka.sources import builtin
from streams.kafka.topics import topic_specs
from streams.settings import Settings
from tests.support.pipeline import Worker, committed, end_offsets, read_all, wait_for

EVENTS = 400


def test_labels_on_their_event_partition_are_joined_in_one_hop_the_others_are_rekeyed(
        stack_settings: Settings, tmp_path: Path) -> None:
    s = replace(stack_settings, topic_prefix=f"hops{uuid.uuid4().hex[:8]}")
    admin.ensure_topics(s, topic_specs(s))
    worker = Worker(s, tmp_path)
    worker.start()
    s = worker.settings
    n = s.partitions
    events = [event for event, _ in itertools.islice(builtin("agrawal-drift", seed=5), EVENTS)]
    producer = KafkaProducer(bootstrap_servers=s.kafka_bootstrap, acks="all")
    misplaced: dict[tuple[int, int], str] = {}  # (feedback partition, offset) -> event id, of the labels put elsewhere
    try:
        for event in events:
            producer.send(s.topic("raw"), key=event["entity_id"].encode(), value=orjson.dumps(event))
        producer.flush()
        for i, event in enumerate(events):
            label = orjson.dumps({"event_id": event["event_id"], "label": i % 3 == 0, "ts": event["ts"] + 1})
            key = event["event_id"].encode()
            if i % 4:  # keyed by event id, Kafka's default partitioner: its event's partition
                producer.send(s.topic("feedback"), key=key, value=label)
            else:  # a client whose partitioner differs: another partition than its event's
                sent = producer.send(s.topic("feedback"), key=key, value=label,
                                     partition=(key_hash(key) + 1) % n).get(timeout=30)
                misplaced[(sent.partition, sent.offset)] = event["event_id"]
        producer.flush()
    finally:
        producer.close()

    wait_for("every label learned", lambda: (e := end_offsets(s, "examples")) >= EVENTS and committed(s, "examples") >= e,
             timeout_s=240)
    examples = [orjson.loads(r.value) for r in read_all(s, "examples", EVENTS)]
    metrics = worker.metrics()
    worker.stop()

    assert sorted(x["event_id"] for x in examples) == sorted(e["event_id"] for e in events)  # each once
    # only the misplaced labels took the second hop, each naming the user's record it copies
    rekeyed = list(read_topic(s, "labels", timeout_s=60))
    sources = {tuple(int(v) for v in dict(r.headers)[SOURCE_HEADER].split(b":")): r.key.decode() for r in rekeyed}
    assert sources == misplaced and len(rekeyed) == EVENTS // 4
    assert all(r.partition == key_hash(r.key) % n for r in rekeyed)
    assert f"driftline_labels_rekeyed_total {EVENTS // 4:.1f}" in metrics
    assert end_offsets(s, "deadletter") == 0
