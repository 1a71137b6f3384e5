"""A joined example: what joining an event with its label gives, and what learning takes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Example:
    """A joined example: the features the model saw, the label, and what was served."""

    event_id: str
    x: dict[str, Any]
    y: Any
    ts: float
    served: Any = None
    served_version: int | None = None
