"""`driftline replay topic`: a recorded range of the real raw and feedback topics, replayed."""

from __future__ import annotations

import itertools
import uuid
from dataclasses import replace
from pathlib import Path

import orjson
import pytest
from kafka import KafkaProducer

from streams.cli.main import main
from streams.core.replay import replay
from streams.kafka import admin
from streams.kafka.sources import builtin
from streams.kafka.topics import topic_specs
from streams.settings import Settings
from streams.specs.load import load_spec

BASE_MS = 1_800_000_000_000


@pytest.fixture
def recorded(stack_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> tuple[Settings, list]:  # type: ignore[type-arg]
    """3,000 events and their labels 100 events late, written with increasing record times."""
    settings = replace(stack_settings, topic_prefix=f"rec{uuid.uuid4().hex[:8]}", partitions=1)
    admin.ensure_topics(settings, topic_specs(settings))
    for name, value in settings.as_env().items():
        monkeypatch.setenv(name, value)
    items = list(itertools.islice(builtin("agrawal-drift", seed=9, drift_at=1_500), 3_000))
    producer = KafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all")
    clock = itertools.count(BASE_MS)
    pending = []
    for event, label in items:
        producer.send(settings.topic("raw"), value=orjson.dumps(event), timestamp_ms=next(clock))
        pending.append({"event_id": event["event_id"], "label": label})
        if len(pending) > 100:
            producer.send(settings.topic("feedback"), value=orjson.dumps(pending.pop(0)), timestamp_ms=next(clock))
    for feedback in pending:
        producer.send(settings.topic("feedback"), value=orjson.dumps(feedback), timestamp_ms=next(clock))
    producer.flush()
    producer.close()
    return settings, items


def test_a_recorded_range_gives_the_numbers_of_the_same_stream_replayed_from_memory(recorded, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _, items = recorded
    assert main(["replay", "topic", "--out", str(tmp_path)]) == 0
    report = orjson.loads((tmp_path / "metrics.json").read_bytes())
    expected = replay(load_spec(None), items, label_delay=100).summary()
    for key in ("events", "examples", "prequential_accuracy", "served_accuracy", "deadletters", "alerts", "timeline"):
        assert report[key] == orjson.loads(orjson.dumps(expected[key])), key
    assert report["events"] == 3_000


def test_from_and_to_select_by_offset_and_by_time(recorded, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    assert main(["replay", "topic", "--from", "1000", "--to", "2000", "--out", str(tmp_path / "a")]) == 0
    assert orjson.loads((tmp_path / "a" / "metrics.json").read_bytes())["events"] == 1_000
    # record times are BASE_MS + their order: the first 500 records are events 0..100, then each
    # next event followed by the label of the event 100 before it, so 101 + 199 events
    assert main(["replay", "topic", "--to", "2027-01-15T08:00:00.500+00:00", "--out", str(tmp_path / "b")]) == 0
    assert orjson.loads((tmp_path / "b" / "metrics.json").read_bytes())["events"] == 300


def test_an_empty_range_or_a_missing_topic_is_one_line_and_exit_2(recorded, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    assert main(["replay", "topic", "--from", "5000"]) == 2
    assert "no events to replay" in capsys.readouterr().err
    monkeypatch.setenv("DRIFTLINE_TOPIC_PREFIX", "nosuch" + uuid.uuid4().hex[:6])
    assert main(["replay", "topic"]) == 2
    assert "no topic" in capsys.readouterr().err


def test_two_specs_on_one_recorded_range_are_compared_as_experiments_and_in_one_report(recorded, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    from streams.experiments import log
    from streams.specs.load import DEFAULT_SPEC_PATH

    settings, _ = recorded
    other = tmp_path / "logreg.toml"
    other.write_text(DEFAULT_SPEC_PATH.read_text().replace('estimator = "river.tree.HoeffdingTreeClassifier"',
                                                           'estimator = "river.linear_model.LogisticRegression"'))
    assert main(["replay", "topic", "--from", "0", "--to", "2000", "--spec", str(DEFAULT_SPEC_PATH), "--spec", str(other),
                 "--tag", "range"]) == 0
    a, b = log.read_all(settings)
    assert a["source"] == b["source"] == {"kind": "topic", "name": settings.topic("raw"), "from": "0", "to": "2000", "limit": None}
    capsys.readouterr()
    assert main(["experiments", "compare", a["id"], b["id"]]) == 0
    compared = capsys.readouterr().out
    assert "prequential_accuracy" in compared and '+estimator = "river.linear_model.LogisticRegression"' in compared
    assert main(["experiments", "report", a["id"], b["id"], "--out", str(tmp_path / "report")]) == 0
    page = (tmp_path / "report" / "report.html").read_text()
    assert page.count("<section>") == 3 and "<h2>Comparison</h2>" in page and "(best)" in page
