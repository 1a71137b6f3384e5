"""The worker's ``/metrics`` (and ``/health``) as ``driftline status`` shows them.

The names are streams/worker/metrics.py's; p50 and p95 come from the ``driftline_end_to_end_seconds``
histogram's cumulative buckets, interpolated as Prometheus' ``histogram_quantile`` does. They
cover the worker's whole life, since its counters start at its start.
"""

from __future__ import annotations

import json
import math
import urllib.request
from dataclasses import dataclass, field

from prometheus_client.parser import text_string_to_metric_families

from streams.worker.series import quantile

TIMEOUT_S = 5.0  # a worker busy with a backlog may take seconds to answer (it waits up to 3 s for its lag)


@dataclass(frozen=True)
class Latency:
    count: int
    p50: float | None  # seconds
    p95: float | None


@dataclass
class WorkerView:
    url: str
    running: bool = False
    agents: list[str] = field(default_factory=list)
    events: dict[str, float] = field(default_factory=dict)  # by output topic
    deadletters: dict[str, float] = field(default_factory=dict)  # by reason
    model_metric: dict[str, dict[str, float]] = field(default_factory=dict)  # kind -> metric -> value
    in_service: dict[str, int] = field(default_factory=dict)  # role -> version
    latency: Latency | None = None
    error: str = ""


def parse_metrics(text: str, view: WorkerView) -> None:
    """Fill ``view`` from a Prometheus text exposition of the worker's ``/metrics``."""
    buckets: list[tuple[float, float]] = []
    count = 0.0
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if math.isnan(s.value):  # not JSON; a gauge never set reads as nothing
                continue
            if s.name == "driftline_events_total":
                view.events[s.labels.get("topic", "")] = s.value
            elif s.name == "driftline_deadletters_total":
                view.deadletters[s.labels.get("reason", "")] = s.value
            elif s.name == "driftline_model_metric":
                view.model_metric.setdefault(s.labels.get("kind", ""), {})[s.labels.get("metric", "")] = s.value
            elif s.name == "driftline_model_version_in_service":
                view.in_service[s.labels.get("role", "")] = int(s.value)
            elif s.name == "driftline_end_to_end_seconds_bucket":
                buckets.append((float(s.labels["le"]), s.value))
            elif s.name == "driftline_end_to_end_seconds_count":
                count = s.value
    ordered = sorted(buckets)
    view.latency = Latency(int(count), quantile(0.5, ordered), quantile(0.95, ordered))


def read_worker(web_port: int) -> WorkerView:
    """The local worker's ``/metrics`` and ``/health`` on ``web_port`` (``DRIFTLINE_WEB_PORT``)."""
    base = f"http://127.0.0.1:{web_port}"
    view = WorkerView(f"{base}/metrics")
    try:
        with urllib.request.urlopen(view.url, timeout=TIMEOUT_S) as answer:
            text = answer.read().decode("utf-8", errors="replace")
    except OSError as exc:
        reason = getattr(exc, "reason", exc)
        view.error = f"nothing answers at {view.url}: {getattr(reason, 'strerror', None) or reason}"
        return view
    try:
        parse_metrics(text, view)
    except ValueError as exc:
        view.error = f"{view.url} did not answer with Prometheus metrics: {exc}"
        return view
    view.running = True
    try:
        with urllib.request.urlopen(f"{base}/health", timeout=TIMEOUT_S) as answer:
            view.agents = [str(a) for a in json.loads(answer.read()).get("agents", [])]
    except (OSError, ValueError, AttributeError):
        pass
    return view
