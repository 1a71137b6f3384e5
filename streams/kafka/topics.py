"""The contract's topics: names, partition counts and configs, from the settings."""

from __future__ import annotations

from dataclasses import dataclass, field

from streams.settings import Settings

#: Contract names, in the order data flows.
NAMES: tuple[str, ...] = (
    "raw",
    "rekeyed",
    "features",
    "predictions",
    "feedback",
    "deadletter",
    "alerts",
    "models",
    "examples",
    "labels",
)


#: model-version events carry their artifact (a compressed pickle): room for large models
MODELS_MAX_BYTES = 32 * 1024 * 1024


@dataclass(frozen=True)
class TopicSpec:
    """One topic as it is created on the broker."""

    name: str
    partitions: int
    config: tuple[tuple[str, str], ...] = field(default=())
    replication_factor: int = 1


def topic_specs(settings: Settings) -> list[TopicSpec]:
    """Every driftline topic for these settings.

    The event topics get ``settings.partitions``; ``alerts`` keeps one partition so alerts stay
    in order; ``models`` is the registry's compacted log keyed by version; ``examples`` (joined
    labelled examples) has one partition so exactly one trainer in the group learns, in order.
    ``labels`` is feedback re-keyed by event id, co-partitioned with ``features`` for the join;
    ``rekeyed`` holds raw events that came keyed otherwise than by their entity id, re-keyed by it.
    """
    n = settings.partitions
    one = {"alerts": 1, "models": 1, "examples": 1}
    configs = {"models": (("cleanup.policy", "compact"), ("max.message.bytes", str(MODELS_MAX_BYTES)))}
    durable = durability(settings.replication_factor)
    return [
        TopicSpec(settings.topic(name), one.get(name, n), configs.get(name, ()) + durable, settings.replication_factor)
        for name in NAMES
    ]


def durability(replication_factor: int) -> tuple[tuple[str, str], ...]:
    """With three copies or more, a write (``acks=all``) counts once all but one have it, so one
    broker may be down and no acknowledged record is lost; with fewer, the broker's default.

    >>> durability(1), durability(3), durability(5)
    ((), (('min.insync.replicas', '2'),), (('min.insync.replicas', '4'),))
    """
    if replication_factor < 3:
        return ()
    return (("min.insync.replicas", str(replication_factor - 1)),)
