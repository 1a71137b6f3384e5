"""The alert webhook sender against a real local HTTP server (no network beyond 127.0.0.1)."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from types import SimpleNamespace

import faust
import orjson
import pytest
from prometheus_client import REGISTRY

from agents import webhook as webhook_agent
from streams.cli.main import main
from streams.settings import Settings, SettingsError
from streams.worker.webhook import WebhookSender, where
from tests.support.http import LocalServer

ALERT = {"alert_id": "a1", "kind": "model_published", "severity": "info", "subject": "model 3",
         "message": "model version 3 published as candidate", "ts": 1732280000.5, "schema_version": 1,
         "version": 3, "metrics": {"accuracy": 0.93}, "retired": []}


@dataclass
class Receiver:
    """An HTTP server that records each request and answers from a script of status codes."""

    statuses: list[int] = field(default_factory=list)  # answers in order; 200 once used up
    hang: threading.Event | None = None  # when set up, each request waits for this before answering
    requests: list[tuple[str, str, dict[str, str], bytes]] = field(default_factory=list)
    arrived: threading.Event = field(default_factory=threading.Event)
    server: LocalServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks/secret-token?x=1"

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append((self.command, self.path, dict(self.headers), body))
                receiver.arrived.set()
                if receiver.hang is not None:
                    receiver.hang.wait()
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = LocalServer(Handler).start()
        return self

    def stop(self) -> None:
        if self.hang is not None:
            self.hang.set()
        if self.server is not None:
            self.server.close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver().start()
    yield r
    r.stop()


def dropped() -> float:
    return REGISTRY.get_sample_value("driftline_webhook_dropped_total") or 0.0


def deliveries(outcome: str) -> float:
    return REGISTRY.get_sample_value("driftline_webhook_deliveries_total", {"outcome": outcome}) or 0.0


def test_an_alert_is_posted_as_the_exact_json(receiver: Receiver) -> None:
    delivered = deliveries("delivered")
    sender = WebhookSender(receiver.url)
    assert sender.submit(ALERT) is True
    assert sender.close(timeout=30) is True  # drains: the alert was delivered before it returned
    [(method, path, headers, body)] = receiver.requests
    assert method == "POST" and path == "/hooks/secret-token?x=1"
    assert headers["Content-Type"] == "application/json"
    assert orjson.loads(body) == ALERT
    assert deliveries("delivered") == delivered + 1


def test_a_server_error_is_retried_until_the_webhook_takes_the_alert(receiver: Receiver) -> None:
    delivered, failed = deliveries("delivered"), deliveries("failed")
    receiver.statuses = [500, 503]
    sender = WebhookSender(receiver.url, attempts=4, backoff=0.01)
    sender.submit(ALERT)
    assert sender.close(timeout=30) is True
    assert len(receiver.requests) == 3  # 500, 503, then 200
    assert all(orjson.loads(r[3]) == ALERT for r in receiver.requests)
    assert (deliveries("delivered"), deliveries("failed")) == (delivered + 1, failed)


def test_retries_are_bounded_and_a_client_error_is_not_retried(receiver: Receiver) -> None:
    delivered, failed = deliveries("delivered"), deliveries("failed")
    receiver.statuses = [500] * 3 + [404]
    sender = WebhookSender(receiver.url, attempts=3, backoff=0.01)
    sender.submit(ALERT)  # 500 three times: given up
    sender.submit({**ALERT, "alert_id": "a2"})  # 404: failed at once
    sender.submit({**ALERT, "alert_id": "a3"})  # 200
    assert sender.close(timeout=30) is True
    assert [orjson.loads(r[3])["alert_id"] for r in receiver.requests] == ["a1", "a1", "a1", "a2", "a3"]
    assert (deliveries("delivered"), deliveries("failed")) == (delivered + 1, failed + 2)


def test_a_redirect_is_a_failure_not_a_post_turned_into_a_get(receiver: Receiver) -> None:
    failed = deliveries("failed")
    receiver.statuses = [302]
    sender = WebhookSender(receiver.url, attempts=3, backoff=0.01)
    sender.submit(ALERT)
    assert sender.close(timeout=30) is True
    assert len(receiver.requests) == 1 and deliveries("failed") == failed + 1


def test_a_hanging_webhook_never_blocks_submit_the_overflow_is_dropped_and_counted(receiver: Receiver) -> None:
    receiver.hang = threading.Event()
    sender = WebhookSender(receiver.url, queue_size=3, timeout=60)
    assert sender.submit(ALERT) is True
    assert receiver.arrived.wait(30)  # the sender's thread is stuck in that POST now; its queue is empty
    before = dropped()
    taken = [sender.submit({**ALERT, "alert_id": f"q{i}"}) for i in range(8)]
    assert taken == [True] * 3 + [False] * 5
    assert dropped() == before + 5
    receiver.hang.set()  # the webhook answers again: what was queued is delivered
    assert sender.close(timeout=30) is True
    assert [orjson.loads(r[3])["alert_id"] for r in receiver.requests] == ["a1", "q0", "q1", "q2"]
    assert sender.submit(ALERT) is False  # closed
    assert dropped() == before + 6


def test_close_gives_up_on_a_webhook_that_never_answers_and_counts_what_was_left(receiver: Receiver) -> None:
    receiver.hang = threading.Event()
    sender = WebhookSender(receiver.url, queue_size=5, timeout=60)
    sender.submit(ALERT)
    assert receiver.arrived.wait(30)
    sender.submit({**ALERT, "alert_id": "left-1"})
    sender.submit({**ALERT, "alert_id": "left-2"})
    before = dropped()
    assert sender.close(timeout=0.2) is False
    assert dropped() == before + 2
    delivered = deliveries("delivered")
    receiver.hang.set()  # the stuck POST ends; the thread delivers nothing more after it
    sender._thread.join(30)
    assert deliveries("delivered") == delivered + 1 and len(receiver.requests) == 1


def test_a_webhook_that_is_down_fails_after_its_attempts() -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    failed = deliveries("failed")
    sender = WebhookSender(f"http://127.0.0.1:{port}/", attempts=2, backoff=0.01, timeout=5)
    assert sender.submit(ALERT) is True
    assert sender.close(timeout=30) is True
    assert deliveries("failed") == failed + 1


def test_logs_name_the_host_never_the_path_or_credentials() -> None:
    assert where("https://user:pw@hooks.example.com:8443/services/T0/B0/XYZ?token=s") == "https://hooks.example.com:8443"


def test_the_setting_reads_an_http_or_https_url_and_defaults_to_off() -> None:
    assert Settings.from_env({}).alert_webhook == ""
    url = "https://hooks.example.com/services/T0/B0/XYZ"
    s = Settings.from_env({"DRIFTLINE_ALERT_WEBHOOK": url})
    assert s.alert_webhook == url
    assert Settings.from_env(s.as_env()) == s  # a worker subprocess gets it too
    assert "XYZ" not in repr(s)
    assert Settings.from_env({"DRIFTLINE_ALERT_WEBHOOK": "http://127.0.0.1:8080/a"}).alert_webhook


@pytest.mark.parametrize("value", ["ftp://hooks.example.com/a", "hooks.example.com/a", "http://", "https://:443/a",
                                   "http://host:99999/a", "http://host:0/a", "http://host/a b"])
def test_a_bad_webhook_url_is_refused_with_the_variable_named(value: str) -> None:
    with pytest.raises(SettingsError, match="DRIFTLINE_ALERT_WEBHOOK=.*expected an http:// or https:// URL"):
        Settings.from_env({"DRIFTLINE_ALERT_WEBHOOK": value})


def test_a_bad_webhook_url_is_one_line_and_exit_2(monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("DRIFTLINE_ALERT_WEBHOOK", "ftp://hooks.example.com/a")
    assert main(["stack", "status"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "DRIFTLINE_ALERT_WEBHOOK" in err


def test_register_listens_to_alerts_and_closes_on_shutdown(receiver: Receiver, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(webhook_agent, "CLOSE_SECONDS", 30.0)  # a loaded machine still drains in time
    off = SimpleNamespace(settings=Settings.from_env({}), alert_listeners=[], app=None)
    assert webhook_agent.register(off) is None and off.alert_listeners == []  # type: ignore[arg-type]

    app = faust.App(f"webhook-test-{id(receiver)}", broker="kafka://127.0.0.1:1", datadir=str(tmp_path))
    rt = SimpleNamespace(settings=Settings.from_env({"DRIFTLINE_ALERT_WEBHOOK": receiver.url}), alert_listeners=[], app=app)
    sender = webhook_agent.register(rt)  # type: ignore[arg-type]
    assert sender is not None and len(rt.alert_listeners) == 1
    rt.alert_listeners[0](ALERT)
    asyncio.run(app.on_before_shutdown.send())  # what the app does when it stops
    assert [orjson.loads(r[3]) for r in receiver.requests] == [ALERT]
    assert sender.submit(ALERT) is False  # closed by the shutdown hook
