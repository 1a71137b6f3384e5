"""The tests' local HTTP server: closing it leaves no handler running into the next test."""

from __future__ import annotations

import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler

import pytest

from tests.support.http import LocalServer


def test_close_waits_for_its_handlers_and_a_client_that_hung_up_prints_nothing(capfd: pytest.CaptureFixture[str]) -> None:
    """Regression: a handler still answering a client that had timed out wrote a "Broken pipe"
    traceback into a later test's captured stderr (a CLI test then saw two lines, not one)."""
    release = threading.Event()
    answered = threading.Event()

    class Slow(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            release.wait()
            time.sleep(0.3)  # still at work when the test closes the server
            self.send_response(200)
            self.end_headers()
            try:
                for _ in range(64):
                    self.wfile.write(b"x" * 65536)
            finally:
                answered.set()

        def log_message(self, *args: object) -> None:
            pass

    server = LocalServer(Slow).start()
    with pytest.raises(OSError, match="timed out"):
        urllib.request.urlopen(f"http://127.0.0.1:{server.server_address[1]}/", timeout=0.2)  # noqa: S310 - a local URL
    release.set()
    server.close()
    assert answered.is_set(), "close returned before its handler had finished"
    assert not [t for t in threading.enumerate() if "process_request_thread" in t.name]
    assert "Traceback" not in capfd.readouterr().err
