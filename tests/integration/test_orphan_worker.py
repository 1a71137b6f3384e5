"""A worker a driftline process started stops when that process is killed: a demo, a live
replay or a test killed (or timed out) leaves no worker consuming behind it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from streams.settings import Settings
from streams.stack.ports import free_port
from streams.stack.procs import is_alive

STARTER = """
import json, sys, time
from dataclasses import replace
from pathlib import Path
from streams.settings import Settings
from streams.worker.process import WorkerProcess
tmp = Path(sys.argv[1])
s = replace(Settings.from_env(), web_port=int(sys.argv[2]), state_dir=tmp / "state", topic_prefix=sys.argv[3])
worker = WorkerProcess(s, tmp / "worker.log", agents="validate")
worker.start()
print(json.dumps({"worker": worker.proc.pid}), flush=True)
time.sleep(3600)
"""


def test_a_worker_stops_when_the_process_that_started_it_is_killed(stack_settings: Settings, tmp_path: Path) -> None:
    env = {**os.environ, **stack_settings.as_env()}
    starter = subprocess.Popen([sys.executable, "-c", STARTER, str(tmp_path), str(free_port()),
                                f"{stack_settings.topic_prefix}-orphan"], env=env, stdout=subprocess.PIPE, text=True)
    try:
        line = starter.stdout.readline()  # type: ignore[union-attr]
        assert line, "the starter printed nothing"
        worker = json.loads(line)["worker"]
        assert is_alive(worker)
        starter.send_signal(signal.SIGKILL)
        starter.wait()
        deadline = time.monotonic() + 120
        while is_alive(worker) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert not is_alive(worker), "the worker went on after the process that started it was killed"
        assert "is gone: stopping" in (tmp_path / "worker.log").read_text()
    finally:
        starter.kill()
        if "worker" in locals() and is_alive(worker):
            os.kill(worker, signal.SIGKILL)
