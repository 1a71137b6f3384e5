"""A bounded memory of event ids seen within a horizon: duplicates and unknown events.

Validation asks it whether an ``event_id`` is a ``duplicate_event``; the feedback join asks
whether a label's event was ever seen (``unknown_event`` when not, or when it has expired).
Time is the events' own time, passed in, so replay gives the same answers as live.
"""

from __future__ import annotations

from collections import OrderedDict


class SeenEvents:
    """Event ids with the time they were first seen, forgotten after ``horizon`` seconds.

    >>> seen = SeenEvents(horizon=60.0, max_size=1000)
    >>> seen.add("e-1", now=0.0)
    True
    >>> seen.add("e-1", now=10.0)   # a duplicate inside the horizon
    False
    >>> "e-1" in seen
    True
    >>> seen.expire(now=61.0)
    1
    >>> "e-1" in seen
    False
    """

    def __init__(self, horizon: float, max_size: int = 1_000_000) -> None:
        if horizon <= 0 or max_size < 1:
            raise ValueError("horizon must be > 0 and max_size >= 1")
        self.horizon = horizon
        self.max_size = max_size
        self._first_seen: OrderedDict[str, float] = OrderedDict()

    def add(self, event_id: str, now: float) -> bool:
        """Remember ``event_id``; False when it was already seen inside the horizon."""
        self.expire(now)
        if event_id in self._first_seen:
            return False
        self._first_seen[event_id] = now
        while len(self._first_seen) > self.max_size:
            self._first_seen.popitem(last=False)
        return True

    def expire(self, now: float) -> int:
        """Forget ids first seen more than ``horizon`` before ``now``; return how many."""
        cutoff = now - self.horizon
        dropped = 0
        while self._first_seen:
            oldest, seen_at = next(iter(self._first_seen.items()))
            if seen_at >= cutoff:
                break
            del self._first_seen[oldest]
            dropped += 1
        return dropped

    def __contains__(self, event_id: object) -> bool:
        return event_id in self._first_seen

    def __len__(self) -> int:
        return len(self._first_seen)
