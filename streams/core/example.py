"""A joined example: what joining an event with its label gives, and what learning takes."""

from __future__ import annotations

from typing import Any, NamedTuple


class Example(NamedTuple):
    """A joined example: the features the model saw, the label, and what was served (a named
    tuple: one per label, made at a fifth of a frozen dataclass's cost)."""

    event_id: str
    x: dict[str, Any]
    y: Any
    ts: float
    served: Any = None
    served_version: int | None = None
