"""`make test` runs its system tests with ``--dist loadgroup``: tests marked with one
``xdist_group`` must run on one worker, in order (the README's commands share a clone and a stack;
a module's own broker is started once). pytest 9.2 made pytest-xdist drop the grouping silently
(pytest-xdist#1386), so pyproject.toml keeps pytest below it; this test fails if grouping breaks."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

GROUPED = '''
import os
import pytest

pytestmark = pytest.mark.xdist_group("together")

@pytest.mark.parametrize("n", range(6))
def test_grouped(n):
    with open(os.environ["RAN_LOG"], "a") as log:
        log.write(f"{n} {os.environ['PYTEST_XDIST_WORKER']}\\n")
'''
OTHERS = '''
import pytest

@pytest.mark.parametrize("n", range(12))
def test_other(n):
    pass
'''


@pytest.mark.heavy
def test_tests_of_one_xdist_group_run_on_one_worker_in_order(tmp_path: Path) -> None:
    (tmp_path / "test_grouped.py").write_text(GROUPED)
    (tmp_path / "test_others.py").write_text(OTHERS)
    log = tmp_path / "ran.log"
    # only xdist's plugin loaded (the others' imports cost the three workers seconds)
    done = subprocess.run([sys.executable, "-m", "pytest", "-p", "xdist.plugin", "-p", "no:cacheprovider", "-n", "3", "--dist", "loadgroup",
                           "-q", "--rootdir", str(tmp_path), "-c", "/dev/null", str(tmp_path)],
                          cwd=tmp_path, env={**os.environ, "RAN_LOG": str(log), "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}, capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    ran = [line.split() for line in log.read_text().splitlines()]
    assert [int(n) for n, _ in ran] == list(range(6)), ran
    assert len({worker for _, worker in ran}) == 1, f"the group was split over workers: {ran}"
