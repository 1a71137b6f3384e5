"""examples → models + alerts: test-then-train, concept drift, publishing versions.

The examples topic has one partition, so exactly one trainer in the consumer group learns, in
order. Its whole state is checkpointed to Redis at least every second and after every version
change (:mod:`streams.checkpoint`), and it holds its input's acks until a checkpoint covers them:
whoever learns next (itself after a restart, or another worker that took the partition over)
loads the checkpoint and goes on from the offset it names, so no example is learned twice or
skipped. Learning and registry I/O run in a thread, off the event loop the scorer shares.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import orjson

from schemas import ModelVersion, encode
from streams import models_log
from streams.artifacts import ArtifactRefused
from streams.checkpoint import CheckpointStore, Superseded
from streams.core.promotion import StatusChange
from streams.core.trainer import Example, PublishRequest, Trainer
from streams.registry import RegistryLost
from agents import metrics
from agents.runtime import Runtime

GAUGE_EVERY = 50  # examples between updates of the metric gauges (a scrape is seconds apart)
CHECKPOINT_EVERY = 1.0  # seconds between checkpoints of the trainer (and after every version change)

log = logging.getLogger(__name__)


def register(rt: Runtime) -> None:
    timer = metrics.PROCESSING.labels("train")
    state: dict[str, Trainer] = {}

    def start_trainer() -> Trainer:
        models_log.rebuild(rt.settings, rt.registry)
        rt.registry.ensure()
        version = rt.registry.alias("champion")
        model = None
        if version is not None:
            try:
                model = rt.registry.load(version)
            except (KeyError, ArtifactRefused) as exc:  # learn afresh rather than trust it
                log.error("champion %s not loaded for training: %s", version, exc)
                version = None
        return Trainer(rt.spec, model, version)  # type: ignore[arg-type]

    def publish(t: Trainer, req: PublishRequest) -> list[ModelVersion]:
        lane = t.champion if req.lane == "champion" else t.challenger
        first = lane.started_at + 1 if lane is not None else 1
        kwargs = dict(parent=req.parent, status=req.status, reason=req.reason, trained_examples=req.trained_examples,
                      metrics=req.metrics, spec_sha256=rt.spec.digest, trained_range=(first, t.position))
        try:
            return rt.registry.publish(req.model, **kwargs)  # type: ignore[arg-type]
        except RegistryLost:  # Redis was emptied under us: rebuild from the topic, then number
            models_log.rebuild(rt.settings, rt.registry)
            rt.registry.ensure()
            return rt.registry.publish(req.model, **kwargs)  # type: ignore[arg-type]

    def learn_some(t: Trainer, batch: list[Example], start: int) -> tuple[int, list[tuple[Example, list[Any], list[Any]]]]:
        """Learn from ``batch[start:]`` up to and including the first example that asks the
        registry for something (its number must be known before the next example is learned)."""
        done = []
        for i in range(start, len(batch)):
            detections, requests = t.learn(batch[i])
            done.append((batch[i], detections, requests))
            if requests:
                return i + 1, done
        return len(batch), done

    checkpoints = CheckpointStore(rt.registry.client, rt.settings.topic_prefix, rt.registry.key)
    run: dict[str, Any] = {}  # "t": the trainer, "next": the next offset to learn, "held": unacked events
    lock = asyncio.Lock()  # the trainer is learned or saved by one coroutine at a time

    def resume() -> tuple[Trainer, int | None]:
        """The checkpoint's trainer and offset; else the registry's champion, from Faust's offset."""
        checkpoints.begin()
        try:
            saved = checkpoints.load()
        except ArtifactRefused as exc:  # learn afresh rather than trust it
            log.error("%s: starting from the registry's champion", exc)
            saved = None
        if saved is not None:
            log.info("trainer resumes from its checkpoint at examples offset %d (example %d)",
                     saved.offset, saved.state.position)
            return saved.state, saved.offset
        return start_trainer(), None

    async def checkpoint(stream: Any, t: Trainer, next_offset: int) -> None:
        """Save the trainer as covering every example below ``next_offset``; then let Faust
        commit the examples it holds."""
        try:
            await asyncio.to_thread(checkpoints.save, t, next_offset)
        except Superseded as exc:  # another trainer took over: drop this state, reload if it comes back
            log.warning("%s: this worker stops training until the examples partition comes back", exc)
            run.clear()
            return
        for event in run["held"]:
            await stream.ack(event)
        run["held"] = []
        run["saved_at"] = time.monotonic()

    @rt.app.timer(CHECKPOINT_EVERY)
    async def checkpoint_quiet_stream() -> None:
        """A stream that went quiet still gets its last examples checkpointed and committed."""
        async with lock:
            if run.get("held") and time.monotonic() - run["saved_at"] >= CHECKPOINT_EVERY:
                await checkpoint(run["stream"], run["t"], run["next"])

    @rt.app.agent(rt.topics["examples"], name="train")
    async def train(stream: Any) -> None:
        async for events in stream.take_events(rt.settings.batch_max, within=rt.settings.batch_wait):
            async with lock:
                await learn_batch(stream, events)

    async def learn_batch(stream: Any, events: list[Any]) -> None:
        first = events[0].message.offset
        if "t" not in run or run["next"] is not None and first != run["next"]:
            # a start, or the partition came back: the checkpoint, not memory, says where to go on
            trainer, next_offset = await asyncio.to_thread(resume)
            run.update(t=trainer, next=next_offset, held=[], saved_at=time.monotonic(), stream=stream)
        t: Trainer = run["t"]
        if rt.promoted_by_hand is not None:  # watch it against the champion before, to roll back
            log.warning("model version %s was promoted by hand: watching it against version %s",
                        rt.promoted_by_hand[0], t.champion.version)
            t.adopt(*rt.promoted_by_hand)
            rt.promoted_by_hand = None
        began = time.perf_counter()
        todo = [e for e in events if run["next"] is None or e.message.offset >= run["next"]]
        if len(todo) < len(events):
            metrics.DUPLICATES.labels("train").inc(len(events) - len(todo))
        for event in todo:
            event.message.incref()  # acked only once a checkpoint covers it
        batch = [_example(orjson.loads(event.value)) for event in todo]
        position = 0
        duplicates = t.duplicates
        while position < len(batch):
            # learning (and a scikit-learn refit) runs off the event loop, so scoring goes on
            start = position
            position, done = await asyncio.to_thread(learn_some, t, batch, position)
            run["next"] = todo[position - 1].message.offset + 1
            run["held"].extend(todo[start:position])
            changed = False
            for example, detections, requests in done:
                for found in detections:
                    metrics.DRIFT.labels(found.kind).inc()
                    await rt.drift_alert(found, model_version=t.champion.version, event_id=example.event_id)
                for req in requests:
                    await handle(t, req)
                    changed = True
            if changed or time.monotonic() - run["saved_at"] >= CHECKPOINT_EVERY:
                await checkpoint(stream, t, run["next"])
                if "t" not in run:
                    break
        if t.duplicates > duplicates:
            metrics.DUPLICATES.labels("train").inc(t.duplicates - duplicates)
        if t.position // GAUGE_EVERY != (t.position - len(batch)) // GAUGE_EVERY:
            show_metrics(t)
        per_record = (time.perf_counter() - began) / len(events)
        for _ in events:
            timer.observe(per_record)

    async def handle(t: Trainer, req: PublishRequest | StatusChange) -> None:
        if isinstance(req, StatusChange):
            changes = await asyncio.to_thread(rt.registry.set_status, req.version, req.status, req.reason, "trainer")
            kind, severity, message = req.alert, "warning", f"model version {req.version} is now {req.status}: {req.reason}"
        else:
            changes = await asyncio.to_thread(publish, t, req)
            t.published(req.lane, changes[0].version)
            kind, severity = "model_published", "info"
            message = f"model version {changes[0].version} published as {changes[0].status}: {changes[0].reason}"
        record = changes[0]
        for change in changes:  # the version changed, and the one it retired
            await rt.send("models", encode(change), key=str(change.version).encode())
        metrics.VERSIONS.labels(record.status).inc()
        await rt.alert(kind, severity, f"model {record.version}", message, version=record.version,
                       parent=record.parent, status=record.status, metrics=record.metrics,
                       retired=[c.version for c in changes[1:]])

    def show_metrics(t: Trainer) -> None:
        for name, value_ in t.champion.metrics_dict(t.metric_name).items():
            metrics.METRIC.labels(name.split("_")[0], t.metric_name).set(value_)
        if t.served_metric.window:  # nothing served was labelled yet: no number, not a 0
            metrics.METRIC.labels("served", t.metric_name).set(float(t.served_metric.get()))


def _example(obj: dict[str, Any]) -> Example:
    return Example(obj["event_id"], obj["x"], obj["y"], obj["ts"], obj.get("served"), obj.get("served_version"))
