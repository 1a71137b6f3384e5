"""Every producer driftline makes is idempotent on the real broker (issue 13: the producer was
not): a send the client retries after a lost answer (a broker restart, a network cut) is written
once and in order. The broker proves it by giving the producer an id (InitProducerId), which a
producer that is not idempotent never asks for."""

from __future__ import annotations

import asyncio
import uuid

from streams.kafka import admin, clients
from streams.kafka.topics import TopicSpec
from streams.settings import Settings
from streams.worker.app import create_app


def test_the_clis_and_the_workers_producers_get_a_producer_id_from_the_broker(stack_settings: Settings) -> None:
    topic = f"idem{uuid.uuid4().hex[:8]}.out"
    admin.ensure_topics(stack_settings, [TopicSpec(topic, 1)])

    # kafka-python: the CLI, the registry's log of versions, redrive, replay
    producer = clients.producer(stack_settings)
    try:
        producer.send(topic, b"from kafka-python").get(timeout=60)
        assert producer.config["acks"] == -1  # all in-sync replicas
        assert producer._transaction_manager.producer_id_and_epoch.producer_id >= 0
    finally:
        producer.close(timeout=10)

    # aiokafka, as the worker's Faust transport configures it (every agent's sends)
    async def worker_producer_id() -> int:
        aio = create_app(stack_settings).producer._new_producer()
        await aio.start()
        try:
            await aio.send_and_wait(topic, b"from the worker's transport")
            return int(aio._txn_manager.producer_id)
        finally:
            await aio.stop()

    assert asyncio.run(worker_producer_id()) >= 0
