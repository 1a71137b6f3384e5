"""A `driftline worker` in a child process: started, waited for, stopped. Live replay and the
demo run one; tests run them through :class:`tests.support.pipeline.Worker`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from streams.errors import EnvironmentProblem
from streams.settings import Settings

DRIFTLINE = str(Path(sys.executable).with_name("driftline"))


class WorkerProcess:
    """One `driftline worker` with these settings, its output going to ``log``."""

    def __init__(self, settings: Settings, log: Path, agents: str = "", loglevel: str = "") -> None:
        self.settings = settings
        self.log = log
        self.agents = agents  # a comma-separated subset of the agents; empty: all of them
        self.loglevel = loglevel  # the worker's --loglevel; empty: its default
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.settings.web_port}"

    def start(self, timeout_s: float = 60.0) -> None:
        """Start it and wait until its web server answers; a worker that exits is a failure."""
        env = {**os.environ, **self.settings.as_env(), "DRIFTLINE_PARENT_PID": str(os.getpid())}  # it stops when we are gone
        self.log.parent.mkdir(parents=True, exist_ok=True)
        command = [DRIFTLINE, "worker"] + (["--agents", self.agents] if self.agents else []) \
            + (["--loglevel", self.loglevel] if self.loglevel else [])
        self.proc = subprocess.Popen(command, env=env, stdout=self.log.open("ab"), stderr=subprocess.STDOUT,
                                     start_new_session=True)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise EnvironmentProblem(f"the worker exited ({self.proc.returncode}): see {self.log}")
            try:
                self.health()
                return
            except OSError:
                time.sleep(0.3)
        self.stop()
        raise EnvironmentProblem(f"the worker did not answer within {timeout_s:.0f}s: see {self.log}")

    def wait_assigned(self, timeout_s: float = 60.0) -> None:
        """Wait until the group has given this worker its partitions: it reads from now on."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                if self.health().get("assigned_partitions", 0) > 0:
                    return
            except OSError:
                pass
            time.sleep(0.3)
        raise EnvironmentProblem(f"the worker was given no partition within {timeout_s:.0f}s: see {self.log}")

    def health(self) -> dict[str, Any]:
        with urllib.request.urlopen(f"{self.url}/health", timeout=2) as r:
            return json.loads(r.read())  # type: ignore[no-any-return]

    def metrics(self) -> str:
        with urllib.request.urlopen(f"{self.url}/metrics", timeout=10) as r:  # the page waits up to 3 s for a fresh lag
            return r.read().decode()  # type: ignore[no-any-return]

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, sig: int = signal.SIGTERM, timeout_s: float = 60.0) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(sig)
        try:
            self.proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
