import os
import subprocess
import sys
from pathlib import Path

from streams.stack.procs import PidFiles, ProcessRecord, is_alive, start_ticks, stop


def test_a_pid_file_of_a_live_process_reads_back(tmp_path: Path) -> None:
    files = PidFiles(tmp_path)
    record = ProcessRecord("me", os.getpid(), start_ticks(os.getpid()), 1234)
    files.write(record)
    assert files.read("me") == record


def test_a_pid_file_of_a_dead_process_is_stale_and_removed(tmp_path: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    files = PidFiles(tmp_path)
    files.write(ProcessRecord("gone", proc.pid, 1, 1))
    assert files.read("gone") is None
    assert not files.path("gone").exists()


def test_a_reused_pid_with_another_start_time_is_not_ours(tmp_path: Path) -> None:
    files = PidFiles(tmp_path)
    files.write(ProcessRecord("other", os.getpid(), (start_ticks(os.getpid()) or 0) + 1, 1))
    assert files.read("other") is None


def test_a_garbled_pid_file_is_stale(tmp_path: Path) -> None:
    files = PidFiles(tmp_path)
    files.path("x").write_text("not json")
    assert files.read("x") is None


def test_stop_is_graceful_then_forced() -> None:
    polite = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    assert stop(polite.pid, grace=5) is False
    assert not is_alive(polite.pid)
    stubborn = subprocess.Popen(
        [sys.executable, "-c", "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print(1, flush=True); time.sleep(60)"],
        stdout=subprocess.PIPE,
    )
    assert stubborn.stdout is not None and stubborn.stdout.readline()  # the handler is in place
    assert stop(stubborn.pid, grace=0.5) is True
    assert not is_alive(stubborn.pid)
