"""The agents' stream: Faust's, except that an idle batching agent sleeps until an event comes.

Faust's ``Stream.take_events(max_, within)`` wakes up every ``within`` seconds whether or not an
event came, and each wake-up creates and cancels tasks (``Service.wait_first``). With four batching
agents and the 10 ms window (``DRIFTLINE_BATCH_WAIT_MS``), a worker with nothing to do spent about
8% of a core waking up: every idle worker of a deployment, and every worker a test starts.

Here the loop waits, with no timeout, for the first event of a batch, then at most ``within`` for
the batch to fill, as Faust's does; the batch is the same, handed on at most ``within`` after its
first event. It is a rewrite of faust-streaming 0.15.3's method (``tests/unit/test_faust_digest.py``
pins the original: carry any upstream change over).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Sequence
from typing import Any

import faust
from faust.types import EventT
from mode import Seconds, want_seconds
from mode.utils.aiter import aiter
from mode.utils.futures import notify


class Stream(faust.Stream):  # type: ignore[misc]
    """:class:`faust.Stream` whose :meth:`take_events` sleeps while its buffer is empty."""

    def take_events(self, max_: int, within: Seconds) -> AsyncGenerator[Sequence[EventT], None]:
        """Lists of at most ``max_`` events: full ones at once, a partial one ``within`` seconds
        after its first event. Each list's events are acked once the consumer asks for the next."""
        agen = self._take_events(max_, within)
        self._active_agens.add(agen)  # closed by Stream.on_stop, as Faust's own buffering generators
        return agen

    async def _take_events(self, max_: int, within: Seconds) -> AsyncGenerator[Sequence[EventT], None]:
        buffer: list[Any] = []
        events: list[EventT] = []
        started = asyncio.Event()  # the buffer holds an event: its window is open
        full = asyncio.Event()
        consumed = asyncio.Event()
        timeout = want_seconds(within) if within else None
        enable_acks: bool = self.enable_acks
        consuming: asyncio.Future[None] | None = None
        channel_it = aiter(self.channel)

        async def add_to_buffer(value: Any) -> Any:
            nonlocal consuming
            if consuming is not None:  # the batch is being handed on: wait until it was
                try:
                    await consuming
                finally:
                    consuming = None
            buffer.append(value)
            event = self.current_event
            if event is None:
                raise RuntimeError("Take buffer found current_event is None")
            events.append(event)
            started.set()
            if len(buffer) >= max_:
                full.set()
                consumed.clear()
                await self.wait(consumed)  # never more than max_ in one list
            return value

        self.enable_acks = False  # acked here, once the consumer is done with the list
        self.add_processor(add_to_buffer)
        self._enable_passive(channel_it)
        try:
            while not self.should_stop:
                if not buffer:
                    await self.wait_for_stopped(started)  # nothing to hand on: no wake-ups
                    continue
                await self.wait_for_stopped(full, timeout=timeout)
                consuming = asyncio.get_running_loop().create_future()
                try:
                    yield list(events)
                finally:
                    buffer.clear()
                    for event in events:
                        await self.ack(event)
                    events.clear()
                    started.clear()
                    notify(consuming)
                    full.clear()
                    consumed.set()
        finally:
            self.enable_acks = enable_acks
            self._processors.remove(add_to_buffer)
