"""A backtest report: ``report.html`` (self-contained: its plots are inlined) and the same plots
as PNG files, next to the ``metrics.json`` that ``driftline replay --out`` writes.

Plots: the metric over time (prequential and served) with drift alerts and version changes
marked, dead letters by reason, the label delay over the examples, and each watched feature's distribution before and after each
data-drift alert.
"""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path
from typing import Any

from streams.core.replay import ROLLING, ReplayResult


def _figure_png(draw: Any) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    fig, ax = plt.subplots(figsize=(10, 4), dpi=100)
    draw(ax)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return buffer.getvalue()


def metric_plot(name: str, result: ReplayResult) -> bytes:
    def draw(ax: Any) -> None:
        xs = [t[0] for t in result.timeline]
        ax.plot(xs, [t[1] for t in result.timeline], color="#1f77b4", label=f"prequential {result.metric}")
        ax.plot(xs, [t[2] for t in result.timeline], color="#2ca02c", label=f"served accuracy (last {ROLLING})")
        for alert in result.alerts:
            if alert["kind"] == "concept_drift":
                ax.axvline(alert["at_event"], color="#d62728", linestyle="--", label="concept drift")
            elif alert["kind"] in ("model_promoted", "model_rolled_back"):
                ax.axvline(alert["at_example"], color="#9467bd", linestyle=":", label=alert["kind"].replace("_", " "))
        for version in result.versions:
            if version["status"] == "champion":
                ax.plot([version["at_example"]], [0.02], marker="^", color="#ff7f0e", linestyle="none")
        ax.set_ylim(0, 1.02)
        ax.set_xlabel("labelled examples")
        ax.set_title(f"{name}: {result.metric} over time (triangles: champion versions published)")
        handles, labels = ax.get_legend_handles_labels()
        unique = dict(zip(labels, handles, strict=True))
        ax.legend(unique.values(), unique.keys(), loc="lower right")
    return _figure_png(draw)


def deadletter_plot(name: str, result: ReplayResult) -> bytes:
    def draw(ax: Any) -> None:
        reasons = sorted(result.deadletters.items())
        ax.bar([r for r, _ in reasons] or ["none"], [n for _, n in reasons] or [0], color="#8c564b")
        ax.set_title(f"{name}: dead letters by reason")
    return _figure_png(draw)


def label_delay_plot(name: str, result: ReplayResult) -> bytes:
    def draw(ax: Any) -> None:
        delays = result.label_delays
        ax.plot(range(1, len(delays) + 1), delays, color="#17becf", linewidth=0.6, marker=".", markersize=1.5)
        ax.set_xlabel("labelled examples")
        ax.set_ylabel("events between event and label")
        ax.set_title(f"{name}: label delay")
    return _figure_png(draw)


def distribution_plot(name: str, snap: dict[str, Any]) -> bytes:
    def draw(ax: Any) -> None:
        ax.hist(snap["before"], bins=40, alpha=0.6, color="#1f77b4", label=f"{len(snap['before'])} before")
        ax.hist(snap["after"], bins=40, alpha=0.6, color="#ff7f0e", label=f"{len(snap['after'])} after")
        ax.set_title(f"{name}: {snap['feature']} around the data drift at event {snap['at_event']}")
        ax.legend()
    return _figure_png(draw)


def write_report(folder: Path, source: str, results: list[tuple[str, ReplayResult]]) -> Path:
    """Write the report folder; return the path of ``report.html``."""
    folder.mkdir(parents=True, exist_ok=True)
    sections = []
    for n, (name, result) in enumerate(results, 1):
        summary = result.summary()
        images = []
        plots = [("metric", metric_plot(name, result)), ("deadletters", deadletter_plot(name, result)),
                 ("label-delay", label_delay_plot(name, result))]
        plots += [(f"feature-{k}", distribution_plot(name, snap)) for k, snap in enumerate(result.distributions, 1)]
        for kind, png in plots:
            (folder / f"{kind}-{n}.png").write_bytes(png)
            images.append(f'<img alt="{kind}" src="data:image/png;base64,{base64.b64encode(png).decode()}">')
        rows = "".join(f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(_show(v))}</td></tr>"
                       for k, v in summary.items() if k not in ("timeline", "versions", "alerts"))
        alerts = "".join(f"<li>{html.escape(a['kind'])} at {a.get('at_event', a.get('at_example'))}</li>" for a in result.alerts)
        sections.append(f"<section><h2>{html.escape(name)}</h2><table>{rows}</table>{''.join(images)}"
                        f"<h3>alerts</h3><ul>{alerts or '<li>none</li>'}</ul></section>")
    page = (f"<!doctype html><html><head><meta charset='utf-8'><title>driftline backtest: {html.escape(source)}</title>"
            "<style>body{font-family:sans-serif;margin:2em}img{max-width:100%;display:block;margin:1em 0}"
            "th{text-align:left;padding-right:2em}</style></head>"
            f"<body><h1>driftline backtest of {html.escape(source)}</h1>{''.join(sections)}</body></html>")
    path = folder / "report.html"
    path.write_text(page)
    return path


def _show(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)
