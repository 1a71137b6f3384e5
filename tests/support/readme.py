"""The README's commands, read from its fenced blocks, and a shell that runs them as a new user.

:func:`command` finds a command by how it starts (``command("driftline stack up")``) among the
lines of the README's fenced blocks that run ``make``, ``driftline`` or ``.venv/bin/driftline``; a
README without it fails the test that needs it. A bare ``driftline`` is ``.venv/bin/driftline``,
as the README says. :class:`UserShell` runs them in a clone with a user's environment.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from streams.stack.ports import is_listening

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
#: Kafka, Redis and the worker's web server, as the contract's defaults have them
DEFAULT_PORTS = (9092, 6379, 6066)
_FENCE = re.compile(r"^```[^\n]*\n(.*?)^```", re.MULTILINE | re.DOTALL)
_PROGRAMS = ("make", "driftline", ".venv/bin/driftline")


@dataclass(frozen=True)
class Command:
    """One README command line: as written, and as the words a shell would run."""

    line: str
    words: tuple[str, ...]
    background: bool  # ends with `&`

    @property
    def plain(self) -> str:
        """The words with ``.venv/bin/driftline`` read as ``driftline``: what :func:`command` matches."""
        words = ["driftline" if w == ".venv/bin/driftline" else w for w in self.words]
        return " ".join(words)


def commands(text: str | None = None) -> list[Command]:
    """Every command line in the README's fenced blocks, comments stripped.

    >>> [c.plain for c in commands("x\\n```\\n.venv/bin/driftline worker &   # all\\nmake demo\\nls\\n```\\n")]
    ['driftline worker', 'make demo']
    >>> commands("```\\ndriftline worker &\\n```\\n")[0].background
    True
    """
    text = README.read_text() if text is None else text
    out = []
    for block in _FENCE.findall(text):
        for line in block.splitlines():
            if not line.strip().startswith(_PROGRAMS):
                continue
            words = shlex.split(line, comments=True)
            background = bool(words) and words[-1] == "&"
            words = words[:-1] if background else words
            if words and words[0] in _PROGRAMS:
                out.append(Command(line.strip(), tuple(words), background))
    return out


def command(start: str) -> Command:
    """The first README command that starts with ``start`` (``driftline`` for either spelling)."""
    for found in commands():
        if found.plain == start or found.plain.startswith(start + " "):
            return found
    raise AssertionError(f"the README has no command starting `{start}` in a fenced block")


@dataclass
class Ran:
    """A command that ended: its exit code and what it printed."""

    command: Command
    code: int
    out: str
    err: str

    def __str__(self) -> str:
        return f"$ {self.command.line}\n(exit {self.code})\n{self.out[-4000:]}\n{self.err[-4000:]}"


class UserShell:
    """Runs README commands in ``clone`` with ``env`` (a user's: no ``DRIFTLINE_*``), one log per
    command under ``logs``; remembers what it left running in the background."""

    def __init__(self, clone: Path, env: dict[str, str], logs: Path) -> None:
        assert not any(name.startswith("DRIFTLINE_") for name in env), env
        self.clone, self.env, self.logs = clone, env, logs
        logs.mkdir(parents=True, exist_ok=True)
        self.background: list[tuple[subprocess.Popen[bytes], Path]] = []
        self._n = 0

    def _argv(self, cmd: Command, extra: tuple[str, ...]) -> list[str]:
        words = list(cmd.words) + list(extra)
        if words[0] in ("driftline", ".venv/bin/driftline"):
            words[0] = str(self.clone / ".venv" / "bin" / "driftline")
        return words

    def run(self, cmd: Command, *extra: str, timeout_s: float = 900) -> Ran:
        """Run ``cmd`` (with ``extra`` words after it, e.g. make variables) to its end."""
        assert not cmd.background, cmd.line
        done = subprocess.run(self._argv(cmd, extra), cwd=self.clone, env=self.env, capture_output=True, text=True,
                              timeout=timeout_s, check=False)
        self._n += 1
        (self.logs / f"{self._n:02d}.log").write_text(f"$ {cmd.line} {' '.join(extra)}\n{done.stdout}\n{done.stderr}")
        return Ran(cmd, done.returncode, done.stdout, done.stderr)

    def start(self, cmd: Command) -> tuple[subprocess.Popen[bytes], Path]:
        """Start a background command (``... &``); its output goes to a log file."""
        assert cmd.background, cmd.line
        self._n += 1
        log = self.logs / f"{self._n:02d}-background.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(self._argv(cmd, ()), cwd=self.clone, env=self.env, stdout=out, stderr=subprocess.STDOUT)
        self.background.append((proc, log))
        return proc, log

    def stop(self, proc: subprocess.Popen[bytes], timeout_s: float = 60) -> int:
        """Stop a background command as a user does (`kill %1`: SIGTERM), by force if it lingers."""
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        return proc.returncode

    def stop_everything(self) -> None:
        """Whatever is still running: the background commands, then the stack (`stack down`)."""
        for proc, _ in self.background:
            self.stop(proc)
        driftline = self.clone / ".venv" / "bin" / "driftline"
        if driftline.exists():
            subprocess.run([str(driftline), "stack", "down"], cwd=self.clone, env=self.env, capture_output=True,
                           timeout=120, check=False)
        for pid, _ in stray_processes(self.clone, Path(self.env["HOME"])):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def stray_processes(clone: Path, home: Path) -> list[tuple[int, str]]:
    """Processes running from the clone or with the user's home: (pid, command line)."""
    found = []
    marks = (str(clone).encode(), f"HOME={home}".encode())
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes()
            environ = (proc / "environ").read_bytes()
        except OSError:
            continue
        if any(mark in cmdline for mark in marks) or marks[1] in environ.split(b"\0"):
            found.append((int(proc.name), cmdline.replace(b"\0", b" ").decode(errors="replace").strip()))
    return found


def listening(ports: tuple[int, ...]) -> list[int]:
    """Those of ``ports`` something listens on, on the loopback interface."""
    return [port for port in ports if is_listening("127.0.0.1", port)]


def wait_until(what: str, done, timeout_s: float, poll_s: float = 2.0) -> None:  # type: ignore[no-untyped-def]
    """Wait until ``done()``; past the deadline, fail naming what was waited for."""
    deadline = time.monotonic() + timeout_s
    while not done():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what} after {timeout_s:.0f}s")
        time.sleep(poll_s)
