"""Faust's Kafka transport with a cheaper inner loop in its consumer.

Faust hands each fetched record to its streams through ``Consumer._drain_messages``, which
races the hand-over against the flow being suspended (a rebalance) with ``wait_first``: two
tasks, a future and ``asyncio.wait`` for every record. That machinery cost more than anything our
agents do with a record: with it gone, a worker took 31 s instead of 47 s over 20,000 events and
their labels produced at 1,000/s on this machine class (see the README's benchmarks).

Here the hand-over is awaited directly while the flow runs, and raced as before only while it is
suspended. A hand-over during which a rebalance began (the flow is suspended when it returns) or
passed (its message is of an older consumer generation) ends the fetch it came in, without
moving the read offset: its records are stale, the streams skip them, and the read offsets are
where the new assignment's seek puts them. So does a hand-over waiting on a stream's full queue
when a revoke clears it: the queue cancels the waiting put, and that ends the fetch, not the loop.
(It once ended the loop: a worker whose agents were stuck on a broker that had gone, its queues
full, read nothing more after the rebalance, and its tables' recovery waited for good.)

The commit never passes a record that was not processed. A stream skips the records it is handed
while a rebalance is under way (the flow stopped, or the record of an older consumer generation)
and acks them, and Faust's periodic commit, running beside the rebalance, could commit them:
records lost, a stream buffer's worth per partition. Here such acks do not count; the records
are read again from the commit once the rebalance is done. And Faust commits the acked offsets'
first consecutive run, but lets it start one past the committed offset, or anywhere when nothing
was committed yet (the first seconds of a stream). Here the run must start
at the committed offset, or at the first record read since the last seek; a record
that holds the commit back while later ones are acked is read again, once (a warning says so).
Everything else is Faust's own.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from typing import Any

import faust
from faust.transport.consumer import CONSUMER_FETCHING
from faust.transport.drivers import aiokafka as driver
from mode.utils.objects import cached_property
from mode.utils.queues import FlowControlEvent

log = logging.getLogger(__name__)

YIELD_EVERY = 100  # records between yields to the event loop within one fetch


class Consumer(driver.Consumer):  # type: ignore[misc]
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._first_read: dict[Any, int] = {}  # by partition: the first offset read since it was assigned
        self._reread: dict[Any, int] = {}  # by partition: an offset to read again from (a record never acked)
        self._reread_once: set[tuple[Any, int]] = set()
        self._skipped: dict[Any, int] = {}  # by partition: the first record skipped while the flow was stopped

    def ack(self, message: Any) -> bool:
        """Count ``message`` as processed, unless it is of an older consumer generation or the
        flow is stopped: a stream skips those records unprocessed, then acks them."""
        if message.generation_id != self.app.consumer_generation_id:
            self._unacked_messages.discard(message)
            return False  # read again from the commit: the new assignment's seek goes there
        if not self.app.flow_control.is_active():
            self._unacked_messages.discard(message)
            # of this assignment, handed over while the rebalance's recovery ran: read it again as
            # soon as the flow runs, not at the next commit (by then the worker may have processed
            # a whole backlog past it, and would process it all again)
            tp, offset = message.tp, message.offset
            if offset < self._skipped.get(tp, offset + 1):
                self._skipped[tp] = offset
            return False
        return bool(super().ack(message))

    def _new_offset(self, tp: Any) -> int | None:
        """The offset to commit for ``tp``: one past the acked run that starts at the committed
        offset, or at the first record read since the last seek when that is later (or nothing
        is committed); ``None`` while the record there is not acked."""
        acked = self._acked[tp]
        if not acked:
            return None
        gaps = self._gap[tp]
        if gaps:  # offsets with no record, below the highest acked one, count as acked
            top = max(acked)
            found = sorted(gaps.overlap(0, top))
            if found:
                for interval in found:
                    acked.extend(range(interval.begin, interval.end))
                gaps.chop(0, max(found[-1].end, top + 1))
        acked[:] = sorted(set(acked))
        committed, first = self._committed_offset[tp], self._first_read.get(tp)
        # offsets below the first record read since the last seek hold none (a transaction's marker)
        head = first if committed is None else committed if first is None else max(committed, first)
        if head is not None and acked[0] > head:
            self._held(tp, head, acked[0])
            return None
        run = 1
        while run < len(acked) and acked[run] == acked[run - 1] + 1:
            run += 1
        done = acked[:run]
        del acked[:run]
        self._acked_index[tp].difference_update(done)
        return done[-1] + 1

    def _held(self, tp: Any, head: int, acked_from: int) -> None:
        """Offset ``head`` of ``tp`` was never acked, later ones were: read it again, once."""
        if (tp, head) in self._reread_once:
            return
        self._reread_once.add((tp, head))
        self._reread[tp] = head
        log.warning("%s[%d]: records %d..%d were not processed but later ones were; reading them again "
                    "(the commit waits for them)", tp.topic, tp.partition, head, acked_from - 1)

    async def _commit(self, offsets: Any) -> bool:
        """Commit, unless a record could not be written: its source offset must be read again
        (the worker is crashing; Faust's commit would otherwise run first, after its flush)."""
        failed = getattr(self.app, "send_failed", None)
        if failed is not None:
            log.critical("not committing offsets of %d partitions: a record could not be written (%r)", len(offsets), failed)
            return False
        return bool(await super()._commit(offsets))

    async def on_partitions_revoked(self, revoked: Any) -> None:
        for tp in revoked:
            self._first_read.pop(tp, None)
            self._reread.pop(tp, None)
            self._skipped.pop(tp, None)
        self._reread_once = {(tp, offset) for tp, offset in self._reread_once if tp not in revoked}
        await super().on_partitions_revoked(revoked)

    async def perform_seek(self) -> None:
        """Go back to the committed offsets; a stream partition with nothing committed goes back
        to its first record. (aiokafka's ``seek_to_committed`` leaves such a partition where its
        reading got to, so records read during the recovery, which the streams skip, were passed
        over and then committed past: the first records a new group's worker was given.)"""
        self._first_read.clear()  # read positions go back to the committed offsets
        await super().perform_seek()
        self._skipped.clear()  # at or past the committed offsets: read again from there
        acks_enabled_for = self.app.topics.acks_enabled_for
        fresh = [tp for tp in self.assignment() if acks_enabled_for(tp.topic) and not self._committed_offset.get(tp)]
        if fresh:
            await self.seek_wait(await self.earliest_offsets(*fresh))

    async def seek(self, partition: Any, offset: int) -> None:
        self._first_read.pop(partition, None)
        if self._skipped.get(partition, -1) >= offset:
            del self._skipped[partition]  # read again from there anyway
        await super().seek(partition, offset)

    async def _seek(self, partition: Any, offset: int) -> None:
        """Seek on the consumer's own thread. (Faust calls aiokafka's ``seek`` from the caller's,
        the trainer's event loop, while that thread's fetcher drains the same partitions: a
        ``KeyError`` in aiokafka's ``fetched_records`` crashed a worker in CI.)"""
        thread = self._thread
        await thread.call_thread(thread._ensure_consumer().seek, partition, offset)

    async def _read_again(self) -> None:
        """Seek back where a record was skipped (see :meth:`_held`), on partitions still held."""
        reread, self._reread = self._reread, {}
        assigned = self.assignment()
        for tp, offset in reread.items():
            if tp in assigned:
                await self.seek(tp, offset)

    async def _read_skipped(self) -> None:
        """Seek back to the first record skipped while the flow was stopped (see :meth:`ack`), on
        partitions still held whose reading went past it: only ever backwards."""
        skipped, self._skipped = self._skipped, {}
        assigned = self.assignment()
        for tp, offset in skipped.items():
            last = self._read_offset.get(tp)
            if tp in assigned and last is not None and last >= offset:
                log.info("%s[%d]: reading again from %d, skipped during the rebalance (read to %d)",
                         tp.topic, tp.partition, offset, last)
                await self.seek(tp, offset)

    async def _drain_messages(self, fetcher: Any) -> None:
        """Read fetched records into the streams until the consumer or the fetcher stops."""
        app = self.app
        deliver = self.callback
        read_offsets = self._read_offset
        acks_enabled_for = app.topics.acks_enabled_for
        suspended = self.suspend_flow.is_set
        stopped = self._stopped.is_set
        fetcher_stopped = fetcher._stopped.is_set
        first_read = self._first_read
        try:
            while not (stopped() or fetcher_stopped()):
                self.diag.set_flag(CONSUMER_FETCHING)
                if self._reread:
                    await self._read_again()
                if self._skipped and not suspended() and app.flow_control.is_active():
                    await self._read_skipped()
                records = self.getmany(timeout=1.0)
                await self.sleep(0)
                if self.should_stop:
                    break
                since_yield = 0
                async for tp, message in records:
                    since_yield += 1
                    if since_yield > YIELD_EVERY:
                        await asyncio.sleep(0)
                        since_yield = 0
                    offset = message.offset
                    last = read_offsets.get(tp)  # none yet (a partition just assigned, or revoked since)
                    if last is not None and offset < last:
                        continue  # read already (the offset went back to a seek's)
                    if last and offset - last > 1 and acks_enabled_for(message.topic):
                        await self._add_gap(tp, last + 1, offset)  # offsets with no record: count as acked
                    if self._commit_every is not None and self._n_acked >= self._commit_every:
                        self._n_acked = 0
                        await self.commit()
                    if suspended():
                        await self.wait_first(deliver(message), self.suspend_flow.wait())
                    else:
                        try:
                            await deliver(message)
                        except asyncio.CancelledError:
                            if _cancelling():
                                raise
                            # a revoke cleared the stream's full queue under the hand-over (the
                            # queue cancels its waiting puts): the rest of this fetch is stale
                            break
                        if suspended() or message.generation_id != app.consumer_generation_id:
                            break  # a rebalance began or passed while it waited: the rest of this fetch is stale
                    read_offsets[tp] = offset
                    if tp not in first_read and message.generation_id == app.consumer_generation_id:
                        first_read[tp] = offset
                self.diag.unset_flag(CONSUMER_FETCHING)
        except self.consumer_stopped_errors:
            if self.transport.app.should_stop:
                self.log.info("Broker stopped consumer, shutting down...")
                return
            raise
        except asyncio.CancelledError:
            if self.transport.app.should_stop:
                self.log.info("Consumer shutting down for user cancel.")
                return
            raise
        except Exception as exc:
            self.log.exception("Drain messages raised: %r", exc)
            raise
        finally:
            self.diag.unset_flag(CONSUMER_FETCHING)


def _cancelling() -> bool:
    """Whether this task itself is being cancelled (not only a future it awaited: a queue's put)."""
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


class Producer(driver.Producer):  # type: ignore[misc]
    """Faust's producer, idempotent: a batch aiokafka sends again after a lost answer (a broker
    restart, a network cut) is written once, and batches stay in order."""

    def _settings_extra(self) -> Mapping[str, Any]:
        return {**super()._settings_extra(), "acks": "all", "enable_idempotence": True}


#: how long the creation of one of Faust's topics (a changelog) is tried again while the cluster
#: changes under it: a broker lost, a controller being elected
CREATE_PATIENCE_S = 120.0


class Transport(driver.Transport):  # type: ignore[misc]
    """Faust's transport, whose topic creation is tried again while the cluster changes.

    Faust asks the first broker it knows of which broker is the controller, and sends the creation
    there, once: a broker just lost (still in the metadata until the controller fences it, 9 s)
    failed the worker's start, and a worker starting as the quorum lost its leader waited for good
    on a changelog never made."""

    Consumer = Consumer
    Producer = Producer

    async def _really_create_topic(self, owner: Any, client: Any, topic: str, partitions: int, replication: int,
                                   **kwargs: Any) -> None:
        from aiokafka.errors import KafkaError

        loop = asyncio.get_running_loop()
        deadline = loop.time() + CREATE_PATIENCE_S
        delay = 0.5
        while True:
            try:
                await super()._really_create_topic(owner, client, topic, partitions, replication, **kwargs)
                return
            except (KafkaError, RuntimeError, OSError, asyncio.TimeoutError) as exc:
                if owner.should_stop or loop.time() + delay > deadline:
                    raise
                log.warning("creating topic %s: %s; trying again in %.1fs", topic, exc or type(exc).__name__, delay)
                await asyncio.sleep(delay)
                with contextlib.suppress(KafkaError, OSError):
                    await client.force_metadata_update()
                delay = min(delay * 2, 5.0)


class FlowControl(FlowControlEvent):  # type: ignore[misc]
    """Faust's flow control, except that resuming the flow keeps what the streams' queues hold.

    Faust's recovery resumes the flow twice after an assignment: once when no table needs
    restoring, and again when it completes, after seeking to the committed offsets. Resuming
    empties every stream's queue, so records read in between were dropped without an ack, and
    read past: with nothing committed yet (a new group's first seconds) they were committed and
    lost, a stream buffer's worth per partition; with a commit they held it back for good.
    Records of a revoked assignment are still cleared when the partitions are revoked."""

    _resuming = False

    def resume(self) -> None:
        self._resuming = True
        try:
            super().resume()
        finally:
            self._resuming = False

    def clear(self) -> None:
        if not self._resuming:
            super().clear()


class App(faust.App):  # type: ignore[misc]
    """A Faust app with :class:`Consumer` and :class:`FlowControl`, without Faust's stats
    monitor; everything else is Faust's. ``send_failed`` is set when a record could not be
    written: no offset is committed after."""

    send_failed: BaseException | None = None

    def on_init_dependencies(self) -> Any:
        """Faust's services, less its :class:`~faust.sensors.Monitor`: a sensor that timed and
        counted every record in, every event through a stream and every record sent, by topic,
        stream and task, for Faust's ``/stats/`` pages, which nothing here reads (the metrics are
        ours: :mod:`streams.worker.metrics`). That was 2 to 3% of a busy worker's time. The
        services are a lazy chain over the sensors: the monitor is gone before it is read."""
        services = super().on_init_dependencies()
        self.sensors.remove(self.monitor)
        return services

    @cached_property
    def flow_control(self) -> FlowControl:
        return FlowControl(loop=self.loop)

    def _new_transport(self) -> Transport:
        return Transport(self.conf.broker_consumer, self)
