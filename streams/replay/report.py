"""A backtest report: ``report.html`` (self-contained: its plots are inlined) and the same plots
as PNG files, next to the ``metrics.json`` that ``driftline replay --out`` writes.

Plots: the metric over time (prequential and served) with drift alerts and version changes
marked, dead letters by reason, the label delay over the examples, and each watched feature's distribution before and after each
data-drift alert.
"""

from __future__ import annotations

import base64
import datetime
import html
import io
from pathlib import Path
from typing import Any

from streams.core.replay import ROLLING, ReplayResult, quantiles
from streams.core.spec import higher_is_better


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


def event_axis(result: ReplayResult) -> tuple[list[int], str]:
    """The timeline's positions on the events' axis the alerts use, when the run kept them (a
    record from before kept only labelled examples)."""
    if len(result.timeline_events) == len(result.timeline):
        return result.timeline_events, "events (each point where its label came)"
    return [t[0] for t in result.timeline], "labelled examples"


def metric_plot(name: str, result: ReplayResult, change_at: int | None = None) -> bytes:
    def draw(ax: Any) -> None:
        xs, unit = event_axis(result)
        on_events = unit.startswith("events")
        ax.plot(xs, [t[1] for t in result.timeline], color="#1f77b4", label=f"prequential {result.metric}")
        ax.plot(xs, [t[2] for t in result.timeline], color="#2ca02c", label=f"served accuracy (last {ROLLING})")
        delay = (quantiles(result.label_delays) or {}).get("median")
        if change_at is not None and on_events:
            ax.axvline(change_at, color="#7f7f7f", linestyle="-", linewidth=1, label="the change")
            if delay:  # the labels that show the change come this much later: the gap before a detection
                ax.axvspan(change_at, change_at + delay, color="#7f7f7f", alpha=0.15,
                           label=f"its labels on their way (median label delay {delay:,} events)")
        for alert in result.alerts:
            at = alert.get("at_event" if on_events else "at_example", alert.get("at_event"))
            if at is None:
                continue
            if alert["kind"] == "concept_drift":
                ax.axvline(at, color="#d62728", linestyle="--", label="concept drift")
            elif alert["kind"] in ("model_promoted", "model_rolled_back"):
                ax.axvline(at, color="#9467bd", linestyle=":", label=alert["kind"].replace("_", " "))
        for version in result.versions:
            at = version.get("at_event" if on_events else "at_example", version.get("at_example"))
            if version["status"] == "champion" and at is not None:
                ax.plot([at], [0.02], marker="^", color="#ff7f0e", linestyle="none")
        ax.set_ylim(0, 1.02)
        ax.set_xlabel(unit)
        ax.set_title(f"{name}: {result.metric} over time (triangles: champion versions published)")
        handles, labels = ax.get_legend_handles_labels()
        unique = dict(zip(labels, handles, strict=True))
        ax.legend(unique.values(), unique.keys(), loc="lower left", fontsize="small")
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


def comparison_plot(results: list[tuple[str, ReplayResult]]) -> bytes:
    def draw(ax: Any) -> None:
        units = set()
        for name, result in results:
            xs, unit = event_axis(result)
            units.add(unit)
            ax.plot(xs, [t[1] for t in result.timeline], label=name)
        ax.set_ylim(0, 1.02)
        ax.set_xlabel(" / ".join(sorted(units)))
        ax.set_title(f"prequential {results[0][1].metric} over time, every run")
        ax.legend(loc="lower right")
    return _figure_png(draw)


def comparison_section(results: list[tuple[str, ReplayResult]], records: list[dict[str, Any]] | None) -> tuple[str, bytes]:
    """For two runs or more: every run's metric on one chart, the final metrics with the best
    marked, and the spec diffs (with the records' specs)."""
    from streams.experiments.record import spec_diff

    png = comparison_plot(results)
    metric = results[0][1].metric
    lower = not higher_is_better(metric)
    finals = [r.prequential for _, r in results]
    top = finals.index(min(finals) if lower else max(finals))
    rows = "".join(f"<tr><td>{html.escape(name)}{' (best)' if n == top else ''}</td><td>{r.prequential:.4f}</td>"
                   f"<td>{r.served_accuracy:.4f}</td><td>{_count(r.events)}</td>"
                   f"<td>{', '.join(_count(a['at_event']) for a in r.alerts if a['kind'] == 'concept_drift') or 'none'}</td></tr>"
                   for n, (name, r) in enumerate(results))
    table = (f"<table class='compare'><tr><th>run</th><th>prequential {html.escape(metric)}</th><th>served accuracy</th>"
             f"<th>events</th><th>concept drift at</th></tr>{rows}</table>")
    diffs = ""
    if records and len(records) == len(results):
        for other in records[1:]:
            diff = spec_diff(records[0], other)
            diffs += (f"<h3>spec diff: {html.escape(records[0]['id'])} → {html.escape(other['id'])}</h3>"
                      + (f"<pre>{html.escape(diff)}</pre>" if diff else "<p class='none'>The same spec text.</p>"))
    image = f'<img alt="comparison" src="data:image/png;base64,{base64.b64encode(png).decode()}">'
    return f"<section><h2>Comparison</h2>{image}{table}{diffs}</section>", png


def write_report(folder: Path, source: str, results: list[tuple[str, ReplayResult]],
                 records: list[dict[str, Any]] | None = None, change_at: int | None = None) -> Path:
    """Write the report folder; return the path of ``report.html``. Two runs or more get a
    comparison first (``records``, the experiments' records, add the spec diffs)."""
    folder.mkdir(parents=True, exist_ok=True)
    sections = []
    if len(results) > 1:
        section, png = comparison_section(results, records)
        (folder / "comparison.png").write_bytes(png)
        sections.append(section)
    for n, (name, result) in enumerate(results, 1):
        summary = result.summary()
        images = []
        plots = [("metric", metric_plot(name, result, change_at))]
        if result.deadletters:  # nothing dead-lettered: one line says so, no empty chart
            plots.append(("deadletters", deadletter_plot(name, result)))
        if result.label_delays:
            plots.append(("label-delay", label_delay_plot(name, result)))
        plots += [(f"feature-{k}", distribution_plot(name, snap)) for k, snap in enumerate(result.distributions, 1)]
        for kind, png in plots:
            (folder / f"{kind}-{n}.png").write_bytes(png)
            images.append(f'<img alt="{kind}" src="data:image/png;base64,{base64.b64encode(png).decode()}">')
        rows = "".join(f"<tr><th>{html.escape(label)}</th><td>{html.escape(text)}</td></tr>"
                       for label, text in summary_rows(summary))
        story = "".join(f"<li>{html.escape(line)}</li>" for line in narrative(result, change_at))
        empty = "" if result.deadletters else "<p class='none'>Dead letters: none.</p>"
        sections.append(f"<section><h2>{html.escape(name)}</h2><h3>What happened</h3><ul class='story'>{story}</ul>"
                        f"<table class='summary'>{rows}</table>{''.join(images)}{empty}"
                        f"<h3>Alerts</h3>{alerts_table(result.alerts)}</section>")
    page = (f"<!doctype html><html><head><meta charset='utf-8'><title>driftline backtest: {html.escape(source)}</title>"
            "<style>body{font-family:sans-serif;margin:2em;max-width:1100px}img{max-width:100%;display:block;margin:1em 0}"
            "th{text-align:left;padding-right:2em}table{border-collapse:collapse;margin:1em 0}"
            "td,th{padding:2px 8px;border-bottom:1px solid #ddd;vertical-align:top}.none{color:#555}"
            "pre{background:#f6f6f6;padding:1em;overflow-x:auto;white-space:pre-wrap}"
            "@media print{body{margin:0}img{break-inside:avoid}h2,h3{break-after:avoid}tr{break-inside:avoid}"
            "section+section{break-before:page}}</style></head>"
            f"<body><h1>driftline backtest of {html.escape(source)}</h1>{''.join(sections)}</body></html>")
    path = folder / "report.html"
    path.write_text(page)
    return path


def _count(n: int) -> str:
    """
    >>> _count(24000)
    '24,000'
    """
    return f"{n:,}"


def summary_rows(summary: dict[str, Any]) -> list[tuple[str, str]]:
    """The summary table's rows, as words and numbers (never a raw dict).

    >>> rows = summary_rows({"events": 24000, "metric": "accuracy", "prequential_accuracy": 0.91234,
    ...                      "deadletters": {}, "label_delay_events": {"median": 500, "p95": 500, "max": 500},
    ...                      "reproduced": {"predictions": 24000, "differ": 0}, "data_drift_distributions": [],
    ...                      "clock": [[1, 1700000000.0], [24000, 1700000240.0]]})
    >>> for row in rows: print(row)
    ('events', '24,000')
    ('metric', 'accuracy')
    ('prequential accuracy', '0.9123')
    ('dead letters', 'none')
    ('label delay (events)', 'median 500, p95 500, max 500')
    ('reproduced live predictions', '24,000 compared, 0 differ')
    ('data drift, feature means', 'none')
    ('event times', 'from 2023-11-14 22:13:20 UTC, over 4.0 min')
    """
    out = []
    for key, value in summary.items():
        if key in ("timeline", "timeline_events", "versions", "alerts", "source", "spec"):
            continue
        label = key.replace("_", " ")
        if key == "deadletters":
            label = "dead letters"
            text = ", ".join(f"{reason} {_count(n)}" for reason, n in sorted(value.items())) or "none"
        elif key == "label_delay_events":
            label = "label delay (events)"
            text = "none" if not value else f"median {value['median']}, p95 {value['p95']}, max {value['max']}"
        elif key == "clock":
            if not value:
                continue
            label = "event times"
            (_, first), (_, last) = value[0], value[-1]
            began = datetime.datetime.fromtimestamp(first, datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
            text = f"from {began}, over {_span(last - first)}"
        elif key == "reproduced":
            label = "reproduced live predictions"
            text = f"{_count(value.get('predictions', 0))} compared, {_count(value.get('differ', 0))} differ"
        elif key == "data_drift_distributions":
            label = "data drift, feature means"
            text = "; ".join(f"{d['feature']} at event {_count(d['at_event'])}: {_show(d['mean_before'])} before, "
                             f"{_show(d['mean_after'])} after" for d in value) or "none"
        else:
            text = "none" if value is None else _count(value) if isinstance(value, int) and not isinstance(value, bool) else _show(value)
        out.append((label, text))
    return out


def _near(timeline: list[Any], at: int, after: bool) -> tuple[float, float | None] | None:
    """(prequential, served accuracy) at the last timeline point before ``at`` (or the first
    one at or after it); served is None while nothing served was labelled.

    >>> _near([(100, 0.9, None), (200, 0.8, 0.75)], 150, after=True), _near([(100, 0.9, None)], 50, after=False)
    ((0.8, 0.75), None)
    """
    if after:
        return next(((p, v) for x, p, v in timeline if x >= at), None)
    earlier = [(p, v) for x, p, v in timeline if x < at]
    return earlier[-1] if earlier else None


def _both(point: tuple[float, float | None] | None) -> str:
    """Served accuracy with the prequential metric beside it, as the summary says them."""
    if point is None:
        return "none"
    prequential, served = point
    return f"{_show(served)} (cumulative prequential {_show(prequential)})"


def _seconds(result: ReplayResult, start: int, end: int) -> str:
    """`` (N s)``: the stream's own time between two event positions, when its events carry times.

    >>> _seconds(ReplayResult(clock=[(1, 0.0), (1001, 10.0)]), 101, 601)
    ' (5.0 s)'
    >>> _seconds(ReplayResult(), 1, 2)
    ''
    """
    t0, t1 = result.time_at(start), result.time_at(end)
    return "" if t0 is None or t1 is None else f" ({_span(t1 - t0)})"


def _span(seconds: float) -> str:
    return f"{seconds:,.1f} s" if seconds < 120 else f"{seconds / 60:,.1f} min" if seconds < 7200 else f"{seconds / 3600:,.1f} h"


def narrative(result: ReplayResult, change_at: int | None = None) -> list[str]:
    """What happened, in sentences for a person: the stream, each drift and what followed (with
    the detection delay when the stream's change point ``change_at`` is known), the versions,
    and where accuracy ended."""
    lines = [f"{_count(result.events)} events, {_count(result.examples)} labelled examples: prequential "
             f"{result.metric} {_show(result.prequential)}, served accuracy {_show(result.served_accuracy)}."]
    drifts = [a for a in result.alerts if a["kind"] == "concept_drift"]
    served = [t for t in result.timeline if t[2] is not None]
    for d in drifts:
        at = d["at_event"]  # where in the stream (the label that tipped the detector came there)
        ex = d.get("at_example", at)  # the trainer's labelled examples so far: the timeline's axis
        before = _near(result.timeline, ex - ROLLING, after=False)
        during = [(v, p) for x, p, v in served if ex - ROLLING <= x <= ex + 2 * ROLLING]
        after = [a for a in result.alerts if a["kind"] in ("model_promoted", "model_rolled_back") and a.get("at_example", 0) >= ex]
        line = f"Concept drift caught at event {_count(at)} (labelled example {_count(ex)})"
        if change_at is not None and at >= change_at:
            line += f", {_count(at - change_at)} events{_seconds(result, change_at, at)} after the change at event {_count(change_at)}"
        line += f" ({d.get('detector', '?')} on {d.get('subject', '?')}): served accuracy {_both(before)} before"
        if during:
            lowest = min(during)
            line += f", {_both((lowest[1], lowest[0]))} at its lowest"
        if after:
            first = after[0]
            verb = "promoted" if first["kind"] == "model_promoted" else "rolled back to"
            line += (f"; version {first.get('version')} {verb} at example {_count(first['at_example'])}, "
                     f"{_count(first['at_example'] - ex)} examples later")
            recovered = _near(result.timeline, first["at_example"] + ROLLING, after=True)
            if recovered is not None:
                line += f", served accuracy {_both(recovered)} a window after"
        lines.append(line + ".")
    if not drifts:
        lines.append("No concept drift was detected.")
    others = [a for a in result.alerts if a["kind"] in ("data_drift", "prediction_drift")]
    if others:
        kinds = sorted({a["kind"].replace("_", " ") for a in others})
        lines.append(f"{len(others)} other drift alert(s): {', '.join(kinds)} (see the alerts).")
    champions = [v for v in result.versions if v["status"] == "champion"]
    promoted = sum(1 for a in result.alerts if a["kind"] == "model_promoted")
    rolled = sum(1 for a in result.alerts if a["kind"] == "model_rolled_back")
    lines.append(f"{len(result.versions)} versions published ({len(champions)} as champion), {promoted} promoted, "
                 f"{rolled} rolled back.")
    if served:
        lines.append(f"At the end, served accuracy over the last {ROLLING} examples: {_show(served[-1][2])}.")
    return lines


def alerts_table(alerts: list[dict[str, Any]]) -> str:
    """The alerts as an HTML table (where in the stream, kind, severity, detail), or one line.

    >>> alerts_table([])
    "<p class='none'>None.</p>"
    >>> "<td>concept_drift</td><td>critical</td>" in alerts_table([{"kind": "concept_drift", "at_event": 9,
    ...     "detector": "HDDM_A", "subject": "model errors", "before": 0.01, "statistic": 0.2}])
    True
    """
    if not alerts:
        return "<p class='none'>None.</p>"
    rows = []
    for a in alerts:
        where = " / ".join(f"{unit} {_count(a[key])}" for unit, key in (("event", "at_event"), ("example", "at_example")) if key in a)
        severity = a.get("severity") or ("critical" if a["kind"] == "concept_drift" else
                                         "warning" if a["kind"].endswith("drift") or a["kind"] == "model_rolled_back" else "info")
        detail = _alert_detail(a)
        rows.append(f"<tr><td>{html.escape(where)}</td><td>{html.escape(a['kind'])}</td><td>{severity}</td>"
                    f"<td>{html.escape(detail)}</td></tr>")
    return ("<table class='alerts'><tr><th>where</th><th>kind</th><th>severity</th><th>detail</th></tr>"
            + "".join(rows) + "</table>")


def _alert_detail(a: dict[str, Any]) -> str:
    """An alert's detail for a person: its sentence, the detector's parameters, a feature's
    summary before and after, what was merged into it; the rest as ``key value``.

    >>> _alert_detail({"kind": "data_drift", "message": "The mean of salary rose.", "params": {"delta": 1e-05},
    ...     "summary": {"before": {"count": 9, "mean": 1.0, "p10": 0.5, "p50": 1.0, "p90": 1.5},
    ...                 "after": {"count": 9, "mean": 2.0, "p10": 1.5, "p50": 2.0, "p90": 2.5}}, "merged": 2})
    'The mean of salary rose. delta=1e-05. before: mean 1, p10-p90 0.5-1.5; after: mean 2, p10-p90 1.5-2.5. 2 more merged into it.'
    """
    skip = {"kind", "at_event", "at_example", "severity", "message", "params", "window", "summary", "merged",
            "detector", "before", "statistic", "subject"} if "message" in a else {"kind", "at_event", "at_example", "severity"}
    parts = [a["message"]] if "message" in a else []
    if a.get("params"):
        parts.append(", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in a["params"].items()) + ".")
    summary = a.get("summary") or {}
    if summary:
        parts.append("; ".join(f"{when}: {_describe(summary[when])}" for when in ("before", "after") if when in summary) + ".")
    if a.get("merged"):
        parts.append(f"{a['merged']} more merged into it.")
    rest = "; ".join(f"{k} {_show(v)}" for k, v in a.items() if k not in skip and not isinstance(v, (dict, list)))
    return " ".join(parts + ([rest] if rest else []))


def _describe(d: dict[str, Any]) -> str:
    if "shares" in d:
        return ", ".join(f"{k} {v:.0%}" for k, v in d["shares"].items())
    return f"mean {d['mean']:,.4g}, p10-p90 {d['p10']:,.4g}-{d['p90']:,.4g}"


def _show(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)
