"""DRIFTLINE_ALERT_WEBHOOK through a real `driftline worker` on the real broker and Redis."""

from __future__ import annotations

import itertools
import queue
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import orjson
import pytest
from kafka import KafkaProducer
from prometheus_client.parser import text_string_to_metric_families

from streams.kafka import admin
from streams.kafka.sources import builtin
from streams.kafka.topics import topic_specs
from streams.settings import Settings
from streams.specs.load import DEFAULT_SPEC_PATH
from tests.support.http import LocalServer
from tests.support.pipeline import Worker, read_all

EVENTS = 300
PUBLISH_EVERY = 100  # a version (and its model_published alert) every 100 labelled examples


@pytest.fixture
def webhook() -> Iterator[tuple[str, queue.Queue[tuple[str, dict[str, Any]]]]]:
    """A local HTTP receiver: its URL, and a queue of (path, JSON body) for each POST."""
    received: queue.Queue[tuple[str, dict[str, Any]]] = queue.Queue()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.put((self.path, orjson.loads(body)))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = LocalServer(Handler).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/driftline/alerts", received
    server.close()


@pytest.fixture
def hooked_worker(stack_settings: Settings, webhook: tuple[str, Any], tmp_path: Path) -> Iterator[Worker]:
    """A `driftline worker` on its own topic prefix that also sends its alerts to the webhook."""
    settings = replace(stack_settings, topic_prefix=f"hook{uuid.uuid4().hex[:8]}", alert_webhook=webhook[0])
    admin.ensure_topics(settings, topic_specs(settings))
    spec = DEFAULT_SPEC_PATH.read_text()
    assert "publish_every = 2000" in spec
    w = Worker(settings, tmp_path, spec_text=spec.replace("publish_every = 2000", f"publish_every = {PUBLISH_EVERY}"))
    w.start()
    yield w
    w.stop()


def webhook_counts(s: Settings) -> dict[str, float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{s.web_port}/metrics", timeout=5) as r:
        families = text_string_to_metric_families(r.read().decode())
    counts = {}
    for family in families:
        for sample in family.samples:
            if sample.name == "driftline_webhook_deliveries_total":
                counts[sample.labels["outcome"]] = sample.value
            elif sample.name == "driftline_webhook_dropped_total":
                counts["dropped"] = sample.value
    return counts


def test_every_alert_reaches_the_webhook_as_the_alerts_topic_carries_it(
        hooked_worker: Worker, webhook: tuple[str, queue.Queue[tuple[str, dict[str, Any]]]]) -> None:
    s = hooked_worker.settings
    assert s.as_env()["DRIFTLINE_ALERT_WEBHOOK"] == webhook[0]  # what the worker subprocess was given
    producer = KafkaProducer(bootstrap_servers=s.kafka_bootstrap, acks="all", linger_ms=5)
    labels = []
    for event, label in itertools.islice(builtin("agrawal-drift", seed=7), EVENTS):
        event["ts"] = time.time()
        producer.send(s.topic("raw"), key=event["entity_id"].encode(), value=orjson.dumps(event))
        labels.append((event["event_id"], label))
    for event_id, label in labels:
        producer.send(s.topic("feedback"), key=event_id.encode(), value=orjson.dumps({"event_id": event_id, "label": label}))
    producer.flush()
    producer.close()

    posted: list[tuple[str, dict[str, Any]]] = []
    deadline = time.monotonic() + 240  # a bound on waiting, not a speed check
    while not any(a["kind"] == "model_published" for _, a in posted) and time.monotonic() < deadline:
        try:
            posted.append(webhook[1].get(timeout=1))
        except queue.Empty:
            pass
    published = [a for _, a in posted if a["kind"] == "model_published"]
    assert published, f"no model_published alert reached the webhook; got {posted}\n{hooked_worker.log.read_text()[-3000:]}"
    assert {path for path, _ in posted} == {"/driftline/alerts"}
    assert published[0]["alert_id"] and published[0]["version"] >= 1 and published[0]["severity"] == "info"

    # the worker's /metrics counts what it delivered (the counter moves once the answer is in)
    while time.monotonic() < deadline and (counts := webhook_counts(s)).get("delivered", 0) < 1:
        time.sleep(0.5)
    assert counts["delivered"] >= 1 and counts["failed"] == 0 and counts["dropped"] == 0, counts

    # a stopped worker drains its webhook queue: then the webhook holds exactly the alerts topic
    hooked_worker.stop()
    while True:
        try:
            posted.append(webhook[1].get_nowait())
        except queue.Empty:
            break
    on_topic = [orjson.loads(r.value) for r in read_all(s, "alerts", len(posted), timeout=60)]
    by_id = {a["alert_id"]: a for _, a in posted}
    assert len(by_id) == len(posted)  # each alert POSTed once
    assert by_id == {a["alert_id"]: a for a in on_topic}


def test_a_promotion_by_hand_reaches_the_webhook_too(stack_settings: Settings, webhook: tuple[str, Any]) -> None:
    """`driftline models promote` raises its alert outside any worker: it POSTs it as well."""
    import subprocess

    from streams.core.model import build_model
    from streams.specs.load import load_spec
    from streams.state.registry import Registry
    from tests.support.pipeline import DRIFTLINE

    url, received = webhook
    settings = replace(stack_settings, topic_prefix=f"hand{uuid.uuid4().hex[:8]}", alert_webhook=url)
    admin.ensure_topics(settings, topic_specs(settings))
    registry = Registry.connect(settings)
    registry.ensure()
    model = build_model(load_spec(None))
    registry.publish(model, parent=None, status="champion", reason="first", trained_examples=0, metrics={})
    second = registry.publish(model, parent=1, status="candidate", reason="second", trained_examples=0, metrics={})[0]
    done = subprocess.run([DRIFTLINE, "models", "promote", str(second.version), "--reason", "by hand"],
                          env=settings.as_env(), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    path, alert = received.get(timeout=30)
    assert path == "/driftline/alerts" and alert["kind"] == "model_promoted" and alert["version"] == second.version
    on_topic = [orjson.loads(r.value) for r in read_all(settings, "alerts", 1, timeout=30)]
    assert [a["alert_id"] for a in on_topic] == [alert["alert_id"]]
