"""Consumer progress: records the agents read, and records each source partition is behind.

``driftline_consumed_total{topic}`` counts every record Faust's consumer hands to an agent.
``driftline_consumer_lag{topic,partition}`` is, for each source partition assigned to this
worker, the partition's end offset (asked of the broker, so it stays true while Faust has paused
a partition whose buffer is full) minus the offset this worker last committed for it: the
records not yet processed. It is measured every ``INTERVAL`` seconds and when ``/metrics`` is
served (at most once a second), so a scrape reads it as it is then. Faust commits an offset only after the records sent for it are
written, every ``broker_commit_interval`` (2.8 s by default), so an idle worker reads 0.
Changelog partitions (table recovery, acks off) are not source partitions and are left out.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

import faust
from faust.types import TP

from streams.worker import metrics

log = logging.getLogger(__name__)

INTERVAL = 5.0  # seconds between lag updates: Prometheus scrapes every 5 s
FRESH = 1.0  # seconds a lag update is good for: a scrape within it does not ask the broker again


def short_topic(prefix: str, topic: str) -> str:
    """``raw`` for ``<prefix>.raw``; any other topic keeps its full name.

    >>> short_topic("driftline", "driftline.raw"), short_topic("driftline", "other.raw")
    ('raw', 'other.raw')
    """
    head = f"{prefix}."
    return topic[len(head):] if topic.startswith(head) else topic


def partition_lags(partitions: Iterable[TP], end_offsets: Mapping[TP, int | None],
                   committed: Mapping[TP, int | None], earliest: Mapping[TP, int]) -> dict[TP, int]:
    """Records behind per partition: end offset minus committed offset, never below 0.

    A partition with nothing committed yet is behind by everything the broker still holds
    (from its earliest offset). A partition whose end offset is unknown is left out.

    >>> tp = TP("t", 0)
    >>> partition_lags([tp], {tp: 10}, {tp: 7}, {}), partition_lags([tp], {tp: 10}, {tp: None}, {tp: 4})
    ({TP(topic='t', partition=0): 3}, {TP(topic='t', partition=0): 6})
    """
    out = {}
    for tp in partitions:
        end = end_offsets.get(tp)
        if end is None:
            continue
        done = committed.get(tp)
        if done is None:
            done = earliest.get(tp, 0)
        out[tp] = max(0, end - done)
    return out


async def measure(app: faust.App) -> dict[TP, int]:
    """The lag of every source partition assigned to this worker's consumer."""
    consumer = app.consumer
    tps = sorted(tp for tp in consumer.assignment() if app.topics.acks_enabled_for(tp.topic))
    if not tps:
        return {}
    end_offsets = await consumer.highwaters(*tps)
    # what Faust committed (or found committed when the partition was assigned); Faust keeps it
    # on the consumer only, and tests/integration/test_metrics.py pins that it still does
    committed: Mapping[TP, int | None] = consumer._committed_offset  # noqa: SLF001
    behind = {tp: committed.get(tp) for tp in tps}
    missing = [tp for tp, offset in behind.items() if offset is None]
    earliest = await consumer.earliest_offsets(*missing) if missing else {}
    return partition_lags(tps, end_offsets, behind, earliest)


class _Consumed(faust.Sensor):  # type: ignore[misc]
    """Counts the records Faust's consumer hands to the agents, by source topic."""

    def __init__(self, app: faust.App, prefix: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.app = app
        self.prefix = prefix
        self.counters: dict[str, Any] = {}

    def on_message_in(self, tp: TP, offset: int, message: Any) -> None:
        counter = self.counters.get(tp.topic)
        if counter is None:
            if not self.app.topics.acks_enabled_for(tp.topic):
                return  # a changelog being recovered, not input
            counter = self.counters[tp.topic] = metrics.CONSUMED.labels(short_topic(self.prefix, tp.topic))
        counter.inc()


class _LagGauge:
    """The lag gauge of one worker: its series, updated at most every ``FRESH`` seconds."""

    def __init__(self, app: faust.App, prefix: str) -> None:
        self.app, self.prefix = app, prefix
        self.shown: set[tuple[str, str]] = set()
        self.last = 0.0  # when the gauge was last updated (monotonic)

    async def update(self) -> None:
        if time.monotonic() - self.last < FRESH:
            return
        self.last = time.monotonic()
        try:
            lags = await measure(self.app)
        except Exception as exc:  # noqa: BLE001 - not started, or mid-rebalance: the next tick will do
            log.debug("consumer lag not measured this time: %r", exc)
            return
        current = set()
        for tp, lag in lags.items():
            labels = (short_topic(self.prefix, tp.topic), str(tp.partition))
            metrics.LAG.labels(*labels).set(lag)
            current.add(labels)
        for labels in self.shown - current:  # revoked partitions: no stale series
            metrics.LAG.remove(*labels)
        self.shown = current


def register(app: faust.App, prefix: str) -> Callable[[], Awaitable[None]]:
    """Count consumed records, and update the lag gauge every ``INTERVAL`` seconds. Returns the
    update, for the ``/metrics`` page to run before it answers (at most once a second), so a
    scrape reads the lag as it is then."""
    app.sensors.add(_Consumed(app, prefix))
    gauge = _LagGauge(app, prefix)

    @app.timer(interval=INTERVAL, name="consumer-lag")
    async def update_lag() -> None:
        await gauge.update()

    return gauge.update
