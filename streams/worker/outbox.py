"""Records an agent writes for one batch of input, handed to the producer as whole batches.

aiokafka's ``send()`` does per-record work that costs more than the record itself here (a
metadata wait, the partitioner, a future and a queue slot each). The outbox partitions records
itself, exactly as the producer's default partitioner would (murmur2 of the key, so labels and
features still meet), appends them to one ``BatchBuilder`` per topic partition, and submits the
builders with ``send_batch``. The batches join the producer's accumulator, so the producer's
``flush()``, which Faust's consumer awaits before it commits any offset, covers them.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

from streams.kafka.partitioner import key_hash


class Outbox:
    """One input batch's records, by topic partition; :meth:`send` submits them.

    ``producer`` gives the aiokafka producer (started by Faust); ``on_sent`` is called with each
    batch's delivery future (to stop the worker when the broker refuses a batch).
    """

    def __init__(self, producer: Callable[[], Any], on_sent: Callable[[Any], None]) -> None:
        self._producer = producer
        self._on_sent = on_sent
        self._partitions: dict[str, int] = {}
        self._open: dict[tuple[str, int], Any] = {}
        self._round_robin = itertools.count()

    async def partitions(self, topic: str) -> int:
        n = self._partitions.get(topic)
        if n is None:
            n = self._partitions[topic] = len(await self._producer().partitions_for(topic))
        return n

    async def add(self, topic: str, value: bytes | None, key: bytes | None = None, *, partition: int | None = None,
                  hashed: int | None = None, timestamp_ms: int | None = None,
                  headers: list[tuple[str, bytes]] | None = None) -> None:
        """Queue one record; ``hashed`` is :func:`key_hash` of the key when the caller has it."""
        if partition is None:
            n = self._partitions.get(topic) or await self.partitions(topic)
            if key is not None:
                partition = (key_hash(key) if hashed is None else hashed) % n
            else:
                partition = next(self._round_robin) % n
        tp = (topic, partition)
        batch = self._open.get(tp)
        if batch is None:
            batch = self._open[tp] = self._producer().create_batch()
        if batch.append(key=key, value=value, timestamp=timestamp_ms, headers=headers or []) is None:
            await self._submit(tp, batch)  # full: this one goes, a new one takes the record
            batch = self._open[tp] = self._producer().create_batch()
            if batch.append(key=key, value=value, timestamp=timestamp_ms, headers=headers or []) is None:
                raise ValueError(f"a record of {len(value or b'')} bytes does not fit in a producer batch for {topic}")

    async def send(self) -> None:
        """Hand every queued batch to the producer (it sends them as it lingers and fills requests)."""
        pending, self._open = self._open, {}
        for tp, batch in pending.items():
            await self._submit(tp, batch)

    async def _submit(self, tp: tuple[str, int], batch: Any) -> None:
        batch.close()
        fut = await self._producer().send_batch(batch, tp[0], partition=tp[1])
        fut.add_done_callback(self._on_sent)
