"""Alerts to an HTTP webhook: each one POSTed as JSON from a daemon thread, off the pipeline.

``submit`` only puts the alert in a bounded queue and returns; when the queue is full the alert
is dropped from the webhook (it is on the ``alerts`` topic already) and counted. The thread POSTs
each alert with a timeout per attempt and retries a bounded number of times, with exponential
backoff, on a network error, a timeout, 408, 429 or a 5xx answer; any other answer outside 2xx
(redirects included) fails it at once. ``close`` stops taking alerts and drains the queue briefly.
"""

from __future__ import annotations

import http.client
import logging
import queue
import threading
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlsplit

import orjson
from prometheus_client import Counter

from streams import __version__
from streams.settings import webhook_address

log = logging.getLogger(__name__)

DROPPED = Counter("driftline_webhook_dropped_total",
                  "Alerts not sent to the webhook: its queue was full, or the sender was closing")
DELIVERIES = Counter("driftline_webhook_deliveries_total",
                     "Alerts the webhook sender finished with, by outcome (delivered, failed)", ["outcome"])
for _outcome in ("delivered", "failed"):
    DELIVERIES.labels(_outcome)

QUEUE_SIZE = 1000
ATTEMPTS = 4
TIMEOUT_SECONDS = 5.0
BACKOFF_SECONDS = 0.5  # before the 2nd attempt; doubled before each next one
MAX_BACKOFF_SECONDS = 8.0
_RETRY_STATUS = frozenset({408, 429})


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """urllib would turn a redirected POST into a GET without the body: fail it instead."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def where(url: str) -> str:
    """The URL's scheme, host and port only: a webhook's path or query often holds a secret."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"


class WebhookSender:
    """POSTs alerts to ``url`` from its own daemon thread; :meth:`submit` never blocks."""

    def __init__(self, url: str, *, queue_size: int = QUEUE_SIZE, attempts: int = ATTEMPTS,
                 timeout: float = TIMEOUT_SECONDS, backoff: float = BACKOFF_SECONDS,
                 max_backoff: float = MAX_BACKOFF_SECONDS) -> None:
        webhook_address(url)  # a SettingsError when it is no http(s) URL
        if queue_size < 1 or attempts < 1:
            raise ValueError("queue_size and attempts are at least 1")
        self.url = url
        self.attempts = attempts
        self.timeout = timeout
        self.backoff = backoff
        self.max_backoff = max_backoff
        self._queue: queue.Queue[bytes | None] = queue.Queue(maxsize=queue_size)  # None: closing, wake up
        self._opener = urllib.request.build_opener(_NoRedirects)
        self._closing = threading.Event()  # no new alerts; the thread ends once the queue is empty
        self._stop = threading.Event()  # end now: no more attempts, no more waiting
        self._thread = threading.Thread(target=self._run, name="driftline-webhook", daemon=True)
        self._thread.start()

    def submit(self, alert: dict[str, Any]) -> bool:
        """Queue an alert for the webhook; False (and counted as dropped) when the queue is full
        or the sender is closed. Never blocks."""
        if self._closing.is_set():
            DROPPED.inc()
            return False
        try:
            self._queue.put_nowait(orjson.dumps(alert))
        except queue.Full:
            DROPPED.inc()
            log.warning("alert webhook queue full: alert %s not sent to %s", alert.get("alert_id"), where(self.url))
            return False
        return True

    def close(self, timeout: float = 2.0) -> bool:
        """Take no more alerts, deliver what is queued for up to ``timeout`` seconds, then give up
        on the rest (counted as dropped). True when every queued alert was dealt with."""
        self._closing.set()
        try:
            self._queue.put_nowait(None)  # wakes the thread once the queue before it is delivered
        except queue.Full:
            pass  # the thread is busy and sees ``_closing`` when the queue runs empty
        self._thread.join(timeout)
        self._stop.set()
        left = 0
        while True:
            try:
                body = self._queue.get_nowait()
            except queue.Empty:
                break
            left += body is not None
        if left:
            DROPPED.inc(left)
            log.warning("alert webhook closed with %d alert(s) not sent to %s", left, where(self.url))
        return left == 0 and not self._thread.is_alive()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                body = self._queue.get(timeout=0.5)
            except queue.Empty:
                if self._closing.is_set():
                    return
                continue
            if body is None:
                return
            try:
                outcome = "delivered" if self._deliver(body) else "failed"
            except Exception:  # noqa: BLE001 - the thread outlives any one alert
                log.exception("alert webhook %s: could not deliver an alert", where(self.url))
                outcome = "failed"
            DELIVERIES.labels(outcome).inc()

    def _deliver(self, body: bytes) -> bool:
        """POST one alert, retrying what may pass next time; True once the webhook took it."""
        for attempt in range(1, self.attempts + 1):
            try:
                self._post(body)
                return True
            except urllib.error.HTTPError as exc:
                retry = exc.code in _RETRY_STATUS or exc.code >= 500
                why = f"HTTP {exc.code}"
            except (OSError, http.client.HTTPException) as exc:  # refused, reset, timed out, garbled
                retry, why = True, f"{type(exc).__name__}: {exc}"
            if not retry or attempt == self.attempts:
                log.warning("alert webhook %s failed after %d attempt(s): %s", where(self.url), attempt, why)
                return False
            delay = min(self.max_backoff, self.backoff * 2 ** (attempt - 1))
            if self._stop.wait(delay):
                log.warning("alert webhook %s: closed while retrying (%s)", where(self.url), why)
                return False
        return False  # unreachable: the loop returns on its last attempt

    def _post(self, body: bytes) -> None:
        request = urllib.request.Request(self.url, data=body, method="POST", headers={
            "Content-Type": "application/json", "User-Agent": f"driftline/{__version__}"})
        with self._opener.open(request, timeout=self.timeout) as response:
            response.read(64 * 1024)  # the answer is not used; read some so the connection ends cleanly
