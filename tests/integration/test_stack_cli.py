"""`driftline stack up | down | status` as a user runs them, each test with its own stack."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from streams.stack.ports import free_port
from streams.stack.procs import is_alive

DRIFTLINE = str(Path(sys.executable).with_name("driftline"))


def run(env: dict[str, str], *args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    return subprocess.run([DRIFTLINE, *args], env=env, capture_output=True, text=True, timeout=timeout, check=False)


@pytest.fixture
def own_stack(tmp_path: Path) -> Iterator[dict[str, str]]:
    """The environment of a stack of this test's own (ports, state folder); torn down after."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DRIFTLINE_")}
    env.update(
        DRIFTLINE_STATE_DIR=str(tmp_path / "state"),
        DRIFTLINE_KAFKA_BOOTSTRAP=f"127.0.0.1:{free_port()}",
        DRIFTLINE_REDIS_URL=f"redis://127.0.0.1:{free_port()}/0",
        DRIFTLINE_PARTITIONS="2",
    )
    yield env
    run(env, "stack", "down")


def pids(env: dict[str, str]) -> dict[str, int]:
    run_dir = Path(env["DRIFTLINE_STATE_DIR"]) / "run"
    return {p.stem: json.loads(p.read_text())["pid"] for p in run_dir.glob("*.pid")}


def our_processes(env: dict[str, str]) -> list[str]:
    """Live processes whose command line names this stack's state folder or ports."""
    marks = [env["DRIFTLINE_STATE_DIR"], env["DRIFTLINE_KAFKA_BOOTSTRAP"], env["DRIFTLINE_REDIS_URL"].split("//")[1].split("/")[0]]
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmd = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if any(m in cmd for m in marks) and is_alive(int(proc.name)):
            found.append(cmd)
    return found


def test_up_twice_gives_one_broker_and_one_redis_then_down_leaves_nothing(own_stack: dict[str, str]) -> None:
    first = run(own_stack, "stack", "up")
    assert first.returncode == 0, first.stderr
    assert own_stack["DRIFTLINE_KAFKA_BOOTSTRAP"] in first.stdout
    assert own_stack["DRIFTLINE_REDIS_URL"] in first.stdout
    assert "started redis, kafka in" in first.stdout
    started = pids(own_stack)
    assert set(started) == {"kafka", "redis"}

    # its Redis asks for the password the stack generated (owner-only), kept off command lines
    password_file = Path(own_stack["DRIFTLINE_STATE_DIR"]) / "redis.password"
    password = password_file.read_text().strip()
    assert len(password) >= 24 and password_file.stat().st_mode & 0o077 == 0
    with pytest.raises(redis.AuthenticationError):
        redis.Redis.from_url(own_stack["DRIFTLINE_REDIS_URL"]).ping()
    host_port = own_stack["DRIFTLINE_REDIS_URL"].split("//")[1].split("/")[0]
    assert redis.Redis.from_url(f"redis://:{password}@{host_port}/0").ping()
    assert not any(password in cmd for cmd in our_processes(own_stack))
    assert password not in first.stdout + first.stderr

    # a worker whose settings lack that password says so in one line (it crashed with a traceback,
    # and a benchmark waited on it forever)
    elsewhere = {**own_stack, "DRIFTLINE_STATE_DIR": str(Path(own_stack["DRIFTLINE_STATE_DIR"]).parent / "elsewhere")}
    refused = run(elsewhere, "worker", timeout=120)
    assert refused.returncode == 1 and "Traceback" not in refused.stdout + refused.stderr
    said = [line for line in refused.stderr.splitlines() if line.strip()]
    assert len(said) == 1 and "Redis at" in said[0] and "DRIFTLINE_REDIS_URL" in said[0], refused.stderr

    second = run(own_stack, "stack", "up")
    assert second.returncode == 0, second.stderr
    assert "already running" in second.stdout
    assert pids(own_stack) == started
    assert len(our_processes(own_stack)) == 2

    status = run(own_stack, "stack", "status", "--json")
    assert status.returncode == 0, status.stderr
    components = {c["name"]: c for c in json.loads(status.stdout)}
    assert components["kafka"]["healthy"] and components["redis"]["healthy"]
    assert components["kafka"]["pid"] == started["kafka"]
    assert "Apache Kafka 3.9.1" in components["kafka"]["detail"]

    down = run(own_stack, "stack", "down")
    assert down.returncode == 0, down.stderr
    assert all(not is_alive(pid) for pid in started.values())
    assert our_processes(own_stack) == []
    assert pids(own_stack) == {}

    after = run(own_stack, "stack", "status")
    assert after.returncode == 1
    assert "Traceback" not in after.stdout + after.stderr


def test_a_message_survives_kill_9_of_the_broker(own_stack: dict[str, str]) -> None:
    assert run(own_stack, "stack", "up").returncode == 0
    bootstrap = own_stack["DRIFTLINE_KAFKA_BOOTSTRAP"]
    topic = "driftline.raw"
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    meta = producer.send(topic, key=b"c-1", value=b'{"event_id": "before-kill", "data": {}}').get(timeout=30)
    producer.close()

    broker = pids(own_stack)["kafka"]
    os.kill(broker, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while is_alive(broker) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not is_alive(broker)

    again = run(own_stack, "stack", "up")  # the stale pid file is noticed and Kafka restarts
    assert again.returncode == 0, again.stderr
    assert "started kafka" in again.stdout
    assert pids(own_stack)["kafka"] != broker

    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    tp = TopicPartition(topic, meta.partition)
    consumer.assign([tp])
    consumer.seek(tp, meta.offset)
    records = consumer.poll(timeout_ms=15000, max_records=1).get(tp, [])
    consumer.close()
    assert [r.value for r in records] == [b'{"event_id": "before-kill", "data": {}}']


def test_a_taken_kafka_port_is_one_clear_line_and_nothing_is_left_running(own_stack: dict[str, str]) -> None:
    host, port = own_stack["DRIFTLINE_KAFKA_BOOTSTRAP"].split(":")
    with socket.socket() as squatter:
        squatter.bind((host, int(port)))
        squatter.listen()
        result = run(own_stack, "stack", "up")
    assert result.returncode == 1
    assert f"port {port}" in result.stderr and "taken" in result.stderr
    assert "Traceback" not in result.stderr
    assert our_processes(own_stack) == []  # Redis, started first, was stopped again
    assert pids(own_stack) == {}


def test_a_kafka_and_redis_running_already_are_used_and_left_running(own_stack: dict[str, str], tmp_path: Path) -> None:
    """A broker and Redis that answer at the configured addresses but were started by something
    else (here: another state folder's stack; for users, containers or services) are used: the
    demo and `stack up` ran into "port taken" on the testcontainers path before."""
    assert run(own_stack, "stack", "up").returncode == 0
    theirs = pids(own_stack)
    password = (Path(own_stack["DRIFTLINE_STATE_DIR"]) / "redis.password").read_text().strip()
    host_port = own_stack["DRIFTLINE_REDIS_URL"].split("//")[1]
    outside = {**own_stack, "DRIFTLINE_STATE_DIR": str(tmp_path / "elsewhere"),
               "DRIFTLINE_REDIS_URL": f"redis://:{password}@{host_port}"}
    up = run(outside, "stack", "up")
    assert up.returncode == 0, up.stderr
    assert up.stderr.count("running already, not started by driftline: using it") == 2, up.stderr
    assert "started nothing" in up.stdout
    assert pids(outside) == {}
    assert run(outside, "stack", "down").returncode == 0
    assert all(is_alive(pid) for pid in theirs.values())  # not ours to stop
    wrong = run({**outside, "DRIFTLINE_REDIS_URL": f"redis://:wrong@{host_port}"}, "stack", "up")
    assert wrong.returncode == 1 and "refused the credentials" in wrong.stderr, wrong.stderr
    assert len(wrong.stderr.strip().splitlines()) == 1 and password not in wrong.stderr + wrong.stdout


def test_stale_pid_file_naming_someone_elses_process_is_ignored(own_stack: dict[str, str]) -> None:
    run_dir = Path(own_stack["DRIFTLINE_STATE_DIR"]) / "run"
    run_dir.mkdir(parents=True)
    # our own pid with a wrong start time: the pid exists but is not the process we started
    (run_dir / "redis.pid").write_text(json.dumps({"pid": os.getpid(), "start_ticks": 1, "port": 1}))
    down = run(own_stack, "stack", "down")
    assert down.returncode == 0
    assert "nothing of ours was running" in down.stdout
    assert is_alive(os.getpid())
    assert not (run_dir / "redis.pid").exists()
