"""The secure test broker (tests/support/secure_broker.py) refuses whom it should and serves the
rest: no SASL, a wrong password, a user without an ACL; the super user over SCRAM and PLAIN."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka import TopicPartition as AioPartition
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import KafkaAdminClient
from kafka.errors import KafkaError, KafkaTimeoutError, TopicAuthorizationFailedError

from tests.support.secure_broker import SecureBroker, secure_broker

# one worker of the parallel run starts the module's broker, once
pytestmark = pytest.mark.xdist_group("secure_broker")

# how long a refused client may try: refusals must come quickly, never hang
QUICK = {"bootstrap_timeout_ms": 3000, "request_timeout_ms": 3000}


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecureBroker]:
    with secure_broker(tmp_path_factory.mktemp("secure-kafka"), users={"early": "e-secret"}) as b:
        with b.admin() as admin:
            admin.create_topics(["t.admin", "t.raw", "t.predictions"], wait_for_metadata=True)
        producer = KafkaProducer(**b.client_config())
        try:
            producer.send("t.predictions", b"a prediction").get(timeout=10)  # something to be refused
        finally:
            producer.close(timeout=5)
        yield b


def _roundtrip(config: dict[str, Any], topic: str) -> None:
    """Produce one record to ``topic`` and read it back (from partition 0, no group needed)."""
    value = uuid.uuid4().bytes
    producer = KafkaProducer(**config, max_block_ms=10000)
    try:
        sent = producer.send(topic, value).get(timeout=10)
    finally:
        producer.close(timeout=5)
    consumer = KafkaConsumer(**config, enable_auto_commit=False)
    try:
        partition = TopicPartition(topic, sent.partition)
        consumer.assign([partition])
        consumer.seek(partition, sent.offset)
        deadline = time.monotonic() + 15
        got: list[bytes] = []
        while not got and time.monotonic() < deadline:
            got = [r.value for records in consumer.poll(timeout_ms=500).values() for r in records]
        assert got[:1] == [value]
    finally:
        consumer.close()


def test_no_sasl_is_refused(broker: SecureBroker) -> None:
    # plain TCP to the TLS listener, TLS without SASL, plain TCP to the SASL_PLAINTEXT listener
    for config in (
        {"bootstrap_servers": broker.bootstrap},
        {"bootstrap_servers": broker.bootstrap, "security_protocol": "SSL", "ssl_cafile": str(broker.ca_file)},
        {"bootstrap_servers": broker.sasl_plaintext_bootstrap},
    ):
        start = time.monotonic()
        with pytest.raises(KafkaError):
            KafkaAdminClient(**config, **QUICK).list_topics()
        # a known api_version skips the bootstrap: the refusal comes at the send itself
        producer = KafkaProducer(**config, **QUICK, api_version=(3, 9), max_block_ms=3000)
        try:
            with pytest.raises(KafkaError):
                producer.send("t.admin", b"x").get(timeout=5)
        finally:
            producer.close(timeout=2)
        assert time.monotonic() - start < 15, config


@pytest.mark.parametrize(("user", "mechanism"), [
    ("admin", "SCRAM-SHA-512"), ("admin", "SCRAM-SHA-256"), ("admin", "PLAIN"), ("nobody", "SCRAM-SHA-512"),
])
def test_wrong_password_is_refused(broker: SecureBroker, user: str, mechanism: str) -> None:
    before = len(_refused_logins(broker))
    # kafka-python 3.0.12 does not raise SaslAuthenticationFailedError: it logs it (or, when the
    # broker's close wins the race with its answer, just a disconnect) and retries until its
    # bootstrap times out. The broker's log says for sure that it refused these credentials.
    with pytest.raises(KafkaTimeoutError):
        KafkaAdminClient(**broker.client_config(user, "wrong", mechanism), **QUICK)
    assert len(_refused_logins(broker)) > before


def _refused_logins(broker: SecureBroker) -> list[str]:
    """The broker's log lines for SASL logins it refused (not failed TLS handshakes)."""
    return [line for line in broker.log.read_text(errors="replace").splitlines()
            if "Failed authentication with" in line and "(Authentication failed" in line]


@pytest.mark.parametrize(("mechanism", "tls"), [
    ("SCRAM-SHA-512", True), ("SCRAM-SHA-256", True), ("PLAIN", True), ("SCRAM-SHA-512", False),
])
def test_admin_produces_and_consumes(broker: SecureBroker, mechanism: str, tls: bool) -> None:
    config = broker.client_config(broker.admin_user, broker.admin_password, mechanism, tls=tls)
    with KafkaAdminClient(**config) as admin:
        topic = f"t.admin.{mechanism.lower()}.{tls}"
        admin.create_topics([topic], wait_for_metadata=True)
    _roundtrip(config, topic)


@pytest.mark.parametrize("mechanism", ["SCRAM-SHA-256", "PLAIN"])
def test_a_user_without_acls_logs_in_and_sees_nothing(broker: SecureBroker, mechanism: str) -> None:
    with KafkaAdminClient(**broker.client_config("early", "e-secret", mechanism), **QUICK) as admin:
        assert admin.list_topics() == []  # the topics exist; no ACL lets "early" see them


def test_producer_only_writes_its_topic_and_reads_nothing(broker: SecureBroker) -> None:
    broker.add_user("producer-only", "p-secret")
    broker.grant("producer-only", ["WRITE", "DESCRIBE"], topic="t.raw")
    config = broker.client_config("producer-only", "p-secret", "SCRAM-SHA-512")
    producer = KafkaProducer(**config, max_block_ms=5000)
    try:
        assert producer.send("t.raw", b"event").get(timeout=10).topic == "t.raw"
        with pytest.raises(TopicAuthorizationFailedError):
            producer.send("t.predictions", b"forged").get(timeout=10)
    finally:
        producer.close(timeout=5)
    consumer = KafkaConsumer(**config, enable_auto_commit=False, auto_offset_reset="earliest")
    try:
        predictions = TopicPartition("t.predictions", 0)
        consumer.assign([predictions])
        # no DESCRIBE: the broker will not even say where the topic starts, and (kafka-python
        # 3.0.12) a poll logs "not authorized" and gets nothing rather than raising
        with pytest.raises(TopicAuthorizationFailedError):
            consumer.beginning_offsets([predictions])
        assert not consumer.poll(timeout_ms=1000)
        # DESCRIBE but no READ: the broker refuses the fetch itself
        consumer.assign([TopicPartition("t.raw", 0)])
        with pytest.raises(TopicAuthorizationFailedError):
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline:
                consumer.poll(timeout_ms=500)
    finally:
        consumer.close()


@pytest.mark.parametrize("mechanism", ["SCRAM-SHA-512", "SCRAM-SHA-256"])
def test_aiokafka_scram_over_tls(broker: SecureBroker, mechanism: str) -> None:
    config = broker.aiokafka_config(broker.admin_user, broker.admin_password, mechanism)

    async def roundtrip() -> bytes:
        producer = AIOKafkaProducer(**config)
        await producer.start()
        try:
            sent = await producer.send_and_wait("t.admin", b"from aiokafka")
        finally:
            await producer.stop()
        consumer = AIOKafkaConsumer(**config, enable_auto_commit=False)
        await consumer.start()
        try:
            partition = AioPartition("t.admin", sent.partition)
            consumer.assign([partition])
            consumer.seek(partition, sent.offset)
            return (await asyncio.wait_for(consumer.getone(), 15)).value
        finally:
            await consumer.stop()

    assert asyncio.run(roundtrip()) == b"from aiokafka"
