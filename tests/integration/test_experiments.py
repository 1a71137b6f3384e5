"""Every replay is kept as an experiment on the real broker, and `driftline experiments` lists,
shows, compares and reports on them, through the CLI."""

from __future__ import annotations

import uuid
from dataclasses import replace
from pathlib import Path

import orjson
import pytest

from streams.cli.main import main
from streams.experiments import log
from streams.settings import Settings
from streams.specs.load import DEFAULT_SPEC_PATH


@pytest.fixture
def settings(stack_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    s = replace(stack_settings, topic_prefix=f"exp{uuid.uuid4().hex[:8]}")
    for name, value in s.as_env().items():
        monkeypatch.setenv(name, value)
    return s


def test_two_specs_replayed_are_recorded_compared_and_reported(settings: Settings, tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    other = tmp_path / "slower.toml"  # the same pipeline, versions published less often
    other.write_text(DEFAULT_SPEC_PATH.read_text().replace("publish_every = 2000", "publish_every = 4000"))
    assert main(["replay", "agrawal-drift", "--limit", "12000", "--label-delay", "100", "--spec", str(DEFAULT_SPEC_PATH),
                 "--spec", str(other), "--name", "weekly", "--tag", "nightly"]) == 0
    err = capsys.readouterr().err
    assert err.count(" recorded (") == 2, err
    records = log.read_all(settings)
    assert len(records) == 2
    a, b = records
    assert a["spec"]["text"] == DEFAULT_SPEC_PATH.read_text() and b["spec"]["text"] == other.read_text()
    assert a["source"] == {"kind": "built-in", "name": "agrawal-drift", "seed": 42, "drift_at": 10_000, "limit": 12_000}
    assert a["label_delay"] == "100 events late" and a["tags"] == ["nightly"] and a["name"] == "weekly"
    assert a["metrics"]["events"] == 12_000 and 0.5 < a["metrics"]["prequential_accuracy"] <= 1.0
    assert {"river", "scikit-learn", "python"} <= set(a["libraries"]) and a["wall_s"] > 0
    assert any(x["kind"] == "concept_drift" for x in a["summary"]["alerts"]) and a["summary"]["timeline"]

    assert main(["experiments", "list", "--tag", "nightly", "--json"]) == 0
    listed = orjson.loads(capsys.readouterr().out)
    assert [r["id"] for r in listed] == [a["id"], b["id"]]
    assert main(["experiments", "list", "--spec", "slower.toml", "--json"]) == 0
    assert [r["id"] for r in orjson.loads(capsys.readouterr().out)] == [b["id"]]

    assert main(["experiments", "show", a["id"]]) == 0
    shown = capsys.readouterr().out
    assert f"experiment {a['id']} (weekly)" in shown and a["spec"]["sha256"] in shown and "concept drift at: " in shown

    assert main(["experiments", "compare", a["id"], b["id"]]) == 0
    compared = capsys.readouterr().out
    assert "prequential_accuracy" in compared and "-publish_every = 2000" in compared and "+publish_every = 4000" in compared

    out = tmp_path / "report"
    assert main(["experiments", "report", a["id"], b["id"], "--out", str(out)]) == 0
    page = (out / "report.html").read_text()
    assert "<h2>Comparison</h2>" in page and "(best)" in page and "+publish_every = 4000" in page
    assert (out / "comparison.png").stat().st_size > 10_000


def test_bad_experiment_ids_and_usage_are_one_line_and_exit_2(settings: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["experiments", "show", "nosuchid"]) == 2
    assert "no experiment 'nosuchid'" in capsys.readouterr().err
    assert main(["experiments", "compare", "one"]) == 2
    assert "two experiment ids or more" in capsys.readouterr().err


def test_models_show_names_the_experiments_that_ran_a_versions_spec(settings: Settings,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    from streams.core.model import build_model
    from streams.kafka import admin
    from streams.kafka.topics import topic_specs
    from streams.specs.load import load_spec
    from streams.state import models_log
    from streams.state.registry import Registry

    assert main(["replay", "agrawal-drift", "--limit", "3000", "--name", "justifies"]) == 0
    (run,) = log.read_all(settings)
    admin.ensure_topics(settings, topic_specs(settings))
    spec = load_spec(None)
    registry = Registry.connect(settings)
    models_log.rebuild(settings, registry)  # a new namespace: its registry starts from its (empty) topic
    (version, *_) = registry.publish(build_model(spec), parent=None, status="champion", reason="test", trained_examples=10,
                                     metrics={"prequential_accuracy": 0.9}, spec_sha256=spec.digest)
    capsys.readouterr()
    assert main(["models", "show", str(version.version), "--json"]) == 0
    shown = orjson.loads(capsys.readouterr().out)
    assert shown["experiments"] == [f"{run['id']} (justifies, accuracy {run['metrics']['prequential_accuracy']:.4f})"]


def test_a_run_worse_than_a_recorded_baseline_fails_the_gate(settings: Settings, tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["replay", "agrawal-drift", "--limit", "12000", "--name", "last-week"]) == 0
    (base,) = log.read_all(settings)
    worse = tmp_path / "majority.toml"  # a model that only ever predicts the most frequent class
    worse.write_text(DEFAULT_SPEC_PATH.read_text().replace('estimator = "river.tree.HoeffdingTreeClassifier"',
                                                           'estimator = "river.dummy.NoChangeClassifier"'))
    capsys.readouterr()
    assert main(["replay", "agrawal-drift", "--limit", "12000", "--spec", str(DEFAULT_SPEC_PATH),
                 "--fail-under-baseline", "last-week"]) == 0  # the same spec on the same stream: the same number
    assert main(["replay", "agrawal-drift", "--limit", "12000", "--spec", str(worse), "--fail-under-baseline", base["id"],
                 "--baseline-margin", "0.001"]) == 1
    assert f"worse than experiment {base['id']}'s" in capsys.readouterr().err
    assert main(["replay", "agrawal-drift", "--limit", "100", "--fail-under-baseline", "nosuch"]) == 2
