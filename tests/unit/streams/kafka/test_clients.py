"""The Kafka clients the worker and the CLI make: how they ask the broker."""

from __future__ import annotations

import asyncio

from streams.kafka import clients
from streams.settings import Settings


def test_a_follower_lets_the_broker_hold_its_fetch_instead_of_asking_again_at_once() -> None:
    """The model and reference followers ask with a held fetch: at 20 ms, one idle worker kept the
    broker answering about 30 empty fetches a second (9 % of a core, with no event flowing)."""

    async def held_ms(**config: object) -> int:
        consumer = clients.aio_consumer(Settings(), "driftline.models", group_id=None, **config)
        return consumer._fetch_max_wait_ms  # type: ignore[no-any-return]

    assert asyncio.run(held_ms()) == clients.FOLLOW_WAIT_MS >= 200
    assert asyncio.run(held_ms(fetch_max_wait_ms=40)) == 40  # a caller's own choice still holds
