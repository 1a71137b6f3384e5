"""The Faust app factory's app consumes from and produces to the real broker."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

from kafka import KafkaConsumer, KafkaProducer

from streams.kafka import admin
from streams.kafka.topics import TopicSpec
from streams.settings import Settings

RELAY = Path(__file__).with_name("apps") / "relay.py"


def test_a_faust_agent_from_the_app_factory_relays_through_the_broker(stack_settings: Settings, tmp_path: Path) -> None:
    prefix = f"faust{uuid.uuid4().hex[:8]}"
    admin.ensure_topics(stack_settings, [TopicSpec(f"{prefix}.in", 1), TopicSpec(f"{prefix}.out", 1)])
    env = {**os.environ, **stack_settings.as_env(), "DRIFTLINE_STATE_DIR": str(tmp_path)}
    worker = subprocess.Popen([sys.executable, str(RELAY), prefix], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        producer = KafkaProducer(bootstrap_servers=stack_settings.kafka_bootstrap.split(","), acks="all")
        for i in range(10):
            producer.send(f"{prefix}.in", f"event-{i}".encode())
        producer.flush()
        producer.close()
        consumer = KafkaConsumer(
            f"{prefix}.out", bootstrap_servers=stack_settings.kafka_bootstrap.split(","),
            auto_offset_reset="earliest", enable_auto_commit=False,
        )
        got: list[bytes] = []
        deadline = time.monotonic() + 90
        while len(got) < 10 and time.monotonic() < deadline:
            assert worker.poll() is None, worker.stderr.read().decode()[-2000:] if worker.stderr else ""
            for records in consumer.poll(timeout_ms=500).values():
                got.extend(r.value for r in records)
        consumer.close()
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
    assert got == [f"EVENT-{i}".encode() for i in range(10)]
