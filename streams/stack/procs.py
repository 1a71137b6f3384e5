"""Processes the local stack started: pid files, ownership, liveness and stopping.

A pid file records the pid and the kernel's start time of that process, so a pid reused by
another program after a crash is never mistaken for ours (and never signalled).
"""

from __future__ import annotations

import json
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ProcessRecord:
    """One process started by the stack."""

    name: str
    pid: int
    start_ticks: int | None
    port: int


def start_ticks(pid: int) -> int | None:
    """The process start time in clock ticks since boot (Linux), or None where unknown."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # the command name (field 2) may hold spaces and parentheses: split after the last ')'
    fields = stat.rsplit(")", 1)[1].split()
    return int(fields[19])


def _state(pid: int) -> str | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[0]


def is_alive(pid: int) -> bool:
    """True while the process exists and is not a zombie (reaping it if it is our child)."""
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return False
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return _state(pid) not in ("Z", "X")


class PidFiles:
    """The stack's pid files under ``<state>/run``."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir

    def path(self, name: str) -> Path:
        return self.run_dir / f"{name}.pid"

    def write(self, record: ProcessRecord) -> None:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        tmp = self.path(record.name).with_suffix(".tmp")
        tmp.write_text(
            json.dumps({"pid": record.pid, "start_ticks": record.start_ticks, "port": record.port})
        )
        tmp.replace(self.path(record.name))

    def read(self, name: str) -> ProcessRecord | None:
        """The live process behind a pid file; a stale file (dead or reused pid) is removed."""
        path = self.path(name)
        try:
            raw = json.loads(path.read_text())
            record = ProcessRecord(name, int(raw["pid"]), raw.get("start_ticks"), int(raw["port"]))
        except (OSError, ValueError, KeyError, TypeError):
            path.unlink(missing_ok=True)
            return None
        if not is_alive(record.pid) or (
            record.start_ticks is not None and start_ticks(record.pid) != record.start_ticks
        ):
            path.unlink(missing_ok=True)
            return None
        return record

    def remove(self, name: str) -> None:
        self.path(name).unlink(missing_ok=True)


def stop(pid: int, *, grace: float = 30.0) -> bool:
    """SIGTERM, wait up to ``grace`` seconds, then SIGKILL. True when it had to force."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return False
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if not is_alive(pid):
            return False
        time.sleep(0.1)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return False
    deadline = time.monotonic() + 10
    while is_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    return True


def stop_all(pids: list[int], *, grace: float = 30.0) -> list[bool]:
    """SIGTERM to each at once, wait up to ``grace`` seconds, then SIGKILL those left; for each,
    whether it had to be forced."""
    for pid in pids:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + grace
    while any(is_alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    forced = [is_alive(pid) for pid in pids]
    for pid, force in zip(pids, forced):
        if force:
            stop(pid, grace=0)
    return forced
