"""What holds a worker's event loop other than its work: Python's garbage collector and the GIL.

Scoring, the models follower and every agent's batches share one event loop; the learning thread
shares its GIL. Both were measured live (issue 27): full collections held the worker up to 250 ms
(``driftline_gc_pause_seconds``), and the loop waited up to 5 ms for the GIL after each ``select``
while River learned in the other thread.
"""

from __future__ import annotations

import asyncio
import gc
import sys
import time
from typing import Any

from streams.worker.metrics import GC_PAUSE

#: how long a thread holding the GIL keeps it while another waits (Python's default: 5 ms). Live
#: at a steady 500 events/s, 0.5 ms halved the p99 latency (316-354 ms to 137-179 ms)
SWITCH_INTERVAL_S = 0.0005
#: seconds after the app starts when the objects made so far are frozen (Faust's services, the
#: consumer and the web server are up by then)
FREEZE_AFTER_S = 5.0

_started = [0.0]


def _timed(phase: str, info: dict[str, Any]) -> None:
    if phase == "start":
        _started[0] = time.perf_counter()
    else:
        GC_PAUSE.labels(str(min(2, int(info.get("generation", 2))))).observe(time.perf_counter() - _started[0])


def watch_gc() -> None:
    """Time every collection of the garbage collector (``driftline_gc_pause_seconds``), once
    per process however often it is asked: a full collection walks every object the worker
    holds, and the event loop, scoring included, waits meanwhile."""
    if _timed not in gc.callbacks:
        gc.callbacks.append(_timed)


def freeze_startup(app: Any) -> None:
    """Once the worker has started, move every object it holds to the collector's permanent
    generation (``gc.freeze``): modules, classes, Faust's and River's machinery. A full collection
    then walks only what came after: live at 500 events/s, six full collections a minute held
    the worker 136 ms each on average before, under 25 ms each after."""

    @app.task
    async def freeze() -> None:
        await asyncio.sleep(FREEZE_AFTER_S)
        gc.freeze()  # no collection first: that would walk it all once more, events waiting


def share_gil() -> None:
    """Hand the GIL over every :data:`SWITCH_INTERVAL_S` between the worker's threads."""
    sys.setswitchinterval(SWITCH_INTERVAL_S)
