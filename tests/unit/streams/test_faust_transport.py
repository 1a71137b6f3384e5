"""The consumer's inner loop (streams.faust_transport) on fetches made by hand: no broker."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

from streams.faust_transport import Consumer


class Loop:
    """What ``Consumer._drain_messages`` reads of its consumer, with one fetch to hand over."""

    consumer_stopped_errors: tuple[type[BaseException], ...] = ()

    def __init__(self, offsets: list[int], read_offset: int | None = None, suspended: bool = False) -> None:
        self.fetch = [SimpleNamespace(offset=o, topic="t", generation_id=1) for o in offsets]
        self.app = SimpleNamespace(consumer_generation_id=1, topics=SimpleNamespace(acks_enabled_for=lambda topic: True))
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
