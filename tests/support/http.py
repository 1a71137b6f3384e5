"""A local HTTP server for tests: none of its handlers outlives the test that started it."""

from __future__ import annotations

import sys
import threading
from http.server import ThreadingHTTPServer


class LocalServer(ThreadingHTTPServer):
    """A threading HTTP server on 127.0.0.1 whose ``close`` waits for its handlers (a handler
    left running wrote "Broken pipe" tracebacks into a later test's captured stderr), and which
    says nothing of a client that went away first (a test's client that timed out)."""

    daemon_threads = False  # server_close() joins the handler threads

    def __init__(self, handler: type) -> None:
        super().__init__(("127.0.0.1", 0), handler)

    def start(self) -> LocalServer:
        # shutdown() waits for one poll: 20 ms, not the default 500
        threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
        return self

    def close(self) -> None:
        """Stop serving, and wait for the handlers still running (unblock any that wait first)."""
        self.shutdown()
        self.server_close()

    def handle_error(self, request: object, client_address: object) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError):
            return  # the client hung up: the test that made it do so expects that
        super().handle_error(request, client_address)  # type: ignore[arg-type]
