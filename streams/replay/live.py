"""Live replay: a recorded stream through the real system, in a namespace of its own.

The records are produced at their recorded pace (times ``speed``) into a fresh namespace where a
`driftline worker` runs every agent (:func:`streams.replay.namespace.running_worker`). When every agent
has consumed everything, the namespace's own topics are replayed on the live run's schedule
(:func:`streams.replay.namespace.replay_namespace`): the numbers in the report are the live ones, each
recomputed prediction checked against the one the worker served. The namespace is deleted after
unless ``keep``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from streams.core.replay import Recorded, ReplayResult
from streams.core.spec import PipelineSpec
from streams.replay.namespace import (
    clean,
    produce_paced,
    replay_namespace,
    running_worker,
    wait_consumed,
)
from streams.settings import Settings

__all__ = ["LiveRun", "clean", "run_live"]


@dataclass(frozen=True)
class LiveRun:
    namespace: str
    result: ReplayResult
    kept: bool


def run_live(settings: Settings, spec: PipelineSpec, records: Sequence[Recorded], *,
             speed: float, keep: bool, say: Callable[[str], None],
             progress: Callable[[int], None] = lambda _: None) -> LiveRun:
    """Produce ``records`` through a worker in a fresh namespace and measure the run."""
    with running_worker(settings, spec, kind="replay", keep=keep, say=say) as ns:
        produce_paced(ns.settings, records, speed, progress, ns.worker)
        wait_consumed(ns.settings, ns.worker, timeout_s=max(120.0, len(records) / 50))
        ns.worker.stop()
        result, _ = replay_namespace(ns.settings, spec)
        return LiveRun(ns.settings.topic_prefix, result, keep)
