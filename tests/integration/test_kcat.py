"""A Kafka client that is not ours (Debian's kcat) produces to the raw topic and reads it back."""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid

import pytest

from schemas import Accepted, decode
from streams.settings import Settings


def test_kcat_produces_to_raw_and_reads_it_back(stack_settings: Settings) -> None:
    kcat = shutil.which("kcat")
    if kcat is None:
        if os.environ.get("CI") == "true":
            pytest.fail("kcat is not installed (make installs Debian's kcat)", pytrace=False)
        pytest.skip("kcat is not installed")
    topic = stack_settings.topic("raw")
    event_id = f"kcat-{uuid.uuid4().hex}"
    line = f'{{"event_id": "{event_id}", "entity_id": "c-9", "data": {{"amount": 12.5, "country": "FR"}}}}'
    broker = stack_settings.kafka_bootstrap
    subprocess.run([kcat, "-b", broker, "-t", topic, "-P", "-k", "c-9"], input=line.encode(), check=True, timeout=30)

    out = subprocess.run(
        [kcat, "-b", broker, "-t", topic, "-C", "-e", "-q", "-f", "%k\t%p\t%o\t%s\n"],
        capture_output=True, check=True, timeout=60,
    ).stdout.decode()
    rows = [r.split("\t", 3) for r in out.splitlines() if event_id in r]
    assert len(rows) == 1
    key, partition, offset, value = rows[0]
    assert key == "c-9"
    outcome = decode("raw", value.encode(), source_topic=topic, partition=int(partition), offset=int(offset))
    assert isinstance(outcome, Accepted)
    assert outcome.value.event_id == event_id
    assert outcome.value.data == {"amount": 12.5, "country": "FR"}
