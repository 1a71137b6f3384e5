"""A steady stream of built-in events and their late labels, produced in a thread of its own:
what the live benchmarks and the integration tests feed a worker with.

It stands for users' own clients, so it is cheap on purpose: aiokafka's producer (records built in
C) on an event loop of its own costs about a third of the CPU kafka-python's does per record, and
on a 2-core machine the producer shares the cores with the broker and the worker it measures.
"""

from __future__ import annotations

import asyncio
import itertools
import queue
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiokafka import AIOKafkaProducer

from streams.kafka.sources import builtin
from streams.settings import Settings

PACE_EVERY = 50  # events between checks of the schedule


@dataclass
class Feed:
    """``events`` events of ``source`` at ``rate`` per second (``None``: as fast as it can), each
    label ``label_delay`` events after its event, the concept changing at ``drift_at``; after the
    ``i``-th event, the raw records ``extra(i, event)`` gives (bad input, say). ``labels`` holds
    every event's label, in the order produced. At each event number in ``hold_at`` the feed
    stops, with everything before it written, until the test has seen the hold
    (:meth:`wait_hold`) and lets it go on (:meth:`go_on`)."""

    settings: Settings
    events: int
    rate: float | None = None
    label_delay: int = 300
    seed: int = 11
    drift_at: int | None = None  # default: halfway
    extra: Callable[[int, dict[str, Any]], Iterable[bytes]] | None = None
    source: str = "agrawal-drift"
    labels: dict[str, Any] = field(default_factory=dict)
    done: threading.Event = field(default_factory=threading.Event)
    hold_at: tuple[int, ...] = ()
    #: events sent between checks of the schedule: bursts of that many (1: a steady stream, as a
    #: client sending each event as it happens; the latency benchmark sends one)
    pace_every: int = PACE_EVERY
    _held: queue.Queue[int] = field(default_factory=queue.Queue)
    _go: queue.Queue[None] = field(default_factory=queue.Queue)
    changed_at: float | None = None  # wall time the first event of the new concept was sent
    error: BaseException | None = None
    _thread: threading.Thread | None = None

    def start(self) -> Feed:
        self._thread = threading.Thread(target=self._run, name="feed", daemon=True)
        self._thread.start()
        return self

    def join(self, timeout: float | None = None) -> None:
        """Wait until every record is written (acknowledged by the broker); raise what failed."""
        assert self._thread is not None, "start() first"
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise TimeoutError(f"the feed did not finish within {timeout}s")
        if self.error is not None:
            raise self.error

    def wait_hold(self, timeout: float) -> int:
        """The event number the feed holds at, once it does (everything before it is written)."""
        try:
            return self._held.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"the feed reached no hold within {timeout:.0f}s") from None

    def go_on(self) -> None:
        """Let a held feed go on."""
        self._go.put(None)

    def _run(self) -> None:
        try:
            asyncio.run(self._produce())
        except BaseException as exc:  # noqa: BLE001 - handed to whoever joins
            self.error = exc
        finally:
            self.done.set()

    async def _produce(self) -> None:
        s = self.settings
        raw, feedback = s.topic("raw"), s.topic("feedback")
        # idempotent, and patient: a broker that goes away for a while (a fault test) costs no record
        producer = AIOKafkaProducer(bootstrap_servers=s.kafka_bootstrap, acks="all", linger_ms=5,
                                    enable_idempotence=True, request_timeout_ms=120_000)
        await producer.start()
        try:
            pending: list[tuple[str, Any]] = []
            drift_at = self.events // 2 if self.drift_at is None else self.drift_at
            stream = builtin(self.source, seed=self.seed, drift_at=drift_at)
            began = time.monotonic()
            for i, (event, label) in enumerate(itertools.islice(stream, self.events)):
                if i in self.hold_at:
                    await producer.flush()
                    self._held.put(i)
                    while self._go.empty():  # polled: no executor thread to outlive a failed test
                        await asyncio.sleep(0.05)
                    self._go.get_nowait()
                    began = time.monotonic() - (i / self.rate if self.rate else 0.0)
                if self.rate and i % self.pace_every == 0:
                    await asyncio.sleep(max(0.0, i / self.rate - (time.monotonic() - began)))
                event["ts"] = time.time()
                if i == drift_at:
                    self.changed_at = event["ts"]
                await producer.send(raw, orjson.dumps(event), key=event["entity_id"].encode())
                self.labels[event["event_id"]] = label
                pending.append((event["event_id"], label))
                for record in self.extra(i, event) if self.extra else ():
                    await producer.send(raw, record, key=b"extra")
                if len(pending) > self.label_delay:
                    await self._label(producer, feedback, *pending.pop(0))
            for event_id, y in pending:
                await self._label(producer, feedback, event_id, y)
            await producer.flush()
        finally:
            await producer.stop()

    @staticmethod
    async def _label(producer: AIOKafkaProducer, topic: str, event_id: str, y: Any) -> None:
        await producer.send(topic, orjson.dumps({"event_id": event_id, "label": y}), key=event_id.encode())
