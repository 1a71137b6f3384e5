"""Every worker follows the ``models`` topic and takes new versions into service at once.

Not a consumer-group agent: each worker must see every version event, so this task reads all
partitions of the topic without a group, from the end, and loads the champion and challenger
named in Redis at start-up.
"""

from __future__ import annotations

import asyncio
import logging

from aiokafka import AIOKafkaConsumer

from schemas import Accepted, decode
from agents import metrics
from agents.runtime import Runtime

log = logging.getLogger(__name__)


def load_current(rt: Runtime) -> None:
    for status in ("champion", "challenger"):
        version = rt.registry.alias(status)
        if version is not None:
            rt.scorer.serve(version, rt.registry.load(version), status)  # type: ignore[arg-type]
            metrics.SERVING.labels(status).set(version)


def register(rt: Runtime) -> None:
    @rt.app.task
    async def follow_models() -> None:
        await asyncio.to_thread(load_current, rt)
        consumer = AIOKafkaConsumer(rt.settings.topic("models"), bootstrap_servers=rt.settings.kafka_bootstrap,
                                    group_id=None, auto_offset_reset="latest", enable_auto_commit=False,
                                    fetch_max_wait_ms=20)  # version events are rare: answer fast
        await consumer.start()
        await consumer.seek_to_end()  # resolve "latest" now, so no version event is skipped
        await consumer.position(next(iter(consumer.assignment())))
        rt.following = True
        try:
            async for record in consumer:
                outcome = decode("models", record.value)
                if not isinstance(outcome, Accepted):
                    continue
                mv = outcome.value
                try:
                    model = await asyncio.to_thread(rt.registry.load, mv.version)
                except (KeyError, ValueError) as exc:
                    await rt.alert("model_rejected", "critical", f"model {mv.version}", f"model version {mv.version} not taken into service: {exc}")
                    continue
                rt.scorer.serve(mv.version, model, mv.status)  # type: ignore[arg-type]
                metrics.SERVING.labels(mv.status).set(mv.version)
                log.info("model version %s in service as %s", mv.version, mv.status)
        finally:
            await consumer.stop()
