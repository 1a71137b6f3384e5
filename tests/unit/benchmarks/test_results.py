"""What `make bench` leaves behind: the latest run as data and as a table, and the history."""

from __future__ import annotations

from pathlib import Path

import orjson

from benchmarks.results import Row, Run


def test_a_run_writes_its_table_and_adds_one_line_per_run_to_the_history(tmp_path: Path) -> None:
    for figure in (100.0, 120.0):
        run = Run("a machine", 1000)
        run.add(Row("hot path", f"{figure:,.0f} ev/s", "0.2× bare", key="hot_path", value=figure))
        run.add(Row("replay | fast", "5 ev/s", key="replay_over_pvs", value=0.3, target="≥ 0.5×", met=False))
        run.add(Row("a note", "text only"))
        run.write(tmp_path)
    table = (tmp_path / "latest.md").read_text()
    assert "| hot path | 120 ev/s | 0.2× bare |  |" in table
    assert "| replay \\| fast | 5 ev/s |  | ≥ 0.5×: not met |" in table and "a machine" in table
    history = [orjson.loads(line) for line in (tmp_path / "history.jsonl").read_bytes().splitlines()]
    assert [h["values"] for h in history] == [{"hot_path": 100.0, "replay_over_pvs": 0.3}, {"hot_path": 120.0, "replay_over_pvs": 0.3}]
    assert history[-1]["met"] == {"replay_over_pvs": False} and history[-1]["commit"]
    latest = orjson.loads((tmp_path / "latest.json").read_bytes())
    assert [r["name"] for r in latest["rows"]] == ["hot path", "replay | fast", "a note"]
