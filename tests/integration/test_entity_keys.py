"""Per-entity features hold however users key their raw events: unkeyed, or keyed by something
else, an event is re-keyed by its entity id before it is scored."""

from __future__ import annotations

import time
import urllib.request
import uuid
from dataclasses import replace
from pathlib import Path

import orjson
from kafka import KafkaProducer

from streams.kafka import admin
from streams.kafka.topics import topic_specs
from streams.settings import Settings
from tests.support.pipeline import Worker, committed, read_all, settled, wait_for

EVENTS = 40
DATA = {"salary": 50000.0, "commission": 0.0, "age": 40, "elevel": 1, "car": 3, "zipcode": 2,
        "hvalue": 100000.0, "hyears": 10, "loan": 20000.0}


def test_unkeyed_and_wrongly_keyed_events_keep_one_state_per_entity(stack_settings: Settings, tmp_path: Path) -> None:
    """Two workers share the raw partitions: an entity's events on partitions of both would split
    its state in two, unless re-keyed."""
    s = replace(stack_settings, topic_prefix=f"keys{uuid.uuid4().hex[:8]}")
    admin.ensure_topics(s, topic_specs(s))
    workers = [Worker(s, tmp_path / name, loglevel="INFO") for name in ("a", "b")]
    for w in workers:
        w.start()
    try:
        settled(s, 2)
        warmed_up(s)
        sent_and_checked(workers[0])
        assert sum(rekeyed_count(w) for w in workers) == 2 * EVENTS
    finally:
        for w in workers:
            w.stop()


def warmed_up(s: Settings) -> None:
    """One event on each raw partition, until every partition has a committed offset: a partition
    with none is read from its start once assigned, and records read before that seek are read
    again (at least once): their features would be written twice."""
    producer = KafkaProducer(bootstrap_servers=s.kafka_bootstrap, acks="all")
    for p in range(s.partitions):
        producer.send(s.topic("raw"), value=orjson.dumps({"event_id": f"warm-{p}", "data": DATA}), partition=p)
    producer.close()
    wait_for("an offset committed on every raw partition", lambda: committed(s, "raw") >= s.partitions, 60)


def sent_and_checked(worker: Worker) -> None:
    s = worker.settings
    producer = KafkaProducer(bootstrap_servers=s.kafka_bootstrap, acks="all")
    now = time.time()
    keys = {"unkeyed": lambda n: None, "by-event": lambda n: f"by-event-{n}".encode(), "by-entity": lambda n: b"by-entity"}
    for n in range(EVENTS):
        for entity, key in keys.items():
            event = {"event_id": f"{entity}-{n}", "entity_id": entity, "ts": now + n, "data": DATA | {"loan": 1000.0 * n}}
            # the events of an entity not keyed by it land on every partition
            partition = None if entity == "by-entity" else n % s.partitions
            producer.send(s.topic("raw"), key=key(n), value=orjson.dumps(event), partition=partition)
    producer.flush()
    producer.close()

    features = [f for r in read_all(s, "features", 3 * EVENTS + s.partitions, timeout=60)
                if not (f := orjson.loads(r.value))["event_id"].startswith("warm-")]
    assert len(features) == 3 * EVENTS and len({f["event_id"] for f in features}) == 3 * EVENTS  # once each
    for entity in keys:
        counts = sorted(f["features"]["events_last_hour"] for f in features if f["entity_id"] == entity)
        assert counts == [float(n) for n in range(1, EVENTS + 1)], (entity, counts)  # one state saw them all
    rekeyed = [r for r in read_all(s, "rekeyed", 2 * EVENTS, timeout=30)]
    assert sorted(orjson.loads(r.value)["event_id"] for r in rekeyed) == \
        sorted(f"{entity}-{n}" for entity in ("unkeyed", "by-event") for n in range(EVENTS))  # keyed by entity: never
    assert {r.key for r in rekeyed} == {b"unkeyed", b"by-event"}


def rekeyed_count(worker: Worker) -> float:
    url = f"http://127.0.0.1:{worker.settings.web_port}/metrics"
    text = urllib.request.urlopen(url, timeout=10).read().decode()
    return sum(float(line.split()[1]) for line in text.splitlines() if line.startswith("driftline_rekeyed_total "))
