"""The level alerts: said once when a level crosses its line and once when it is back, never while
it stays, and never before a whole window has been seen."""

from __future__ import annotations

from streams.core.levels import DeadLetterRate, PerformanceWatch


def test_a_dead_letter_rate_at_its_line_is_not_raised_and_one_above_it_is_raised_once() -> None:
    rate = DeadLetterRate(threshold=0.05, window=1000)
    assert [rate.observe(100, {"invalid_json": 5}) for _ in range(30)] == [None] * 30  # 5%: at the line
    crossings = [rate.observe(100, {"invalid_json": 5, "missing_field": 5}) for _ in range(30)]
    raised = [c for c in crossings if c is not None]
    assert [c.kind for c in raised] == ["deadletter_rate"]
    assert raised[0].value > 0.05 and raised[0].over >= 1000
    assert dict(raised[0].detail)["reasons"]["invalid_json"] > dict(raised[0].detail)["reasons"]["missing_field"]


def test_a_dead_letter_rate_recovers_only_at_half_its_line() -> None:
    rate = DeadLetterRate(threshold=0.1, window=100)
    assert rate.observe(100, {"oversized": 20}).kind == "deadletter_rate"
    assert rate.observe(100, {"oversized": 6}) is None  # 6%: under the line, not yet half of it
    back = rate.observe(100, {"oversized": 5})
    assert back is not None and back.kind == "deadletter_rate_recovered" and back.recovered


def test_one_batch_larger_than_the_window_is_judged_alone() -> None:
    rate = DeadLetterRate(threshold=0.05, window=100)
    assert rate.observe(1000, {"wrong_type": 500}).kind == "deadletter_rate"
    assert rate.observe(1000, {}).kind == "deadletter_rate_recovered"


def test_a_metric_where_lower_is_better_drops_by_a_share_of_its_best() -> None:
    watch = PerformanceWatch(drop=0.1, higher_is_better=False, window=10)
    assert watch.update(2.0, 10) is None and watch.update(1.0, 11) is None  # best MAE 1.0
    assert watch.update(1.09, 12) is None  # 9% worse
    dropped = watch.update(1.2, 13)
    assert dropped is not None and dropped.kind == "performance_drop" and dropped.line == 1.0
    assert watch.update(1.06, 14) is None  # 6% worse: not back within half the drop
    assert watch.update(1.04, 15).kind == "performance_recovered"


def test_nothing_is_judged_before_a_whole_window_of_served_examples() -> None:
    watch = PerformanceWatch(drop=0.1, higher_is_better=True, window=1000)
    assert [watch.update(v, n) for n, v in enumerate([1.0, 0.2, 0.1], start=997)] == [None, None, None]
    assert watch.best is None
