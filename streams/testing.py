"""Helpers for tests against a real broker: a worker subprocess, and reading a topic whole."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import replace
from pathlib import Path

from kafka import KafkaConsumer, TopicPartition

from streams.core.spec import DEFAULT_SPEC_PATH
from streams.settings import Settings
from streams.stack.ports import free_port

DRIFTLINE = str(Path(sys.executable).with_name("driftline"))


class Worker:
    """A `driftline worker` subprocess on its own web port and state folder, for tests."""

    def __init__(self, settings: Settings, tmp: Path, spec_text: str | None = None) -> None:
        spec = tmp / "pipeline.toml"
        spec.write_text(spec_text or DEFAULT_SPEC_PATH.read_text())
        self.settings = replace(settings, web_port=free_port(), pipeline=str(spec), state_dir=tmp / "state",
                                model_key=settings.model_key or settings.signing_key().decode())
        self.log = tmp / "worker.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = {**os.environ, **self.settings.as_env()}
        self.proc = subprocess.Popen([DRIFTLINE, "worker"], env=env, stdout=self.log.open("ab"), stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.log.read_text()[-3000:]
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{self.settings.web_port}/health", timeout=1)
                return
            except OSError:
                time.sleep(0.3)
        raise AssertionError("worker did not come up")

    def health(self) -> dict:  # type: ignore[type-arg]
        with urllib.request.urlopen(f"http://127.0.0.1:{self.settings.web_port}/health", timeout=2) as r:
            return json.loads(r.read())  # type: ignore[no-any-return]

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def read_all(settings: Settings, name: str, until: int, timeout: float = 240) -> list:  # type: ignore[type-arg]
    """Records of a topic, waiting until at least ``until`` arrived (or the time is up)."""
    consumer = KafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, enable_auto_commit=False)
    topic = settings.topic(name)
    tps = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic)]
    consumer.assign(tps)
    consumer.seek_to_beginning(*tps)
    out: list = []  # type: ignore[type-arg]
    deadline = time.monotonic() + timeout
    quiet_since = time.monotonic()
    while time.monotonic() < deadline:
        batch = consumer.poll(timeout_ms=500)
        got = [r for records in batch.values() for r in records]
        out.extend(got)
        if got:
            quiet_since = time.monotonic()
        elif len(out) >= until and time.monotonic() - quiet_since > 3:
            break
    consumer.close()
    return out
