"""The Helm chart (deploy/helm/driftline), checked with real tools and offline: `helm lint` and
`helm template` (Helm built from its Go module by `make helm`), every rendered manifest validated
against Kubernetes' own schemas (kubernetes-validate carries them) for a stated version, and the
chart's environment variables held to the settings the worker reads."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from dataclasses import fields
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from streams.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "deploy" / "helm" / "driftline"
HELM_VERSION = re.search(r"^HELM_VERSION := (\S+)$", (ROOT / "Makefile").read_text(), re.M).group(1)  # type: ignore[union-attr]
#: the Kubernetes version the manifests are validated against (the chart's kubeVersion allows 1.27 on)
KUBERNETES = "1.31"
SETTINGS = {f.metadata["env"] for f in fields(Settings)}
#: a release as production runs it: the Secrets made beforehand, TLS with a CA, a pipeline, a webhook
FULL = ["--set", "kafka.caSecret.name=kafka-ca", "--set", "redis.caSecret.name=redis-ca",
        "--set", "pipelineConfigMap=pipeline", "--set", "alertWebhookSecret.name=webhook"]
#: trying it out: the chart makes the Secrets from values
TRYING = ["--set", "createSecrets=true", "--set", "secretValues.kafkaPassword=k", "--set", "secretValues.redisPassword=r",
          "--set", "secretValues.modelKey=0123abcd"]
SERVICE_MONITOR = ["--api-versions", "monitoring.coreos.com/v1/ServiceMonitor"]


@pytest.fixture(scope="module")
def helm() -> str:
    """Helm, as `make helm` builds it into the cache; with CI=true its absence fails."""
    path = Path(os.environ.get("DRIFTLINE_CACHE_DIR") or Settings().cache_dir) / f"helm-{HELM_VERSION}" / "helm"
    if not path.is_file():
        if os.environ.get("CI") == "true":
            pytest.fail(f"Helm is missing at {path}: `make helm` builds it", pytrace=False)
        pytest.skip("Helm is missing: `make helm` builds it")
    return str(path)


def render(helm: str, *args: str) -> list[dict[str, Any]]:
    done = subprocess.run([helm, "template", "drift", str(CHART), "--namespace", "ml", *args],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]


def named(docs: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def containers(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [c for d in docs if d["kind"] == "StatefulSet" for c in d["spec"]["template"]["spec"]["containers"]]


def test_the_chart_lints(helm: str) -> None:
    for extra in ([], FULL, TRYING):
        done = subprocess.run([helm, "lint", "--strict", str(CHART), *extra], capture_output=True, text=True, timeout=60)
        assert done.returncode == 0 and "0 chart(s) failed" in done.stdout, done.stdout + done.stderr


@pytest.mark.parametrize("extra", [[], FULL, TRYING + SERVICE_MONITOR, ["--set", "kafka.securityProtocol=PLAINTEXT"]],
                         ids=["defaults", "production", "trying-it-out", "plaintext"])
def test_every_manifest_is_valid_kubernetes(helm: str, extra: list[str]) -> None:
    docs = render(helm, *extra)
    assert {d["kind"] for d in docs} >= {"StatefulSet", "Service", "PodDisruptionBudget"}
    for doc in docs:
        if doc["kind"] == "ServiceMonitor":  # a CRD's: not in Kubernetes' schemas (checked below)
            continue
        kubernetes_validate.validate(doc, KUBERNETES, strict=True)


def test_a_manifest_kubernetes_would_refuse_fails_validation() -> None:
    bad = {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "x"}, "spec": {"replicas": "two"}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(bad, KUBERNETES, strict=True)


def test_scoring_scales_and_learning_is_a_pair_with_stable_worker_ids(helm: str) -> None:
    sets = named(render(helm), "StatefulSet")
    scoring, learning = sets["drift-driftline-scoring"], sets["drift-driftline-learning"]
    assert scoring["spec"]["replicas"] == 4 and learning["spec"]["replicas"] == 2
    for workers, agents in ((scoring, "validate,feedback,models"), (learning, "join,train,models")):
        pod = workers["spec"]["template"]["spec"]
        (worker,) = pod["containers"]
        assert worker["args"] == ["worker", "--agents", agents]
        env = {e["name"]: e for e in worker["env"]}
        assert env["DRIFTLINE_WORKER_ID"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
        assert env["DRIFTLINE_WEB_BIND"]["value"] == "0.0.0.0" and env["DRIFTLINE_REPLICATION_FACTOR"]["value"] == "3"
        for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
            assert worker[probe]["httpGet"] == {"path": "/health", "port": "http"}, probe
        assert worker["resources"]["limits"] and worker["resources"]["requests"]
        assert pod["securityContext"]["runAsNonRoot"] is True
    budgets = named(render(helm), "PodDisruptionBudget")
    assert budgets["drift-driftline-scoring"]["spec"]["maxUnavailable"] == 1
    assert budgets["drift-driftline-learning"]["spec"]["minAvailable"] == 1


def test_every_variable_the_chart_sets_is_a_setting_the_worker_reads(helm: str) -> None:
    for extra in ([], FULL, ["--set", "kafka.securityProtocol=PLAINTEXT", "--set", "redis.passwordSecret.name="]):
        names = {e["name"] for c in containers(render(helm, *extra)) for e in c["env"]}
        assert names <= SETTINGS, names - SETTINGS
        assert {"DRIFTLINE_KAFKA_BOOTSTRAP", "DRIFTLINE_REDIS_URL", "DRIFTLINE_MODEL_KEY", "DRIFTLINE_WORKER_ID"} <= names
    full = {e["name"] for c in containers(render(helm, *FULL)) for e in c["env"]}
    assert {"DRIFTLINE_KAFKA_CA_FILE", "DRIFTLINE_PIPELINE", "DRIFTLINE_ALERT_WEBHOOK", "DRIFTLINE_KAFKA_PASSWORD",
            "DRIFTLINE_REDIS_PASSWORD"} <= full


@pytest.mark.parametrize("extra", [[], FULL], ids=["defaults", "production"])
def test_the_worker_takes_the_settings_the_chart_gives_it(helm: str, extra: list[str], tmp_path: Path) -> None:
    """Each container's environment, its Secrets and the pod's name filled in as Kubernetes fills
    them, read by the worker's own settings: nothing refused. (The mounted CA file is one of this
    test's: where the chart mounts it is checked below.)"""
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    for container in containers(render(helm, *extra)):
        env = {}
        for e in container["env"]:
            source = e.get("valueFrom", {})
            env[e["name"]] = e["value"] if "value" in e else ("drift-driftline-scoring-0" if "fieldRef" in source else "s3cret")
        if "DRIFTLINE_KAFKA_CA_FILE" in env:
            env["DRIFTLINE_KAFKA_CA_FILE"] = str(ca)
        if "DRIFTLINE_ALERT_WEBHOOK" in env:  # its Secret holds a URL
            env["DRIFTLINE_ALERT_WEBHOOK"] = "https://hooks.example/driftline"
        settings = Settings.from_env(env)
        assert settings.kafka_bootstrap == "kafka-0.kafka:9093,kafka-1.kafka:9093,kafka-2.kafka:9093"
        assert settings.replication_factor == 3 and settings.partitions == 8 and settings.web_bind == "0.0.0.0"
        assert settings.worker_id == "drift-driftline-scoring-0" and settings.signing_key() == b"s3cret"
        assert settings.redis_connect_url == "rediss://:s3cret@redis:6380/0"


def test_the_model_key_and_the_passwords_come_from_secrets_only(helm: str) -> None:
    docs = render(helm, *FULL)
    assert not [d for d in docs if d["kind"] == "Secret"]  # made beforehand, not by the chart
    for container in containers(docs):
        env = {e["name"]: e for e in container["env"]}
        for secret in ("DRIFTLINE_MODEL_KEY", "DRIFTLINE_KAFKA_PASSWORD", "DRIFTLINE_REDIS_PASSWORD", "DRIFTLINE_ALERT_WEBHOOK"):
            assert "value" not in env[secret] and env[secret]["valueFrom"]["secretKeyRef"]["name"], secret
        assert "@" not in env["DRIFTLINE_REDIS_URL"]["value"]  # no password in the URL
        mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
        assert env["DRIFTLINE_KAFKA_CA_FILE"]["value"].startswith(mounts["kafka-ca"] + "/")
    made = named(render(helm, *TRYING), "Secret")
    assert set(made) == {"driftline-kafka", "driftline-redis", "driftline-model-key"}
    assert made["driftline-model-key"]["stringData"] == {"key": "0123abcd"}


def test_a_service_monitor_only_where_its_crd_is(helm: str) -> None:
    assert not named(render(helm), "ServiceMonitor")
    (monitor,) = named(render(helm, *SERVICE_MONITOR), "ServiceMonitor").values()
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint["port"] == "http-metrics" and endpoint["path"] == "/metrics"
    metrics = named(render(helm), "Service")["drift-driftline-metrics"]
    assert [p["name"] for p in metrics["spec"]["ports"]] == ["http-metrics"]
    assert monitor["spec"]["selector"]["matchLabels"].items() <= metrics["metadata"]["labels"].items()
    assert not named(render(helm, *SERVICE_MONITOR, "--set", "serviceMonitor.enabled=false"), "ServiceMonitor")


def test_more_scoring_workers_than_partitions_is_refused_with_the_reason(helm: str) -> None:
    done = subprocess.run([helm, "template", "drift", str(CHART), "--set", "scoring.replicas=9"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode != 0 and "scoring.replicas (9) above partitions (8)" in done.stderr, done.stderr


@pytest.mark.parametrize("page", ["README.md", "docs/how-to/kubernetes.md"])
def test_the_install_the_docs_show_renders_as_written(helm: str, page: str) -> None:
    """The docs' `helm install` line, run as `helm template` with the same arguments: the brokers
    arrive whole (a comma in `--set` is escaped), and every manifest is valid."""
    text = (ROOT / page).read_text().replace("\\\n", " ")
    line = next(line for line in text.splitlines() if line.startswith("helm install "))
    words = shlex.split(line)
    assert words[:4] == ["helm", "install", "driftline", "deploy/helm/driftline"], words
    done = subprocess.run([helm, "template", words[2], str(ROOT / words[3]), *words[4:]], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    docs = [doc for doc in yaml.safe_load_all(done.stdout) if doc]
    for container in containers(docs):
        env = {e["name"]: e.get("value") for e in container["env"]}
        assert env["DRIFTLINE_KAFKA_BOOTSTRAP"] == "kafka-0.kafka:9093,kafka-1.kafka:9093,kafka-2.kafka:9093"
        assert env["DRIFTLINE_REDIS_URL"] == "rediss://redis:6380/0"
        assert container["image"] == "registry.example/driftline:0.1.0"
    for doc in docs:
        kubernetes_validate.validate(doc, KUBERNETES, strict=True)
