"""examples → models + alerts: test-then-train, concept drift, publishing versions.

The examples topic has one partition, so exactly one trainer in the consumer group learns, in
order. Its whole state is checkpointed to Redis every ``CHECKPOINT_EVERY`` seconds while it learns,
``QUIET_S`` after its last example, and after every version change (:mod:`streams.state.checkpoint`). Whoever learns next (itself after a restart or a rebalance,
or another worker that took the partition over) loads the checkpoint and goes on from the offset
it names, whatever Faust committed: examples below it are skipped, and a reading that starts past
it seeks back to it. So no example is learned twice or skipped.

Learning runs on the event loop the scorer shares, in slices of about ``LEARN_SLICE_S``, with the
scorer's turn between them: a prediction waits for at most a slice (a scikit-learn refit in it
included). It ran in a thread before, which held the GIL the event loop needs: each socket call
and wake-up of the loop then waited for the thread to hand the GIL back, so every batch of
predictions was slowed for as long as a batch of examples was learned. Registry I/O and the
checkpoint run in a thread.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Any

import orjson
import redis
from faust.types import TP

from agents.runtime import Runtime
from schemas import ModelVersion
from streams.core.drift import KIND
from streams.core.example import Example
from streams.core.promotion import StatusChange
from streams.core.scoring import registered_challenger
from streams.core.trainer import PublishRequest, Trainer
from streams.state import models_log
from streams.state.artifacts import ArtifactRefused
from streams.state.checkpoint import CheckpointStore, Superseded
from streams.state.redis_trouble import refuses_writes, trouble
from streams.state.registry import RegistryLost, RegistryUnwritable
from streams.worker import metrics

DRIFT_KINDS = frozenset(KIND.values())  # what the drift metrics count

GAUGE_EVERY = 50  # examples between updates of the metric gauges (a scrape is seconds apart)
LEARN_SLICE_S = 0.002  # seconds of learning between turns of the event loop (the scorer's)
#: seconds between checkpoints of a trainer that is learning (and after every version change): a crash
#: re-learns at most this much from the examples topic. Each pickles the whole trainer (about 30 ms of
#: CPU at 30,000 examples); every second, it took a tenth of a core at 500 events/s.
CHECKPOINT_EVERY = 5.0
QUIET_S = 1.0  # a stream with no example for this long gets its last examples checkpointed
REDIS_RETRY_S = 2.0  # seconds between tries to write a logged change Redis refused

log = logging.getLogger(__name__)


@dataclass
class Run:
    """Where this worker's trainer stands. ``trainer`` is None until it starts (or after another
    trainer superseded it)."""

    trainer: Trainer | None = None
    next: int | None = None  # the next examples offset it learns (None: from wherever Faust starts)
    saved_at: float = 0.0  # when it was last checkpointed (monotonic)
    learned_at: float = 0.0  # when it last learned (monotonic)
    dirty: bool = False  # learned since that checkpoint
    stale: bool = False  # the examples partition was revoked since: reload the checkpoint
    sought: int | None = None  # the offset it asked Faust to seek back to

    def start(self, trainer: Trainer, next_offset: int | None) -> None:
        """Go on with ``trainer`` from ``next_offset``, as just checkpointed."""
        self.trainer, self.next, self.saved_at = trainer, next_offset, time.monotonic()
        self.dirty = self.stale = False
        self.sought = None


def register(rt: Runtime) -> None:
    timer = metrics.PROCESSING.labels("train")

    def start_trainer() -> Trainer:
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

    def publish(req: PublishRequest) -> list[ModelVersion]:
        kwargs = dict(parent=req.parent, status=req.status, reason=req.reason, trained_examples=req.trained_examples,
                      metrics=req.metrics, spec_sha256=rt.spec.digest, trained_range=req.trained_range)
        try:
            return rt.registry.publish(req.model, **kwargs)  # type: ignore[arg-type]
        except RegistryLost:  # Redis was emptied under us: rebuild from the topic, then number
            models_log.rebuild(rt.settings, rt.registry)
            rt.registry.ensure()
            return rt.registry.publish(req.model, **kwargs)  # type: ignore[arg-type]

    def learn_some(t: Trainer, batch: list[Example], start: int) -> tuple[int, list[tuple[Example, list[Any], list[Any]]]]:
        """Learn from ``batch[start:]`` for about ``LEARN_SLICE_S``, up to and including the first
        example that asks the registry for something (its number must be known before the next
        example is learned)."""
        done = []
        until = time.perf_counter() + LEARN_SLICE_S
        for i in range(start, len(batch)):
            detections, requests = t.learn(batch[i])
            done.append((batch[i], detections, requests))
            if requests or time.perf_counter() >= until:
                return i + 1, done
        return len(batch), done

    checkpoints = CheckpointStore(rt.registry.client, rt.settings.topic_prefix, rt.registry.key)
    run = Run()
    lock = asyncio.Lock()  # the trainer is learned or saved by one coroutine at a time
    examples_tp = TP(rt.settings.topic("examples"), 0)

    def resume(first: int) -> tuple[Trainer, int]:
        """The checkpoint's trainer and offset; else the registry's champion from ``first``, where
        Faust starts, checkpointed there before it learns. (A trainer that died after Faust
        committed and before its first checkpoint left none, and the next went on from the commit:
        the examples below it were never learned, 32 of 6,000 when a worker was lost for good.)
        First Redis is levelled with the models topic (this trainer is the one publisher now): a
        change a trainer logged and never wrote, or a number it took and never logged, before it died."""
        checkpoints.begin()
        models_log.repair(rt.settings, rt.registry)
        try:
            saved = checkpoints.load()
        except ArtifactRefused as exc:  # learn afresh rather than trust it
            log.error("%s: starting from the registry's champion", exc)
            saved = None
        if saved is not None:
            log.info("trainer resumes from its checkpoint at examples offset %d (example %d)",
                     saved.offset, saved.state.position)
            return saved.state, saved.offset
        trainer = start_trainer()
        checkpoints.save(trainer, first)
        log.info("trainer has no checkpoint: starts at examples offset %d, checkpointed there", first)
        return trainer, first

    def registered_or_not(t: Trainer) -> int | None:
        """The registry's challenger when this trainer does not shadow it, else None. One a person
        registered (while no trainer ran, or before this one's checkpoint) is loaded and shadowed:
        the gate judges it; any other is the caller's to retire."""
        version = rt.registry.alias("challenger")
        if version is None or t.shadows(version):
            return None
        record = rt.registry.record(version)
        if registered_challenger(record.status, record.changed_by):
            try:
                t.adopt_challenger(version, rt.registry.load(version), record.reason)
                log.warning("trainer shadows model version %s, registered as challenger: the promotion gate judges it", version)
                return None
            except ArtifactRefused as exc:
                log.error("registered challenger %s not loaded for training: %s", version, exc)
        return version

    async def resumed(first: int) -> tuple[Trainer, int, int | None]:
        """:func:`resume`, waiting for a Redis that does not answer or refuses writes (taking the
        epoch is a write): learning waits, with an alert; scoring goes on. (A trainer that resumed
        after a rebalance while Redis refused writes used to die silently: nothing learned, no alert.)"""
        alerted = False
        while True:
            try:
                found = await asyncio.to_thread(resume, first)
                challenger = await asyncio.to_thread(registered_or_not, found[0])
                break
            except redis.RedisError as exc:
                alerted = await redis_waits(exc, alerted)
        if alerted:
            await rt.alert("registry_recovered", "info", "redis", "the model registry's Redis answers and takes writes again")
        return (*found, challenger)

    async def redis_waits(exc: redis.RedisError, alerted: bool) -> bool:
        """Redis does not answer, or refuses writes: say so (once: ``alerted``), wait, and let the
        caller try again. Learning waits; scoring goes on. Returns True (alerted)."""
        log.error("the registry's Redis %s: trying again in %g s", trouble(exc), REDIS_RETRY_S)
        if not alerted:
            kind = "registry_unwritable" if refuses_writes(exc) else "registry_unreachable"
            await rt.alert(kind, "critical", "redis",
                           f"the model registry's Redis {trouble(exc)}: training waits for it; "
                           "scoring goes on with the models in service")
        await asyncio.sleep(REDIS_RETRY_S)
        return True

    async def checkpoint(t: Trainer, next_offset: int) -> None:
        """Save the trainer as covering every example below ``next_offset``."""
        try:
            await asyncio.to_thread(checkpoints.save, t, next_offset)
        except Superseded as exc:  # another trainer took over: drop this state, reload if it comes back
            log.warning("%s: this worker stops training until the examples partition comes back", exc)
            run.trainer = None
            return
        except redis.RedisError as exc:  # learning goes on in memory; tried again as if it had been saved
            # (a try after every 2 ms slice of learning pickled the trainer each time: scoring crawled)
            log.warning("the trainer's checkpoint was not saved (%s): trying again in %g s", exc, CHECKPOINT_EVERY)
            run.saved_at = time.monotonic()
            return
        run.saved_at = time.monotonic()
        run.dirty = False

    @rt.app.on_partitions_revoked.connect
    async def forget(app: Any, revoked: Any, **_: Any) -> None:
        """Another trainer may learn the examples now: what this one learned since its last
        checkpoint is not to be trusted when the partition comes back; the checkpoint is."""
        if examples_tp in revoked:
            run.stale = True

    @rt.app.timer(QUIET_S)
    async def checkpoint_quiet_stream() -> None:
        """A stream that went quiet still gets its last examples checkpointed, within a second or two."""
        async with lock:
            now = time.monotonic()
            if run.trainer is not None and run.dirty and not run.stale and run.next is not None \
                    and (now - run.learned_at >= QUIET_S or now - run.saved_at >= CHECKPOINT_EVERY):
                await checkpoint(run.trainer, run.next)

    @rt.app.agent(rt.topics["examples"], name="train")
    async def train(stream: Any) -> None:
        async for events in stream.take_events(rt.settings.batch_max, within=rt.settings.batch_wait):
            async with lock:
                await learn_batch(events)

    async def in_order(events: list[Any]) -> list[Any]:
        """The events that go on from the next offset to learn, in order. Those below it were
        learned (Faust went back to a commit below the checkpoint) and are skipped. Past a gap
        (Faust's commit is ahead of the checkpoint: a crash after a commit, before a checkpoint)
        it seeks back to that offset and drops the rest; records Faust had fetched before the
        seek may still come, and each batch of them seeks again, until the offset comes."""
        expect = run.next
        todo = []
        learned = 0  # read again, below the offset
        for event in events:
            offset = event.message.offset
            if expect is not None and offset < expect:
                learned += 1
            elif expect is None or offset == expect:
                todo.append(event)
                expect = offset + 1
                run.sought = None
            else:  # past a gap
                if run.sought != expect:
                    log.info("trainer at examples offset %d: seeks back to %d, the offset its checkpoint covers",
                             offset, expect)
                    run.sought = expect
                await rt.app.consumer.seek(examples_tp, expect)
                break
        if learned:
            metrics.DUPLICATES.labels("train").inc(learned)
        return todo

    async def learn_batch(events: list[Any]) -> None:
        if run.trainer is None or run.stale:
            # a start, or the partition came back: the checkpoint, not memory, says where to go on
            first = events[0].message.offset
            try:
                trainer, next_offset, challenger = await resumed(first)
            except Superseded as exc:  # another trainer began since this one did: it has the partition now
                log.warning("%s: this worker does not train until the examples partition comes back", exc)
                return
            log.info("trainer at examples offset %d: resumes at %d", first, next_offset)
            run.start(trainer, next_offset)
            orphan = trainer.unwatched(challenger)
            if orphan is not None:
                await handle(trainer, orphan)
        todo = await in_order(events)
        if not todo:
            return
        t = run.trainer
        assert t is not None
        if rt.promoted_by_hand is not None:  # watch it against the champion before, to roll back
            log.warning("model version %s was promoted by hand: watching it against version %s",
                        rt.promoted_by_hand[0], t.champion.version)
            t.adopt(*rt.promoted_by_hand)
            rt.promoted_by_hand = None
        if rt.registered_challenger is not None:  # shadow it, and judge it at the gate
            log.warning("model version %s was registered as challenger: the promotion gate judges it", rt.registered_challenger[0])
            t.adopt_challenger(*rt.registered_challenger)
            rt.registered_challenger = None
        began = time.perf_counter()
        batch = [_example(orjson.loads(event.value)) for event in todo]
        position = 0
        duplicates = t.duplicates
        while position < len(batch):
            position, done = learn_some(t, batch, position)  # a slice; then the scorer's turn (below)
            run.next = next_offset = todo[position - 1].message.offset + 1
            run.dirty, run.learned_at = True, time.monotonic()
            changed = False
            for example, detections, requests in done:
                for found in detections:
                    if found.kind in DRIFT_KINDS:  # not the served metric's performance_drop
                        metrics.DRIFT.labels(found.kind).inc()
                        metrics.DRIFT_MERGED.labels(found.kind).inc(found.merged)
                    await rt.drift_alert(found, counts="at_example", model_version=t.champion.version,
                                         event_id=example.event_id, event_ts=example.ts)
                for req in requests:
                    await handle(t, req)
                    changed = True
            if changed or time.monotonic() - run.saved_at >= CHECKPOINT_EVERY:
                await checkpoint(t, next_offset)
                if run.trainer is None:
                    break
            if position < len(batch):
                await asyncio.sleep(0)  # the scorer's turn
        if t.duplicates > duplicates:
            metrics.DUPLICATES.labels("train").inc(t.duplicates - duplicates)
        if t.position // GAUGE_EVERY != (t.position - len(batch)) // GAUGE_EVERY:
            show_metrics(t)
        metrics.observe_batch(timer, (time.perf_counter() - began) / len(events), len(events))

    def change(req: PublishRequest | StatusChange) -> list[ModelVersion]:
        if isinstance(req, StatusChange):
            return rt.registry.set_status(req.version, req.status, req.reason, "trainer")
        return publish(req)

    async def registry_written(exc: RegistryUnwritable) -> None:
        """The change is on the topic and Redis refused it: alert, then write it there as soon as
        Redis takes writes again. Learning waits (its checkpoints go to Redis too); scoring does not."""
        log.error("%s", exc)
        await rt.alert("registry_unwritable", "critical", f"model {exc.changes[0].version}", str(exc),
                       version=exc.changes[0].version)
        while True:
            await asyncio.sleep(REDIS_RETRY_S)
            try:
                await asyncio.to_thread(models_log.repair, rt.settings, rt.registry)
            except redis.RedisError as again:
                log.warning("Redis still refuses the registry's writes (%s): trying again in %g s", again, REDIS_RETRY_S)
                continue
            log.info("the registry in Redis is level with the models topic again")
            await rt.alert("registry_recovered", "info", "redis",
                           "the model registry's Redis takes writes again: it is level with the models topic")
            return

    def change_again(req: PublishRequest | StatusChange) -> list[ModelVersion]:
        """After Redis failed mid-change: level Redis with the topic (a number taken and never
        logged is given back: this trainer is the one publisher), then change."""
        models_log.repair(rt.settings, rt.registry)
        return change(req)

    async def handle(t: Trainer, req: PublishRequest | StatusChange) -> None:
        attempt, alerted = change, False
        while True:
            try:  # the registry logs the change to the models topic, then writes Redis
                changes = await asyncio.to_thread(attempt, req)
                break
            except RegistryUnwritable as exc:
                changes = exc.changes
                await registry_written(exc)  # says when Redis is level again
                alerted = False
                break
            except redis.RedisError as exc:  # Redis does not answer, or refuses writes: learning waits, scoring goes on
                alerted = await redis_waits(exc, alerted)
                attempt = change_again
        if alerted:
            await rt.alert("registry_recovered", "info", "redis", "the model registry's Redis answers and takes writes again")
        if isinstance(req, StatusChange):
            kind, severity, message = req.alert, "warning", f"model version {req.version} is now {req.status}: {req.reason}"
        else:
            t.published(req.lane, changes[0].version)
            kind, severity = "model_published", "info"
            message = f"model version {changes[0].version} published as {changes[0].status}: {changes[0].reason}"
        record = changes[0]
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
