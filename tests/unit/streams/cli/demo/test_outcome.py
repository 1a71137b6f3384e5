"""The demo's outcome from what its run recorded (pure)."""

from __future__ import annotations

from streams.cli.demo.outcome import (
    event_position,
    first_post_drift,
    outcome,
    served_accuracy,
    summary_lines,
    windows,
)

PREFIX = "agrawal-drift-42-"


def test_event_positions_come_from_the_demo_ids_only() -> None:
    assert event_position(f"{PREFIX}17", PREFIX) == 17
    assert event_position("other-17", PREFIX) is None and event_position(f"{PREFIX}x", PREFIX) is None


def test_the_first_post_drift_example_is_counted_in_the_trainers_order() -> None:
    learned = [f"{PREFIX}{n}" for n in (0, 2, 1, 5, 3, 4)]
    assert first_post_drift(learned, PREFIX, 3) == 4  # event 5 came fourth
    assert first_post_drift(learned, PREFIX, 9) is None


def test_windows_shrink_in_a_short_run() -> None:
    assert windows(36_000, 18_000) == [("before the drift", 16_000, 18_000), ("after the drift", 18_000, 20_000),
                                       ("at the end", 34_000, 36_000)]
    assert windows(4000, 2000)[0] == ("before the drift", 1000, 2000)


def test_served_accuracy_leaves_out_events_served_no_prediction() -> None:
    served = {0: None, 1: True, 2: False, 3: True}
    labels = [True, True, True, False]
    assert served_accuracy(served, labels, 0, 4) == (3, 1 / 3)
    assert served_accuracy(served, labels, 0, 1) == (0, None)


def alerts(*found: tuple[str, int, float]) -> list[dict]:  # type: ignore[type-arg]
    out = []
    for kind, n, ts in found:
        if kind == "concept_drift":
            out.append({"kind": kind, "at_example": n, "ts": ts, "event_id": f"{PREFIX}{n + 40}"})
        else:
            out.append({"kind": kind, "version": n, "ts": ts, "message": f"model version {n} ..."})
    return out


def run(found: list[dict]):  # type: ignore[no-untyped-def,type-arg]
    learned = [f"{PREFIX}{n}" for n in range(100)]
    return outcome(events=100, drift_at=50, prefix=PREFIX, alerts=found, learned=learned,
                   served={n: True for n in range(100)}, labels=[n < 50 for n in range(100)])


def test_a_detection_after_the_change_and_a_promotion_after_it_is_a_success() -> None:
    out = run(alerts(("model_published", 1, 1.0), ("concept_drift", 30, 2.0), ("concept_drift", 60, 3.0),
                     ("model_published", 2, 3.5), ("model_promoted", 2, 4.0)))
    assert out.first_after == 51
    assert out.detected is not None and out.detected["at_example"] == 60
    assert [a["at_example"] for a in out.false_alarms] == [30]
    assert out.took_over and out.published == [1, 2]
    assert [w.accuracy for w in out.windows] == [1.0, 0.0, 0.0]
    lines = summary_lines(out, PREFIX)
    assert lines[0].startswith("drift detected at example 60 (the label of event 100): 9 labelled examples after")
    assert any(line.startswith("promoted: v2") for line in lines)


def test_no_detection_after_the_change_or_no_promotion_after_it_is_a_failure() -> None:
    early = run(alerts(("concept_drift", 30, 1.0), ("model_promoted", 2, 2.0)))
    assert early.detected is None and not early.took_over
    assert summary_lines(early, PREFIX)[0].startswith("drift NOT detected")
    stale = run(alerts(("model_promoted", 2, 1.0), ("concept_drift", 60, 2.0)))
    assert stale.detected is not None and not stale.took_over
