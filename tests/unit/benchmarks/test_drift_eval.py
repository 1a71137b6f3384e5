"""The drift evaluation's bookkeeping (`make bench-drift`): what counts as a false alarm, a
catch and a delay; and one short stream through the agents' core."""

from __future__ import annotations

from benchmarks.drift import CHANGE_AT, HORIZON, WIDTH, Case, Run, rows, run


def test_false_alarms_catches_and_delays_are_counted_on_the_right_side_of_the_change() -> None:
    quiet = [Run(Case("stationary-f0", "none", s, 100_000)) for s in range(2)]
    quiet[1].alerts = [("prediction_drift", "predictions", 500), ("prediction_drift", "predictions", 90_000)]
    quiet[0].bare = {("prediction_drift", "predictions"): [700, 800, 900]}
    start = CHANGE_AT + 1
    abrupt = [Run(Case("concept", "abrupt", 100 + s, 20_000)) for s in range(4)]
    abrupt[0].alerts = [("concept_drift", "model errors", start + 300)]
    abrupt[1].alerts = [("concept_drift", "model errors", 4_000), ("concept_drift", "model errors", start + 100)]
    abrupt[2].alerts = [("concept_drift", "model errors", start + HORIZON + 1)]  # too late: missed
    abrupt[3].alerts = [("data_drift", "salary", start + 10)]  # another kind: missed
    for r, bare in zip(abrupt, ([start + 200], [start + 50], [], [start + 10]), strict=True):
        r.bare = {("concept_drift", "model errors"): bare}
    gradual = [Run(Case("concept", "gradual", 100, 20_000), alerts=[("concept_drift", "model errors", start - WIDTH // 2 + 40)])]
    table = {(r.kind, r.streams): r for r in rows(quiet + abrupt + gradual)}
    stationary = table[("prediction_drift", "stationary (f0, f4, f8)")]
    assert (stationary.runs, stationary.events, stationary.false_alarms, stationary.runs_with_false_alarm) == (2, 200_000, 2, 1)
    assert stationary.cells()[4:6] == ["1.00 (1.50; 0.00)", "50%"]
    concept = table[("concept_drift", "concept change, abrupt")]
    assert (concept.caught, concept.delays, concept.false_alarms, concept.events) == (2, (300, 100), 1, 4 * start)
    assert sorted(concept.bare_delays) == [10, 50, 200] and concept.bare_false_alarms == 0
    assert concept.cells()[6] == "50%"
    # a gradual change counts from its first changed event, half its width before its midpoint
    slow = table[("concept_drift", "concept change, gradual")]
    assert (slow.false_alarms, slow.caught, slow.delays) == (0, 1, (40,))
    assert ("concept_drift", "salary change, abrupt") not in table  # a family is judged on its own kind


def test_a_short_stationary_stream_runs_through_the_core_and_feeds_the_bare_detectors() -> None:
    done = run(Case("stationary-f0", "none", 0, 3_000))
    assert done.alerts == []
    assert set(done.bare) == {("data_drift", "salary"), ("prediction_drift", "predictions"), ("concept_drift", "model errors")}
