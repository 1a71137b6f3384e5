"""`driftline replay --mode live`: through a real worker and broker, in a namespace of its own."""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path

import orjson
import redis

from streams.kafka import admin
from streams.settings import Settings
from tests.support.pipeline import DRIFTLINE


def namespaces(settings: Settings) -> set[str]:
    topics = admin.namespace_topics(settings, f"{settings.topic_prefix}-replay")
    return {t.split(".")[0] for t in topics if "." in t}


def test_a_live_replay_runs_the_real_agents_and_cleans_up(stack_settings: Settings, tmp_path: Path) -> None:
    before = namespaces(stack_settings)
    done = subprocess.run([DRIFTLINE, "replay", "agrawal-drift", "--mode", "live", "--limit", "3000", "--label-delay", "100",
                           "--speed", "4", "--out", str(tmp_path / "out")],
                          env=stack_settings.as_env(), capture_output=True, text=True, timeout=400)
    assert done.returncode == 0, done.stderr
    namespace = re.search(r"namespace (\S+)", done.stderr)
    assert namespace, done.stderr
    report = orjson.loads((tmp_path / "out" / "metrics.json").read_bytes())
    assert report["events"] == 3000 and report["examples"] == 3000
    # the numbers are the worker's own: each prediction it served recomputed and found the same
    assert report["reproduced"] == {"predictions": 3000, "differ": 0}
    assert report["versions"] and report["label_delay_events"]["median"] == 100
    assert 0.7 < report["served_accuracy"] < 1.0
    assert (tmp_path / "out" / "report.html").exists()
    # nothing of the namespace is left: no topics, no registry keys
    deadline = time.monotonic() + 20
    while namespaces(stack_settings) - before and time.monotonic() < deadline:
        time.sleep(0.5)
    assert namespaces(stack_settings) == before
    client = redis.Redis.from_url(stack_settings.redis_url)
    assert not list(client.scan_iter(match=f"{namespace.group(1)}:*"))


def test_keep_leaves_the_namespace_to_look_at(stack_settings: Settings, tmp_path: Path) -> None:
    done = subprocess.run([DRIFTLINE, "replay", "agrawal-drift", "--mode", "live", "--limit", "1500", "--speed", "4", "--keep"],
                          env=stack_settings.as_env(), capture_output=True, text=True, timeout=400)
    assert done.returncode == 0, done.stderr
    prefix = re.search(r"DRIFTLINE_TOPIC_PREFIX=(\S+)", done.stderr)
    assert prefix, done.stderr
    env = {**stack_settings.as_env(), "DRIFTLINE_TOPIC_PREFIX": prefix.group(1)}
    listed = orjson.loads(subprocess.run([DRIFTLINE, "models", "list", "--json"], env=env, capture_output=True, text=True,
                                         timeout=60, check=True).stdout)
    assert listed and listed[0]["version"] == 1
    from dataclasses import replace

    from streams.replay.live import clean

    clean(replace(stack_settings, topic_prefix=prefix.group(1)))
