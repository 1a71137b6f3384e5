"""Every alert the worker raises also goes to ``DRIFTLINE_ALERT_WEBHOOK``, when it is set.

The sender listens to the runtime's alerts (after each is handed to the ``alerts`` topic) and
POSTs them from its own thread; on shutdown it drains its queue briefly.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from agents.runtime import Runtime
from streams.worker.webhook import WebhookSender, where

log = logging.getLogger(__name__)

CLOSE_SECONDS = 2.0  # how long shutdown waits for queued alerts to reach the webhook


def register(rt: Runtime) -> WebhookSender | None:
    """Send every alert to the settings' webhook too; None when no webhook is set."""
    if not rt.settings.alert_webhook:
        return None
    sender = WebhookSender(rt.settings.alert_webhook)

    def listen(alert: dict[str, Any]) -> None:
        sender.submit(alert)  # never blocks; a full queue drops it from the webhook only, counted

    rt.alert_listeners.append(listen)

    async def close_sender(app: Any, **kwargs: Any) -> None:
        await asyncio.to_thread(sender.close, CLOSE_SECONDS)

    rt.app.on_before_shutdown.connect(close_sender)
    log.info("alerts also go to the webhook at %s", where(rt.settings.alert_webhook))
    return sender
