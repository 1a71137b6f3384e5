"""Fast replay runs the agents' core in-process and measures what the live pipeline measures."""

from __future__ import annotations

import itertools

import orjson
import pytest
from river import evaluate, metrics

from streams.core.features import featurize_all
from streams.core.model import build_model
from streams.core.replay import replay
from streams.kafka.sources import builtin
from streams.specs.load import load_spec

SPEC = load_spec(None)


def test_immediate_labels_give_the_prequential_metric_of_progressive_val_score() -> None:
    items = list(itertools.islice(builtin("agrawal-drift", seed=11, drift_at=2_000), 4_000))
    result = replay(SPEC, items)
    stream = featurize_all(SPEC, items)
    expected = evaluate.progressive_val_score(stream, build_model(SPEC), metrics.Accuracy())
    assert result.examples == 4_000 and result.prequential == expected.get()


@pytest.mark.heavy
def test_delayed_labels_drift_versions_and_dead_letters_are_reported() -> None:
    """Also: the replay's prequential metric is progressive_val_score's across a promotion (the
    online model is the trainer's first champion until the trainer lets go of it, then a copy)."""
    clean = list(itertools.islice(builtin("agrawal-drift", seed=42, drift_at=10_000), 14_000))
    items = list(clean)
    items.insert(500, ({"event_id": "broken", "data": {"age": "old"}}, True))
    items.insert(900, (items[800][0], items[800][1]))  # a duplicate event
    result = replay(SPEC, items, label_delay=500)
    assert result.events == 14_002 and result.examples == 14_000
    # the broken event's label finds no event: unknown_event, as live; the duplicate event's label
    # comes twice: the second is a duplicate_label
    assert dict(result.deadletters) == {"missing_field": 1, "duplicate_event": 1, "unknown_event": 1,
                                        "duplicate_label": 1}
    drift = [a for a in result.alerts if a["kind"] == "concept_drift"]
    assert len(drift) == 1 and 10_000 <= drift[0]["at_event"] < 11_000
    assert [a["kind"] for a in result.alerts if a["kind"] == "model_promoted"] == ["model_promoted"]
    # the served accuracy fell with the change, once, and came back with the promoted model, once
    performance = [(a["kind"], a["at_event"]) for a in result.alerts if a["kind"].startswith("performance_")]
    assert [kind for kind, _ in performance] == ["performance_drop", "performance_recovered"], performance
    assert 10_000 <= performance[0][1] < 11_500 and performance[1][1] > performance[0][1]
    assert result.versions[0]["version"] == 1 and 0.9 < result.served_accuracy < 1.0
    # labels 500 late, in the events' order: the examples come in progressive_val_score's order
    expected = evaluate.progressive_val_score(featurize_all(SPEC, clean), build_model(SPEC), metrics.Accuracy())
    assert result.prequential == expected.get()
    summary = result.summary()
    assert summary["prequential_accuracy"] == result.prequential and summary["timeline"][-1][0] == 14_000


def test_a_data_drift_keeps_the_feature_before_and_after_for_the_report(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from streams.replay.report import write_report

    items = list(itertools.islice(builtin("agrawal-drift", seed=5, drift_at=10**9), 6_000))
    for event, _ in items[3_000:]:
        event["data"]["salary"] += 40_000.0  # the population changes, the concept does not
    result = replay(SPEC, items)
    drift = [d for d in result.distributions if d["feature"] == "salary"]
    assert drift and 3_000 <= drift[0]["at_event"] < 4_000
    summary = result.summary()["data_drift_distributions"][0]
    assert summary["mean_after"] - summary["mean_before"] > 20_000
    write_report(tmp_path, "shifted", [("built-in", result)])
    assert (tmp_path / "feature-1-1.png").stat().st_size > 10_000


def test_a_live_runs_schedule_reproduces_its_scorer_side_exactly() -> None:
    """A hand-made "live run": two partitions, one lagging the other, a trained version taken into
    service midway. Replaying the records on that run's schedule gives the same predictions and
    the same drift positions; the same records scored in time order do not."""
    from streams.core.replay import Recorded, Schedule, Scheduled, replay_as_live
    from streams.core.scoring import Scorer, Where

    items = list(itertools.islice(builtin("agrawal-drift", seed=5, drift_at=10**9), 6_000))
    for event, _ in items[3_000:]:
        event["data"]["salary"] += 40_000.0  # a data drift for the scorer's monitors
    records = [Recorded("raw", orjson.dumps(e), "raw", n % 2, n // 2) for n, (e, _) in enumerate(items)]
    records += [Recorded("feedback", orjson.dumps({"event_id": e["event_id"], "label": y})) for e, y in items]
    trained = build_model(SPEC)
    for x, y in featurize_all(SPEC, items[:1_000]):
        trained.learn_one(x, y)  # type: ignore[attr-defined]
    live = Scorer(SPEC, clock=lambda: 0.0)
    order = sorted(records[:6_000], key=lambda r: (r.offset + 400 * r.partition, r.partition))  # partition 1 lags
    scored, alerts = [], []
    for n, r in enumerate(order):
        if n == 2_500:
            live.serve(1, trained, "champion")
        event = live.validate(r.value, Where("raw", r.partition, r.offset, None))
        _, prediction, _, found = live.score(event, None, Where("raw", r.partition, r.offset, None))
        scored.append(Scheduled(r.partition, r.offset, n + 1, live.champion.version, prediction.prediction))
        alerts += [(d.kind, d.subject, d.position) for d in found]
    learned = [e["event_id"] for e, _ in items]
    result = replay_as_live(SPEC, records, Schedule(scored, learned), {1: trained})
    assert dict(result.reproduced) == {"predictions": 6_000, "differ": 0}
    assert alerts and [(a["kind"], a["subject"], a["at_event"]) for a in result.alerts if "subject" in a and a["kind"] != "concept_drift"] == alerts
    assert result.examples == 6_000

    in_time_order = [Scheduled(s.partition, s.offset, n + 1, s.version, s.prediction)
                     for n, s in enumerate(sorted(scored, key=lambda s: (s.offset, s.partition)))]
    other = replay_as_live(SPEC, records, Schedule(in_time_order, learned), {1: trained})
    assert [(a["kind"], a["subject"], a["at_event"]) for a in other.alerts if "subject" in a and a["kind"] != "concept_drift"] != alerts


def test_served_accuracy_is_a_gap_until_something_served_is_labelled() -> None:
    import math

    result = replay(SPEC, list(itertools.islice(builtin("agrawal-drift", seed=3), 2_000)))
    served = [t[2] for t in result.timeline]
    assert math.isnan(served[0]) and not math.isnan(served[-1]) and served[-1] > 0.5
    assert orjson.loads(orjson.dumps(result.summary()))["timeline"][0][2] is None


@pytest.mark.heavy
@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_the_demo_stream_raises_no_drift_alert_before_its_change(seed: int) -> None:
    """The demo's stream and spec (labels 500 events late), up to its change at event 24,000,
    on several seeds: not one drift alert while the first models learn and nothing changes."""
    from streams.cli.demo.command import LABEL_DELAY, DemoOptions

    change = DemoOptions().drift_at
    items = list(itertools.islice(builtin("agrawal-drift", seed=seed, drift_at=change), change))
    result = replay(SPEC, items, label_delay=LABEL_DELAY)
    drift = [(a["kind"], a["at_event"]) for a in result.alerts if a["kind"].endswith("_drift") or a["kind"].startswith("performance_")]
    assert drift == [], drift
    assert result.versions, "the models did learn meanwhile"
