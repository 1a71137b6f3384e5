"""`driftline models register` on the real broker and Redis, through the CLI: a model fitted in a
notebook on the stream's first labelled examples goes in, is shadowed, judged by the promotion
gate and rolled back by hand; an MLflow model directory goes in as a candidate and is promoted by
hand; and every refusal is one line, exit 2, with nothing written."""

from __future__ import annotations

import hashlib
import itertools
import operator
import pickle
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import joblib
import orjson
import pandas as pd
import pytest
import skops.io as sio
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler
from sklearn.tree import DecisionTreeClassifier

from streams.core.features import featurize_all
from streams.kafka import admin
from streams.kafka.produce import ProduceOptions, produce
from streams.kafka.sources import builtin
from streams.kafka.topics import topic_specs
from streams.settings import Settings
from streams.specs.load import load_spec
from streams.state.registry import Registry
from tests.support.invariants import alerts
from tests.support.pipeline import DRIFTLINE, Worker, checkpoint_covering, end_offsets, read_all, wait_for


def cli(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([DRIFTLINE, "models", *args], env=settings.as_env(), capture_output=True, text=True, timeout=120)


def feed(settings: Settings, events: int, seed: int) -> None:
    """Events of Agrawal's first concept (no drift), each labelled 50 events later."""
    produce(settings, ProduceOptions("agrawal-drift", limit=events, feedback_delay=50, seed=seed, drift_at=10**9))


def examples(settings: Settings, count: int) -> tuple[pd.DataFrame, list[object]]:
    """The stream's first ``count`` labelled examples, as a notebook reads them: features and label."""
    wait_for(f"{count} examples", lambda: end_offsets(settings, "examples") >= count, 240)
    rows = [orjson.loads(r.value) for r in read_all(settings, "examples", until=count)]
    rows = sorted(rows, key=lambda r: r["ts"])[:count]
    return pd.DataFrame([r["x"] for r in rows]), [r["y"] for r in rows]


def predictions_after(settings: Settings, start: int, count: int) -> list[dict]:  # type: ignore[type-arg]
    """Predictions for events produced after ``start`` predictions existed."""
    wait_for(f"{start + count} predictions", lambda: end_offsets(settings, "predictions") >= start + count, 240)
    return [orjson.loads(r.value) for r in read_all(settings, "predictions", until=start + count)][start:]


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_notebook_pipeline_is_shadowed_promoted_by_the_gate_and_rolled_back_by_hand(worker: Worker, tmp_path: Path) -> None:
    """The gate promotes it: a scaled decision tree fitted on 2,000 examples of Agrawal's first
    concept (a rule on age and salary) scores about 0.99 on the next 500 labelled examples,
    where the champion, a Hoeffding tree still growing, scores about 0.95 (the gate needs a lead
    over 0, the default margin). A retirement would fail here with the gate's figures."""
    settings = worker.settings
    feed(settings, 2_500, seed=1)
    X, y = examples(settings, 2_000)
    model = make_pipeline(StandardScaler(), DecisionTreeClassifier(min_samples_leaf=5, random_state=0)).fit(X, y)
    path = tmp_path / "model.joblib"
    joblib.dump(model, path)  # the notebook's last line
    registry = Registry.connect(settings)
    wait_for("a champion", lambda: registry.alias("champion") is not None, 120)
    champion = registry.alias("champion")

    ran = cli(settings, "register", str(path), "--as", "challenger", "--reason", "decision tree from the notebook")
    assert ran.returncode == 0, ran.stderr
    assert "ran the code it holds" in ran.stderr and "registered as challenger" in ran.stdout
    version = registry.alias("challenger")
    assert version is not None and version > (champion or 0)
    shown = orjson.loads(cli(settings, "show", str(version), "--json").stdout)
    assert shown["source"]["sha256"] == sha256(path) and shown["source"]["file"] == "model.joblib"
    assert shown["changed_by"].endswith("(cli)") and shown["reason"] == "decision tree from the notebook"
    assert shown["status"] == "challenger" and shown["parent"] is None
    assert shown["model"] == "registered sklearn Pipeline(StandardScaler, DecisionTreeClassifier)"
    assert shown["artifact_signature"]  # signed with the model key, as the trainer's versions

    start = end_offsets(settings, "predictions")
    feed(settings, 3_000, seed=2)
    shadowed = [p for p in predictions_after(settings, start, 3_000) if (p.get("challenger") or {}).get("model_version") == version]
    assert shadowed, "no prediction carries the registered challenger's shadow prediction"
    wait_for(f"the gate's decision on version {version}", lambda: registry.record(version).status != "challenger", 240)
    decided = registry.record(version)
    assert decided.status == "champion", f"the gate did not promote it: {decided.reason}"
    assert decided.reason.startswith("won the promotion gate")
    assert any(a["kind"] == "model_promoted" and a.get("version") == version for a in alerts(settings))
    feed(settings, 2_500, seed=4)  # past the trainer's publish_every: a model that does not learn is not published again
    wait_for("every label joined", lambda: end_offsets(settings, "examples") >= 8_000, 240)
    checkpoint_covering(settings, end_offsets(settings, "examples"))  # the trainer learned them all
    assert registry.alias("champion") == version and max(r.version for r in registry.versions()) == version

    ran = cli(settings, "rollback", "--reason", "the notebook's model goes back for review")
    assert ran.returncode == 0, ran.stderr
    back = registry.alias("champion")
    assert back is not None and back != version and registry.record(version).status == "retired"
    rolled = [a for a in alerts(settings, "model_rolled_back") if a.get("rolled_back") == version]
    assert rolled and rolled[-1]["changed_by"].endswith("(cli)")
    wait_for(f"version {back} in service", lambda: worker.health()["model_version"] == back, 60)
    start = end_offsets(settings, "predictions")
    feed(settings, 300, seed=3)
    wait_for(f"predictions by version {back}",
             lambda: predictions_after(settings, start, 300)[-1]["model_version"] == back, 120)


@pytest.fixture(scope="module")
def fed(stack_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Worker]:
    """One worker with 1,500 labelled events behind it: feature records to check models on."""
    settings = replace(stack_settings, topic_prefix=f"regi{uuid.uuid4().hex[:8]}")
    admin.ensure_topics(settings, topic_specs(settings))
    w = Worker(settings, tmp_path_factory.mktemp("register"))
    w.start()
    feed(w.settings, 1_500, seed=5)
    wait_for("1,000 examples", lambda: end_offsets(w.settings, "examples") >= 1_000, 240)
    yield w
    w.stop()


pytestmark = pytest.mark.xdist_group("register")


def test_an_mlflow_model_directory_goes_in_as_a_candidate_and_serves_once_promoted(fed: Worker, tmp_path: Path) -> None:
    import mlflow.sklearn
    from mlflow.models import infer_signature

    settings = fed.settings
    X, y = examples(settings, 1_000)
    model = make_pipeline(StandardScaler(), LogisticRegression()).fit(X, y)
    directory = tmp_path / "churn-model"
    mlflow.sklearn.save_model(model, str(directory), signature=infer_signature(X, model.predict(X)))
    form = (directory / "MLmodel").read_text().split("serialization_format:")[1].split()[0]

    ran = cli(settings, "register", str(directory), "--as", "candidate", "--reason", "logged in MLflow, run 7")
    assert ran.returncode == 0, ran.stderr
    assert ("ran the code it holds" in ran.stderr) == (form != "skops")
    version = max(r.version for r in Registry.connect(settings).versions())
    shown = orjson.loads(cli(settings, "show", str(version), "--json").stdout)
    assert shown["status"] == "candidate" and shown["source"]["format"] == f"mlflow ({form})"
    model_file = next(p for p in directory.iterdir() if p.name.startswith("model."))
    assert shown["source"]["sha256"] == sha256(model_file)
    assert shown["libraries"]["scikit-learn"] == __import__("sklearn").__version__

    # a backtest from this very version, before it serves
    replayed = subprocess.run([DRIFTLINE, "replay", "agrawal-drift", "--limit", "300", "--model", str(version), "--no-record",
                               "--out", str(tmp_path / "replay")], env=settings.as_env(), capture_output=True, text=True, timeout=300)
    assert replayed.returncode == 0, replayed.stderr
    backtest = orjson.loads((tmp_path / "replay" / "metrics.json").read_bytes())
    # it does not learn: the replay's accuracy is the model's own on those 300 events (a linear
    # model on Agrawal's first concept, a rule on age bands: about 0.6), whatever it is
    rows = featurize_all(load_spec(None), itertools.islice(builtin("agrawal-drift", seed=42), 300))
    own = sum(bool(p == y) for p, (_, y) in zip(model.predict(pd.DataFrame([x for x, _ in rows])), rows, strict=True)) / 300
    assert backtest["examples"] == 300 and backtest["prequential_accuracy"] == pytest.approx(own, abs=1e-12)
    unknown = subprocess.run([DRIFTLINE, "replay", "agrawal-drift", "--limit", "300", "--model", "999", "--no-record"],
                             env=settings.as_env(), capture_output=True, text=True, timeout=300)
    assert unknown.returncode == 2 and "unknown model version 999" in unknown.stderr

    assert cli(settings, "promote", str(version), "--reason", "reviewed").returncode == 0
    wait_for(f"version {version} in service", lambda: fed.health()["model_version"] == version, 60)
    start = end_offsets(settings, "predictions")
    feed(settings, 300, seed=6)
    wait_for(f"predictions by version {version}",
             lambda: predictions_after(settings, start, 300)[-1]["model_version"] == version, 120)


def _refusals(tmp: Path, X: pd.DataFrame, y: list[object]) -> list[tuple[list[str], str]]:
    """Each bad input: its command line, and what its one line says."""
    (tmp / "notes.txt").write_text("not a model")
    (tmp / "garbage.joblib").write_bytes(b"\x00\x01 not a pickle")
    (tmp / "weights.pkl").write_bytes(pickle.dumps({"w": [1.0, 2.0]}))
    joblib.dump(DecisionTreeClassifier().fit(X.rename(columns={"salary": "income"}), y), tmp / "renamed.joblib")
    one_level = X[["elevel"]].assign(elevel=0)
    joblib.dump(make_pipeline(OneHotEncoder(handle_unknown="error"), LogisticRegression()).fit(one_level, y), tmp / "raises.joblib")
    sio.dump(make_pipeline(FunctionTransformer(operator.neg), LogisticRegression()).fit(X, y), tmp / "untrusted.skops")
    joblib.dump(DecisionTreeClassifier().fit(X[["age", "salary"]].to_numpy(), y), tmp / "array.joblib")
    (tmp / "empty-dir").mkdir()
    register = ["register", "--as", "challenger"]
    return [
        ([*register, str(tmp / "notes.txt")], "not a model file driftline reads"),
        ([*register, str(tmp / "garbage.joblib")], "not a model: it does not unpickle"),
        ([*register, str(tmp / "weights.pkl")], "holds a builtins.dict, not a model"),
        ([*register, str(tmp / "renamed.joblib")], "expects features the spec does not produce: income"),
        ([*register, str(tmp / "raises.joblib")], "the model raised on the feature record at"),
        ([*register, str(tmp / "untrusted.skops")], "holds types skops does not trust: _operator.neg"),
        ([*register, str(tmp / "array.joblib")], "does not name the features it expects"),
        ([*register, str(tmp / "empty-dir")], "not an MLflow model directory"),
        ([*register, str(tmp / "absent.joblib")], "no such file or directory"),
        (["register", "--as", "champion", str(tmp / "renamed.joblib")], "invalid choice: 'champion'"),
    ]


def in_process(settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
               *args: str) -> subprocess.CompletedProcess[str]:
    """``driftline models ...`` through the console script's own entry point, in this process: what
    a run of the command gives, without a new interpreter importing scikit-learn each time."""
    from streams.cli.main import main

    for name, value in settings.as_env().items():
        monkeypatch.setenv(name, value)
    capsys.readouterr()
    code = main(["models", *args])
    said = capsys.readouterr()
    return subprocess.CompletedProcess(["driftline", "models", *args], code, said.out, said.err)


def test_each_refusal_is_one_line_and_exit_2_with_nothing_written(fed: Worker, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    settings = fed.settings
    X, y = examples(settings, 500)
    registry = Registry.connect(settings)
    before, logged = [r.version for r in registry.versions()], end_offsets(settings, "models")
    refusals = _refusals(tmp_path, X, y)
    for n, (args, says) in enumerate(refusals):
        # the first and the last (argparse's own) as a user runs them; the rest in this process
        ran = cli(settings, *args) if n in (0, len(refusals) - 1) else in_process(settings, monkeypatch, capsys, *args)
        lines = ran.stderr.strip().splitlines()
        assert ran.returncode == 2 and len(lines) == 1 and lines[0].startswith("driftline: ") and says in lines[0], (args, ran.stderr)
        assert "Traceback" not in ran.stderr and ran.stdout == ""
    time.sleep(1)
    assert [r.version for r in registry.versions()] == before and end_offsets(settings, "models") == logged
    assert cli(settings, "register", str(tmp_path / "array.joblib"), "--as", "candidate", "--features", "age,salary").returncode == 0
