"""Injecting faults into processes a test started: the stack's broker or Redis, a worker."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from streams.settings import Settings
from streams.stack.procs import PidFiles, is_alive

DEAD_WITHIN_S = 60.0  # a stopped process has this long to exit


def stack_pid(settings: Settings, name: str) -> int:
    record = PidFiles(settings.state_dir / "run").read(name)
    assert record is not None, f"the stack's {name} is not running"
    return record.pid


def kill(pid: int, sig: int) -> None:
    """Send ``sig`` to a process the test started, and wait until it is gone."""
    os.kill(pid, sig)
    deadline = time.monotonic() + DEAD_WITHIN_S
    while is_alive(pid):
        assert time.monotonic() < deadline, f"process {pid} still alive {DEAD_WITHIN_S:.0f}s after signal {sig}"
        time.sleep(0.1)


def cpu_seconds(pid: int) -> float:
    """User and system CPU time a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def threads(pid: int) -> str:
    """What each of a process's threads is doing now, from py-spy (a test dependency), for a
    failure's message."""
    spy = shutil.which("py-spy", path=os.pathsep.join([os.path.dirname(sys.executable), os.environ.get("PATH", "")]))
    if spy is None:
        return "(py-spy is not installed)"
    done = subprocess.run([spy, "dump", "--pid", str(pid)], capture_output=True, text=True, timeout=60, check=False)
    return done.stdout or done.stderr
