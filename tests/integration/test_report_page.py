"""The backtest report opens in a real headless Chromium and shows its plots (no broker: a
built-in stream replayed)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import orjson
from pypdf import PdfReader

from streams.cli.main import main
from tests.support.pixels import DRIFT_RED, LABEL_DELAY_CYAN, PREQUENTIAL_BLUE, count_near


def test_the_report_renders_its_metric_plot_with_the_drift_marked(tmp_path: Path, chromium: str) -> None:
    out = tmp_path / "report"
    assert main(["replay", "agrawal-drift", "--limit", "14000", "--label-delay", "200", "--no-record", "--out", str(out)]) == 0
    assert {p.name for p in out.iterdir()} >= {"report.html", "metrics.json", "metric-1.png", "label-delay-1.png"}
    assert not (out / "deadletters-1.png").exists()  # nothing dead-lettered: a line says so, no empty chart
    page = (out / "report.html").read_text()
    text = re.sub(r"<[^>]+>", " ", re.sub(r"<img[^>]*>", "", page.split("</head>")[1]))
    assert "{" not in text and "Dead letters: none." in text  # no raw dicts
    # the built-in stream's change point is known (event 10,000 by default): the delay is said in
    # events and in the stream's own seconds (its events are 0.01 s apart), on the events' axis
    # with the labelled example (the label delay apart) beside it
    found = re.search(r"Concept drift caught at event ([\d,]+) \(labelled example ([\d,]+)\), ([\d,]+) events "
                      r"\(([\d.]+) s\) after the change at event 10,000 \(HDDM_A on model errors\)", text)
    assert found, text[:3000]
    at, example, delay, seconds = (float(g.replace(",", "")) for g in found.groups())
    assert at - example == 200 and delay == at - 10_000 and abs(seconds - delay / 100) <= 0.1, found.groups()
    assert re.search(r"event [\d,]+ / example [\d,]+\s+concept_drift\s+critical", text)  # the alert names both
    assert "median 200, p95 200, max 200" in text and "<table class='alerts'>" in page
    assert orjson.loads((out / "metrics.json").read_bytes())["label_delay_events"] == {"median": 200, "p95": 200, "max": 200}
    shot = tmp_path / "shot.png"
    subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                    "--hide-scrollbars", "--window-size=1100,2200", f"--screenshot={shot}", (out / "report.html").as_uri()],
                   check=True, capture_output=True, timeout=120)
    blue, red, cyan = (count_near(shot, color) for color in (PREQUENTIAL_BLUE, DRIFT_RED, LABEL_DELAY_CYAN))
    # the page shows the plot itself (its lines are drawn in the browser's screenshot), not a broken image
    assert blue > 500 and red > 100 and cyan > 300, (blue, red, cyan)
    kept = Path(os.environ.get("DRIFTLINE_TEST_ARTIFACTS", tmp_path)) / "report-screenshot.png"
    kept.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(shot, kept)


def test_the_report_prints_every_plot_and_starts_with_its_summary(tmp_path: Path, chromium: str) -> None:
    """Printed (Chromium's PDF): the first page carries the title and the summary, not a title
    alone; every plot of the page is in the print, none dropped; no page is empty."""
    out = tmp_path / "report"
    assert main(["replay", "agrawal-drift", "--limit", "12000", "--label-delay", "100", "--no-record", "--out", str(out)]) == 0
    pdf = tmp_path / "report.pdf"
    subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                    "--no-pdf-header-footer", f"--print-to-pdf={pdf}", (out / "report.html").as_uri()],
                   check=True, capture_output=True, timeout=120)
    pages = PdfReader(pdf).pages
    texts = [page.extract_text() for page in pages]
    assert "What happened" in texts[0] and "Concept drift caught at event" in " ".join(texts[0].split()), texts[0]
    assert all(t.strip() for t in texts), [len(t) for t in texts]
    plots = (out / "report.html").read_text().count("<img")
    assert plots >= 2 and sum(len(page.images) for page in pages) == plots
