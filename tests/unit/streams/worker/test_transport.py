"""Our Faust transport (streams.worker.transport) on fetches, acks and queues made by hand: the
consumer's inner loop, what it commits, the flow control. No broker."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

import pytest
from faust.types import TP as TopicPartition
from intervaltree import IntervalTree
from mode.utils.queues import FlowControlQueue, ThrowableQueue

from streams.worker.transport import Consumer, FlowControl


class Loop:
    """What ``Consumer._drain_messages`` reads of its consumer, with one fetch to hand over."""

    consumer_stopped_errors: tuple[type[BaseException], ...] = ()

    def __init__(self, offsets: list[int], read_offset: int | None = None, suspended: bool = False) -> None:
        self.fetch = [SimpleNamespace(offset=o, topic="t", generation_id=1) for o in offsets]
        self.app = SimpleNamespace(consumer_generation_id=1, topics=SimpleNamespace(acks_enabled_for=lambda topic: True),
                                   flow_control=SimpleNamespace(is_active=lambda: not suspended))
        self._read_offset = {"tp": read_offset}
        self.suspend_flow = asyncio.Event()
        if suspended:
            self.suspend_flow.set()
        self._stopped = asyncio.Event()
        self.diag = SimpleNamespace(set_flag=lambda flag: None, unset_flag=lambda flag: None)
        self._commit_every = None
        self._n_acked = 0
        self.should_stop = False
        self.delivered: list[int] = []
        self.raced: list[int] = []
        self.gaps: list[tuple[int, int]] = []
        self.on_deliver = lambda message: None
        self._first_read: dict[str, int] = {}
        self._reread: dict[str, int] = {}
        self._skipped: dict[str, int] = {}
        self.read_skipped = 0

    async def _read_skipped(self) -> None:
        self.read_skipped += 1
        self._skipped = {}

    async def callback(self, message: Any) -> None:
        self.delivered.append(message.offset)
        self.on_deliver(message)

    async def getmany(self, timeout: float) -> AsyncIterator[tuple[str, Any]]:
        fetch, self.fetch = self.fetch, []
        self._stopped.set()  # one fetch, then the loop ends
        for message in fetch:
            yield "tp", message

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)

    async def wait_first(self, *coros: Any) -> None:
        delivery, suspended = coros
        suspended.close()
        self.raced.append(1)
        await delivery

    async def _add_gap(self, tp: str, start: int, end: int) -> None:
        self.gaps.append((start, end))


def drain(loop: Loop) -> Loop:
    asyncio.run(Consumer._drain_messages(loop, SimpleNamespace(_stopped=asyncio.Event())))  # type: ignore[arg-type]
    return loop


def test_records_are_handed_over_in_order_without_a_race_while_the_flow_runs() -> None:
    loop = drain(Loop([5, 6, 7]))
    assert loop.delivered == [5, 6, 7] and loop.raced == []
    assert loop._read_offset["tp"] == 7
    assert loop._first_read == {"tp": 5}  # where the commit's acked run must start (nothing committed)


def test_a_stale_record_is_not_taken_for_the_first_read() -> None:
    loop = Loop([8, 9])
    loop.fetch[0].generation_id = 0  # fetched before the last rebalance

    loop.on_deliver = lambda message: None
    drain(loop)
    assert loop._first_read == {}


def test_records_below_the_read_offset_are_skipped_and_a_hole_counts_as_a_gap() -> None:
    loop = drain(Loop([3, 4, 5, 9], read_offset=5))
    assert loop.delivered == [5, 9]
    assert loop.gaps == [(6, 9)]


def test_while_the_flow_is_suspended_each_hand_over_races_the_suspension_as_in_faust() -> None:
    loop = drain(Loop([1, 2], suspended=True))
    assert loop.raced == [1, 1] and loop.delivered == [1, 2]


def test_a_hand_over_that_waited_across_a_rebalance_ends_its_stale_fetch() -> None:
    loop = Loop([10, 11, 12, 13])

    def rebalance_during(message: Any) -> None:
        if message.offset == 11:  # the new assignment seeks the partition back to 4
            loop.app.consumer_generation_id = 2
            loop._read_offset["tp"] = 4

    loop.on_deliver = rebalance_during
    drain(loop)
    assert loop.delivered == [10, 11]  # 12 and 13 were fetched before the rebalance: not handed over
    assert loop._read_offset["tp"] == 4  # where the seek put it, not the stale record's offset


def test_a_hand_over_during_which_a_rebalance_began_ends_its_fetch_without_moving_the_read_offset() -> None:
    loop = Loop([20, 21, 22], read_offset=19)

    def revoke_during(message: Any) -> None:
        if message.offset == 20:
            loop.suspend_flow.set()  # the partitions are being revoked; no new generation yet

    loop.on_deliver = revoke_during
    drain(loop)
    assert loop.delivered == [20] and loop._read_offset["tp"] == 19


TP = TopicPartition("raw", 3)


class Commits:
    """What ``Consumer._new_offset`` reads of its consumer: acked offsets, gaps, the commit."""

    _new_offset = Consumer._new_offset
    _held = Consumer._held

    def __init__(self, acked: list[int], committed: int | None = None, first_read: int | None = None,
                 gaps: tuple[tuple[int, int], ...] = ()) -> None:
        self._acked = {TP: list(acked)}
        self._acked_index = {TP: set(acked)}
        self._gap = {TP: IntervalTree.from_tuples(gaps)}
        self._committed_offset = {TP: committed}
        self._first_read = {TP: first_read} if first_read is not None else {}
        self._reread: dict[Any, int] = {}
        self._reread_once: set[tuple[Any, int]] = set()


def test_with_nothing_committed_the_commit_starts_at_the_first_record_read() -> None:
    c = Commits(list(range(0, 80)), first_read=0)
    assert c._new_offset(TP) == 80
    assert c._acked[TP] == [] and c._acked_index[TP] == set() and c._reread == {}


def test_with_nothing_committed_records_skipped_unacked_hold_the_commit_and_are_read_again(caplog: pytest.LogCaptureFixture) -> None:
    c = Commits(list(range(40, 80)), first_read=0)  # 0..39 were read, never acked (Faust would commit 80)
    assert c._new_offset(TP) is None
    assert c._reread == {TP: 0}
    assert "records 0..39 were not processed" in caplog.text
    c._reread.clear()
    assert c._new_offset(TP) is None and c._reread == {}  # read again once, not at every commit
    c._acked[TP].extend(range(0, 40))  # now they are acked
    assert c._new_offset(TP) == 80


def test_the_record_at_the_committed_offset_must_be_acked_before_later_ones_commit() -> None:
    c = Commits([11, 12], committed=10, first_read=10)  # Faust lets one missing record through
    assert c._new_offset(TP) is None and c._reread == {TP: 10}
    assert Commits([10, 11, 12], committed=10, first_read=10)._new_offset(TP) == 13


def test_an_offset_below_the_first_record_read_holds_no_record() -> None:
    # a transaction marker at the committed offset: reading starts one past it
    assert Commits([11, 12], committed=10, first_read=11)._new_offset(TP) == 13


def test_gaps_below_the_highest_acked_offset_count_as_acked_and_the_run_stops_at_a_hole() -> None:
    c = Commits([10, 11, 15, 20], committed=10, first_read=10, gaps=((12, 15),))
    assert c._new_offset(TP) == 16
    assert c._acked[TP] == [20]


class Acks:
    """What ``Consumer.ack`` reads before it hands an ack to Faust's bookkeeping."""

    ack = Consumer.ack

    def __init__(self, generation: int, flowing: bool) -> None:
        self.app = SimpleNamespace(consumer_generation_id=generation,
                                   flow_control=SimpleNamespace(is_active=lambda: flowing))
        self._unacked_messages = Unacked()  # a set in Faust: only discard is used
        self._skipped: dict[Any, int] = {}


class Unacked(list):  # type: ignore[type-arg]
    def discard(self, item: Any) -> None:
        if item in self:
            self.remove(item)


def test_a_record_a_stream_skipped_during_a_rebalance_is_not_counted_as_acked() -> None:
    stale = SimpleNamespace(tp=TP, offset=40, generation_id=1)
    c = Acks(generation=2, flowing=True)  # a rebalance passed since it was fetched
    c._unacked_messages.append(stale)
    assert c.ack(stale) is False and c._unacked_messages == []
    assert c._skipped == {}  # the new assignment's seek to the commit reads it again
    # the flow stopped: a rebalance began; the stream skips what it holds and acks it
    assert Acks(generation=1, flowing=False).ack(SimpleNamespace(tp=TP, offset=41, generation_id=1)) is False


def test_records_of_this_assignment_skipped_while_the_flow_is_stopped_are_marked_from_the_first() -> None:
    """Records handed over while the recovery ran, after the seek to the commit: the reading
    goes past them, so they must be read again as soon as the flow runs (fault 1: not at the
    next commit, by when a worker had processed a 4,000-event backlog past the hole)."""
    c, other = Acks(generation=3, flowing=False), TopicPartition("raw", 1)
    for offset in (52, 50, 51):
        assert c.ack(SimpleNamespace(tp=TP, offset=offset, generation_id=3)) is False
    c.ack(SimpleNamespace(tp=other, offset=9, generation_id=3))
    c.ack(SimpleNamespace(tp=other, offset=2, generation_id=2))  # stale: the seek to the commit covers it
    assert c._skipped == {TP: 50, other: 9}


def test_the_loop_reads_skipped_records_again_once_the_flow_runs_and_not_while_it_is_stopped() -> None:
    running, stopped = Loop([5], read_offset=4), Loop([5], read_offset=4, suspended=True)
    running._skipped = stopped._skipped = {"tp": 2}
    assert drain(running).read_skipped == 1 and drain(stopped).read_skipped == 0


def test_resuming_the_flow_keeps_what_the_streams_queues_hold_and_a_revoke_still_clears_them() -> None:
    async def run() -> tuple[int, int]:
        flow = FlowControl()
        queue = FlowControlQueue(flow_control=flow, clear_on_resume=True)  # as a stream's channel has it
        flow.resume()
        queue.put_nowait("record 10")  # read after the first resume, not yet processed
        flow.resume()  # Faust's recovery resumes again once it has sought to the commits
        kept = queue.qsize()
        flow.suspend()
        flow.clear()  # the partitions are revoked: what their streams hold goes
        return kept, queue.qsize()

    assert asyncio.run(run()) == (1, 0)


class Seeks(Consumer):  # type: ignore[misc]
    """What ``Consumer.perform_seek`` reads of its consumer, around Faust's own seek."""

    def __init__(self, committed: dict[Any, int | None]) -> None:  # Consumer.__init__ is not run: there is no app

        self.committed = committed
        self._committed_offset: dict[Any, int | None] = {}
        self._first_read = {tp: 7 for tp in committed}
        self._skipped: dict[Any, int] = {}
        self._read_offset: dict[Any, int | None] = {}
        self.app = SimpleNamespace(topics=SimpleNamespace(acks_enabled_for=lambda topic: topic != "changelog"))
        self.sought: dict[Any, int] = {}

    async def _faust_perform_seek(self) -> None:  # Faust's: records the committed offsets, None for 0
        self._committed_offset.update({tp: offset or None for tp, offset in self.committed.items()})

    def assignment(self) -> set[Any]:
        return set(self.committed)

    async def earliest_offsets(self, *tps: Any) -> dict[Any, int]:
        return {tp: 0 for tp in tps}

    async def seek_wait(self, offsets: dict[Any, int]) -> None:
        self.sought.update(offsets)


def test_a_stream_partition_with_nothing_committed_goes_back_to_its_first_record(monkeypatch: pytest.MonkeyPatch) -> None:
    """Records read during a recovery are skipped by the streams: with no commit to seek back
    to, they were passed over and committed past (the first 32 of a new group's, in a test)."""
    fresh, zero, done, changelog = TopicPartition("raw", 0), TopicPartition("raw", 1), TopicPartition("raw", 2), TopicPartition("changelog", 0)
    seeks = Seeks({fresh: None, zero: 0, done: 40, changelog: None})
    monkeypatch.setattr("faust.transport.drivers.aiokafka.Consumer.perform_seek", Seeks._faust_perform_seek)
    seeks._skipped = {done: 41}
    asyncio.run(seeks.perform_seek())
    assert seeks.sought == {fresh: 0, zero: 0}  # the one with a commit went back to it; tables recover their own
    assert seeks._first_read == {} and seeks._skipped == {}  # read again from the commit anyway


def test_skipped_records_are_read_again_only_backwards_from_where_the_reading_got_to(monkeypatch: pytest.MonkeyPatch) -> None:
    past, behind, revoked, sought_lower = (TopicPartition("raw", p) for p in range(4))
    consumer = Seeks({past: 5, behind: 5, sought_lower: 5})  # revoked is no longer assigned
    consumer._skipped = {past: 30, behind: 30, revoked: 30, sought_lower: 30}
    consumer._read_offset = {past: 90, behind: 29, revoked: 90, sought_lower: 90}

    async def faust_seek(self: Any, tp: Any, offset: int) -> None:
        self._read_offset[tp] = offset
        self.sought[tp] = offset

    monkeypatch.setattr("faust.transport.drivers.aiokafka.Consumer.seek", faust_seek)
    asyncio.run(consumer.seek(sought_lower, 12))  # a seek below the skipped record reads it again anyway
    assert sought_lower not in consumer._skipped
    consumer.sought.clear()
    asyncio.run(consumer._read_skipped())
    assert consumer.sought == {past: 30} and consumer._skipped == {}


def test_a_revoked_partition_forgets_what_it_read_again(monkeypatch: pytest.MonkeyPatch) -> None:
    kept, revoked = TopicPartition("raw", 0), TopicPartition("raw", 1)
    consumer = Seeks({kept: 5, revoked: 5})
    consumer._reread = {kept: 3, revoked: 4}
    consumer._reread_once = {(kept, 3), (revoked, 4)}
    consumer._skipped = {kept: 3, revoked: 4}

    async def faust_revoked(self: Any, tps: Any) -> None:
        pass

    monkeypatch.setattr("faust.transport.drivers.aiokafka.Consumer.on_partitions_revoked", faust_revoked)
    asyncio.run(consumer.on_partitions_revoked({revoked}))
    assert consumer._reread == {kept: 3} and consumer._reread_once == {(kept, 3)} and consumer._skipped == {kept: 3}
    assert consumer._first_read == {kept: 7}


def test_no_offset_is_committed_once_a_record_could_not_be_written(monkeypatch: pytest.MonkeyPatch) -> None:
    committed: list[Any] = []

    async def faust_commit(self: Any, offsets: Any) -> bool:
        committed.append(offsets)
        return True

    monkeypatch.setattr("faust.transport.drivers.aiokafka.Consumer._commit", faust_commit)
    consumer = Seeks({TP: 5})
    assert asyncio.run(consumer._commit({TP: 9})) is True and committed == [{TP: 9}]
    consumer.app.send_failed = RuntimeError("MessageSizeTooLarge")  # the runtime's send callback sets it
    assert asyncio.run(consumer._commit({TP: 12})) is False and committed == [{TP: 9}]


def test_the_app_runs_without_fausts_stats_monitor(tmp_path: Any) -> None:
    """Faust's Monitor timed every record and event for pages nothing reads: the app's sensors
    leave it out, and the services the app starts do not include it; the app's other sensors stay."""
    from dataclasses import replace

    from faust.sensors import Sensor

    from streams.settings import Settings
    from streams.worker.app import create_app

    app = create_app(replace(Settings.from_env({}), state_dir=tmp_path))
    ours = Sensor()
    app.sensors.add(ours)
    services = list(app.on_init_dependencies())
    assert app.monitor not in set(app.sensors) and app.monitor not in services
    assert ours in set(app.sensors) and ours in services


def test_a_hand_over_waiting_on_a_full_queue_that_a_revoke_clears_ends_its_fetch_not_the_loop() -> None:
    """A stream's queue cancels its waiting puts when a revoke clears it. The loop once died of
    that: after a broker came back, a worker whose queues were full read nothing more, and its
    tables' recovery waited for good."""

    async def run() -> tuple[Loop, int]:
        flow = FlowControl()
        flow.resume()
        queue = ThrowableQueue(maxsize=1, flow_control=flow, clear_on_resume=True)  # as a stream's channel has it
        queue.put_nowait("a record the agent has not taken")
        loop = Loop([30, 31], read_offset=29)

        async def into_the_full_queue(message: Any) -> None:
            loop.delivered.append(message.offset)
            await queue.put(message)

        loop.callback = into_the_full_queue  # type: ignore[method-assign]

        async def revoke_soon() -> None:
            while not queue._putters:  # the hand-over waits for room
                await asyncio.sleep(0)
            flow.suspend()
            flow.clear()  # the partitions are revoked: what their streams hold goes

        revoking = asyncio.create_task(revoke_soon())
        await Consumer._drain_messages(loop, SimpleNamespace(_stopped=asyncio.Event()))  # type: ignore[arg-type]
        await revoking
        return loop, queue.qsize()

    loop, held = asyncio.run(run())
    assert loop.delivered == [30] and held == 0  # 31 is not handed over: the fetch is stale
    assert loop._read_offset["tp"] == 29  # read again from where the new assignment's seek puts it


def test_the_loop_still_stops_when_its_own_task_is_cancelled_mid_hand_over() -> None:
    async def run() -> bool:
        loop = Loop([40])
        loop.transport = SimpleNamespace(app=SimpleNamespace(should_stop=False))  # type: ignore[attr-defined]

        async def forever(message: Any) -> None:
            await asyncio.Event().wait()

        loop.callback = forever  # type: ignore[method-assign]
        task = asyncio.create_task(Consumer._drain_messages(loop, SimpleNamespace(_stopped=asyncio.Event())))  # type: ignore[arg-type]
        await asyncio.sleep(0.01)
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            return True
        return False

    assert asyncio.run(run())
