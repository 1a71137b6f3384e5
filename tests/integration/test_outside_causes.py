"""Causes a user can meet outside driftline (a Redis that refuses the credentials, a broker that is
away, a port that is taken) are one line and exit code 1, never "internal error" and never a
traceback (issue 24: a demo's clean-up against a Redis that refused it printed an internal error)."""

from __future__ import annotations

import socket
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from streams.replay.namespace import cleaned
from streams.settings import Settings
from streams.stack.ports import free_port
from tests.support.pipeline import DRIFTLINE


def run(env: dict[str, str], *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([DRIFTLINE, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=180, check=False)


def assert_one_line(done: subprocess.CompletedProcess[str], *words: str) -> None:
    err = done.stderr.strip()
    assert done.returncode == 1, done.stdout + done.stderr
    assert "\n" not in err and err.startswith("driftline: "), err
    assert "internal error" not in err and "Traceback" not in done.stdout + err, err
    for word in words:
        assert word in err, err


def wrong_password(settings: Settings) -> dict[str, str]:
    host, port = settings.redis_host_port
    return {**settings.as_env(), "DRIFTLINE_REDIS_URL": f"redis://:not-the-password@{host}:{port}/0"}


@pytest.mark.parametrize("args", [("models", "list"), ("models", "show", "1"), ("status",), ("worker",)])
def test_a_redis_that_refuses_the_credentials_is_one_line(stack_settings: Settings, tmp_path: Path,
                                                          args: tuple[str, ...]) -> None:
    env = {**wrong_password(stack_settings), "DRIFTLINE_WEB_PORT": str(free_port()),
           "DRIFTLINE_STATE_DIR": str(tmp_path / "state")}
    done = run(env, *args, cwd=tmp_path)
    assert_one_line(done, "refused the credentials", "DRIFTLINE_REDIS_URL", "redis://:***@")
    assert "not-the-password" not in done.stderr


# `replay topic` printed an internal error; each command asks the cluster before its kafka-python
# clients would wait out their 30 s bootstrap timeout (`models list` sat that long before it said so)
@pytest.mark.parametrize("args", [("replay", "topic"), ("replay", "--deadletter"), ("models", "list"), ("worker",),
                                  ("produce", "agrawal-drift"), ("alerts",), ("experiments", "list")])
def test_a_broker_that_is_away_is_one_line(stack_settings: Settings, tmp_path: Path, args: tuple[str, ...]) -> None:
    away = f"127.0.0.1:{free_port()}"  # nothing listens there
    env = {**stack_settings.as_env(), "DRIFTLINE_KAFKA_BOOTSTRAP": away, "DRIFTLINE_WEB_PORT": str(free_port())}
    done = run(env, *args, cwd=tmp_path)
    assert_one_line(done, away)
    assert f"no Kafka broker answers at {away} (start one with `driftline stack up`)" in done.stderr


def test_a_worker_whose_web_port_is_taken_is_one_line(stack_settings: Settings, tmp_path: Path) -> None:
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        env = {**stack_settings.as_env(), "DRIFTLINE_WEB_PORT": str(port), "DRIFTLINE_STATE_DIR": str(tmp_path / "state")}
        done = run(env, "worker", cwd=tmp_path)
    assert_one_line(done, f"127.0.0.1:{port}", "DRIFTLINE_WEB_PORT")


def test_a_clean_up_that_redis_refuses_says_what_is_left_in_one_line(stack_settings: Settings) -> None:
    host, port = stack_settings.redis_host_port
    refused = replace(stack_settings, topic_prefix=f"{stack_settings.topic_prefix}-refused",
                      redis_url=f"redis://:not-the-password@{host}:{port}/0")
    lines: list[str] = []
    assert cleaned(refused, lines.append) is False
    assert len(lines) == 1 and "\n" not in lines[0], lines
    assert f"could not delete namespace {refused.topic_prefix}" in lines[0] and "refused the credentials" in lines[0]
    assert "not-the-password" not in lines[0]
