"""Session fixtures: a real Kafka broker and a real Redis for the integration tests.

Where they come from, in this order: the contract's environment variables when set (an outside
stack); else the local stack's own processes on free ports in a temporary folder; else
(or with DRIFTLINE_TEST_STACK=containers) Kafka and Redis containers through testcontainers when
a Docker-compatible engine answers. With CI=true a missing broker
fails the run; it never skips.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from streams.settings import Settings

collect_ignore = ["integration/apps"]  # worker programs the tests run, not tests

ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
LOG_TAIL = 40  # lines of each worker's log shown when a test fails, after its warnings and errors
_broker_line: list[str] = []


def _from_env() -> Settings | None:
    if os.environ.get("DRIFTLINE_KAFKA_BOOTSTRAP") and os.environ.get("DRIFTLINE_REDIS_URL"):
        return Settings.from_env()
    return None


def _local_stack(tmp: Path) -> tuple[Settings, object] | None:
    import shutil

    from streams import stack
    from streams.stack.kafka import cached_jars
    from streams.stack.ports import free_port

    if shutil.which("redis-server") is None:
        return None
    base = Settings.from_env({})
    settings = replace(
        base,
        kafka_bootstrap=f"127.0.0.1:{free_port()}",
        redis_url=f"redis://127.0.0.1:{free_port()}/0",
        state_dir=tmp,
        cache_dir=Settings.from_env().cache_dir,
    )
    if cached_jars(settings) is None and not (shutil.which("java") and shutil.which("mvn")):
        return None
    stack.up(settings)
    return settings, lambda: stack.down(settings)


def _containers() -> tuple[Settings, object] | None:
    """Kafka and Redis through testcontainers, where a Docker-compatible engine answers (here:
    podman's service, with DOCKER_HOST pointing at its socket and Ryuk off). The images are
    DRIFTLINE_KAFKA_IMAGE and DRIFTLINE_REDIS_IMAGE when set (`make images` builds them), else
    upstream's; Redis asks for a password."""
    import secrets

    from streams.stack.docker import engine_answers
    from streams.stack.ports import free_port

    if not engine_answers():
        return None
    from testcontainers.core.container import DockerContainer

    base = Settings.from_env({})
    kafka_port, redis_port = free_port(), free_port()
    # the broker advertises the host's port: the test's clients and workers reach it there, on
    # the loopback interface only (Docker's default binds every interface)
    kafka = (DockerContainer(os.environ.get("DRIFTLINE_KAFKA_IMAGE") or f"apache/kafka:{base.kafka_version}")
             .with_env("CLUSTER_ID", "jIenu77KScORhPLwn3MIng").with_env("KAFKA_NODE_ID", "1")
             .with_env("KAFKA_PROCESS_ROLES", "broker,controller")
             .with_env("KAFKA_CONTROLLER_QUORUM_VOTERS", "1@localhost:9093")
             .with_env("KAFKA_LISTENERS", "PLAINTEXT://0.0.0.0:9092,CONTROLLER://localhost:9093")
             .with_env("KAFKA_ADVERTISED_LISTENERS", f"PLAINTEXT://127.0.0.1:{kafka_port}")
             .with_env("KAFKA_LISTENER_SECURITY_PROTOCOL_MAP", "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT")
             .with_env("KAFKA_CONTROLLER_LISTENER_NAMES", "CONTROLLER")
             .with_env("KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR", "1").with_env("KAFKA_OFFSETS_TOPIC_NUM_PARTITIONS", "1")
             .with_env("KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR", "1")
             .with_env("KAFKA_TRANSACTION_STATE_LOG_MIN_ISR", "1")
             .with_env("KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS", "0")
             .with_env("KAFKA_NUM_PARTITIONS", str(base.partitions))
             .with_env("KAFKA_TRANSACTION_STATE_LOG_NUM_PARTITIONS", "1")
             .with_env("KAFKA_SHARE_COORDINATOR_STATE_TOPIC_REPLICATION_FACTOR", "1")
             # a file per partition's segment and more: the integration tests make thousands of
             # partitions, and at 1,024 files the broker stopped answering midway through them
             .with_kwargs(ulimits=_ulimits(nofile=16_384)))
    password = secrets.token_hex(16)
    redis = (DockerContainer(os.environ.get("DRIFTLINE_REDIS_IMAGE") or "redis:7")
             .with_env("REDIS_PASSWORD", password)
             .with_command(["sh", "-c", 'printf "requirepass %s\\n" "$REDIS_PASSWORD" | exec redis-server -']))
    kafka.ports["9092/tcp"] = ("127.0.0.1", kafka_port)  # as docker-py takes it (with_bind_ports takes no address)
    redis.ports["6379/tcp"] = ("127.0.0.1", redis_port)
    # named, so that one created and then refused a start can be found and removed too (Ryuk is
    # off: nothing else would); a failed start once left a Kafka container behind
    run = secrets.token_hex(4)
    kafka.with_name(f"driftline-test-kafka-{run}")
    redis.with_name(f"driftline-test-redis-{run}")

    def stop() -> None:
        for container in (redis, kafka):
            try:
                container.get_docker_client().client.containers.get(container._name).remove(force=True, v=True)
            except Exception as exc:  # not created, or gone: the others still go
                if "404" not in str(exc) and "no such container" not in str(exc).lower():
                    print(f"could not remove test container {container._name}: {exc!r}")

    try:
        for container in (kafka, redis):
            container.start()
        settings = replace(base, kafka_bootstrap=f"127.0.0.1:{kafka_port}",
                           redis_url=f"redis://:{password}@127.0.0.1:{redis_port}/0")
        _wait_for_containers(settings)
    except BaseException:
        stop()  # a failed start leaves no container behind
        raise
    return settings, stop


def _ulimits(nofile: int) -> list[object]:
    """The Kafka container's limits: ``nofile`` open files (at most this process's own hard limit,
    which an engine started from here inherits), and the processes the project's containers.conf
    gives every container (naming one limit replaces those defaults)."""
    import resource

    from docker.types import Ulimit

    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    files = nofile if hard == resource.RLIM_INFINITY else min(nofile, hard)
    return [Ulimit(name="nofile", soft=files, hard=files), Ulimit(name="nproc", soft=1024, hard=1024)]


def _wait_for_containers(settings: Settings, timeout_s: float = 180) -> None:
    import time

    import redis as redis_client

    from streams.kafka import admin

    deadline = time.monotonic() + timeout_s
    while admin.cluster_info(settings, timeout_ms=3000) is None:
        if time.monotonic() > deadline:
            raise RuntimeError(f"the Kafka container did not answer at {settings.kafka_bootstrap} in {timeout_s:.0f}s")
        time.sleep(1)
    while True:
        try:
            redis_client.Redis.from_url(settings.redis_url, socket_timeout=3).ping()
            return
        except redis_client.RedisError:
            if time.monotonic() > deadline:
                raise
            time.sleep(1)


@pytest.fixture(scope="session")
def stack_settings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """Settings pointing at a real, running broker and Redis for the whole session."""
    from streams.kafka import admin
    from streams.kafka.topics import topic_specs

    stop = None
    settings = _from_env()
    origin = "environment"
    if settings is None:
        # DRIFTLINE_TEST_STACK=containers: straight to testcontainers (make test-containers runs
        # integration tests that way, on podman)
        wanted = os.environ.get("DRIFTLINE_TEST_STACK", "")
        started = None if wanted == "containers" else _local_stack(tmp_path_factory.mktemp("stack"))
        origin = "local stack"
        if started is None:
            started = _containers()
            origin = "containers started by testcontainers"
        if started is None:
            message = "no Kafka broker: no redis-server/Java/Maven for the local stack and no Docker engine"
            if os.environ.get("CI") == "true":
                pytest.fail(message, pytrace=False)
            pytest.skip(message)
        settings, stop = started  # type: ignore[misc]
    if not settings.model_key:  # the local stack wrote one; elsewhere the tests make their own
        try:
            key = settings.signing_key().decode()
        except Exception:  # noqa: BLE001 - no key anywhere: generate one for this session
            import secrets

            key = secrets.token_hex(32)
        settings = replace(settings, model_key=key)
    # the stack's generated Redis password, in the URL: workers run with state folders of their own
    settings = settings.with_credentials()
    info = admin.cluster_info(settings, timeout_ms=5000)
    if info is None:
        pytest.fail(f"no broker answers at {settings.kafka_bootstrap}", pytrace=False)
    logged = admin.version_from_log(settings.state_dir / "logs" / "kafka.log")
    _broker_line.append(
        f"broker: Apache Kafka {logged or info.api_version} (ApiVersions: {info.api_version}) "
        f"at {settings.kafka_bootstrap} from the {origin}; Redis at {settings.redis_url_shown}"
    )
    print(f"\n{_broker_line[-1]}")
    admin.ensure_topics(settings, topic_specs(settings))
    try:
        yield settings
    finally:
        if stop is not None:
            stop()  # type: ignore[operator]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The ``heavy`` tests first (in their order): the workers of a parallel run share out the
    short ones at the end, and no worker is left with a long test while the other waits."""
    items.sort(key=lambda item: item.get_closest_marker("heavy") is None)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    for line in _broker_line:
        terminalreporter.write_line(line)


@pytest.fixture(scope="session")
def chromium() -> str:
    """Debian's headless Chromium, for the tests that open pages; with CI=true its absence fails."""
    import shutil

    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        if os.environ.get("CI") == "true":
            pytest.fail("chromium is missing (make system-deps installs Debian's package)", pytrace=False)
        pytest.skip("chromium is missing")
    return path


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """A failed test (integration, reliability, the README's) shows what its workers and
    commands logged (their warnings and errors, then the end): their folders are gone by the
    time anyone reads a CI log."""
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    tmp = getattr(item, "funcargs", {}).get("tmp_path")
    if report.when != "call" or not report.failed or tmp is None:
        return
    for log in sorted(Path(tmp).rglob("*.log")):
        lines = [line for line in log.read_text(errors="replace").splitlines()
                 if line.strip() and not line.startswith(("|", "+", "┌", "│", "└", "├"))]
        loud = [line for line in lines if any(w in line for w in ("WARNING", "ERROR", "CRITICAL", "Traceback", "error:"))]
        report.sections.append((f"{log.relative_to(tmp)}: warnings and errors, then its last {LOG_TAIL} lines",
                                "\n".join([*loud[-100:], "...", *lines[-LOG_TAIL:]])))
