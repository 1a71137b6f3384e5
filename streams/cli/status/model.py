"""What ``driftline status`` gathers, as plain records: :mod:`streams.cli.status.command` fills them,
:mod:`streams.cli.status.render` prints them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from streams.cli.status.metrics import WorkerView
from streams.stack import Component


@dataclass(frozen=True)
class TopicEnd:
    topic: str
    partitions: int
    end_offset: int  # summed over partitions


@dataclass(frozen=True)
class GroupLag:
    group: str
    state: str  # "Stable", "Empty", ... ("" when the broker does not say)
    topic: str
    committed: int  # summed over the partitions the group committed
    end_offset: int  # summed over the same partitions
    lag: int


@dataclass(frozen=True)
class ModelSummary:
    version: int
    model: str
    created_at: float
    trained_examples: int
    metrics: dict[str, float]


@dataclass(frozen=True)
class Models:
    champion: ModelSummary | None
    challenger: ModelSummary | None
    versions: int  # how many versions were ever numbered


@dataclass
class Status:
    healthy: bool  # Kafka and Redis both answer
    prefix: str
    stack: list[Component]
    worker: WorkerView
    topics: list[TopicEnd] = field(default_factory=list)
    groups: list[GroupLag] = field(default_factory=list)
    models: Models | None = None
    alerts: list[dict[str, Any]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # sections that could not be read, and why
