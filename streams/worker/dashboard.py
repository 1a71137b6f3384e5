"""The worker's live dashboard: a page at ``/`` and the JSON it polls (see docs/dashboard.md).

A Faust timer samples the worker's own Prometheus metrics once a second into a ring buffer
(:class:`~streams.worker.series.Series`); alerts come from ``Runtime.alert_listeners``; the
registry table is read from Redis, off the event loop. The page (``streams/worker/web/dashboard.html``)
is plain HTML and JavaScript that draws its charts itself: nothing is fetched from elsewhere.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import replace
from importlib import resources
from typing import TYPE_CHECKING, Any, Protocol

import redis
from prometheus_client import REGISTRY

from streams.worker.series import AlertLog, Sample, Series, read_sample

if TYPE_CHECKING:
    import faust

    from streams.core.scoring import Scorer
    from streams.core.spec import PipelineSpec
    from streams.state.registry import Registry

log = logging.getLogger(__name__)

INTERVAL = 1.0  # seconds between samples
CAPACITY = 600  # samples kept: ten minutes
WINDOW = 5  # samples a rate or a latency percentile is computed over
ALERTS = 200  # alerts kept
MODELS = 50  # registry rows shown, newest first
MODELS_TTL = 2.0  # seconds a registry read is reused
NO_STORE = {"Cache-Control": "no-store"}

#: the registry fields the table shows (never the artifact)
MODEL_FIELDS = ("version", "status", "model", "created_at", "trained_examples", "metrics", "parent", "reason",
                "changed_by", "trained_range")


def page() -> str:
    return resources.files("streams.worker").joinpath("web/dashboard.html").read_text(encoding="utf-8")


def read_models(registry: Registry, limit: int = MODELS) -> dict[str, Any]:
    """The newest ``limit`` versions' metadata (one Redis round trip, no artifacts) and the aliases."""
    from schemas import Accepted, decode

    client = registry.client
    top = int(client.get(registry.keys.counter) or 0)
    numbers = list(range(top, max(0, top - limit), -1))
    with client.pipeline(transaction=False) as p:
        for v in numbers:
            p.hget(registry.keys.version(v), "meta")
        p.get(registry.keys.alias("champion"))
        p.get(registry.keys.alias("challenger"))
        replies = p.execute()
    champion, challenger = (None if r is None else int(r) for r in replies[-2:])
    versions = []
    for meta in replies[:-2]:
        if meta is None:
            continue
        outcome = decode("models", meta, max_bytes=len(meta))
        if isinstance(outcome, Accepted):
            record = outcome.value
            versions.append({name: getattr(record, name) for name in MODEL_FIELDS})
    return {"latest_version": top, "champion": champion, "challenger": challenger, "versions": versions}


class Runtime(Protocol):
    """What the dashboard reads of the worker it runs in (the agents' ``Runtime``)."""

    scorer: Scorer
    spec: PipelineSpec
    registry: Registry
    alert_listeners: list[Callable[[dict[str, Any]], None]]


class Dashboard:
    """What the pages read: the series, the alerts, a cached registry read."""

    def __init__(self, rt: Runtime, *, capacity: int = CAPACITY, window: int = WINDOW) -> None:
        self.rt = rt
        self.series = Series(capacity=capacity, window=window)
        self.alerts = AlertLog(ALERTS)
        self.started_at = time.time()
        self._models: tuple[float, dict[str, Any]] | None = None
        self._models_lock = asyncio.Lock()

    def sample(self, now: float | None = None) -> Sample:
        """Read the metrics now into the series. The versions in service are the scorer's own
        (the in-service gauge keeps a challenger's number after it is retired)."""
        sample = read_sample(REGISTRY, time.time() if now is None else now)
        scorer = self.rt.scorer
        serving = dict(sample.in_service)
        serving.pop("retired", None)
        if scorer.champion.version is not None:
            serving["champion"] = scorer.champion.version
        if scorer.challenger is not None:
            serving["challenger"] = scorer.challenger.version
        else:
            serving.pop("challenger", None)
        sample = replace(sample, in_service=serving)
        self.series.add(sample)
        return sample

    def summary(self) -> dict[str, Any]:
        out = self.series.summary()
        out.update(pipeline=self.rt.spec.name, task=str(self.rt.spec.task), now=time.time(), started_at=self.started_at,
                   interval=INTERVAL, window=self.series.window * INTERVAL, alerts_total=self.alerts.total,
                   alerts_by_kind=dict(sorted(self.alerts.by_kind.items())))
        return out

    def series_json(self, last: int | None) -> dict[str, Any]:
        out: dict[str, Any] = {"interval": INTERVAL, "window": self.series.window * INTERVAL,
                               "capacity": self.series.capacity, "metric": self.series.metric_name}
        out.update(self.series.columns(last))
        out["version_changes"] = list(self.series.version_changes)
        return out

    async def models(self) -> dict[str, Any]:
        async with self._models_lock:  # many tabs, one Redis read
            if self._models is None or time.monotonic() - self._models[0] > MODELS_TTL:
                self._models = (time.monotonic(), await asyncio.to_thread(read_models, self.rt.registry))
            return self._models[1]


def _int(query: Any, name: str, default: int | None) -> int | None:
    try:
        return int(query[name]) if name in query else default
    except ValueError:
        return default


def register(app: faust.App, rt: Runtime) -> Dashboard:
    """Serve the dashboard at ``/`` (and ``/api/...``) on the worker's web server."""
    board = Dashboard(rt)
    rt.alert_listeners.append(board.alerts.add)
    html = page()

    @app.timer(interval=INTERVAL, name="dashboard-sampler")
    async def dashboard_sampler() -> None:
        board.sample()

    @app.page("/")
    async def dashboard_page(web, request):  # type: ignore[no-untyped-def]
        return web.html(html, headers=NO_STORE)

    @app.page("/api/summary")
    async def api_summary(web, request):  # type: ignore[no-untyped-def]
        return web.json(board.summary(), headers=NO_STORE)

    @app.page("/api/series")
    async def api_series(web, request):  # type: ignore[no-untyped-def]
        return web.json(board.series_json(_int(request.query, "last", None)), headers=NO_STORE)

    @app.page("/api/alerts")
    async def api_alerts(web, request):  # type: ignore[no-untyped-def]
        since = _int(request.query, "since", 0) or 0
        return web.json({"total": board.alerts.total, "alerts": board.alerts.latest(since, _int(request.query, "limit", None))},
                        headers=NO_STORE)

    @app.page("/api/models")
    async def api_models(web, request):  # type: ignore[no-untyped-def]
        try:
            return web.json(await board.models(), headers=NO_STORE)
        except redis.RedisError as exc:
            return web.json({"error": f"the registry could not be read: {exc}"}, status=503, headers=NO_STORE)

    return board
