"""Round trips through the real broker and Redis with the clients driftline uses."""

from __future__ import annotations

import asyncio
import uuid

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from kafka import KafkaConsumer, KafkaProducer

from streams import admin
from streams.settings import Settings


def test_broker_is_apache_kafka_3_9(stack_settings: Settings) -> None:
    info = admin.cluster_info(stack_settings.kafka_bootstrap)
    assert info is not None
    assert info.brokers == 1
    assert info.api_version == "3.9"


def test_kafka_python_round_trip_keeps_key_value_and_order(stack_settings: Settings, unique_topic: str) -> None:
    servers = stack_settings.kafka_bootstrap.split(",")
    producer = KafkaProducer(bootstrap_servers=servers, acks="all")
    sent = [(f"k{i}".encode(), orjson.dumps({"event_id": f"e-{i}", "data": {"x": i}})) for i in range(50)]
    for key, value in sent:
        producer.send(unique_topic, key=key, value=value)
    producer.flush()
    producer.close()

    consumer = KafkaConsumer(
        unique_topic, bootstrap_servers=servers, auto_offset_reset="earliest",
        enable_auto_commit=False, consumer_timeout_ms=10000,
    )
    got = []
    for record in consumer:
        got.append((record.key, record.value))
        if len(got) == len(sent):
            break
    consumer.close()
    assert got == sent


def test_aiokafka_round_trip(stack_settings: Settings, unique_topic: str) -> None:
    async def run() -> list[bytes]:
        producer = AIOKafkaProducer(bootstrap_servers=stack_settings.kafka_bootstrap, acks="all")
        await producer.start()
        try:
            for i in range(20):
                await producer.send_and_wait(unique_topic, f"v{i}".encode())
        finally:
            await producer.stop()
        consumer = AIOKafkaConsumer(
            unique_topic, bootstrap_servers=stack_settings.kafka_bootstrap,
            auto_offset_reset="earliest", group_id=f"g-{uuid.uuid4().hex}",
        )
        await consumer.start()
        got: list[bytes] = []
        try:
            while len(got) < 20:
                batch = await asyncio.wait_for(consumer.getmany(timeout_ms=1000), 20)
                for records in batch.values():
                    got.extend(r.value for r in records)
            await consumer.commit()
        finally:
            await consumer.stop()
        return got

    assert asyncio.run(run()) == [f"v{i}".encode() for i in range(20)]


def test_redis_read_write(redis_client) -> None:  # type: ignore[no-untyped-def]
    key = f"test:{uuid.uuid4().hex}"
    redis_client.hset(key, mapping={"version": 3, "status": "champion"})
    assert redis_client.incr(f"{key}:counter") == 1
    assert redis_client.incr(f"{key}:counter") == 2
    assert redis_client.hgetall(key) == {b"version": b"3", b"status": b"champion"}
    redis_client.delete(key, f"{key}:counter")
    assert redis_client.exists(key) == 0


def test_stack_created_every_contract_topic(stack_settings: Settings) -> None:
    from kafka import KafkaAdminClient

    client = KafkaAdminClient(bootstrap_servers=stack_settings.kafka_bootstrap.split(","))
    try:
        topics = set(client.list_topics())
        described = {t["name"]: t for t in client.describe_topics([stack_settings.topic("raw"), stack_settings.topic("alerts")])}
    finally:
        client.close()
    for name in ("raw", "features", "predictions", "feedback", "deadletter", "alerts", "models"):
        assert stack_settings.topic(name) in topics
    assert len(described[stack_settings.topic("raw")]["partitions"]) == stack_settings.partitions
    assert len(described[stack_settings.topic("alerts")]["partitions"]) == 1
