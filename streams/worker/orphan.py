"""A worker another driftline process started (the demo, a live replay, the tests) stops when
that process is gone: killed, or timed out, it would otherwise leave a worker consuming, and
printing, with no one to stop it."""

from __future__ import annotations

import logging
import os
import signal

import faust

from streams.settings import Settings

log = logging.getLogger(__name__)

CHECK_S = 2.0


def register(app: faust.App, settings: Settings) -> None:
    """With ``DRIFTLINE_PARENT_PID`` set, check every ``CHECK_S`` that the parent still lives;
    when it is gone, stop as on SIGTERM (what was read and not yet committed is read again by
    the next worker, as after any stop)."""
    if not settings.parent_pid:
        return

    @app.timer(interval=CHECK_S, name="parent-watch")
    async def parent_watch() -> None:
        if os.getppid() != settings.parent_pid:
            log.warning("the process that started this worker (pid %d) is gone: stopping", settings.parent_pid)
            os.kill(os.getpid(), signal.SIGTERM)
