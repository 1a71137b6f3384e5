"""The Grafana dashboard and the Prometheus rules query only what the worker exports.

Every ``driftline_*`` name in a PromQL expression must be a series the worker's registry serves,
every label in a selector, a ``by (...)``, a legend or an alert's annotations must be one that
series has, and promtool must accept the rules, the config and the dashboard's expressions.
promtool is Debian's ``prometheus`` package (``make system-deps``); with CI=true its absence
fails the run.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import REGISTRY
from prometheus_client.metrics import MetricWrapperBase

import streams.worker.lag  # noqa: F401 - registers whatever consumer-progress metrics it defines
import streams.worker.metrics
import streams.worker.webhook  # the worker's webhook sender counts its deliveries

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "deploy/prometheus/rules/driftline.rules.yml"
CONFIG = ROOT / "deploy/prometheus/prometheus.yml"
DASHBOARD = ROOT / "deploy/grafana/dashboards/driftline.json"
DATASOURCES = ROOT / "deploy/grafana/provisioning/datasources/prometheus.yml"
COMPOSE = ROOT / "docker-compose.yml"

TARGET_LABELS = {"job", "instance"}  # Prometheus adds them to every scraped series
SUFFIXES = {"counter": ("_total", "_created"), "gauge": ("",), "histogram": ("_bucket", "_sum", "_count", "_created")}
AGGREGATIONS = ("sum", "avg", "min", "max", "count", "group", "stddev", "stdvar", "topk", "bottomk", "quantile", "count_values")
GRAFANA_VARIABLES = re.compile(r"\$__(rate_interval|interval|range)\b")
METRIC_NAME = re.compile(r"\bdriftline_[a-z_]+\b")


# ---------------------------------------------------------------- what the worker exports


def exported_series() -> dict[str, set[str]]:
    """Each series name the worker's registry serves under ``driftline_``, with its label names."""
    labels = {m._name: set(m._labelnames) for module in (streams.worker.metrics, streams.worker.webhook)  # noqa: SLF001
              for m in vars(module).values() if isinstance(m, MetricWrapperBase)}
    out: dict[str, set[str]] = {}
    for family in REGISTRY.collect():
        if not family.name.startswith("driftline_"):
            continue
        assert family.name in labels, f"{family.name} is served but defined in neither streams/worker/metrics.py nor streams/worker/webhook.py"
        for suffix in SUFFIXES[family.type]:
            out[family.name + suffix] = labels[family.name] | ({"le"} if suffix == "_bucket" else set())
    return out


SERIES = exported_series()
KNOWN = {**SERIES, "up": set()}  # `up` is Prometheus' own, per scrape target


# ---------------------------------------------------------------- a little PromQL reading


def without_strings(expr: str) -> str:
    return re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)


def matching_paren(text: str, start: int) -> int:
    """The index of the ``)`` closing the ``(`` at ``start``."""
    depth = 0
    for i in range(start, len(text)):
        depth += {"(": 1, ")": -1}.get(text[i], 0)
        if depth == 0:
            return i
    raise AssertionError(f"unbalanced parentheses in {text!r}")


def opening_paren(text: str, end: int) -> int:
    """The index of the ``(`` that the ``)`` at ``end`` closes."""
    depth = 0
    for i in range(end, -1, -1):
        depth += {")": 1, "(": -1}.get(text[i], 0)
        if depth == 0:
            return i
    raise AssertionError(f"unbalanced parentheses in {text!r}")


def groupings(expr: str) -> list[tuple[list[str], str]]:
    """Each ``by (...)`` / ``without (...)``: its labels and the expression it aggregates."""
    text = without_strings(expr)
    out = []
    for m in re.finditer(r"\b(by|without)\s*\(([^)]*)\)", text):
        names = [n.strip() for n in m.group(2).split(",") if n.strip()]
        before = text[: m.start()].rstrip()
        if before.endswith(AGGREGATIONS):  # sum by (a) (expr)
            start = text.index("(", m.end())
            scope = text[start : matching_paren(text, start) + 1]
        else:  # sum(expr) by (a)
            end = len(before) - 1
            assert before.endswith(")"), f"`{m.group(1)}` follows no aggregation in {expr!r}"
            scope = text[opening_paren(text, end) : end + 1]
        out.append((names, scope))
    return out


def selectors(expr: str) -> list[tuple[str, list[str]]]:
    """Each ``metric{label="v", ...}``: the metric and its label names."""
    out = []
    for m in re.finditer(r"\b(driftline_[a-z_]+|up)\s*\{((?:[^}\"]|\"(?:[^\"\\]|\\.)*\")*)\}", expr):
        out.append((m.group(1), re.findall(r"([A-Za-z_][A-Za-z0-9_]*)\s*(?:=~|!~|!=|=)\s*\"", m.group(2))))
    return out


def metrics_in(text: str) -> set[str]:
    names = set(METRIC_NAME.findall(without_strings(text)))
    return names | ({"up"} if re.search(r"\bup\b", without_strings(text)) else set())


def output_labels(expr: str) -> set[str]:
    """The labels a result can carry: the groupings' when it aggregates, else its series'."""
    grouped = groupings(expr)
    if grouped:
        return {name for names, _ in grouped for name in names}
    return set().union(*(KNOWN.get(n, set()) for n in metrics_in(expr))) | TARGET_LABELS


def problems(expr: str, shown_labels: set[str] = frozenset()) -> list[str]:  # type: ignore[assignment]
    """What in ``expr`` the worker does not export: names, selector labels, grouping labels."""
    found = []
    for name in sorted(metrics_in(expr)):
        if name not in KNOWN:
            found.append(f"{name} is not a series the worker exports")
    for name, labels in selectors(expr):
        for label in labels:
            if name in KNOWN and label not in KNOWN[name] | TARGET_LABELS:
                found.append(f"{name} has no label {label!r}")
    for names, scope in groupings(expr):
        for metric in metrics_in(scope) & set(KNOWN):
            for label in names:
                if label not in KNOWN[metric] | TARGET_LABELS:
                    found.append(f"{metric} has no label {label!r} to group by")
    for label in sorted(shown_labels - output_labels(expr)):
        found.append(f"{label!r} is shown but the result has no such label")
    assert not re.search(r"\b(on|ignoring)\s*\(", expr), f"on()/ignoring() are not checked here: {expr!r}"
    return found


# ---------------------------------------------------------------- the files


def load_rules() -> list[dict[str, Any]]:
    return [rule for group in yaml.safe_load(RULES.read_text())["groups"] for rule in group["rules"]]


def dashboard_targets() -> list[tuple[dict[str, Any], dict[str, Any]]]:
    board = json.loads(DASHBOARD.read_text())
    return [(panel, target) for panel in board["panels"] if panel["type"] != "row" for target in panel["targets"]]


def promql(expr: str) -> str:
    """A dashboard expression as Prometheus itself would run it (Grafana fills in its variables)."""
    return GRAFANA_VARIABLES.sub("1m", expr)


def legend_labels(target: dict[str, Any]) -> set[str]:
    return set(re.findall(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}", target.get("legendFormat", "")))


def annotation_labels(rule: dict[str, Any]) -> set[str]:
    text = " ".join(str(v) for v in rule.get("annotations", {}).values())
    return set(re.findall(r"\$labels\.([A-Za-z_][A-Za-z0-9_]*)", text))


def promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        message = "promtool is not installed (Debian package `prometheus`; `make system-deps` installs it)"
        if os.environ.get("CI") == "true":
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return found


def run_promtool(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([promtool(), *args], cwd=cwd, capture_output=True, text=True, timeout=60)


# ---------------------------------------------------------------- the checker itself


def test_the_worker_exports_the_metrics_the_issue_asks_for() -> None:
    for name, labels in {
        "driftline_events_total": {"topic"}, "driftline_consumed_total": {"topic"},
        "driftline_deadletters_total": {"reason"}, "driftline_processing_seconds_bucket": {"agent", "le"},
        "driftline_end_to_end_seconds_bucket": {"le"}, "driftline_join_total": {"outcome"},
        "driftline_drift_detections_total": {"kind"}, "driftline_model_versions_total": {"status"},
        "driftline_model_version_in_service": {"role"}, "driftline_model_metric": {"kind", "metric"},
        "driftline_consumer_lag": {"topic", "partition"}, "driftline_alerts_total": {"kind", "severity"},
    }.items():
        assert SERIES.get(name) == labels, name


@pytest.mark.parametrize(("expr", "shown", "complaint"), [
    ("rate(driftline_event_total[5m])", set(), "driftline_event_total is not a series"),
    ("driftline_consumer_lag_total", set(), "driftline_consumer_lag_total is not a series"),
    ("driftline_processing_seconds", set(), "driftline_processing_seconds is not a series"),
    ('driftline_model_metric{knd="served"}', set(), "has no label 'knd'"),
    ("sum by (reasons) (rate(driftline_deadletters_total[5m]))", set(), "no label 'reasons' to group by"),
    ("sum(rate(driftline_deadletters_total[5m])) by (topic)", set(), "no label 'topic' to group by"),
    ("histogram_quantile(0.9, sum by (le, agent) (rate(driftline_end_to_end_seconds_bucket[5m])))", set(), "no label 'agent'"),
    ("sum by (topic) (driftline_consumer_lag)", {"partition"}, "'partition' is shown"),
])
def test_the_checker_catches_a_typo(expr: str, shown: set[str], complaint: str) -> None:
    found = problems(expr, shown)
    assert any(complaint in p for p in found), found


def test_the_checker_accepts_what_the_worker_exports() -> None:
    assert problems('histogram_quantile(0.95, sum by (le, agent) (rate(driftline_processing_seconds_bucket[5m])))', {"agent"}) == []
    assert problems('sum(rate(driftline_deadletters_total[5m])) by (reason, instance)', {"reason"}) == []
    assert problems('driftline_model_metric{kind="served", metric=~"acc.*"} < 0.7', {"kind", "instance"}) == []


# ---------------------------------------------------------------- the dashboard


def test_every_dashboard_query_uses_exported_metrics_and_labels() -> None:
    targets = dashboard_targets()
    assert targets
    found = [f"panel {panel['title']!r}, {target['expr']!r}: {problem}" for panel, target in targets
             for problem in problems(promql(target["expr"]), legend_labels(target))]
    assert not found, "\n".join(found)


def test_the_dashboard_shows_what_the_issue_asks_for() -> None:
    shown = set().union(*(metrics_in(t["expr"]) for _, t in dashboard_targets()))
    for name in ("driftline_events_total", "driftline_end_to_end_seconds_bucket", "driftline_processing_seconds_bucket",
                 "driftline_model_metric", "driftline_model_version_in_service", "driftline_deadletters_total",
                 "driftline_drift_detections_total", "driftline_consumer_lag", "driftline_alerts_total"):
        assert name in shown, f"no panel queries {name}"
    quantiles = [t["expr"] for _, t in dashboard_targets() if "driftline_end_to_end_seconds_bucket" in t["expr"]]
    assert all(e.startswith("histogram_quantile(") for e in quantiles) and len(quantiles) >= 2


def test_the_dashboard_reads_the_provisioned_prometheus_by_uid() -> None:
    (source,) = [d for d in yaml.safe_load(DATASOURCES.read_text())["datasources"] if d["type"] == "prometheus"]
    assert source.get("uid"), "the provisioned data source needs a fixed uid for the dashboard to name"
    board = json.loads(DASHBOARD.read_text())
    assert board["uid"] and board["title"]
    ids = [p["id"] for p in board["panels"]]
    assert len(ids) == len(set(ids)), "panel ids are unique"
    for panel in board["panels"]:
        if panel["type"] == "row":
            continue
        assert panel["datasource"] == {"type": "prometheus", "uid": source["uid"]}, panel["title"]
        refs = [t["refId"] for t in panel["targets"]]
        assert len(refs) == len(set(refs)), panel["title"]
        for target in panel["targets"]:
            assert target["datasource"] == panel["datasource"], panel["title"]


def test_the_dashboard_expressions_parse(tmp_path: Path) -> None:
    records = [{"record": f"dashboard:panel{panel['id']}:{target['refId'].lower()}", "expr": promql(target["expr"])}
               for panel, target in dashboard_targets()]
    path = tmp_path / "dashboard.rules.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": records}]}))
    result = run_promtool("check", "rules", str(path), cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(records)} rules found" in result.stdout


# ---------------------------------------------------------------- the alert rules


def test_every_rule_uses_exported_metrics_and_labels() -> None:
    found = [f"rule {rule['alert']}: {problem}" for rule in load_rules()
             for problem in problems(rule["expr"], annotation_labels(rule))]
    assert not found, "\n".join(found)


def test_every_rule_has_a_duration_a_severity_and_words() -> None:
    rules = load_rules()
    assert rules
    for rule in rules:
        assert "alert" in rule and "for" in rule, rule
        assert rule["labels"]["severity"] in {"critical", "warning", "info"}, rule["alert"]
        assert rule["annotations"]["summary"].strip() and rule["annotations"]["description"].strip(), rule["alert"]


def test_the_rules_cover_drift_accuracy_dead_letters_lag_and_a_worker_down() -> None:
    exprs = [without_strings(rule["expr"]) for rule in load_rules()]
    assert any("driftline_drift_detections_total" in e for e in exprs)
    served = [r["expr"] for r in load_rules() if any(n == "driftline_model_metric" for n, _ in selectors(r["expr"]))]
    assert served and all(re.search(r'kind\s*=\s*"served"', e) for e in served), served
    assert any("driftline_deadletters_total" in e and "/" in e and "driftline_consumed_total" in e for e in exprs)
    assert any("driftline_consumer_lag" in e for e in exprs)
    jobs = {job["job_name"] for job in yaml.safe_load(CONFIG.read_text())["scrape_configs"]}
    down = [r["expr"] for r in load_rules() if re.search(r"\bup\s*\{", r["expr"])]
    assert down, "no rule watches `up` for the worker"
    assert all(re.search(r'job="([^"]+)"', e).group(1) in jobs for e in down), down  # type: ignore[union-attr]


def test_promtool_accepts_the_rules() -> None:
    result = run_promtool("check", "rules", str(RULES), cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(load_rules())} rules found" in result.stdout


def prometheus_mounts() -> list[tuple[Path, str]]:
    """(repository path, container path) of each bind mount of the compose prometheus service."""
    service = yaml.safe_load(COMPOSE.read_text())["services"]["prometheus"]
    out = []
    for volume in service.get("volumes", []):
        source, _, rest = str(volume).partition(":")
        if source.startswith("."):
            out.append(((ROOT / source).resolve(), rest.split(":")[0]))
    return out


def in_repository(container_path: str) -> Path:
    """Where a path inside the Prometheus container comes from in this repository."""
    for source, target in sorted(prometheus_mounts(), key=lambda m: -len(m[1])):
        if container_path == target or container_path.startswith(target.rstrip("/") + "/"):
            return source / container_path[len(target):].lstrip("/")
    raise AssertionError(f"{container_path} is not mounted into the prometheus container")


def test_promtool_accepts_the_config_with_the_rule_files_it_mounts(tmp_path: Path) -> None:
    # prometheus.yml names its rule files by their path in the container: point those at the
    # repository files compose mounts there, so promtool checks the very rules Prometheus loads
    # (a glob that matches nothing on this machine would pass without checking anything)
    config = yaml.safe_load(CONFIG.read_text())
    patterns = [str(in_repository(p)) for p in config.get("rule_files", [])]
    matched = sorted({str(f) for p in patterns for f in Path("/").glob(p.lstrip("/"))})
    assert str(RULES) in matched, f"prometheus.yml's rule_files do not load {RULES}: {patterns}"
    copy = tmp_path / "prometheus.yml"
    copy.write_text(yaml.safe_dump({**config, "rule_files": patterns}))
    result = run_promtool("check", "config", str(copy), cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "is valid prometheus config file syntax" in result.stdout
    assert f"SUCCESS: {len(load_rules())} rules found" in result.stdout, result.stdout
