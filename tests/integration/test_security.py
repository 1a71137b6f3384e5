"""driftline on a locked-down broker: SASL/SCRAM over TLS for every client it makes (the Faust
worker, the aiokafka models follower, the CLI), topic ACLs that hold against a user's client,
and no secret in a log, a topic or `driftline status`."""

from __future__ import annotations

import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import orjson
import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.errors import KafkaError, TopicAuthorizationFailedError

from streams.kafka import admin
from streams.kafka.reader import read_topic
from streams.kafka.topics import topic_specs
from streams.settings import Settings
from tests.support.pipeline import DRIFTLINE, Worker
from tests.support.secure_broker import SecureBroker, secure_broker

# one worker of the parallel run starts the module's broker, once
pytestmark = pytest.mark.xdist_group("security")

EVENTS = 50
PRODUCER, PRODUCER_PASSWORD = "shop-frontend", "only-raw-" + uuid.uuid4().hex


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecureBroker]:
    with secure_broker(tmp_path_factory.mktemp("secure")) as b:
        yield b


def secure_settings(base: Settings, b: SecureBroker) -> Settings:
    """The worker's settings: the broker's admin over SASL_SSL with SCRAM-SHA-512."""
    return replace(base, kafka_bootstrap=b.bootstrap, kafka_security_protocol="SASL_SSL",
                   kafka_sasl_mechanism="SCRAM-SHA-512", kafka_username=b.admin_user,
                   kafka_password=b.admin_password, kafka_ca_file=str(b.ca_file),
                   topic_prefix=f"sec{uuid.uuid4().hex[:8]}")


def test_a_worker_on_sasl_ssl_works_acls_hold_and_no_secret_leaks(broker: SecureBroker, stack_settings: Settings,
                                                                  tmp_path: Path) -> None:
    s = secure_settings(stack_settings, broker)
    admin.ensure_topics(s, topic_specs(s))  # the admin client, through streams.kafka.clients
    broker.add_user(PRODUCER, PRODUCER_PASSWORD)
    broker.grant(PRODUCER, ["WRITE", "DESCRIBE"], topic=s.topic("raw"))

    worker = Worker(s, tmp_path / "worker", loglevel="INFO")
    worker.start()
    try:
        # a user's own client, allowed to produce raw events and nothing else
        producer = KafkaProducer(**broker.client_config(PRODUCER, PRODUCER_PASSWORD, "SCRAM-SHA-256"))
        for n in range(EVENTS):
            event = {"event_id": f"e-{n}", "entity_id": f"c-{n % 5}", "data": {
                "salary": 50000.0, "commission": 0.0, "age": 40, "elevel": 1, "car": 3, "zipcode": 2,
                "hvalue": 100000.0, "hyears": 10, "loan": 20000.0 + n}}
            producer.send(s.topic("raw"), key=f"c-{n % 5}".encode(), value=orjson.dumps(event))
        producer.flush()
        with pytest.raises(TopicAuthorizationFailedError):
            producer.send(s.topic("predictions"), value=b"{}").get(timeout=30)
        producer.close()

        predictions = read_secure(s, "predictions", EVENTS)
        assert sorted(p["event_id"] for p in predictions) == sorted(f"e-{n}" for n in range(EVENTS))

        reader = KafkaConsumer(**broker.client_config(PRODUCER, PRODUCER_PASSWORD), enable_auto_commit=False)
        with pytest.raises(TopicAuthorizationFailedError):  # it may not read what the worker wrote
            reader.beginning_offsets([TopicPartition(s.topic("predictions"), 0)])
        reader.close()

        status = subprocess.run([DRIFTLINE, "status", "--json"], env=worker.settings.as_env(), capture_output=True, text=True,
                                timeout=120)
        assert status.returncode == 0, status.stderr
        shown = orjson.loads(status.stdout)
        assert sum(t["end_offset"] for t in shown["topics"] if t["topic"] == s.topic("predictions")) == EVENTS
    finally:
        worker.stop()

    secrets = {"the Kafka password": s.kafka_password, "the producer's password": PRODUCER_PASSWORD,
               "the model key": s.signing_key().decode()}
    if s.redis_url != s.redis_url_shown:
        secrets["the Redis password"] = s.redis_url.split("//:")[1].split("@")[0]
    logged = worker.log.read_text(errors="replace") + status.stdout + status.stderr
    written = b"".join(r.value or b"" for name in ("features", "predictions", "alerts", "deadletter", "models")
                       for r in read_records(s, name))
    for what, secret in secrets.items():
        assert secret not in logged, f"{what} is in the worker's log or `driftline status`"
        assert secret.encode() not in written, f"{what} is in a topic"


def test_a_client_without_sasl_or_with_a_wrong_password_is_refused(broker: SecureBroker) -> None:
    for config in ({"bootstrap_servers": broker.bootstrap},  # plain TCP to the TLS listener
                   broker.client_config(broker.admin_user, "not-the-password")):
        with pytest.raises(KafkaError):
            consumer = KafkaConsumer(**config, request_timeout_ms=5000, bootstrap_timeout_ms=5000,
                                     api_version_auto_timeout_ms=5000)
            try:
                consumer.topics()
            finally:
                consumer.close()


def read_records(s: Settings, name: str) -> list:  # type: ignore[type-arg]
    return list(read_topic(s, name, missing_ok=True))


def read_secure(s: Settings, name: str, until: int, timeout_s: float = 120) -> list[dict]:  # type: ignore[type-arg]
    deadline = time.monotonic() + timeout_s
    while True:
        found = [orjson.loads(r.value) for r in read_records(s, name)]
        if len(found) >= until or time.monotonic() > deadline:
            return found
        time.sleep(0.5)
