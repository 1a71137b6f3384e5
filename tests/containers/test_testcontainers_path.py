"""testcontainers, the card's choice for test infrastructure, used for real: podman's Docker-
compatible service on a unix socket (DOCKER_HOST; Ryuk off, its image cannot be pulled), and the
session fixtures' container path (DRIFTLINE_TEST_STACK=containers) starting Kafka and Redis from
the images `make images` builds. The whole integration suite runs on them, in a pytest of its own
(the demo, which starts a stack of its own, uses the containers as a stack already running)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from streams.stack.images import ROOT, Image, podman_env

pytestmark = [pytest.mark.containers, pytest.mark.timeout(3600)]

#: the whole integration suite
THROUGH_CONTAINERS = ["tests/integration"]


@pytest.fixture
def docker_host(tmp_path: Path) -> Iterator[str]:
    """podman's Docker-compatible API on a socket of this test's own, down after it."""
    podman = shutil.which("podman")
    assert podman is not None, "podman is installed by make's container-deps"
    sock = tmp_path / "podman.sock"
    service = subprocess.Popen([podman, "system", "service", "--time=0", f"unix://{sock}"], env=podman_env(),
                               stdout=(tmp_path / "service.log").open("wb"), stderr=subprocess.STDOUT,
                               start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        while not sock.exists():
            assert service.poll() is None and time.monotonic() < deadline, (tmp_path / "service.log").read_text()
            time.sleep(0.2)
        yield f"unix://{sock}"
    finally:
        service.terminate()
        service.wait(timeout=30)


def test_integration_tests_run_on_kafka_and_redis_from_testcontainers(built: list[Image], docker_host: str,
                                                                       tmp_path: Path) -> None:
    images = {i.env: i.name for i in built}
    env = {**os.environ, **podman_env(), "DOCKER_HOST": docker_host, "TESTCONTAINERS_RYUK_DISABLED": "true",
           "DRIFTLINE_TEST_STACK": "containers", "CI": "true",
           "DRIFTLINE_KAFKA_IMAGE": images["DRIFTLINE_KAFKA_IMAGE"], "DRIFTLINE_REDIS_IMAGE": images["DRIFTLINE_REDIS_IMAGE"]}
    for name in ("DRIFTLINE_KAFKA_BOOTSTRAP", "DRIFTLINE_REDIS_URL"):
        env.pop(name, None)  # not an outside stack
    done = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", f"--basetemp={tmp_path / 'run'}",
                           *THROUGH_CONTAINERS], cwd=ROOT, env=env, capture_output=True, text=True, timeout=3300)
    out = done.stdout + done.stderr
    print(out[-3000:])
    assert done.returncode == 0, out[-6000:]
    assert "from the containers started by testcontainers" in out
    left = subprocess.run(["podman", "ps", "-a", "--format", "{{.Image}}"], env=podman_env(), capture_output=True,
                          text=True, check=True).stdout.split()
    assert not set(left) & {images["DRIFTLINE_KAFKA_IMAGE"], images["DRIFTLINE_REDIS_IMAGE"]}, left  # stopped and removed
