from streams.core.example import Example
from streams.core.join import DuplicateLabel, Joiner, Label, Scored, step


def scored(ts: float) -> Scored:
    return Scored({"x": 1.0}, ts, True, 3)


def test_a_label_after_its_event_joins_with_what_was_served() -> None:
    j = Joiner(horizon=100)
    assert j.scored("e1", scored(0.0)) is None
    example = j.label("e1", Label(False, 5.0))
    assert example is not None
    assert (example.event_id, example.y, example.served, example.served_version) == ("e1", False, True, 3)


def test_a_label_before_its_event_waits_for_it() -> None:
    j = Joiner(horizon=100, early_grace=10)
    assert j.label("e1", Label(True, 0.0)) is None
    example = j.scored("e1", scored(1.0))
    assert example is not None and example.y is True


def test_labels_for_unknown_or_expired_events_come_back_as_unknown() -> None:
    j = Joiner(horizon=10, early_grace=5)
    j.scored("old", scored(0.0))
    j.label("ghost", Label(True, 1.0))
    j.scored("new", scored(20.0))
    unknown = j.expire()
    assert [event_id for event_id, _ in unknown] == ["ghost"]
    assert j.counts.expired_events == 1
    j.label("old", Label(True, 21.0))  # its event expired: it waits, then is unknown
    j.scored("newer", scored(30.0))
    assert [event_id for event_id, _ in j.expire()] == ["old"]


def test_a_second_label_for_a_joined_event_is_a_duplicate_not_joined_twice() -> None:
    j = Joiner()
    j.scored("e1", scored(0.0))
    assert isinstance(j.label("e1", Label(True, 1.0)), Example)
    assert j.label("e1", Label(False, 2.0)) == DuplicateLabel("e1", Label(False, 2.0))
    assert j.counts.duplicate_labels == 1 and j.counts.joined == 1


def test_a_second_label_while_one_waits_is_a_duplicate_and_the_first_stands() -> None:
    # regression: the second early label replaced the first, which was dropped without a trace
    j = Joiner()
    assert j.label("e1", Label(True, 1.0)) is None
    assert j.label("e1", Label(False, 2.0)) == DuplicateLabel("e1", Label(False, 2.0))
    example = j.scored("e1", scored(0.0))
    assert example is not None and example.y is True


def test_the_same_feedback_record_written_again_is_no_second_label() -> None:
    # after a crash the feedback agent writes a label again, naming the same feedback record
    j = Joiner()
    first = Label(True, 1.0, source=("feedback", 2, 40))
    assert j.label("e1", first) is None
    assert j.label("e1", Label(True, 1.0, source=("feedback", 2, 40))) is None  # waiting: re-read
    assert isinstance(j.scored("e1", scored(0.0)), Example)
    assert j.label("e1", Label(True, 1.0, source=("feedback", 2, 40))) is None  # joined: re-read
    other = Label(True, 3.0, source=("feedback", 2, 41))
    assert j.label("e1", other) == DuplicateLabel("e1", other)
    assert j.counts.reread_labels == 2 and j.counts.duplicate_labels == 1 and j.counts.joined == 1


def test_an_early_label_waits_on_the_events_clock_not_the_labels() -> None:
    # regression: labels running ahead of lagging events were declared unknown too soon
    j = Joiner(horizon=1000, early_grace=60)
    j.scored("e0", scored(0.0))
    j.label("e1", Label(True, 1.0))
    j.label("late", Label(True, 500.0))  # a label far ahead moves no event clock
    assert j.expire() == []
    assert j.scored("e1", scored(2.0)) is not None


def test_the_join_applies_the_next_record_skips_what_it_holds_and_rebuilds_past_a_gap() -> None:
    # a regression: a rebuild used to stop at the committed offsets, so after a restart two
    # topics read ahead of their commits made each other rebuild on every record
    assert step(5, 5) == "apply"
    assert step(5, 0) == "skip"  # Faust went back to a commit below what the joiner holds
    assert step(5, 4) == "skip"
    assert step(5, 6) == "rebuild"  # offset 5 was read by another worker
    assert step(None, 0) == "rebuild"  # no joiner for the partition here
