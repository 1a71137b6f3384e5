"""The join's state rebuilt from a real broker: what waits, what is written again, where to go on."""

from __future__ import annotations

import itertools
import time
import uuid
from dataclasses import replace

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.structs import OffsetAndMetadata

from schemas import FeatureVector, encode
from streams.core.example import Example
from streams.core.join import SOURCE_HEADER, step
from streams.kafka import admin
from streams.kafka.partitioner import key_hash
from streams.kafka.topics import topic_specs
from streams.settings import Settings
from streams.specs.load import load_spec
from streams.state.join_state import apply, rebuild


def features(event_id: str, ts: float) -> bytes:
    return encode(FeatureVector(event_id=event_id, entity_id=None, ts=ts, features={"x": 1.0}, prediction=True,
                                model_version=1))


def test_a_rebuilt_join_holds_what_waits_and_writes_again_what_came_after_the_commit(stack_settings: Settings) -> None:
    s = replace(stack_settings, topic_prefix=f"join{uuid.uuid4().hex[:8]}")
    admin.ensure_topics(s, topic_specs(s))
    spec = load_spec(None)
    now = time.time()
    producer = KafkaProducer(bootstrap_servers=s.kafka_bootstrap, acks="all")
    ms = int(now * 1000)
    # features of e0..e5 (offsets 0..5), then e7's (offset 6, written late, by a worker that read
    # the raw backlog again after a crash); labels of e0, e7 (offsets 0, 1), then e4, e9 (2, 3)
    for i in range(6):
        producer.send(s.topic("features"), key=f"e{i}".encode(), value=features(f"e{i}", now + i), partition=0,
                      timestamp_ms=ms + 1000 * i)
    producer.send(s.topic("features"), key=b"e7", value=features("e7", now + 5.5), partition=0, timestamp_ms=ms + 5500)
    for n, i in enumerate((0, 7, 4, 9)):
        producer.send(s.topic("labels"), key=f"e{i}".encode(), partition=0, timestamp_ms=ms + 6000 + 1000 * n,
                      value=b'{"event_id": "e%d", "label": true, "ts": %f}' % (i, now + 6 + n))
    producer.flush()
    producer.close()
    # the dead worker committed features below 6 and labels below 2: it read e7's label before
    # e7's features (which it never read), so e7's label waited in its memory; e0 was written
    group = KafkaConsumer(bootstrap_servers=s.kafka_bootstrap, group_id=f"{s.topic_prefix}-worker", enable_auto_commit=False)
    group.commit({TopicPartition(s.topic("features"), 0): OffsetAndMetadata(6, "", -1),
                  TopicPartition(s.topic("labels"), 0): OffsetAndMetadata(2, "", -1)})
    group.close()

    # Faust hands the features from their commit (6): the rebuild reads what lies below the commits
    done = rebuild(s, spec, 0, (s.topic("features"), 6), timeout_s=30)

    assert done.nexts == {s.topic("features"): 6, s.topic("labels"): 2}
    assert done.redo == []  # every example of records below both commits was written: none again, none read twice
    assert set(done.joiner.events) == {"e1", "e2", "e3", "e4", "e5"}  # waiting for their labels
    assert set(done.joiner.early) == {"e7"}  # read before its features by the dead worker, which never met them
    # what Faust hands from the commits meets them: e7 (a regression: its label is below the
    # commit, its features are not, so nobody met them) and e4 (its label is above the commit)
    assert [step(done.nexts[s.topic("labels")], offset) for offset in (1, 2, 4)] == ["skip", "apply", "rebuild"]
    e7 = apply(done.joiner, spec, "features", features("e7", now + 5.5), now + 5.5, (s.topic("features"), 0, 6), None)
    e4 = apply(done.joiner, spec, "labels", b'{"event_id": "e4", "label": true, "ts": %f}' % (now + 8), now + 8,
               (s.topic("labels"), 0, 2), None)
    e9 = apply(done.joiner, spec, "labels", b'{"event_id": "e9", "label": true, "ts": %f}' % (now + 9), now + 9,
               (s.topic("labels"), 0, 3), None)
    assert isinstance(e7, Example) and e7.event_id == "e7"
    assert isinstance(e4, Example) and (e4.event_id, e4.y, e4.served) == ("e4", True, True)
    assert e9 is None and set(done.joiner.early) == {"e9"}  # a label ahead of its event

    # a worker handed a labels record past what it read (others read the partition in between):
    # what it reads above the commits may never have been written, so it is written again
    again = rebuild(s, spec, 0, (s.topic("labels"), 4), {s.topic("features"): 7}, timeout_s=30)
    assert again.nexts == {s.topic("features"): 7, s.topic("labels"): 4}
    assert [(r.topic, r.offset, o.event_id) for r, o in again.redo] == [(s.topic("labels"), 1, "e7"), (s.topic("labels"), 2, "e4")]
    assert set(again.joiner.events) == {"e1", "e2", "e3", "e5"} and set(again.joiner.early) == {"e9"}


def test_an_empty_partition_rebuilds_to_nothing(stack_settings: Settings) -> None:
    s = replace(stack_settings, topic_prefix=f"join{uuid.uuid4().hex[:8]}")
    admin.ensure_topics(s, topic_specs(s))
    done = rebuild(s, load_spec(None), 1, (s.topic("labels"), 0), timeout_s=30)
    assert done.nexts == {s.topic("features"): 0, s.topic("labels"): 0}
    assert done.redo == [] and not done.joiner.events and not done.joiner.early


def test_a_join_that_reads_the_feedback_rebuilds_from_it_and_rekeys_again_what_it_may_not_have(stack_settings: Settings) -> None:
    s = replace(stack_settings, topic_prefix=f"join{uuid.uuid4().hex[:8]}")
    admin.ensure_topics(s, topic_specs(s))
    spec = load_spec(None)
    ids = (f"f{i}" for i in itertools.count())
    home = [i for i in itertools.islice(ids, 200) if key_hash(i.encode()) % s.partitions == 0][:3]  # partition 0's events
    away = next(i for i in ids if key_hash(i.encode()) % s.partitions != 0)
    now = time.time()
    producer = KafkaProducer(bootstrap_servers=s.kafka_bootstrap, acks="all")
    for n, event_id in enumerate(home[:2]):
        producer.send(s.topic("features"), key=event_id.encode(), value=features(event_id, now + n), partition=0)
    # the users' feedback on partition 0: home[0]'s label (its event's partition), one for an event
    # of another partition, a label of the wrong type, then home[2]'s label (ahead of its event)
    for event_id, label in ((home[0], b"true"), (away, b"true"), (home[1], b"[1]"), (home[2], b"false")):
        producer.send(s.topic("feedback"), partition=0, value=b'{"event_id": "%s", "label": %s}' % (event_id.encode(), label))
    producer.flush()
    producer.close()
    group = KafkaConsumer(bootstrap_servers=s.kafka_bootstrap, group_id=f"{s.topic_prefix}-worker", enable_auto_commit=False)
    group.commit({TopicPartition(s.topic("features"), 0): OffsetAndMetadata(2, "", -1),
                  TopicPartition(s.topic("feedback"), 0): OffsetAndMetadata(1, "", -1)})
    group.close()

    # handed the feedback from past its commit (the worker before it read on to offset 4 and died)
    done = rebuild(s, spec, 0, (s.topic("feedback"), 4), feedback=True, timeout_s=30)

    assert done.nexts == {s.topic("features"): 2, s.topic("labels"): 0, s.topic("feedback"): 4}
    # home[0] joined below both commits: written; the rest may not have been: the label for the
    # other partition's event is re-keyed again, the wrong type dead-lettered again
    assert [(r.offset, type(o).__name__) for r, o in done.redo] == [(1, "Rekey"), (2, "Rejected")]
    assert done.redo[0][1].event_id == away
    assert done.redo[1][1].dead_letter.reason.value == "wrong_type"
    assert set(done.joiner.events) == {home[1]} and set(done.joiner.early) == {home[2]}
    # a copy of home[2]'s label re-keyed by a feedback agent of an older worker names the same record: not a second label
    copy = apply(done.joiner, spec, "labels", b'{"event_id": "%s", "label": false}' % home[2].encode(), now,
                 (s.topic("labels"), 0, 0), [(SOURCE_HEADER, b"0:3")])
    assert copy is None and done.joiner.counts.reread_labels == 1
