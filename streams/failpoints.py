"""Failpoints: named places where a test has the process die, to prove what survives a crash.

``DRIFTLINE_FAILPOINTS="registry.logged@2"`` (:attr:`Settings.failpoints`) makes the process
SIGKILL itself the second time it reaches ``failpoints.hit("registry.logged")``; without ``@n``
the first time. Unset, as everywhere outside tests, a hit costs a lookup in an empty dict.

>>> points = Failpoints.parse("a, b@2")
>>> points.hit("b")  # the first time: nothing
>>> points.armed
{'a': 1, 'b': 1}
"""

from __future__ import annotations

import os
import signal


class Failpoints:
    """The armed failpoints of one process: name -> hits left before it dies."""

    def __init__(self, armed: dict[str, int]) -> None:
        self.armed = armed

    @classmethod
    def parse(cls, text: str) -> Failpoints:
        armed = {}
        for item in filter(None, (part.strip() for part in text.split(","))):
            name, _, count = item.partition("@")
            armed[name] = int(count) if count.isdigit() and int(count) > 0 else 1
        return cls(armed)

    def hit(self, name: str) -> None:
        """Die here (SIGKILL, as a crash would) when ``name`` is armed and its count is reached."""
        left = self.armed.get(name)
        if left is None:
            return
        if left <= 1:
            os.kill(os.getpid(), signal.SIGKILL)
        self.armed[name] = left - 1


NONE = Failpoints({})
