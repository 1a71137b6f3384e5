"""The one smoke test of the stack the suite runs against: a single Apache Kafka 3.9 broker, and
every contract topic made with its partitions. (Round trips of kafka-python, aiokafka and redis
themselves are their projects' tests; every other test here exercises driftline on them.)"""

from __future__ import annotations

from kafka import KafkaAdminClient

from streams.kafka import admin
from streams.settings import Settings


def test_broker_is_apache_kafka_3_9(stack_settings: Settings) -> None:
    info = admin.cluster_info(stack_settings)
    assert info is not None
    assert info.brokers == 1
    assert info.api_version == "3.9"


def test_stack_created_every_contract_topic(stack_settings: Settings) -> None:
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
