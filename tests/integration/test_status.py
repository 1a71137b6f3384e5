"""`driftline status` as a user runs it, against the real broker, Redis and a real worker."""

from __future__ import annotations

import itertools
import json
import math
import os
import subprocess
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import orjson
from kafka import KafkaProducer, TopicPartition

from streams.cli.status.command import lags
from streams.cli.status.metrics import WorkerView, parse_metrics
from streams.kafka.sources import builtin
from streams.settings import Settings
from streams.stack.ports import free_port
from streams.worker.series import quantile
from tests.support.pipeline import DRIFTLINE, Worker

EVENTS = 2_400  # past the demo pipeline's publish_every (2000): the trainer publishes a champion
LATE = 25  # raw events produced while the worker is stopped


def status(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DRIFTLINE_")}
    env.update(settings.as_env())
    return subprocess.run([DRIFTLINE, "status", *args], env=env, capture_output=True, text=True, timeout=120, check=False)


def status_json(settings: Settings) -> dict[str, Any]:
    done = status(settings, "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def lag_of(report: dict[str, Any], group: str, topic: str) -> dict[str, Any] | None:
    return next((g for g in report["groups"] if g["group"] == group and g["topic"] == topic), None)


def produce_events(settings: Settings, items: list[tuple[dict[str, Any], bool]], *, labels: bool) -> None:
    producer = KafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all", linger_ms=5)
    for event, label in items:
        event["ts"] = time.time()
        producer.send(settings.topic("raw"), key=event["entity_id"].encode(), value=orjson.dumps(event))
        if labels:
            producer.send(settings.topic("feedback"), key=event["event_id"].encode(),
                          value=orjson.dumps({"event_id": event["event_id"], "label": label}))
    producer.flush()
    producer.close()


def test_status_shows_topics_lag_models_alerts_and_worker_metrics_then_a_stopped_worker(worker: Worker) -> None:
    s = worker.settings
    group = f"{s.topic_prefix}-worker"  # the Faust app id (streams/worker/app.py) is the consumer group
    stream = builtin("agrawal-drift", seed=42, drift_at=100_000)
    produce_events(s, list(itertools.islice(stream, EVENTS)), labels=True)
    producer = KafkaProducer(bootstrap_servers=s.kafka_bootstrap, acks="all")
    producer.send(s.topic("raw"), key=b"bad", value=b"[1, 2, 3]")  # not_an_object
    producer.send(s.topic("raw"), key=b"bad", value=b'{"event_id": "broken')  # invalid_json
    producer.flush()
    producer.close()

    def settled(r: dict[str, Any]) -> bool:  # the worker has processed and committed everything
        raw, examples = lag_of(r, group, s.topic("raw")), lag_of(r, group, s.topic("examples"))
        champion = (r["models"] or {}).get("champion")
        return (raw is not None and raw["lag"] == 0 and raw["end_offset"] == EVENTS + 2
                and examples is not None and examples["lag"] == 0 and champion is not None
                and r["worker"]["in_service"].get("champion") == champion["version"]
                and r["worker"]["events"].get("predictions") == EVENTS)

    deadline = time.monotonic() + 240
    report = status_json(s)
    while not settled(report):
        assert time.monotonic() < deadline, json.dumps(report, indent=1)[-6000:]
        time.sleep(1)
        report = status_json(s)

    assert report["healthy"] is True and report["problems"] == []
    assert {c["name"]: c["healthy"] for c in report["stack"]} == {"kafka": True, "redis": True}
    topics = {t["topic"]: t for t in report["topics"]}
    assert topics[s.topic("raw")] == {"topic": s.topic("raw"), "partitions": s.partitions, "end_offset": EVENTS + 2}
    assert topics[s.topic("feedback")]["end_offset"] == EVENTS
    assert topics[s.topic("predictions")]["end_offset"] == EVENTS
    assert topics[s.topic("deadletter")]["end_offset"] == 2
    assert topics[s.topic("alerts")]["partitions"] == 1
    raw = lag_of(report, group, s.topic("raw"))
    assert raw is not None and raw["committed"] == raw["end_offset"] == EVENTS + 2
    assert all(g["topic"].startswith(f"{s.topic_prefix}.") for g in report["groups"])

    models = report["models"]
    assert models["versions"] >= 1
    assert models["champion"]["model"] == "HoeffdingTreeClassifier"
    assert models["champion"]["trained_examples"] > 0
    assert "prequential_accuracy" in models["champion"]["metrics"]

    assert 1 <= len(report["alerts"]) <= 5
    assert "model_published" in {a["kind"] for a in report["alerts"]}
    assert [a["ts"] for a in report["alerts"]] == sorted(a["ts"] for a in report["alerts"])

    w = report["worker"]
    assert w["running"] is True and w["url"] == f"http://127.0.0.1:{s.web_port}/metrics"
    assert set(w["agents"]) == {"validate", "feedback", "join", "train", "models"}
    assert w["deadletters"] == {"not_an_object": 1.0, "invalid_json": 1.0}
    assert w["in_service"]["champion"] == models["champion"]["version"]
    assert 0.0 < w["model_metric"]["prequential"]["accuracy"] <= 1.0
    assert w["latency"]["count"] == EVENTS
    assert w["latency"]["p50"] is not None and w["latency"]["p95"] is not None
    assert 0.0 <= w["latency"]["p50"] <= w["latency"]["p95"]

    shown = status(s)
    assert shown.returncode == 0, shown.stderr
    assert "worker: running" in shown.stdout
    assert s.topic("raw") in shown.stdout and group in shown.stdout
    assert f"champion   v{models['champion']['version']}" in shown.stdout
    assert "p50" in shown.stdout and "model_published" in shown.stdout

    # the worker stops: the stack is still up (exit 0), and what the group has not read shows as lag
    worker.stop()
    produce_events(s, list(itertools.islice(builtin("agrawal-drift", seed=7), LATE)), labels=False)
    report = status_json(s)
    assert report["healthy"] is True
    assert report["worker"]["running"] is False and "nothing answers" in report["worker"]["error"]
    raw = lag_of(report, group, s.topic("raw"))
    assert raw is not None and raw["end_offset"] == EVENTS + 2 + LATE and raw["lag"] == LATE
    assert report["models"]["champion"]["version"] == models["champion"]["version"]
    shown = status(s)
    assert shown.returncode == 0, shown.stderr
    assert "worker: not running" in shown.stdout
    assert "Traceback" not in shown.stdout + shown.stderr


def _nothing_listens(tmp_path: Path) -> Settings:
    return Settings.from_env({
        "DRIFTLINE_KAFKA_BOOTSTRAP": f"127.0.0.1:{free_port()}",
        "DRIFTLINE_REDIS_URL": f"redis://127.0.0.1:{free_port()}/0",
        "DRIFTLINE_WEB_PORT": str(free_port()),
        "DRIFTLINE_STATE_DIR": str(tmp_path / "state"),
    })


def test_status_with_the_stack_down_is_one_clear_line_and_exit_1(tmp_path: Path) -> None:
    s = _nothing_listens(tmp_path)
    done = status(s)
    assert done.returncode == 1
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("driftline: the stack is down (")
    assert f"kafka {s.kafka_bootstrap} not answering" in lines[0]
    assert f"redis {s.redis_url_shown} not answering" in lines[0]
    assert "driftline stack up" in lines[0]

    done = status(s, "--json")
    assert done.returncode == 1
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1
    report = json.loads(done.stdout)
    assert report["healthy"] is False
    assert {c["name"]: c["healthy"] for c in report["stack"]} == {"kafka": False, "redis": False}
    assert report["worker"]["running"] is False


def test_status_with_redis_down_names_only_redis(stack_settings: Settings, tmp_path: Path) -> None:
    s = replace(stack_settings, redis_url=f"redis://127.0.0.1:{free_port()}/0", web_port=free_port(),
                state_dir=tmp_path / "state")
    done = status(s)
    assert done.returncode == 1
    line = done.stderr.strip()
    assert line == f"driftline: the stack is down (redis {s.redis_url_shown} not answering): start it with `driftline stack up`"


# -- the pure parts, on known numbers ----------------------------------------------------------


def test_quantile_interpolates_inside_its_bucket_as_prometheus_does() -> None:
    buckets = [(0.1, 5.0), (1.0, 10.0), (math.inf, 10.0)]
    assert quantile(0.5, buckets) == 0.1
    assert math.isclose(quantile(0.95, buckets) or 0.0, 0.1 + 0.9 * 4.5 / 5)
    assert quantile(0.5, [(0.1, 0.0), (math.inf, 4.0)]) == 0.1  # above the top bound: the top bound
    assert quantile(0.5, [(0.1, 0.0), (math.inf, 0.0)]) is None
    assert quantile(0.5, []) is None


def test_lags_sum_partitions_by_group_and_topic_and_skip_other_topics() -> None:
    ends = {TopicPartition("p.raw", 0): 10, TopicPartition("p.raw", 1): 7, TopicPartition("p.examples", 0): 4}
    committed = {"g": {TopicPartition("p.raw", 0): 8, TopicPartition("p.raw", 1): 7, TopicPartition("other", 0): 1},
                 "h": {TopicPartition("other", 0): 3}}
    out = lags({"g": "Stable"}, committed, ends)
    assert [(g.group, g.state, g.topic, g.committed, g.end_offset, g.lag) for g in out] == [("g", "Stable", "p.raw", 15, 17, 2)]


def test_parse_metrics_reads_the_workers_names() -> None:
    from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

    reg = CollectorRegistry()
    Counter("driftline_events_total", "", ["topic"], registry=reg).labels("predictions").inc(3)
    Counter("driftline_deadletters_total", "", ["reason"], registry=reg).labels("oversized").inc()
    Gauge("driftline_model_version_in_service", "", ["role"], registry=reg).labels("champion").set(4)
    Gauge("driftline_model_metric", "", ["kind", "metric"], registry=reg).labels("served", "accuracy").set(0.75)
    h = Histogram("driftline_end_to_end_seconds", "", buckets=(0.01, 0.1, 1), registry=reg)
    for value in (0.005, 0.05, 0.05, 0.5):
        h.observe(value)
    view = WorkerView("x")
    parse_metrics(generate_latest(reg).decode(), view)
    assert view.events == {"predictions": 3.0} and view.deadletters == {"oversized": 1.0}
    assert view.in_service == {"champion": 4} and view.model_metric == {"served": {"accuracy": 0.75}}
    assert view.latency is not None and view.latency.count == 4
    assert math.isclose(view.latency.p50 or 0.0, 0.01 + 0.09 * 1 / 2)
    assert math.isclose(view.latency.p95 or 0.0, 0.1 + 0.9 * 0.8)
