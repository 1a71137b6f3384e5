"""Each garbage collection is timed once, however often the worker asks to watch them."""

from __future__ import annotations

import gc

from streams.worker.metrics import GC_PAUSE
from streams.worker.pauses import watch_gc


def _count(generation: str) -> float:
    return next(s.value for s in GC_PAUSE.labels(generation)._samples() if s.name == "_count")


def test_each_collection_is_observed_once_even_when_watched_twice() -> None:
    watch_gc()
    watch_gc()
    before = _count("1")
    gc.collect(1)
    assert _count("1") == before + 1
