"""The live dashboard in a real headless Chromium, served by a real `driftline worker` while the
pipeline runs on the real broker and Redis: the numbers the page renders move, alerts show up,
the registry table fills, the charts are drawn."""

from __future__ import annotations

import json
import os
import time
import urllib.request
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import orjson

from tests.support.browser import browse
from tests.support.feed import Feed
from tests.support.pipeline import Worker
from tests.support.pixels import count_near

ARTIFACTS = Path(os.environ.get("DRIFTLINE_TEST_ARTIFACTS", Path(__file__).resolve().parents[2] / "test-artifacts"))
EVENTS = 4000
DRIFT_AT = 2000
LABEL_DELAY = 200
# a steady rate one worker keeps up with even while other tests share the two cores, so the
# versions the trainer publishes come into service while the stream still runs
RATE = 150
BLUE = (0x1F, 0x77, 0xB4)  # the dashboard's throughput, p50 and served-accuracy lines


class Page(HTMLParser):
    """What the page's JavaScript rendered: elements by id, alert items, registry rows."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.ids: dict[str, dict[str, str | None]] = {}
        self.body: dict[str, str | None] = {}
        self.alerts: list[dict[str, str | None]] = []
        self.models: list[dict[str, str | None]] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if a.get("id"):
            self.ids[a["id"]] = a  # type: ignore[index]
        if tag == "body":
            self.body = a
        if tag == "li" and "alert" in (a.get("class") or "").split():
            self.alerts.append(a)
        if tag == "tr" and "data-version" in a:
            self.models.append(a)

    def number(self, element_id: str) -> float:
        value = self.ids[element_id].get("data-value")
        assert value not in (None, ""), f"#{element_id} shows no number"
        return float(value)  # type: ignore[arg-type]


def api(worker: Worker, path: str) -> Any:
    with urllib.request.urlopen(f"http://127.0.0.1:{worker.settings.web_port}{path}", timeout=5) as r:
        return json.loads(r.read())


def wait_for(what: str, check: Any, worker: Worker, timeout: float = 240) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        got = check()
        if got:
            return got
        assert worker.proc is not None and worker.proc.poll() is None, worker.log.read_text()[-3000:]
        assert time.monotonic() < deadline, f"never: {what}"
        time.sleep(0.5)


def bad_input(i: int, event: dict[str, Any]) -> list[bytes]:
    """Now and then a record that is not JSON, and one whose age is out of range."""
    if i % 250 == 125:
        return [b'{"event_id": "broken']
    if i % 500 == 250:
        return [orjson.dumps({"event_id": f"bad-{i}", "data": {**event["data"], "age": 500}})]
    return []


def test_the_dashboard_shows_the_live_pipeline(worker: Worker, tmp_path: Path, chromium: str) -> None:
    url = f"http://127.0.0.1:{worker.settings.web_port}/"
    with urllib.request.urlopen(url, timeout=5) as r:  # the dashboard, not Faust's own index
        assert r.headers.get_content_type() == "text/html" and b"<canvas" in r.read()
    feed = Feed(worker.settings, EVENTS, rate=RATE, label_delay=LABEL_DELAY, seed=42, drift_at=DRIFT_AT,
                extra=bad_input).start()

    wait_for("events scored", lambda: (api(worker, "/api/summary")["events_total"] or 0) > 0, worker)
    first = Page(browse(chromium, url, tmp_path / "chrome", "--dump-dom"))
    assert int(first.body["data-polls"] or 0) >= 1, "the page never rendered a poll"
    a = first.number("events-total")
    assert a > 0

    # the pipeline goes on: more events, a version published (every 2000 labelled examples)
    wait_for("more events and a published version", lambda: (
        (s := api(worker, "/api/summary"))["events_total"] > a and s["alerts_by_kind"].get("model_published")), worker)
    second = Page(browse(chromium, url, tmp_path / "chrome", "--dump-dom"))
    b = second.number("events-total")
    assert b > a, (a, b)  # the page's own number moved between the two loads
    kinds = [li["data-kind"] for li in second.alerts]
    assert "model_published" in kinds, kinds
    assert second.number("alerts-total") >= 1
    assert any(row["data-status"] == "champion" for row in second.models), second.models
    assert second.number("champion-version") >= 1
    assert second.number("events-rate") > 0  # events were flowing in the seconds it averages over

    feed.join(timeout=120)
    wait_for("every event scored", lambda: api(worker, "/api/summary")["events_total"] >= EVENTS, worker)
    wait_for("the dead letters counted", lambda: api(worker, "/api/summary")["deadletters_total"] >= EVENTS // 250 + EVENTS // 500, worker)
    # versions at 100 and 2100 examples (and a challenger after the drift): a version change to see
    wait_for("a second version", lambda: api(worker, "/api/summary")["alerts_by_kind"].get("model_published", 0) >= 2, worker)
    third = Page(browse(chromium, url, tmp_path / "chrome", "--dump-dom"))
    assert third.number("events-total") >= EVENTS
    assert third.number("deadletters-total") == EVENTS // 250 + EVENTS // 500
    # a drift alert names where it was found, as its detector counts: events, or labelled examples
    assert all(li["data-where"].startswith(("event ", "example ")) for li in third.alerts if li["data-kind"].endswith("_drift"))
    series = api(worker, "/api/series")  # what the charts draw
    assert max(v for v in series["events_per_s"] if v is not None) > 0 and any(v is not None for v in series["served"])
    assert all(p95 >= p50 > 0 for p50, p95 in zip(series["latency_p50"], series["latency_p95"], strict=True) if p50 is not None)
    assert any(p50 is not None for p50 in series["latency_p50"])

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / "dashboard-screenshot.png"
    browse(chromium, url, tmp_path / "chrome", f"--screenshot={shot}", "--window-size=1400,1000")
    (ARTIFACTS / "dashboard-dom.html").write_text(browse(chromium, url, tmp_path / "chrome", "--dump-dom"))
    blue = count_near(shot, BLUE)
    assert blue > 500, blue  # the charts' lines are drawn in the browser, not just their frames
