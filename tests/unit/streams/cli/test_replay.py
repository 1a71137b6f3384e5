"""`driftline replay` in fast mode: the report numbers, gates in both directions, bad usage."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from streams.cli.main import main
from streams.specs.load import DEFAULT_SPEC_PATH

ARGS = ["replay", "agrawal-drift", "--limit", "2000", "--no-record"]  # records go to a broker: test_experiments


def test_a_gate_that_holds_exits_0_and_one_that_is_missed_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*ARGS, "--out", str(tmp_path), "--fail-under", "prequential_accuracy=0.5"]) == 0
    report = orjson.loads((tmp_path / "metrics.json").read_bytes())
    assert report["examples"] == 2_000 and 0.5 < report["prequential_accuracy"] < 1.0
    assert main([*ARGS, "--fail-under", f"prequential_accuracy={report['prequential_accuracy'] + 0.01}"]) == 1
    assert "gate missed: built-in: prequential_accuracy" in capsys.readouterr().err
    assert main([*ARGS, "--fail-under", f"prequential_accuracy={report['prequential_accuracy']}"]) == 0  # equal holds


def test_a_missed_gate_is_one_line_however_long_the_specs_path(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Rich wrapped messages at 80 columns: a long spec path split "worse than experiment" over two
    lines on the testcontainers path's longer temporary folders (and [brackets] were markup)."""
    deep = tmp_path / ("a-folder-with-a-long-name-[v2]" * 4)
    deep.mkdir()
    spec = deep / "spec.toml"
    spec.write_text(DEFAULT_SPEC_PATH.read_text())
    assert main([*ARGS, "--spec", str(spec), "--fail-under", "prequential_accuracy=0.9999"]) == 1
    missed = [line for line in capsys.readouterr().err.splitlines() if "gate missed" in line]
    assert len(missed) == 1 and missed[0].startswith(f"driftline: gate missed: {spec}: prequential_accuracy ")
    assert "0.9999" in missed[0]


def test_two_specs_are_compared_on_the_same_stream(tmp_path: Path) -> None:
    default = DEFAULT_SPEC_PATH.read_text()
    other = tmp_path / "nb.toml"
    other.write_text(default.replace('estimator = "river.tree.HoeffdingTreeClassifier"', 'estimator = "river.naive_bayes.GaussianNB"'))
    assert main([*ARGS, "--spec", "", "--spec", str(other), "--out", str(tmp_path / "out")]) == 0
    first = orjson.loads((tmp_path / "out" / "spec-1" / "metrics.json").read_bytes())
    second = orjson.loads((tmp_path / "out" / "spec-2" / "metrics.json").read_bytes())
    assert first["events"] == second["events"] == 2_000
    assert first["prequential_accuracy"] != second["prequential_accuracy"]


@pytest.mark.parametrize(("args", "message"), [
    (["--fail-under", "nope"], "--fail-under takes METRIC=VALUE"),
    (["--fail-under", "nonsense=0.5"], "--fail-under nonsense: no such metric"),
    (["--mode", "live", "--speed", "0"], "a speed is a multiple of the recorded pace > 0"),
    (["--as-live"], "--as-live replays a recorded live run in fast mode"),
    (["--spec", "/no/such/spec.toml"], "cannot read the pipeline spec"),
])
def test_bad_usage_is_one_line_and_exit_2(args: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*ARGS, *args]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err


def test_an_unreadable_or_empty_source_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    assert main(["replay", str(empty), "--no-record"]) == 2
    assert "no events to replay" in capsys.readouterr().err
    assert main(["replay", str(tmp_path / "missing.csv"), "--no-record"]) == 2


def test_a_built_in_stream_without_a_limit_replays_twice_its_change_point(tmp_path: Path) -> None:
    """Regression (issue 24's README test): the built-in streams never end, so the README's
    `replay agrawal-drift --label-delay 500 ...` ran until memory ran out."""
    assert main(["replay", "agrawal-drift", "--drift-at", "1500", "--no-record", "--out", str(tmp_path)]) == 0
    report = orjson.loads((tmp_path / "metrics.json").read_bytes())
    assert report["events"] == 3_000 and report["examples"] == 3_000


def test_a_replay_starts_from_a_model_file(tmp_path: Path) -> None:
    """A tree fitted on another stretch of the same concept serves from the first event: the
    replay's accuracy is the file's, far above the spec's model learning from nothing."""
    import itertools

    import joblib
    import pandas as pd
    from sklearn.tree import DecisionTreeClassifier

    from streams.core.features import featurize_all
    from streams.kafka.sources import builtin
    from streams.specs.load import load_spec

    rows = featurize_all(load_spec(None), itertools.islice(builtin("agrawal-drift", seed=99, drift_at=10**9), 1_500))
    model = DecisionTreeClassifier(min_samples_leaf=5, random_state=0).fit(pd.DataFrame([x for x, _ in rows]), [y for _, y in rows])
    joblib.dump(model, tmp_path / "tree.joblib")
    short = ["replay", "agrawal-drift", "--limit", "300", "--no-record"]
    assert main([*short, "--out", str(tmp_path / "plain")]) == 0
    assert main([*short, "--model", str(tmp_path / "tree.joblib"), "--out", str(tmp_path / "from-file")]) == 0
    plain = orjson.loads((tmp_path / "plain" / "metrics.json").read_bytes())
    started = orjson.loads((tmp_path / "from-file" / "metrics.json").read_bytes())
    assert started["prequential_accuracy"] > 0.97 > plain["prequential_accuracy"]
    assert started["examples"] == plain["examples"] == 300
    assert main([*ARGS, "--model", str(tmp_path / "tree.joblib"), "--as-live"]) == 2  # the registry's versions serve there
