"""testcontainers, the card's choice for test infrastructure, used for real: podman's Docker-
compatible service on a unix socket (DOCKER_HOST; Ryuk off, its image cannot be pulled), and the
session fixtures' container path (DRIFTLINE_TEST_STACK=containers) starting Kafka and Redis from
the images `make images` builds. In CI a smoke set runs on them, in a pytest of its own: what
containers change (the pipeline end to end with a worker killed by SIGKILL mid-stream, a new
model version served without a restart, labels joined in one hop or re-keyed through the broker,
the registry rebuilt from its topic, Redis with its password, which every one of them uses and
one refuses wrongly). The heavy runs (20,000 events with drift; a worker killed twice) stay on
the local stack, where the containers change nothing they check.
`make test-containers-all` (TESTCONTAINERS_SUITE=all) runs the whole integration suite there
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

#: what containers change, each a test of the integration suite (they are run there on the local stack too)
SMOKE = [
    "tests/integration/test_pipeline.py::test_sigkill_mid_stream_loses_no_event_and_entity_features_continue",
    "tests/integration/test_pipeline.py::test_a_new_model_version_comes_into_service_without_a_restart",
    "tests/integration/test_label_hops.py::test_labels_on_their_event_partition_are_joined_in_one_hop_the_others_are_rekeyed",
    "tests/integration/test_registry.py::test_flushall_and_a_restart_keep_versions_statuses_and_metrics_and_scoring_never_stops",
    "tests/integration/test_outside_causes.py::test_a_redis_that_refuses_the_credentials_is_one_line",
]
#: TESTCONTAINERS_SUITE=all (make test-containers-all): the whole integration suite
THROUGH_CONTAINERS = ["tests/integration"] if os.environ.get("TESTCONTAINERS_SUITE") == "all" else SMOKE


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
