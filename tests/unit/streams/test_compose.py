"""docker-compose.yml and the local stack stay identical where users can see it: ports and env."""

from __future__ import annotations

import re
from dataclasses import fields
from pathlib import Path
from typing import Any

import yaml

from streams.settings import Settings

ROOT = Path(__file__).resolve().parents[3]
COMPOSE: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES: dict[str, Any] = COMPOSE["services"]
DEFAULTS = Settings.from_env({})
ENV_NAMES = {f.metadata["env"] for f in fields(Settings)}


def published(service: str) -> list[tuple[str, int, int]]:
    """(host ip, host port, container port) for each port a service publishes."""
    out = []
    for entry in SERVICES[service]["ports"]:
        ip, host, container = str(entry).split(":")
        out.append((ip, int(host), int(container)))
    return out


def test_kafka_is_published_where_the_local_stack_listens() -> None:
    host, port = DEFAULTS.kafka_host_port
    assert (host, port, port) in published("kafka")
    advertised = SERVICES["kafka"]["environment"]["KAFKA_ADVERTISED_LISTENERS"]
    assert f"//{DEFAULTS.kafka_bootstrap}" in advertised


def test_kafka_image_is_the_version_the_local_stack_runs() -> None:
    assert SERVICES["kafka"]["image"] == f"apache/kafka:{DEFAULTS.kafka_version}"


def test_kafka_is_a_one_node_kraft_broker_like_the_local_one() -> None:
    env = SERVICES["kafka"]["environment"]
    assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert env["KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"] == "1"
    assert env["KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS"] == "0"
    assert env["KAFKA_NUM_PARTITIONS"] == str(DEFAULTS.partitions)
    assert env["KAFKA_HEAP_OPTS"] == DEFAULTS.kafka_heap_opts


def test_redis_is_published_where_the_local_stack_listens_with_the_same_aof() -> None:
    host, port = DEFAULTS.redis_host_port
    assert (host, port, 6379) in published("redis")
    command = " ".join(SERVICES["redis"]["command"])
    assert "--appendonly yes" in command and "--appendfsync everysec" in command
    local = (ROOT / "streams" / "stack" / "redis.py").read_text()
    assert '"--appendonly", "yes", "--appendfsync", "everysec"' in local


def test_the_worker_environment_is_driftline_settings_pointing_at_the_services() -> None:
    env = {k: str(v) for k, v in SERVICES["worker"]["environment"].items()}
    assert {k for k in env if k.startswith("DRIFTLINE_")} <= ENV_NAMES
    worker = Settings.from_env(env)  # the worker's env is valid settings
    assert worker.web_port == DEFAULTS.web_port
    assert worker.topic_prefix == DEFAULTS.topic_prefix
    host, port = worker.kafka_host_port
    assert host == "kafka"
    listeners = SERVICES["kafka"]["environment"]["KAFKA_LISTENERS"]
    assert re.search(rf"://kafka:{port}\b", listeners), f"no kafka listener on {port}: {listeners}"
    assert worker.redis_host_port == ("redis", 6379)
    assert (DEFAULTS.kafka_host_port[0], DEFAULTS.web_port, DEFAULTS.web_port) in published("worker")


def test_prometheus_scrapes_the_worker_metrics() -> None:
    config = yaml.safe_load((ROOT / "deploy" / "prometheus" / "prometheus.yml").read_text())
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    job = jobs["driftline"]
    assert job.get("metrics_path", "/metrics") == "/metrics"
    assert f"worker:{DEFAULTS.web_port}" in job["static_configs"][0]["targets"]


def test_every_bind_mounted_path_exists_and_the_image_exposes_the_web_port() -> None:
    for name, service in SERVICES.items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (ROOT / source).exists(), f"{name} mounts missing {source}"
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(rf"^EXPOSE {DEFAULTS.web_port}$", dockerfile, re.M)
    assert f"127.0.0.1:{DEFAULTS.web_port}/health" in dockerfile
