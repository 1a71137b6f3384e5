"""Champion against challenger on the same labelled examples: the promotion gate and the
rollback watch. Both lanes are scored on each example before either learns from it.

>>> from river import metrics
>>> duel = Duel(metrics.Accuracy(), metrics.Accuracy(), higher_is_better=True)
>>> for y, a, b in [(1, 1, 0), (1, 1, 1), (0, 0, 1), (0, 0, 0)]:
...     duel.update(y, a, b)
>>> duel.count, duel.lead()
(4, 0.5)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from river import metrics


class Duel:
    """Two models' metric over the same examples: ``lead`` is how far the first is ahead."""

    def __init__(self, first: metrics.base.Metric, second: metrics.base.Metric, *, higher_is_better: bool) -> None:
        self.first, self.second = first, second
        self.sign = 1.0 if higher_is_better else -1.0
        self.count = 0

    def update(self, y: Any, first_pred: Any, second_pred: Any) -> None:
        if first_pred is None or second_pred is None or first_pred == {} or second_pred == {}:
            return
        self.first.update(y, first_pred)
        self.second.update(y, second_pred)
        self.count += 1

    def lead(self) -> float:
        """First minus second, signed so that positive means the first is better."""
        return self.sign * (float(self.first.get()) - float(self.second.get()))

    def scores(self) -> tuple[float, float]:
        return float(self.first.get()), float(self.second.get())


@dataclass(frozen=True)
class StatusChange:
    """Ask the registry to move a version to a status, and say so with an alert."""

    version: int
    status: str
    reason: str
    alert: str  # model_promoted, model_rolled_back, model_retired
