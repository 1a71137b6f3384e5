"""The docs site's benchmarks page, made from what `make bench` leaves (:mod:`benchmarks.results`):
the last run's table from ``latest.json`` and the history from ``history.jsonl``, plotted. Written
into the site as it builds (`docs/gen_reference.py`): a new run shows with no hand edit.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import orjson

from benchmarks.results import RESULTS

#: what the history plot draws: throughput (events per second) and the targets held as ratios
THROUGHPUT = {"bare_relay": "bare aiokafka relay", "hot_path": "hot path (--agents validate)",
              "full_loop": "full loop (every agent)"}
RATIOS = {"full_over_hot": ("full loop / hot path", 0.5), "core_over_bare": ("hot path core / bare work", 2.0),
          "replay_over_pvs": ("replay / progressive_val_score", 0.5)}
PLOT = "history.png"


def drift(folder: Path = RESULTS) -> str | None:
    """The last `make bench-drift`'s ``drift.md``, or None before any."""
    path = folder / "drift.md"
    return path.read_text() if path.exists() else None


def load(folder: Path = RESULTS) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """The last run (None before any) and every run's line, oldest first."""
    latest = folder / "latest.json"
    history = folder / "history.jsonl"
    runs = [orjson.loads(line) for line in history.read_bytes().splitlines() if line.strip()] if history.exists() else []
    return (orjson.loads(latest.read_bytes()) if latest.exists() else None), runs


def _ratios(values: dict[str, float]) -> dict[str, float]:
    out = {k: v for k, v in values.items() if k in RATIOS}
    if values.get("full_loop") and values.get("hot_path"):
        out["full_over_hot"] = values["full_loop"] / values["hot_path"]
    return out


def page(latest: dict[str, Any] | None, history: list[dict[str, Any]], drift_table: str | None = None) -> str:
    """The page: the last run, row by row with its targets, then the history plot and table, then
    the last `make bench-drift` when there is one."""
    lines = ["# Benchmarks", ""]
    drift_part = ["## Drift alerts", "",
                  "How often each drift alert kind fires on streams that never change, and how fast it catches a known "
                  "change, beside the bare River detector ([how it is measured](../concepts/drift.md#how-it-is-measured)).",
                  "", drift_table.strip(), ""] if drift_table else []
    if latest is None:
        return "\n".join(lines + ["No `make bench` run is recorded yet: `make bench` writes `benchmarks/results/`.", "",
                                  *drift_part])
    lines += [f"The last `make bench`: {latest['started']}, commit `{latest['commit']}`, on {latest['machine']}; "
              f"backlogs of {latest['events']:,} events. Figures depend on the machine: compare ratios within a run.", "",
              "| measure | figure | reference | target |", "|---|---|---|---|"]
    for row in latest["rows"]:
        verdict = "" if row.get("target") is None else f"{row['target']}: {'met' if row.get('met') else 'not met'}"
        lines.append("| " + " | ".join(_cell(str(c)) for c in (row["name"], row["figure"], row.get("reference") or "", verdict)) + " |")
    lines += ["", "## History", "", f"![every run's throughput and target ratios]({PLOT})", "",
              "| run | commit | " + " | ".join(THROUGHPUT.values()) + " | " + " | ".join(n for n, _ in RATIOS.values()) + " |",
              "|---|---|" + "---|" * (len(THROUGHPUT) + len(RATIOS))]
    for run in history:
        values, ratios = run.get("values", {}), _ratios(run.get("values", {}))
        cells = [f"{values[k]:,.0f}" if k in values else "" for k in THROUGHPUT] + \
                [f"{ratios[k]:.2f}" if k in ratios else "" for k in RATIOS]
        lines.append(f"| {run['started']} | `{run['commit']}` | " + " | ".join(cells) + " |")
    lines += ["", *drift_part, "*Generated from `benchmarks/results/` by `benchmarks/page.py`: `make bench` and `make bench-drift` write those files; "
              "edit neither this page nor them by hand.*", ""]
    return "\n".join(lines)


def plot(history: list[dict[str, Any]]) -> bytes:
    """The history as a PNG: throughput on top (log scale), the target ratios below with their targets."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = list(range(1, len(history) + 1))
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(9, 6.5), sharex=True)
    for key, name in THROUGHPUT.items():
        top.plot(runs, [r.get("values", {}).get(key, float("nan")) for r in history], marker="o", label=name)
    top.set_yscale("log")
    top.set_ylabel("events/s")
    top.legend(loc="best", fontsize=8)
    for i, (key, (name, target)) in enumerate(RATIOS.items()):
        line = bottom.plot(runs, [_ratios(r.get("values", {})).get(key, float("nan")) for r in history], marker="o",
                           label=f"{name} (target {target:g})")
        bottom.axhline(target, color=line[0].get_color(), linestyle="--", linewidth=0.8)
    bottom.set_ylabel("ratio")
    bottom.set_xlabel("run (history.jsonl, oldest first)")
    bottom.set_xticks(runs, [r["commit"] for r in history], rotation=45, fontsize=7)
    bottom.legend(loc="best", fontsize=8)
    fig.tight_layout()
    out = io.BytesIO()
    fig.savefig(out, format="png", dpi=90)
    plt.close(fig)
    return out.getvalue()


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")
