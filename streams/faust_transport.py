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
where the new assignment's seek puts them. Everything else is Faust's own.
"""

from __future__ import annotations

import asyncio
from typing import Any

import faust
from faust.transport.consumer import CONSUMER_FETCHING
from faust.transport.drivers import aiokafka as driver

YIELD_EVERY = 100  # records between yields to the event loop within one fetch


class Consumer(driver.Consumer):  # type: ignore[misc]
    async def _drain_messages(self, fetcher: Any) -> None:
        """Read fetched records into the streams until the consumer or the fetcher stops."""
        app = self.app
        deliver = self.callback
        read_offsets = self._read_offset
        acks_enabled_for = app.topics.acks_enabled_for
        suspended = self.suspend_flow.is_set
        stopped = self._stopped.is_set
        fetcher_stopped = fetcher._stopped.is_set
        try:
            while not (stopped() or fetcher_stopped()):
                self.diag.set_flag(CONSUMER_FETCHING)
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
                        await deliver(message)
                        if suspended() or message.generation_id != app.consumer_generation_id:
                            break  # a rebalance began or passed while it waited: the rest of this fetch is stale
                    read_offsets[tp] = offset
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


class Transport(driver.Transport):  # type: ignore[misc]
    Consumer = Consumer


class App(faust.App):  # type: ignore[misc]
    """A Faust app whose consumer is :class:`Consumer`; everything else is Faust's."""

    def _new_transport(self) -> Transport:
        return Transport(self.conf.broker_consumer, self)
