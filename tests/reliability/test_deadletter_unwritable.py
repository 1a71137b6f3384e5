"""Fault 5: the dead-letter topic cannot be written (its ACL revoked). The worker stops with one
CRITICAL line rather than commit past a record whose outcome it could not write; once the topic
can be written again, a restarted worker writes every outcome: nothing was dropped."""

from __future__ import annotations

import uuid
from dataclasses import replace
from pathlib import Path

import orjson
import pytest
from kafka import KafkaProducer

from streams.kafka import admin
from streams.kafka.reader import read_topic
from streams.kafka.topics import topic_specs
from streams.settings import Settings
from tests.support.invariants import caught_up
from tests.support.pipeline import Worker, settled, wait_for
from tests.support.secure_broker import secure_broker

pytestmark = pytest.mark.reliability

GOOD, BAD = 200, 20
DATA = {"salary": 50000.0, "commission": 0.0, "age": 40, "elevel": 1, "car": 3, "zipcode": 2,
        "hvalue": 100000.0, "hyears": 10, "loan": 20000.0}


def test_an_unwritable_deadletter_topic_stops_the_worker_and_drops_nothing(stack_settings: Settings,
                                                                          tmp_path: Path) -> None:
    password = uuid.uuid4().hex
    with secure_broker(tmp_path / "broker") as b:
        s = replace(stack_settings, kafka_bootstrap=b.bootstrap, kafka_security_protocol="SASL_SSL",
                    kafka_username="worker", kafka_password=password, kafka_ca_file=str(b.ca_file),
                    topic_prefix=f"dlq{uuid.uuid4().hex[:8]}")
        b.add_user("worker", password)
        b.grant("worker", ["ALL"], topic=s.topic_prefix, prefixed=True)  # its topics and Faust's
        b.grant("worker", ["ALL"], group=s.topic_prefix, prefixed=True)
        admin.ensure_topics(s, topic_specs(s))
        worker = Worker(s, tmp_path / "worker")
        worker.start()
        try:
            settled(s, 1)
            b.grant("worker", ["WRITE"], topic=s.topic("deadletter"), deny=True)
            producer = KafkaProducer(**b.client_config(), acks="all")
            for n in range(GOOD):
                event = {"event_id": f"e-{n}", "entity_id": f"c-{n % 7}", "data": DATA}
                producer.send(s.topic("raw"), key=f"c-{n % 7}".encode(), value=orjson.dumps(event))
                if n % (GOOD // BAD) == 0:
                    producer.send(s.topic("raw"), key=b"bad", value=b"{not json")
            producer.flush()
            producer.close()
            assert worker.proc is not None
            worker.proc.wait(timeout=180)  # it stops: an outcome could not be written
            log = worker.log.read_text(errors="replace")
            assert log.count("could not write a record, stopping") == 1, log[-3000:]  # one line, not one a record
            assert "TopicAuthorizationFailed" in log and "Traceback" not in log.split("could not write")[0]
        finally:
            worker.stop()

        # nothing was committed past the refused dead letter: fixed, a new worker writes it all
        b.revoke("worker", ["WRITE"], topic=s.topic("deadletter"), deny=True)
        again = Worker(s, tmp_path / "again")
        again.start()
        try:
            wait_for("every raw record's outcome", lambda: outcomes(s) == (GOOD, BAD), 180)
            caught_up(s, again, 180)
        finally:
            again.stop()
        predicted, dead = outcomes(s)
        assert (predicted, dead) == (GOOD, BAD)


def outcomes(s: Settings) -> tuple[int, int]:
    """Distinct events predicted, and distinct raw records dead-lettered."""
    predicted = {orjson.loads(r.value)["event_id"] for r in read_topic(s, "predictions", missing_ok=True)}
    letters = {(d["partition"], d["offset"]) for r in read_topic(s, "deadletter", missing_ok=True)
               if (d := orjson.loads(r.value))["source_topic"] == s.topic("raw")}
    return len(predicted), len(letters)
