"""Hostile input against a running worker: hypothesis writes arbitrary records to ``raw`` and
``feedback`` (any bytes, deep and huge JSON, wrong types, NaN and infinities, unicode edge cases,
oversized values, keys of every shape). Each record ends as exactly one outcome (a prediction or
a dead letter for a raw record; a label or a dead letter for feedback) and the worker never dies."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kafka import KafkaProducer

from schemas import Accepted, decode
from streams.core.join import source_of
from streams.core.labels import coerce_label
from streams.kafka.partitioner import key_hash
from streams.kafka.reader import read_topic
from streams.settings import Settings
from streams.specs.load import load_spec
from tests.support.invariants import caught_up
from tests.support.pipeline import Worker, settled

pytestmark = pytest.mark.reliability

CASES = 300  # hypothesis examples, each a handful of records
ENTITIES = ["c-1", "c-2", "c-3"]  # a few entities, keyed or not: the re-keying path too
FIELDS = ["salary", "commission", "age", "elevel", "car", "zipcode", "hvalue", "hyears", "loan"]

numbers = (st.integers(min_value=-(2**70), max_value=2**70) | st.floats()  # NaN and infinities too
           | st.sampled_from([0, -0.0, 1e308, -1e308, 5e-324]))
texts = st.text(max_size=40) | st.sampled_from(["\ud800", "\udfff", "\u0000", "\u202e", "\ufeff", "é" * 5000])
scalars = st.none() | st.booleans() | numbers | texts
json_values = st.recursive(scalars, lambda kids: st.lists(kids, max_size=4) | st.dictionaries(texts, kids, max_size=4),
                           max_leaves=30)


def dumps(value: Any) -> bytes:
    """JSON as a careless client writes it: NaN and Infinity bare, lone surrogates escaped."""
    return json.dumps(value, allow_nan=True).encode("utf-8", "surrogatepass")


def deep(depth: int) -> bytes:
    return b'{"event_id": "deep", "data": ' + b'{"a": ' * depth + b"1" + b"}" * depth + b"}"


@st.composite
def raw_values(draw: st.DrawFn, n: int) -> bytes:
    kind = draw(st.sampled_from(["event", "event", "event", "object", "bytes", "deep", "huge"]))
    if kind == "bytes":
        return draw(st.binary(max_size=200))
    if kind == "deep":
        return deep(draw(st.integers(min_value=100, max_value=100_000)))
    if kind == "huge":
        return b'{"event_id": "huge", "data": {"salary": "' + b"x" * draw(st.integers(60_000, 300_000)) + b'"}}'
    if kind == "object":
        return dumps(draw(st.dictionaries(texts, json_values, max_size=6)))
    # a valid event (all of the demo spec's fields, in range), then none to three things spoilt
    event: dict[str, Any] = {"event_id": f"fuzz-{n}", "entity_id": draw(st.sampled_from(ENTITIES)),
                             "data": {name: draw(st.integers(0, 4)) for name in FIELDS} | {"car": 1}}
    for _ in range(draw(st.integers(0, 3))):
        spoil = draw(st.sampled_from(["field", "drop", "event_id", "entity_id", "ts", "extra"]))
        if spoil == "field":
            event["data"][draw(st.sampled_from(FIELDS))] = draw(json_values)
        elif spoil == "drop":
            event["data"].pop(draw(st.sampled_from(FIELDS)), None)
        elif spoil == "extra":
            event[draw(texts)] = draw(json_values)
        else:
            event[spoil] = draw(json_values)
    return dumps(event)


@st.composite
def feedback_values(draw: st.DrawFn, n: int) -> bytes:
    if draw(st.booleans()):
        return dumps({"event_id": draw(st.just(f"fuzz-{n}") | texts), "label": draw(scalars),
                      **({"ts": draw(numbers)} if draw(st.booleans()) else {})})
    return draw(st.binary(max_size=100)) if draw(st.booleans()) else dumps(draw(json_values))


keys = (st.none() | st.binary(max_size=0) | st.binary(max_size=64) | st.just(b"k" * 10_000)
        | st.sampled_from([e.encode() for e in ENTITIES]))


def test_arbitrary_records_each_end_as_one_outcome_and_the_worker_lives(stack_settings: Settings,
                                                                       tmp_path: Path) -> None:
    import uuid
    from dataclasses import replace

    from streams.kafka import admin
    from streams.kafka.topics import topic_specs

    s = replace(stack_settings, topic_prefix=f"fuzz{uuid.uuid4().hex[:8]}")
    admin.ensure_topics(s, topic_specs(s))
    worker = Worker(s, tmp_path / "worker")
    worker.start()
    producer = KafkaProducer(bootstrap_servers=s.kafka_bootstrap, acks="all", max_request_size=2**20)
    sent = {"raw": 0, "feedback": 0}
    written: dict[str, list[Any]] = {"raw": [], "feedback": []}  # each record's send, for where it landed
    feedback_sent: list[bytes] = []
    try:
        settled(s, 1)

        @settings(max_examples=CASES, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        @given(data=st.data())
        def case(data: st.DataObject) -> None:
            n = sum(sent.values())
            for _ in range(data.draw(st.integers(1, 3))):
                written["raw"].append(producer.send(s.topic("raw"), key=data.draw(keys), value=data.draw(raw_values(n))))
                sent["raw"] += 1
            if data.draw(st.booleans()):
                value = data.draw(feedback_values(n))
                written["feedback"].append(producer.send(s.topic("feedback"), key=data.draw(keys), value=value))
                feedback_sent.append(value)
                sent["feedback"] += 1

        case()
        producer.flush()
        took = caught_up(s, worker, 300)
        assert worker.running(), "the worker died"
    finally:
        producer.close()
        worker.stop()

    # where each record sent landed: (partition, offset), each once
    positions = {name: Counter((m.partition, m.offset) for m in (f.get(timeout=60) for f in futures))
                 for name, futures in written.items()}
    letters = [orjson.loads(r.value) for r in read_topic(s, "deadletter", timeout_s=60)]
    predictions = sum(1 for _ in read_topic(s, "predictions", timeout_s=60))
    features = [orjson.loads(r.value) for r in read_topic(s, "features", timeout_s=60)]
    labels = list(read_topic(s, "labels", timeout_s=60))
    # a raw record's outcome: its features (and their prediction), or a dead letter; both name the
    # raw record, also for the copy that went round `rekeyed` (its origin header)
    raw_outcomes = Counter((f["source_partition"], f["source_offset"]) for f in features)
    raw_outcomes.update((d["partition"], d["offset"]) for d in letters if d["source_topic"] == s.topic("raw"))
    assert not [d for d in letters if d["source_topic"] == s.topic("rekeyed")], "a dead letter that lost its raw record"
    # the first outcome of each feedback record: a label re-keyed (its header names the feedback
    # record), a dead letter, or the join took it as it is (a label of the task's type on its
    # event's partition); the join's later outcomes of a label (duplicate_label, unknown_event)
    # name the same feedback record, once each
    joined = {"duplicate_label", "unknown_event"}
    task = load_spec(None).task

    def taken_as_it_is(m: Any, value: bytes) -> bool:
        got = decode("feedback", value, max_bytes=s.max_event_bytes)
        return isinstance(got, Accepted) and coerce_label(task, got.value.label) is not None \
            and key_hash(got.value.event_id.encode()) % s.partitions == m.partition

    feedback_outcomes = Counter(source_of(r.headers, "feedback", ("labels", None, None))[1:] for r in labels)
    feedback_outcomes.update((m.partition, m.offset) for m, value in
                             zip((f.get(timeout=60) for f in written["feedback"]), feedback_sent, strict=True)
                             if taken_as_it_is(m, value))
    feedback_outcomes.update((d["partition"], d["offset"]) for d in letters
                             if d["source_topic"] == s.topic("feedback") and d["reason"] not in joined)
    labels_letters = Counter((d["partition"], d["offset"]) for d in letters
                             if d["source_topic"] == s.topic("feedback") and d["reason"] in joined)
    print(f"\n{CASES} cases: {sent['raw']} raw records -> {predictions} predictions + "
          f"{sum(raw_outcomes.values()) - len(features)} dead letters; {sent['feedback']} feedback records -> "
          f"{len(labels)} labels + {sum(feedback_outcomes.values()) - len(labels)} dead letters; caught up in {took:.1f}s")
    assert sum(positions["raw"].values()) == sent["raw"] and sum(positions["feedback"].values()) == sent["feedback"]
    # each record sent has exactly one outcome, and no outcome names a record not sent
    assert raw_outcomes == positions["raw"], (raw_outcomes - positions["raw"], positions["raw"] - raw_outcomes)
    assert predictions == len(features), "a scored event without its one prediction"
    assert feedback_outcomes == positions["feedback"], (feedback_outcomes - positions["feedback"],
                                                        positions["feedback"] - feedback_outcomes)
    assert all(n == 1 for n in labels_letters.values()), "a label with two outcomes from the join"
    assert set(labels_letters) <= set(positions["feedback"])
