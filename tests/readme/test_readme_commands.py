"""The README's commands, as written, in a fresh clone with an empty home and no ``DRIFTLINE_*``
variable (issue 24: `make demo` failed for every new user while CI was green, since every test
handed the code a Redis URL with the password in it).

The tests run in file order on one process: `make demo` first (it creates the virtualenv and
starts and stops the stack itself), then the "Try the pipeline" tour on the stack it starts, then
the replays, `status`, and `stack down`, which must leave nothing running.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from tests.support.readme import DEFAULT_PORTS, Ran, UserShell, command, listening, stray_processes, wait_until

pytestmark = [pytest.mark.readme, pytest.mark.xdist_group("readme")]

#: `make demo` with a shorter run (the Makefile passes DEMO_ARGS on): 8,000 events reliably get
#: through drift detection and the promotion gate (tests/integration/test_demo.py)
DEMO_ARGS = "DEMO_ARGS=--events 8000 --rate 400"


def said(ran: Ran) -> str:
    return ran.out + ran.err


def assert_clean_exit(ran: Ran, code: int = 0) -> None:
    assert ran.code == code, str(ran)
    assert "Traceback" not in said(ran) and "internal error" not in said(ran), str(ran)


@pytest.mark.timeout(1500)
def test_make_demo_detects_the_drift_and_promotes_a_model_for_a_new_user(user: UserShell) -> None:
    ran = user.run(command("make demo"), DEMO_ARGS, timeout_s=1400)
    assert_clean_exit(ran)
    assert re.search(r"drift detected at example [\d,]+", ran.out), str(ran)
    assert re.search(r"promoted: v\d+: model version \d+ is now champion", ran.out), str(ran)
    assert (user.clone / "demo-report" / "report.html").exists()
    # it started the stack (a new home has none) and stopped it again
    assert "stack up: kafka 127.0.0.1:9092" in ran.err, str(ran)
    assert stray_processes(user.clone, Path(user.env["HOME"])) == []
    assert listening(DEFAULT_PORTS) == []


@pytest.fixture(scope="module")
def tour(user: UserShell) -> Iterator[subprocess.Popen[bytes]]:
    """The "Try the pipeline" block as written: `stack up`, `worker &`, `produce`; then, as a user
    would, waiting until the worker has caught up (a model promoted after the drift)."""
    assert_clean_exit(user.run(command("driftline stack up"), timeout_s=600))
    worker, log = user.start(command("driftline worker"))
    try:
        assert_clean_exit(user.run(command("driftline produce agrawal-drift"), timeout_s=900))

        def promoted() -> bool:
            assert worker.poll() is None, f"the worker exited ({worker.returncode}):\n{log.read_text()[-3000:]}"
            ran = user.run(command("driftline alerts --from-beginning"), "--json", timeout_s=120)
            return ran.code == 0 and '"kind":"model_promoted"' in ran.out

        wait_until("a model_promoted alert after the produced stream", promoted, timeout_s=900, poll_s=5)
        yield worker
    finally:
        user.stop(worker)


def test_alerts_shows_the_published_drift_and_promoted_alerts(user: UserShell, tour: subprocess.Popen[bytes]) -> None:
    cmd = command("driftline alerts --from-beginning")
    ran = user.run(cmd)
    assert_clean_exit(ran)
    # the kinds the README's comment promises, in its order of first appearance
    promised = [kind.strip(" .") for kind in cmd.line.split("#", 1)[1].split(",") if kind.strip(" .")]
    assert promised[:3] == ["model_published", "concept_drift", "model_promoted"], cmd.line
    firsts = [ran.out.find(f" {kind} ") for kind in promised[:3]]
    assert all(at >= 0 for at in firsts) and firsts == sorted(firsts), ran.out


def test_models_list_shows_a_champion_trained_after_the_drift(user: UserShell, tour: subprocess.Popen[bytes]) -> None:
    ran = user.run(command("driftline models list"))
    assert_clean_exit(ran)
    # piped, the table is still whole: no cell cut to "champi…" at rich's 80 columns
    assert "…" not in ran.out and re.search(r"^│ *\d+ *│ champion *│", ran.out, re.MULTILINE), ran.out
    listed = user.run(command("driftline models list"), "--json")
    assert_clean_exit(listed)
    versions = orjson.loads(listed.out)
    assert len(versions) >= 2 and any(v["status"] == "champion" and v["version"] > 1 for v in versions), versions


def test_status_shows_the_worker_and_the_model_in_service(user: UserShell, tour: subprocess.Popen[bytes]) -> None:
    ran = user.run(command("driftline status"))
    assert_clean_exit(ran)
    shown = orjson.loads(user.run(command("driftline status --json")).out)
    assert shown["healthy"] and shown["models"]["champion"]["version"] >= 2, shown["models"]
    assert shown["worker"]["running"] and shown["worker"]["url"].startswith("http://127.0.0.1:6066/"), shown["worker"]


#: what the README's notebook lines stand for: a Pipeline fitted on the stream's first labelled
#: examples (the examples topic of the default namespace), saved with joblib in the clone
NOTEBOOK = """
import orjson, joblib, pandas as pd
from kafka import KafkaConsumer, TopicPartition
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeClassifier
consumer = KafkaConsumer(bootstrap_servers="127.0.0.1:9092", consumer_timeout_ms=5000)
tp = TopicPartition("driftline.examples", 0)
consumer.assign([tp])
consumer.seek_to_beginning(tp)
rows = [orjson.loads(m.value) for _, m in zip(range(2000), consumer)]
X, y = pd.DataFrame([r["x"] for r in rows]), [r["y"] for r in rows]
joblib.dump(make_pipeline(StandardScaler(), DecisionTreeClassifier(min_samples_leaf=5)).fit(X, y), "model.joblib")
"""


def test_a_notebooks_model_is_registered_as_the_readme_shows(user: UserShell, tour: subprocess.Popen[bytes]) -> None:
    fitted = subprocess.run([str(user.clone / ".venv" / "bin" / "python"), "-c", NOTEBOOK], cwd=user.clone, env=user.env,
                            capture_output=True, text=True, timeout=120)
    assert fitted.returncode == 0 and (user.clone / "model.joblib").exists(), fitted.stderr
    ran = user.run(command("driftline models register model.joblib"))
    assert_clean_exit(ran)
    assert "registered as challenger" in ran.out and "ran the code it holds" in ran.err, str(ran)
    listed = orjson.loads(user.run(command("driftline models list"), "--json").out)
    mine = [v for v in listed if v["source"].get("file") == "model.joblib"]
    assert len(mine) == 1 and mine[0]["reason"] == "tree from the notebook", listed


def test_fast_replay_writes_its_report_and_passes_its_gate(user: UserShell, tour: subprocess.Popen[bytes]) -> None:
    cmd = command("driftline replay agrawal-drift --label-delay")
    ran = user.run(cmd)
    assert_clean_exit(ran)
    out = user.clone / cmd.words[cmd.words.index("--out") + 1]
    metrics = orjson.loads((out / "metrics.json").read_bytes())
    assert metrics["prequential_accuracy"] >= 0.9, metrics["prequential_accuracy"]
    assert (out / "report.html").exists()


def test_live_replay_runs_through_a_worker_of_its_own(user: UserShell, tour: subprocess.Popen[bytes]) -> None:
    cmd = command("driftline replay agrawal-drift --limit")
    assert "--mode live" in cmd.plain, cmd.line
    ran = user.run(cmd, timeout_s=900)
    assert_clean_exit(ran)
    assert re.search(r"replay in namespace driftline-replay-[0-9a-f]{8}", said(ran)), str(ran)
    metrics = orjson.loads((user.clone / cmd.words[cmd.words.index("--out") + 1] / "metrics.json").read_bytes())
    limit = int(cmd.words[cmd.words.index("--limit") + 1])
    assert metrics["events"] == limit and metrics["reproduced"]["differ"] == 0, metrics.get("reproduced")


def test_stack_down_leaves_nothing_running(user: UserShell, tour: subprocess.Popen[bytes]) -> None:
    user.stop(tour)
    ran = user.run(command("driftline stack down"), timeout_s=300)
    assert_clean_exit(ran)
    assert "stopped" in ran.out or "stopped" in ran.err, str(ran)
    assert stray_processes(user.clone, Path(user.env["HOME"])) == []
    assert listening(DEFAULT_PORTS) == []
