"""Consumer groups as the broker knows them: their states and committed offsets, across
kafka-python 2.x and 3.x (``driftline status`` and the worker's broker watch both ask)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from kafka import KafkaAdminClient, TopicPartition
from kafka.errors import KafkaError


def group_states(admin: KafkaAdminClient) -> dict[str, str]:
    """Consumer group id -> state ("" when unknown), across kafka-python 2.x and 3.x."""
    listing = admin.list_groups() if hasattr(admin, "list_groups") else admin.list_consumer_groups()
    out = {}
    for g in listing:
        if isinstance(g, Mapping):
            out[str(g["group_id"])] = str(g.get("group_state") or "")
        else:  # 2.x: (group_id, protocol_type)
            out[str(g[0])] = ""
    return out


def committed_offsets(admin: KafkaAdminClient, groups: Iterable[str]) -> dict[str, dict[TopicPartition, int]]:
    """Each group's committed offsets; a group whose offsets cannot be read is left out."""
    ids = list(groups)
    if not ids:
        return {}
    raw: dict[str, Mapping[TopicPartition, Any]] = {}
    if hasattr(admin, "list_group_offsets"):
        try:
            raw = admin.list_group_offsets({g: None for g in ids})
        except KafkaError:  # one group's error fails the batch: ask group by group
            for g in ids:
                try:
                    raw.update(admin.list_group_offsets({g: None}))
                except KafkaError:
                    pass
    else:
        for g in ids:
            try:
                raw[g] = admin.list_consumer_group_offsets(g)
            except KafkaError:
                pass
    return {g: {tp: int(meta.offset) for tp, meta in offsets.items() if meta.offset >= 0} for g, offsets in raw.items()}
