"""`driftline spec init`: a spec inferred from a sample file loads and fits the file."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from streams.cli.main import main
from streams.cli.spec_init import infer
from streams.core.spec import parse_spec


def test_a_csv_gives_typed_fields_ranges_categories_and_a_binary_task(tmp_path: Path) -> None:
    sample = tmp_path / "loans.csv"
    sample.write_text("amount,country,age,vip,note,label\n12.5,FR,30,true,a,0\n99.0,DE,41,false,,1\n3.2,FR,22,false,c,0\n")
    spec = parse_spec(infer(sample))
    fields = {f.name: f for f in spec.fields}
    assert spec.task == "binary" and spec.name == "loans"
    assert (fields["amount"].type, fields["amount"].min, fields["amount"].max) == ("number", 3.2, 99.0)
    assert fields["age"].type == "integer" and fields["vip"].type == "boolean"
    assert fields["country"].type == "category" and fields["country"].categories == frozenset({"DE", "FR"})
    assert fields["note"].required is False  # missing in a row
    assert [d.detector for d in spec.drift] == ["HDDM_A"]


@pytest.mark.parametrize(("labels", "task", "detector"), [([0, 1, 2, 1], "multiclass", "HDDM_A"), ([0.5, 1.7, 2.2, 3.1], "regression", "ADWIN")])
def test_the_label_decides_the_task(tmp_path: Path, labels: list[object], task: str, detector: str) -> None:
    sample = tmp_path / "s.jsonl"
    sample.write_bytes(b"\n".join(orjson.dumps({"data": {"x": float(i)}, "label": y}) for i, y in enumerate(labels)))
    spec = parse_spec(infer(sample))
    assert spec.task == task and [d.detector for d in spec.drift] == [detector]


def test_a_file_without_labels_is_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sample = tmp_path / "nolabel.csv"
    sample.write_text("x\n1\n2\n")
    assert main(["spec", "init", str(sample)]) == 2
    assert "no label column" in capsys.readouterr().err


@pytest.mark.heavy
def test_the_spec_covers_the_whole_file_so_a_replay_of_it_dead_letters_nothing(tmp_path: Path) -> None:
    # regression: ranges came from the first 10,000 rows; a later, larger value of the same file
    # was dead-lettered as out_of_range, and the replay no longer matched the file's own metric
    from streams.core.replay import replay
    from streams.kafka.sources import from_file

    sample = tmp_path / "grows.jsonl"
    # past the first 10,000 rows, where the old ranges ended: a new category, and the largest value last
    rows = [{"data": {"x": float(i % 100), "size": "S" if i < 10_500 else "XL"}, "label": i % 2 == 0} for i in range(12_000)]
    rows[-1]["data"]["x"] = 1e6  # the largest value is the last row
    sample.write_bytes(b"\n".join(orjson.dumps(r) for r in rows))
    spec = parse_spec(infer(sample))
    fields = {f.name: f for f in spec.fields}
    assert fields["x"].max == 1e6 and fields["size"].categories == frozenset({"S", "XL"})
    assert "from all 12000 rows" in infer(sample)
    result = replay(spec, from_file(sample))
    assert result.events == 12_000 and dict(result.deadletters) == {}
