"""Alerts on a level crossing its line, said on edges only: once when it starts, once when it ends.

- :class:`DeadLetterRate`: the share of raw records dead-lettered over the last records (the
  contract's ``deadletter_rate``), in the scorer;
- :class:`PerformanceWatch`: the served metric fallen from its best (the contract's
  ``performance_drop``), in the trainer.

Plain values in, a :class:`Crossing` or None out; the agents turn a crossing into an alert.
"""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass, field

#: a level is called recovered once it is back within this share of its line: a rate at half the
#: threshold, a metric within half the drop allowed, so that a level on the line does not flap
RECOVER = 0.5


@dataclass(frozen=True)
class Crossing:
    """A level that crossed its line (``kind``), or came back (``kind`` ending ``_recovered``)."""

    kind: str
    value: float
    line: float
    over: int
    detail: tuple[tuple[str, object], ...] = ()

    @property
    def recovered(self) -> bool:
        return self.kind.endswith("_recovered")


@dataclass
class DeadLetterRate:
    """The share of raw records dead-lettered over the last ``window`` records (at least; whole
    batches are kept), judged once a window has been seen.

    >>> rate = DeadLetterRate(threshold=0.05, window=100)
    >>> rate.observe(90, {"invalid_json": 9}) is None  # under a window: not judged yet
    True
    >>> rate.observe(10, {"invalid_json": 1}).kind
    'deadletter_rate'
    >>> rate.observe(50, {}) is None  # 10 in the last 150: still over, said once
    True
    >>> rate.observe(100, {}).kind  # 0 in the last 100
    'deadletter_rate_recovered'
    """

    threshold: float
    window: int
    raised: bool = False
    records: int = 0
    dead: int = 0
    _batches: deque[tuple[int, Counter[str]]] = field(default_factory=deque, repr=False)

    @property
    def rate(self) -> float:
        return self.dead / self.records if self.records else 0.0

    def observe(self, records: int, reasons: dict[str, int]) -> Crossing | None:
        """One batch: how many raw records it had, and its dead letters by reason."""
        if records <= 0:
            return None
        batch = Counter({r: n for r, n in reasons.items() if n})
        self._batches.append((records, batch))
        self.records += records
        self.dead += sum(batch.values())
        while len(self._batches) > 1 and self.records - self._batches[0][0] >= self.window:
            gone, gone_reasons = self._batches.popleft()
            self.records -= gone
            self.dead -= sum(gone_reasons.values())
        if self.records < self.window:
            return None
        if not self.raised and self.rate > self.threshold:
            self.raised = True
            return self._crossing("deadletter_rate")
        if self.raised and self.rate <= self.threshold * RECOVER:
            self.raised = False
            return self._crossing("deadletter_rate_recovered")
        return None

    def _crossing(self, kind: str) -> Crossing:
        reasons: Counter[str] = Counter()
        for _, batch in self._batches:
            reasons.update(batch)
        return Crossing(kind, self.rate, self.threshold, self.records,
                        (("dead_letters", self.dead), ("reasons", dict(reasons.most_common()))))

    def sentence(self, crossing: Crossing) -> str:
        """What happened, for a person.

        >>> r = DeadLetterRate(0.05, 100)
        >>> r.sentence(Crossing("deadletter_rate", 0.12, 0.05, 1000, (("dead_letters", 120),)))
        '12.0% of the last 1,000 raw records were dead-lettered (120), above the 5.0% allowed.'
        """
        if crossing.recovered:
            return (f"{crossing.value:.1%} of the last {crossing.over:,} raw records were dead-lettered: "
                    f"back under the {crossing.line:.1%} allowed.")
        dead = dict(crossing.detail).get("dead_letters", 0)
        return (f"{crossing.value:.1%} of the last {crossing.over:,} raw records were dead-lettered ({dead:,}), "
                f"above the {crossing.line:.1%} allowed.")


@dataclass
class PerformanceWatch:
    """The served metric over the last ``window`` labelled examples against its best since the
    watch was last armed: a drop of more than ``drop`` is a ``performance_drop``. For a metric
    where higher is better (accuracy, F1) the drop is in points; where lower is better (MAE,
    log loss) it is a share of the best (0.1: 10% worse). Judged once a window has been seen.

    >>> watch = PerformanceWatch(drop=0.1, higher_is_better=True, window=3)
    >>> [watch.update(v, n) for v, n in ((0.5, 1), (0.9, 3), (0.95, 4))]
    [None, None, None]
    >>> watch.update(0.8, 5).kind
    'performance_drop'
    >>> watch.update(0.7, 6) is None  # said once
    True
    >>> watch.update(0.92, 7).kind
    'performance_recovered'
    """

    drop: float
    higher_is_better: bool
    window: int
    best: float | None = None
    raised: bool = False

    def _worse_by(self, value: float) -> float:
        assert self.best is not None
        if self.higher_is_better:
            return self.best - value
        return (value - self.best) / abs(self.best) if self.best else (float("inf") if value > 0 else 0.0)

    def update(self, value: float, seen: int) -> Crossing | None:
        """The rolling metric after one more served example; ``seen`` served examples so far."""
        if seen < self.window or value != value:  # noqa: PLR0124 - NaN: nothing to judge
            return None
        if not self.raised:
            if self.best is None or (value > self.best if self.higher_is_better else value < self.best):
                self.best = value
                return None
            if self._worse_by(value) > self.drop:
                self.raised = True
                return Crossing("performance_drop", value, self.best, self.window, (("drop", self.drop),))
            return None
        if self._worse_by(value) <= self.drop * RECOVER:
            self.raised = False
            best, self.best = self.best, value  # armed again from here
            return Crossing("performance_recovered", value, best or 0.0, self.window, (("drop", self.drop),))
        return None
