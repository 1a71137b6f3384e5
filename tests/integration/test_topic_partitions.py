"""Topics that exist with other partition counts than driftline's are refused before anything
runs: the join's keys would no longer meet (real broker)."""

from __future__ import annotations

import subprocess
import uuid
from dataclasses import replace

import pytest
from kafka.admin import NewTopic

from streams.errors import EnvironmentProblem
from streams.kafka import admin
from streams.kafka.topics import topic_specs
from streams.settings import Settings
from streams.stack.ports import free_port
from tests.support.pipeline import DRIFTLINE


def test_a_labels_topic_with_other_partitions_stops_the_worker_with_one_line(stack_settings: Settings) -> None:
    s = replace(stack_settings, topic_prefix=f"parts{uuid.uuid4().hex[:8]}", web_port=free_port())  # not 6066: shared
    client = admin._admin(s, 10_000)
    try:
        client.create_topics([NewTopic(s.topic("labels"), s.partitions + 2, 1)])
    finally:
        client.close()
    with pytest.raises(EnvironmentProblem, match=rf"{s.topic('labels')} has {s.partitions + 2} partitions, not {s.partitions}"):
        admin.ensure_topics(s, topic_specs(s))
    done = subprocess.run([DRIFTLINE, "worker"], env=s.as_env(), capture_output=True, text=True, timeout=120)
    assert done.returncode == 1, done.stderr
    assert done.stderr.count("\n") == 1 and f"{s.topic('labels')} has" in done.stderr and "Traceback" not in done.stderr
    assert s.topic("features") not in admin.namespace_topics(s, s.topic_prefix)  # nothing made
