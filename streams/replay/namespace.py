"""A namespace with a running worker: what live replay and the demo both run in.

A namespace is a fresh topic prefix (``<prefix>-<kind>-<8 hex>``), so its own topics, its own
Redis keys (the registry's prefix is the topic prefix) and its own consumer group (Faust's app
id). :func:`running_worker` creates it, runs a `driftline worker` there, and on the way out stops
the worker and deletes the namespace (unless ``keep``), even on Ctrl-C. Records go in at their
pace with :func:`produce_paced`; :func:`wait_consumed` waits until every agent has read
everything; :func:`replay_namespace` recomputes the run's numbers exactly from its topics.
"""

from __future__ import annotations

import logging
import shutil
import signal
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import orjson
import redis
from kafka import KafkaAdminClient, TopicPartition
from kafka.errors import KafkaError

from streams.core.replay import Recorded, ReplayResult, Schedule, replay_as_live
from streams.core.spec import PipelineSpec
from streams.errors import EnvironmentProblem
from streams.kafka import admin, clients
from streams.kafka.reference import read_reference
from streams.kafka.topics import topic_specs
from streams.outside import described
from streams.replay.recorded import read_range, read_schedule
from streams.settings import Settings
from streams.stack.ports import free_port
from streams.state.models_log import load_models, trained_examples
from streams.worker.process import WorkerProcess

log = logging.getLogger(__name__)

BATCH_S = 0.02  # records due within this many seconds go out together (one wake-up, one batch)
CHECK_EVERY = 100  # events produced between checks that the worker still runs
UNTIMED_RATE = 100.0  # events per second for records that carry no time (the built-in streams' pace)
#: the topics every agent must have consumed to the end before the run is over
CONSUMED = ("raw", "rekeyed", "feedback", "features", "labels", "examples")


@dataclass(frozen=True)
class Namespace:
    """The namespace's settings (topic prefix, web port, spec), its worker, and its folder
    (the worker's log and state; deleted on the way out)."""

    settings: Settings
    worker: WorkerProcess
    folder: Path


def namespace_settings(settings: Settings, state_dir: Path, *, kind: str, spec_path: Path | None = None) -> Settings:
    """Settings for a fresh namespace next to ``settings``' own: its topic prefix
    (``<prefix>-<kind>-<8 hex>``), web port, state folder and spec (else the parent's), with the
    parent's credentials (:meth:`Settings.with_credentials`): the stack's generated Redis password
    and model key live in the parent's state folder, not the namespace's. The demo, live replay,
    the benchmarks and the tests all make their namespaces here."""
    return replace(settings.with_credentials(), topic_prefix=f"{settings.topic_prefix}-{kind}-{uuid.uuid4().hex[:8]}",
                   pipeline=str(spec_path) if spec_path is not None else settings.pipeline,
                   web_port=free_port(), state_dir=state_dir)


@contextmanager
def shielded() -> Iterator[None]:
    """Ctrl-C waits until the block is done, then interrupts: clean-up is never cut short."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, _frame: caught.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if caught:
        raise KeyboardInterrupt


@contextmanager
def running_worker(settings: Settings, spec: PipelineSpec, *, kind: str, keep: bool,
                   say: Callable[[str], None]) -> Iterator[Namespace]:
    """A fresh namespace with a `driftline worker` running every agent in it.

    On the way out, however it is left: the worker is stopped and the namespace's topics and
    Redis keys deleted (unless ``keep``). A failure shows the end of the worker's log and keeps
    the folder it is in."""
    folder = Path(tempfile.mkdtemp(prefix=f"driftline-{kind}-"))
    try:
        path = folder / "pipeline.toml"
        path.write_text(spec.source_text)
        ns = namespace_settings(settings, folder / "state", kind=kind, spec_path=path)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    worker = WorkerProcess(ns, folder / "worker.log")
    say(f"{kind} in namespace {ns.topic_prefix} (topics {ns.topic('*')}, Redis keys {ns.topic_prefix}:*)")
    keep_log = False
    try:
        admin.ensure_topics(ns, topic_specs(ns))
        worker.start()
        yield Namespace(ns, worker, folder)
    except Exception:
        if worker.proc is not None:  # it ran: what it said, and its log kept to read
            keep_log = True
            said = worker.log.read_text(errors="replace")[-2000:].strip() if worker.log.exists() else ""
            say(f"the {kind}'s worker said, last:\n{said}" if said else f"the {kind}'s worker wrote nothing to {worker.log}")
        raise
    finally:
        with shielded():
            worker.stop()
            if not keep:
                cleaned(ns, say)
            if not keep_log:
                shutil.rmtree(folder, ignore_errors=True)


def pace_of(record: Recorded) -> float | None:
    """The record's time: its Kafka time, else the event's numeric ``ts``; None if neither."""
    if record.ts is not None:
        return record.ts
    if record.kind == "raw":
        try:
            ts = orjson.loads(record.value).get("ts")
        except (orjson.JSONDecodeError, AttributeError):
            return None
        if isinstance(ts, int | float) and not isinstance(ts, bool):
            return float(ts)
    return None


def _key(record: Recorded) -> bytes | None:
    """A raw event's entity id, a label's event id: the keys a producer would give them."""
    try:
        value = orjson.loads(record.value)
        found = value.get("entity_id") if record.kind == "raw" else value["event_id"]
    except (orjson.JSONDecodeError, AttributeError, KeyError, TypeError):
        return None
    return str(found).encode() if found is not None else None


def retimed(value: bytes, ts: float) -> bytes:
    """The record with its ``ts`` (when it has a numeric one) moved to ``ts``; else as it was.

    >>> retimed(b'{"event_id":"e","ts":1700000000.0}', 1800000000.5), retimed(b'not json', 1.0)
    (b'{"event_id":"e","ts":1800000000.5}', b'not json')
    """
    try:
        obj = orjson.loads(value)
    except orjson.JSONDecodeError:
        return value
    if not isinstance(obj, dict) or not isinstance(obj.get("ts"), int | float) or isinstance(obj["ts"], bool):
        return value
    obj["ts"] = ts
    return orjson.dumps(obj)


def produce_paced(settings: Settings, records: Iterable[Recorded], speed: float,
                  progress: Callable[[int], None] = lambda _: None, worker: WorkerProcess | None = None) -> int:
    """Write the records to the namespace's raw and feedback topics, at their recorded pace
    times ``speed`` (records without a time: :data:`UNTIMED_RATE` times ``speed``); return the
    raw events sent. ``records`` may be a generator: each is taken when it is due. A ``worker``
    that stops meanwhile ends it (:func:`worker_stopped`)."""
    producer = clients.producer(settings, linger_ms=5)
    try:
        began, wall, first, clock, sent = time.monotonic(), time.time(), None, 0.0, 0
        for record in records:
            ts = pace_of(record)
            if ts is not None:
                first = ts if first is None else first
                clock = max(clock, ts - first)
            elif record.kind == "raw":
                clock += 1.0 / UNTIMED_RATE
            # every record's time moves to now, at the replay's pace: the broker's retention (by
            # record time) keeps what it writes, and events and labels share one clock
            stamp = wall + clock / speed
            ahead = clock / speed - (time.monotonic() - began)
            if ahead > BATCH_S:
                time.sleep(ahead)
            producer.send(settings.topic(record.kind), key=_key(record), value=retimed(record.value, stamp),
                          timestamp_ms=int(stamp * 1000))
            if record.kind == "raw":
                sent += 1
                progress(sent)
                if worker is not None and sent % CHECK_EVERY == 0 and not worker.running():
                    raise worker_stopped(settings, worker)
        producer.flush()
    finally:
        producer.close()
    return sent


def wait_consumed(settings: Settings, worker: WorkerProcess, timeout_s: float) -> None:
    """Until the worker's consumer group has committed every record of every topic it reads.

    A question the cluster does not answer (its leaders moving: a broker restarted, a preferred
    leader elected again) is asked again with clients of their own, until the deadline: a client
    that knew the old leaders kept asking them for 30 s, then failed."""
    group = f"{settings.topic_prefix}-worker"
    deadline = time.monotonic() + timeout_s
    settled = 0
    while time.monotonic() < deadline:
        client = clients.admin(settings)
        consumer = clients.consumer(settings)
        try:
            tps = [TopicPartition(settings.topic(name), p) for name in CONSUMED
                   for p in sorted(consumer.partitions_for_topic(settings.topic(name)) or ())]
            while time.monotonic() < deadline:
                if not worker.running():
                    raise worker_stopped(settings, worker)
                ends = consumer.end_offsets(tps)
                committed = _committed(client, group)
                behind = sum(ends[tp] - (committed[tp].offset if tp in committed else 0) for tp in tps if ends[tp])
                settled = settled + 1 if behind == 0 else 0
                if settled >= 3:  # nothing left and nothing new (the trainer's last versions are out)
                    return
                time.sleep(1.0)
        except KafkaError as exc:
            log.info("waiting for %s: %s; asking again", group, exc)
            settled = 0
        finally:
            consumer.close()
            client.close()
    raise EnvironmentProblem(f"the worker of {settings.topic_prefix} had not consumed everything after "
                             f"{timeout_s:.0f}s: see {worker.log}")


def worker_stopped(settings: Settings, worker: WorkerProcess) -> EnvironmentProblem:
    """The error for a worker that stopped before the run was over: how, and where its log is."""
    code = worker.proc.returncode if worker.proc is not None else None
    how = f"was killed by signal {-code}" if code is not None and code < 0 else f"exited ({code})"
    return EnvironmentProblem(f"the worker of {settings.topic_prefix} {how} before the run was over: see {worker.log}")


def _committed(client: KafkaAdminClient, group: str) -> dict[TopicPartition, object]:
    """The group's committed offsets (kafka-python 3 names the call ``list_group_offsets``)."""
    if hasattr(client, "list_group_offsets"):
        return client.list_group_offsets({group: None}).get(group, {})  # type: ignore[no-any-return]
    return client.list_consumer_group_offsets(group)  # type: ignore[no-any-return]


def replay_namespace(settings: Settings, spec: PipelineSpec) -> tuple[ReplayResult, Schedule]:
    """The namespace's recorded topics replayed on its worker's schedule: the live run's numbers,
    each recomputed prediction checked against the served one; and the schedule itself."""
    recorded = read_range(settings, None, None)
    schedule = read_schedule(settings)
    tables = read_reference(settings, spec) if spec.lookups else None
    return replay_as_live(spec, recorded, schedule, load_models(settings), trained=trained_examples(settings),
                          lookups=tables), schedule


def clean(settings: Settings) -> None:
    """Delete the namespace's topics and Redis keys."""
    admin.delete_topics(settings, admin.namespace_topics(settings, settings.topic_prefix))
    client = redis.Redis.from_url(settings.redis_connect_url)
    try:
        keys = list(client.scan_iter(match=f"{settings.topic_prefix}:*", count=1000))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


def cleaned(settings: Settings, say: Callable[[str], None]) -> bool:
    """:func:`clean`, saying in one line what was left behind when Kafka or Redis would not let it
    (the run's own outcome stands); whether everything went."""
    try:
        clean(settings)
    except (redis.RedisError, KafkaError, OSError) as exc:
        say(f"driftline: could not delete namespace {settings.topic_prefix}: {described(exc, settings) or exc}; "
            f"its topics {settings.topic('*')} and Redis keys {settings.topic_prefix}:* may be left behind")
        return False
    return True
