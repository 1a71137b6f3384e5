"""The models follower's start: no version event is missed between reading the registry and
following the topic. (A fake consumer: the order of the steps is what is tested.)"""

from __future__ import annotations

import asyncio
from typing import Any

from aiokafka import TopicPartition

from agents.models import catch_up

TP = TopicPartition("driftline.models", 0)


class Topic:
    """A consumer's view of a topic that ends at ``end``; seeks are recorded."""

    def __init__(self, end: int) -> None:
        self.end = end
        self.sought: dict[Any, int] = {}

    def assignment(self) -> set[Any]:
        return {TP}

    async def end_offsets(self, tps: list[Any]) -> dict[Any, int]:
        return {tp: self.end for tp in tps}

    def seek(self, tp: Any, offset: int) -> None:
        self.sought[tp] = offset


def test_a_version_published_while_the_registry_is_read_is_read_from_the_topic() -> None:
    topic = Topic(end=7)

    def load() -> list[tuple[int, str]]:
        topic.end = 8  # a trainer publishes version 8 meanwhile: its event is at offset 7
        return [(5, "signature does not verify")]

    refused = asyncio.run(catch_up(topic, load))  # type: ignore[arg-type]
    assert topic.sought == {TP: 7}  # where the topic ended before: version 8's event is read
    assert refused == [(5, "signature does not verify")]
