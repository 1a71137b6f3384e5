"""The references: the same per-event work without driftline, as a bare aiokafka relay and as
one plain Faust agent, each consuming a backlog and producing one record per event; and the bare
relay made exactly once with Kafka transactions, to measure what that guarantee costs.

The work per event is the issue's reference: decode the JSON, River ``StandardScaler |
LogisticRegression`` predict and learn (the label is a rule on the event's own fields), encode
the answer and produce it.
"""

from __future__ import annotations

import time
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from river import linear_model, preprocessing


def _model() -> Any:
    return preprocessing.StandardScaler() | linear_model.LogisticRegression()


def work(model: Any, value: bytes) -> bytes:
    """Decode, predict, learn, encode: one event's reference work."""
    event = orjson.loads(value)
    x = {k: float(v) for k, v in event["data"].items()}
    proba = model.predict_proba_one(x)
    model.learn_one(x, x["loan"] > x["salary"])
    return orjson.dumps({"event_id": event["event_id"], "proba": proba.get(True, 0.0)})


async def _relay(producer: AIOKafkaProducer, model: Any, records: list[Any], sink: str, partition: int) -> None:
    """Each record's work, produced to ``sink``'s ``partition`` in as few batches as fit."""
    batch = producer.create_batch()
    for r in records:
        value = work(model, r.value)
        if batch.append(key=r.key, value=value, timestamp=None) is None:
            await producer.send_batch(batch, sink, partition=partition)
            batch = producer.create_batch()
            batch.append(key=r.key, value=value, timestamp=None)
    await producer.send_batch(batch, sink, partition=partition)


async def bare_relay(bootstrap: str, source: str, sink: str, count: int) -> float:
    """Events per second of a bare aiokafka consume → work → batched produce over ``count`` records."""
    model = _model()
    consumer = AIOKafkaConsumer(source, bootstrap_servers=bootstrap, group_id=f"bench-relay-{time.time_ns()}",
                                auto_offset_reset="earliest", enable_auto_commit=False, max_poll_records=2000)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5, max_batch_size=256 * 1024, acks="all")
    await consumer.start()
    await producer.start()
    seen, began = 0, None
    try:
        while seen < count:
            batches = await consumer.getmany(timeout_ms=500)
            for tp, records in batches.items():
                if began is None:
                    began = time.perf_counter()
                await _relay(producer, model, records, sink, tp.partition)
                seen += len(records)
            if batches:
                await consumer.commit()
        await producer.flush()
        return count / (time.perf_counter() - (began or time.perf_counter()))
    finally:
        await producer.stop()
        await consumer.stop()


async def transactional_relay(bootstrap: str, source: str, sink: str, count: int) -> tuple[float, float]:
    """The bare relay, exactly once: each fetch's outputs and its source offsets in one Kafka
    transaction (a transactional producer; ``send_offsets_to_transaction``; readers of ``sink``
    would read ``read_committed``). Events per second, and the mean seconds a transaction took
    from its first send to its commit (outputs become visible only then)."""
    model = _model()
    group = f"bench-txn-{time.time_ns()}"
    consumer = AIOKafkaConsumer(source, bootstrap_servers=bootstrap, group_id=group, auto_offset_reset="earliest",
                                enable_auto_commit=False, max_poll_records=2000, isolation_level="read_committed")
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5, max_batch_size=256 * 1024, acks="all",
                                enable_idempotence=True, transactional_id=group)
    await consumer.start()
    await producer.start()
    seen, began, held, transactions = 0, None, 0.0, 0
    try:
        while seen < count:
            batches = await consumer.getmany(timeout_ms=500)
            if not batches:
                continue
            if began is None:
                began = time.perf_counter()
            opened = time.perf_counter()
            async with producer.transaction():
                offsets = {}
                for tp, records in batches.items():
                    await _relay(producer, model, records, sink, tp.partition)
                    offsets[tp] = records[-1].offset + 1
                    seen += len(records)
                await producer.send_offsets_to_transaction(offsets, group)
            held += time.perf_counter() - opened
            transactions += 1
        return count / (time.perf_counter() - (began or time.perf_counter())), held / max(transactions, 1)
    finally:
        await producer.stop()
        await consumer.stop()
