"""docker-compose.yml, unchanged, under podman-compose with the images `make images` builds from a
local Debian base: events and labels from kcat on the host go in, predictions come back, the
worker's metrics and Prometheus' target answer, a restarted worker container goes on where it
was, and `down` leaves nothing behind. Grafana's image cannot be pulled here: it stays checked
statically (tests/unit/test_compose.py)."""

from __future__ import annotations

import subprocess
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
import redis

from streams.stack.images import Image, podman
from tests.support.compose import SERVICES_HERE, ComposeStack, until

pytestmark = [pytest.mark.containers, pytest.mark.timeout(1800)]  # the first build of the images

EVENTS = 50
DATA = {"salary": 50000.0, "commission": 0.0, "age": 40, "elevel": 1, "car": 3, "zipcode": 2,
        "hvalue": 100000.0, "hyears": 10, "loan": 20000.0}


@pytest.fixture
def stack(built: list[Image], tmp_path: Path) -> Iterator[ComposeStack]:
    s = ComposeStack(f"dl{uuid.uuid4().hex[:8]}", {i.env: i.name for i in built}, tmp_path / "compose.log")
    try:
        yield s
    finally:
        s.down()
        assert s.leftovers() == {"containers": [], "volumes": [], "networks": []}


def kcat(*args: str, stdin: bytes | None = None) -> bytes:
    done = subprocess.run(["kcat", *args], input=stdin, capture_output=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    return done.stdout


def produce(s: ComposeStack, first: int, n: int) -> None:
    events = b"".join(b"c-%d|%s\n" % (i % 7, orjson.dumps({"event_id": f"k-{i}", "entity_id": f"c-{i % 7}", "data": DATA}))
                      for i in range(first, first + n))
    kcat("-b", s.bootstrap, "-P", "-t", "driftline.raw", "-K", "|", stdin=events)
    labels = b"".join(b"k-%d|%s\n" % (i, orjson.dumps({"event_id": f"k-{i}", "label": i % 2 == 0}))
                      for i in range(first, first + n))
    kcat("-b", s.bootstrap, "-P", "-t", "driftline.feedback", "-K", "|", stdin=labels)


def predicted(s: ComposeStack) -> set[str]:
    out = kcat("-b", s.bootstrap, "-C", "-t", "driftline.predictions", "-o", "beginning", "-e", "-q")
    return {orjson.loads(line)["event_id"] for line in out.splitlines() if line.strip()}


def get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=10) as r:
        return r.read()  # type: ignore[no-any-return]


def test_the_compose_stack_scores_events_from_the_host_restarts_and_leaves_nothing(stack: ComposeStack) -> None:
    s = stack
    s.up(["kafka", "redis"])  # podman-compose 1.0 does not wait on health: the test does
    until("the compose broker answering on the host", lambda: b"1 brokers" in kcat("-b", s.bootstrap, "-L"), 240)
    client = redis.Redis(port=s.ports["redis"], password=s.redis_password, socket_timeout=5)
    until("the compose Redis answering with its password", client.ping, 120)
    with pytest.raises(redis.AuthenticationError):
        redis.Redis(port=s.ports["redis"], socket_timeout=5).set("x", 1)  # no password, no way in
    s.up(["worker", "prometheus"])
    until("the worker's /health", lambda: b'"status":"ok"' in get(s.url("worker", "/health")), 240)

    produce(s, 0, EVENTS)
    until(f"{EVENTS} predictions read back with kcat", lambda: len(predicted(s)) == EVENTS, 240)
    metrics = get(s.url("worker", "/metrics")).decode()
    assert f'driftline_events_total{{topic="predictions"}} {float(EVENTS)}' in metrics
    until("Prometheus' scrape of the worker up", lambda: all(
        t["health"] == "up" for t in orjson.loads(get(s.url("prometheus", "/api/v1/targets")))["data"]["activeTargets"]
    ) and orjson.loads(get(s.url("prometheus", "/api/v1/targets")))["data"]["activeTargets"], 120)

    s.compose("restart", "worker")
    until("the restarted worker's /health", lambda: b'"status":"ok"' in get(s.url("worker", "/health")), 240)
    produce(s, EVENTS, EVENTS)
    until("the restarted worker scoring the next events", lambda: len(predicted(s)) == 2 * EVENTS, 240)
    assert predicted(s) == {f"k-{i}" for i in range(2 * EVENTS)}
    running = subprocess.run(["podman", "ps", "--format", "{{.Names}}"], env=s.env, capture_output=True, text=True,
                             check=True).stdout.split()
    assert {s.container(x) for x in SERVICES_HERE} <= set(running)


def test_every_image_runs_as_a_user_that_is_not_root(built: list[Image]) -> None:
    for image in built:
        user = podman("image", "inspect", "--format", "{{.Config.User}}", image.name).stdout.strip()
        assert user and user.split(":")[0] not in ("root", "0"), f"{image.name} runs as {user!r}"
        uid = podman("run", "--rm", "--entrypoint", "id", image.name, "-u").stdout.strip()
        assert uid != "0", f"{image.name} runs as uid 0"
