"""The demo's poller against a real local HTTP server standing in for the worker's endpoints."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from typing import Any, ClassVar

import pytest

from streams.cli.demo.watch import DemoView, Plan, WorkerPoller, consumed
from tests.support.http import LocalServer

METRICS = """# TYPE driftline_consumed_total counter
driftline_consumed_total{topic="raw"} 120.0
driftline_consumed_total{topic="examples"} 80.0
# TYPE driftline_events_total counter
driftline_events_total{topic="predictions"} 118.0
"""


class Worker(BaseHTTPRequestHandler):
    alerts: ClassVar[list[dict[str, Any]]] = []
    stall = threading.Event()  # set: every answer waits until the test ends

    def do_GET(self) -> None:
        if self.stall.is_set():
            self.server.release.wait(5)  # type: ignore[attr-defined]
        if self.path == "/metrics":
            body, kind = METRICS.encode(), "text/plain"
        elif self.path == "/api/summary":
            body, kind = json.dumps({"events_total": 118, "events_per_s": 40.0, "champion": 2}).encode(), "application/json"
        elif self.path.startswith("/api/alerts"):
            since = int(self.path.partition("since=")[2] or 0)
            newest_first = [a for a in reversed(self.alerts) if a["seq"] > since]
            body, kind = json.dumps({"total": len(self.alerts), "alerts": newest_first}).encode(), "application/json"
        else:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def worker_url() -> Iterator[str]:
    Worker.alerts = []
    Worker.stall.clear()
    server = LocalServer(Worker)
    server.release = threading.Event()  # type: ignore[attr-defined]
    server.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.release.set()  # type: ignore[attr-defined]
    server.close()


def test_consumed_reads_each_topic_from_the_metrics_text() -> None:
    assert consumed(METRICS) == {"raw": 120.0, "examples": 80.0}


def test_each_alert_comes_once_oldest_first_and_the_summary_carries_the_trainers_progress(worker_url: str) -> None:
    seen: list[str] = []
    poller = WorkerPoller(worker_url, on_alert=lambda a: seen.append(a["kind"]))
    Worker.alerts = [{"seq": 1, "kind": "model_published"}, {"seq": 2, "kind": "concept_drift"}]
    poller.poll()
    poller.poll()
    Worker.alerts.append({"seq": 3, "kind": "model_promoted"})
    poller.poll()
    assert seen == ["model_published", "concept_drift", "model_promoted"]
    summary, recent, error, _ = poller.snapshot()
    assert error == "" and summary is not None and summary["consumed_by_topic"]["examples"] == 80.0
    assert [a["kind"] for a in recent] == seen
    view = DemoView(Plan("ns", "agrawal-drift", 1000, 100.0, 500, 50), poller)
    view.produced = 150
    view.observe()
    assert view.most_behind == 32
    line = view.plain_line()
    assert "scored 118 at 40/s (32 behind) · learned 80" in line and "champion v2" in line


def test_a_worker_that_does_not_answer_in_time_leaves_the_view_stale_not_stuck(worker_url: str) -> None:
    poller = WorkerPoller(worker_url, timeout=0.2)
    poller.poll()
    Worker.stall.set()
    poller.poll()  # returns after its timeout, with the error noted
    summary, _, error, answered_at = poller.snapshot()
    assert error and summary is not None and summary["events_total"] == 118 and answered_at is not None
    assert "worker not answering" in DemoView(Plan("ns", "x", 10, 1.0, 5, 1), poller).plain_line()


def test_nothing_listening_is_an_error_in_the_view() -> None:
    poller = WorkerPoller("http://127.0.0.1:9", timeout=0.5)
    poller.poll()
    summary, _, error, _ = poller.snapshot()
    assert summary is None and error
