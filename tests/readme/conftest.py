"""The README's commands, run as a new user runs them (issue 24).

A copy of the repository's files (what a fresh clone holds, with this work tree's changes), a new
empty ``HOME`` (so ``~/.local/state/driftline`` and ``~/.cache`` start empty; only the Kafka jars
are shared, as the issue allows, and pip's and uv's download caches, which change nothing driftline
does),
no ``DRIFTLINE_*`` variable, the default ports, and the Makefile. The commands come out of the
README's own fenced blocks (:mod:`tests.support.readme`), so an edit that breaks one breaks a test.

These tests use the default ports (9092, 6379, 6066), so they run one at a time, apart from the
suite's session stack, and each stops whatever it started, even when it fails.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from streams.settings import Settings
from tests.support.readme import DEFAULT_PORTS, UserShell, listening, stray_processes

ROOT = Path(__file__).resolve().parents[2]


def _files_of_a_clone() -> list[str]:
    """The files a clone of this work tree holds: tracked ones and new ones not ignored."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                            capture_output=True, check=True).stdout.decode()
    return [name for name in listed.split("\0") if name and (ROOT / name).is_file()]


@pytest.fixture(scope="session")
def user(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UserShell]:
    """A fresh clone and an empty home, as a new user has them; whatever the tests started is
    stopped at the end, and the default ports are free again."""
    taken = listening(DEFAULT_PORTS)
    if taken:
        pytest.fail(f"the README tests need the default ports free; something listens on {taken} "
                    "(a stack of yours? `driftline stack down`)", pytrace=False)
    base = tmp_path_factory.mktemp("readme")
    clone, home = base / "driftline", base / "home"
    for name in _files_of_a_clone():
        (clone / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, clone / name)
    jars = Settings.from_env({}).cache_dir
    shared = home / ".cache" / "driftline"
    shared.mkdir(parents=True)
    for kafka in jars.glob("kafka-*"):  # Apache Kafka's jars, fetched once per machine
        (shared / kafka.name).symlink_to(kafka)
    env = {"HOME": str(home), "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8",
           "PIP_CACHE_DIR": os.environ.get("PIP_CACHE_DIR") or str(Path.home() / ".cache" / "pip"),
           # uv's download cache too (uv itself is still fetched by pip into the new home, as a new
           # user's make does): the packages once more from the index took 26 s and 760 MB a run
           "UV_CACHE_DIR": os.environ.get("UV_CACHE_DIR") or str(Path.home() / ".cache" / "uv"),
           "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    shell = UserShell(clone, env, base / "logs")
    try:
        yield shell
    finally:
        shell.stop_everything()
        left = stray_processes(clone, home)
        assert left == [], f"processes left running by the README's commands: {left}"
        assert listening(DEFAULT_PORTS) == [], "a default port is still taken after the README tests"
