"""The docs site's benchmarks page, from what `make bench` wrote: the last run's rows and targets,
and every run in the history, as a table and as a plot."""

from __future__ import annotations

from pathlib import Path

from benchmarks import page
from benchmarks.results import Row, Run, write_drift


def bench(folder: Path, hot: float, full: float, replay: float) -> None:
    run = Run("a machine", 1000)
    run.add(Row("hot path", f"{hot:,.0f} ev/s", key="hot_path", value=hot))
    run.add(Row("full loop", f"{full:,.0f} ev/s", key="full_loop", value=full, target="≥ 0.5× the hot path", met=full / hot >= 0.5))
    run.add(Row("fast replay", "x", key="replay_over_pvs", value=replay, target="≥ 0.5×", met=replay >= 0.5))
    run.write(folder)


def test_the_page_shows_the_last_run_and_every_run_of_the_history(tmp_path: Path) -> None:
    bench(tmp_path, 3000.0, 900.0, 0.3)
    bench(tmp_path, 3400.0, 1800.0, 0.55)
    latest, history = page.load(tmp_path)
    text = page.page(latest, history)
    assert "| full loop | 1,800 ev/s |  | ≥ 0.5× the hot path: met |" in text
    assert "| fast replay | x |  | ≥ 0.5×: met |" in text and "a machine" in text
    assert "|  | 3,000 | 900 | 0.30 |  | 0.30 |" in text and "|  | 3,400 | 1,800 | 0.53 |  | 0.55 |" in text
    assert f"]({page.PLOT})" in text
    image = page.plot(history)
    assert image.startswith(b"\x89PNG") and len(image) > 10_000


def test_before_any_run_the_page_says_how_to_make_one(tmp_path: Path) -> None:
    latest, history = page.load(tmp_path)
    assert latest is None and history == []
    assert "make bench" in page.page(latest, history)


def test_the_last_bench_drift_is_written_and_shown_on_the_page(tmp_path: Path) -> None:
    assert page.drift(tmp_path) is None
    assert "## Drift alerts" not in page.page(None, [], page.drift(tmp_path))
    table = "| alert kind | caught |\n|---|---|\n| concept_drift | 100% |"
    written = write_drift(table, streams=72, events=2_016_000, seconds=287.6, processes=2, folder=tmp_path)
    assert written == tmp_path / "drift.md"
    text = page.drift(tmp_path)
    assert text is not None and "72 streams, 2,016,000 events, 288 s on 2 processes" in text and "commit `" in text
    shown = page.page(None, [], text)
    assert "## Drift alerts" in shown and "| concept_drift | 100% |" in shown
