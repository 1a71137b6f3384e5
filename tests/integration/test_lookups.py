"""A lookup on the real broker: a reference topic updated mid-stream; the predictions after the
update use the new value (within a second of its time), none uses a record newer than its event,
and a replay of the range on the live run's schedule recomputes every prediction exactly."""

from __future__ import annotations

import itertools
import time
import uuid
from dataclasses import replace
from pathlib import Path

import orjson
from kafka import KafkaProducer

from streams.kafka import admin, clients
from streams.kafka.sources import builtin
from streams.kafka.topics import topic_specs
from streams.settings import Settings
from streams.specs.load import DEFAULT_SPEC_PATH
from tests.support.pipeline import Worker, end_offsets, read_all, replayed_as_live, wait_for

EVENTS = 1_600
RATE = 400.0  # events per second: the update lands mid-stream, 2 s in


def spec_text(topic: str) -> str:
    return DEFAULT_SPEC_PATH.read_text().replace("[model]", f"""[[features.lookup]]
name = "zone"
topic = "{topic}"
key = "zipcode"
fields = ["risk"]
prefix = "zone_"
on_miss = "deadletter"

[model]""")


def reference_records(settings: Settings, topic: str) -> list:  # type: ignore[type-arg]
    """The reference topic whole (a topic of the user's: no prefix)."""
    consumer = clients.consumer(settings, topic, auto_offset_reset="earliest", consumer_timeout_ms=3000)
    try:
        return list(consumer)
    finally:
        consumer.close()


def send_zone(producer: KafkaProducer, topic: str, zipcode: int, risk: float, ts: float | None = None) -> None:
    value = {"risk": risk} if ts is None else {"risk": risk, "ts": ts}
    producer.send(topic, key=str(zipcode).encode(), value=orjson.dumps(value))


def test_an_update_is_used_from_its_time_and_replay_recomputes_the_live_predictions(stack_settings: Settings, tmp_path: Path) -> None:
    settings = replace(stack_settings, topic_prefix=f"look{uuid.uuid4().hex[:8]}")
    admin.ensure_topics(settings, topic_specs(settings))
    zones = f"{settings.topic_prefix}-zones"
    producer = clients.producer(settings)
    began = time.time()
    for z in range(9):  # the table before the stream: every zone low risk
        send_zone(producer, zones, z, 0.1, ts=began - 60)
    producer.flush()

    worker = Worker(settings, tmp_path, spec_text=spec_text(zones))
    worker.start()
    try:
        settings = worker.settings
        items = list(itertools.islice(builtin("agrawal-drift", seed=11, drift_at=10**9), EVENTS))
        update_ts = None
        start = time.time()
        for i, (event, label) in enumerate(items):
            if i == EVENTS // 2:
                send_zone(producer, zones, 3, 0.9)  # valid from its record time: now
                producer.flush()
                update_ts = time.time()
            while time.time() < start + i / RATE:
                time.sleep(0.001)
            event = {**event, "ts": time.time()}
            producer.send(settings.topic("raw"), key=event["entity_id"].encode(), value=orjson.dumps(event))
            producer.send(settings.topic("feedback"), key=event["event_id"].encode(),
                          value=orjson.dumps({"event_id": event["event_id"], "label": label}))
        producer.flush()
        producer.close()
        wait_for("every event scored", lambda: end_offsets(settings, "features") >= EVENTS, 240)
        assert end_offsets(settings, "deadletter") == 0

        reference = {(r.partition, r.offset): orjson.loads(r.value) | {"record_ts": r.timestamp / 1000}
                     for r in reference_records(settings, zones) if r.value}
        features = [orjson.loads(r.value) for r in read_all(settings, "features", until=EVENTS)]
        zone3 = sorted((f for f in features if f["features"]["zipcode"] == 3), key=lambda f: f["ts"])
        assert update_ts is not None and len(zone3) > 50
        for f in features:  # what each used: valid at its event's time, never newer
            used = reference[tuple(f["lookups"]["zone"])]
            assert used.get("ts", used["record_ts"]) <= f["ts"], f
            assert f["features"]["zone_risk"] == used["risk"]
        after = [f["features"]["zone_risk"] for f in zone3 if f["ts"] >= update_ts + 1.0]
        before = [f["features"]["zone_risk"] for f in zone3 if f["ts"] < update_ts - 0.5]
        assert after and set(after) == {0.9} and before and set(before) == {0.1}

        reproduced = replayed_as_live(settings, tmp_path / "replay")
        assert reproduced["predictions"] == EVENTS and reproduced.get("differ", 0) == 0
    finally:
        worker.stop()
