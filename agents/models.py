"""Every worker follows the ``models`` topic and takes new versions into service at once.

Not a consumer-group agent: each worker must see every version event, so this task reads all
partitions of the topic without a group, from where it ended when the registry was read, and loads the champion and challenger
named in Redis at start-up (rebuilding Redis from the topic first if it was emptied). A version
whose artifact does not verify is refused with an alert; the current model keeps serving.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import redis
from aiokafka import AIOKafkaConsumer, ConsumerRecord

from agents.runtime import Runtime
from schemas import Accepted, ModelVersion, decode, encode
from streams.core.model import snapshot
from streams.core.scoring import monitored_examples, promoted_by_hand, registered_challenger
from streams.kafka import clients
from streams.kafka.topics import MODELS_MAX_BYTES
from streams.state import models_log
from streams.state.artifacts import ArtifactRefused
from streams.state.registry import UnknownVersion
from streams.worker import metrics

log = logging.getLogger(__name__)


def load_current(rt: Runtime) -> list[tuple[int, str]]:
    """Serve the registry's champion and challenger; the versions refused, with why."""
    models_log.rebuild(rt.settings, rt.registry)
    refused = []
    for status in ("champion", "challenger"):
        version = rt.registry.alias(status)
        if version is None:
            continue
        try:
            model = rt.registry.load(version)
            record = rt.registry.record(version)
            rt.scorer.serve(version, model, status, monitored_examples(record.trained_examples, record.source))  # type: ignore[arg-type]
        except (UnknownVersion, ArtifactRefused) as exc:
            refused.append((version, str(exc)))
            continue
    show_serving(rt)
    return refused


def show_serving(rt: Runtime) -> None:
    """The in-service gauge as the scorer stands: the champion, and the challenger while one shadows."""
    metrics.SERVING.labels("champion").set(rt.scorer.champion.version or 0)
    challenger = rt.scorer.challenger
    if challenger is not None:
        metrics.SERVING.labels("challenger").set(challenger.version or 0)
    else:
        try:
            metrics.SERVING.remove("challenger")
        except KeyError:
            pass


def load_version(rt: Runtime, mv: ModelVersion) -> object:
    """A version's model from its event (the registry logs a version before Redis holds it), else
    from the registry (an event that carries no artifact)."""
    if mv.artifact:
        return rt.registry.load_record(mv)
    try:
        return rt.registry.load(mv.version)
    except redis.RedisError as exc:
        raise ArtifactRefused(f"model version {mv.version} carries no artifact and Redis does not answer ({exc})") from None


async def catch_up(consumer: AIOKafkaConsumer, load: Callable[[], list[tuple[int, str]]]) -> list[tuple[int, str]]:
    """Serve what the registry names (``load``, in a thread), then place ``consumer`` where the
    topic ended before the registry was read: a version published in between is read from the
    topic (taking one into service twice does no harm; missing one would). Returns the refusals."""
    ends = await consumer.end_offsets(list(consumer.assignment()))
    refused = await asyncio.to_thread(load)
    for tp, offset in ends.items():
        consumer.seek(tp, offset)
    return refused


def register(rt: Runtime) -> None:
    async def refuse(version: int, why: str) -> None:
        log.error("model version %s refused: %s", version, why)
        await rt.alert("model_rejected", "critical", f"model {version}",
                       f"model version {version} not taken into service: {why}", version=version,
                       serving=rt.scorer.champion.version)

    @rt.app.task
    async def follow_models() -> None:
        consumer = clients.aio_consumer(rt.settings, rt.settings.topic("models"), group_id=None,
                                        auto_offset_reset="latest", max_partition_fetch_bytes=MODELS_MAX_BYTES,
                                        fetch_max_bytes=MODELS_MAX_BYTES)
        await consumer.start()
        try:
            for version, why in await catch_up(consumer, lambda: load_current(rt)):
                await refuse(version, why)
            rt.following = True
            async for record in consumer:
                await take(record)
        finally:
            await consumer.stop()

    async def take(record: ConsumerRecord) -> None:
        """One version event: the version it names into service, if it changes what is served."""
        outcome = decode("models", record.value, max_bytes=MODELS_MAX_BYTES, source_topic=record.topic,
                         partition=record.partition, offset=record.offset)
        if not isinstance(outcome, Accepted):  # nothing to serve: dead-lettered with its reason
            await rt.send("deadletter", encode(outcome.dead_letter), key=record.key)
            metrics.DEADLETTERS.labels(outcome.dead_letter.reason.value).inc()
            return
        mv = outcome.value
        if not rt.scorer.concerns(mv.version, mv.status):
            return
        try:
            model = await asyncio.to_thread(load_version, rt, mv)
        except (UnknownVersion, ArtifactRefused) as exc:
            await refuse(mv.version, str(exc))
            return
        rt.scorer.serve(mv.version, model, mv.status, monitored_examples(mv.trained_examples, mv.source))  # type: ignore[arg-type]
        show_serving(rt)
        if promoted_by_hand(mv.status, mv.changed_by):
            rt.promoted_by_hand = (mv.version, snapshot(model))  # the trainer's own copy, to learn
        elif registered_challenger(mv.status, mv.changed_by):
            rt.registered_challenger = (mv.version, snapshot(model), mv.reason)  # for the trainer's gate
        log.info("model version %s in service as %s", mv.version, mv.status)
