"""A worker on a Redis that asks for TLS and a password: ``rediss://:<password>@host:port/0``, with
the CA named in the URL (``?ssl_ca_certs=``), reaches it from every client driftline makes (the
registry, the scorer's memory of event ids, the trainer's checkpoints, ``driftline status``); the
password shows nowhere; a client without TLS or with a wrong password is refused."""

from __future__ import annotations

import secrets
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import orjson
import pytest
import redis

from streams.kafka import admin
from streams.kafka.topics import topic_specs
from streams.settings import Settings
from streams.stack.ports import free_port
from streams.state.registry import Registry
from tests.support.feed import Feed
from tests.support.pipeline import DRIFTLINE, Worker, checkpoint_covering, end_offsets, wait_for
from tests.support.secure_broker import _make_tls

EVENTS = 2_500  # past the first version (publish_every 2,000)


class TlsRedis:
    def __init__(self, tmp: Path) -> None:
        self.ca, _ = _make_tls(tmp / "tls")
        self.port = free_port()
        self.password = secrets.token_hex(16)
        self.proc = subprocess.Popen(
            ["redis-server", "--port", "0", "--tls-port", str(self.port), "--bind", "127.0.0.1",
             "--tls-cert-file", str(tmp / "tls" / "broker.pem"), "--tls-key-file", str(tmp / "tls" / "broker.key"),
             "--tls-ca-cert-file", str(self.ca), "--tls-auth-clients", "no", "--dir", str(tmp), "--save", "",
             "--appendonly", "no", "--requirepass", self.password],
            stdout=(tmp / "redis.log").open("wb"), stderr=subprocess.STDOUT, start_new_session=True)

    def url(self, password: str | None = None, tls: bool = True) -> str:
        scheme, query = ("rediss", f"?ssl_ca_certs={self.ca}") if tls else ("redis", "")
        return f"{scheme}://:{password or self.password}@127.0.0.1:{self.port}/0{query}"

    def wait(self) -> None:
        deadline = time.monotonic() + 30
        while True:
            try:
                if redis.Redis.from_url(self.url(), socket_timeout=2).ping():
                    return
            except redis.RedisError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    raise
            time.sleep(0.2)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)


@pytest.fixture
def tls_redis(tmp_path: Path) -> Iterator[TlsRedis]:
    r = TlsRedis(tmp_path / "redis")
    try:
        r.wait()
        yield r
    finally:
        r.stop()


def test_a_worker_on_a_tls_redis_with_a_password_works(stack_settings: Settings, tls_redis: TlsRedis,
                                                       tmp_path: Path) -> None:
    s = replace(stack_settings, redis_url=tls_redis.url(), topic_prefix=f"tls{uuid.uuid4().hex[:8]}")
    admin.ensure_topics(s, topic_specs(s))
    worker = Worker(s, tmp_path / "worker")
    worker.start()
    try:
        feed = Feed(s, EVENTS, rate=None, label_delay=100).start()
        feed.join(timeout=300)
        wait_for("every event predicted", lambda: end_offsets(s, "predictions") >= EVENTS, 300)
        wait_for("a version in the registry", lambda: Registry.connect(s).alias("champion") is not None, 300)
        checkpoint_covering(s, 1)  # the trainer's checkpoint is in it
        keys = redis.Redis.from_url(tls_redis.url()).keys(f"{s.topic_prefix}:seen:*")
        assert len(keys) == EVENTS  # the scorer's memory of event ids is in it
        shown = subprocess.run([str(DRIFTLINE), "status"], env={**worker.settings.as_env(), "PATH": "/usr/bin:/bin"},
                               capture_output=True, text=True, timeout=60)
        assert "redis" in shown.stdout and "rediss://:***@127.0.0.1" in shown.stdout, shown.stdout
        assert worker.running()
        assert tls_redis.password not in worker.log.read_text(errors="replace") + shown.stdout + shown.stderr
    finally:
        worker.stop()


def test_a_redis_client_without_tls_or_the_password_is_refused(tls_redis: TlsRedis) -> None:
    with pytest.raises(redis.RedisError):
        redis.Redis.from_url(tls_redis.url(tls=False), socket_timeout=2).ping()
    with pytest.raises(redis.AuthenticationError):
        redis.Redis.from_url(tls_redis.url(password="wrong"), socket_timeout=2).ping()


def test_the_password_in_its_own_variable_reaches_redis_and_shows_nowhere(stack_settings: Settings, tls_redis: TlsRedis,
                                                                          tmp_path: Path) -> None:
    """``DRIFTLINE_REDIS_PASSWORD`` (from a Secret, in the Helm chart) with a URL that names none."""
    bare = tls_redis.url().replace(f":{tls_redis.password}@", "")
    assert tls_redis.password not in bare and "@" not in bare
    s = replace(stack_settings, redis_url=bare, state_dir=tmp_path / "state")  # no stack password file to fall back on

    def status(password: str) -> dict:  # type: ignore[type-arg]
        env = {**s.as_env(), "DRIFTLINE_REDIS_PASSWORD": password, "PATH": "/usr/bin:/bin"}
        shown = subprocess.run([str(DRIFTLINE), "status", "--json"], env=env, capture_output=True, text=True, timeout=60)
        assert tls_redis.password not in shown.stdout + shown.stderr
        return {c["name"]: c["healthy"] for c in orjson.loads(shown.stdout)["stack"]}

    assert status(tls_redis.password)["redis"] is True
    assert status("wrong")["redis"] is False
