"""The scorer: validation outcomes, features and predictions, serving versions, shadow and canary."""

from __future__ import annotations

from dataclasses import replace

import orjson

from schemas import DeadLetter, RawEvent, Reason
from streams.core.model import build_model
from streams.core.scoring import Scorer, Where, promoted_by_hand
from streams.specs.load import load_spec

SPEC = load_spec(None)
DATA = {"salary": 50000.0, "commission": 0.0, "age": 40, "elevel": 1, "car": 3, "zipcode": 2,
        "hvalue": 100000.0, "hyears": 10, "loan": 20000.0}
WHERE = Where("t.raw", 0, 7, 1.0)


class Constant:
    """A stand-in model that always says the same thing."""

    def __init__(self, answer: bool) -> None:
        self.answer = answer

    def predict_proba_one(self, x: dict) -> dict:  # type: ignore[type-arg]
        return {self.answer: 0.9, not self.answer: 0.1}


def raw(event_id: str, entity: str = "c-1", ts: float = 100.0, **data: object) -> bytes:
    return orjson.dumps({"event_id": event_id, "entity_id": entity, "ts": ts, "data": {**DATA, **data}})


def test_a_valid_event_is_scored_and_a_bad_or_repeated_one_is_a_dead_letter_with_its_reason() -> None:
    scorer = Scorer(SPEC, clock=lambda: 200.0)
    event = scorer.validate(raw("e-1"), WHERE)
    assert isinstance(event, RawEvent)
    again = scorer.validate(raw("e-1"), WHERE)
    assert isinstance(again, DeadLetter) and again.reason is Reason.DUPLICATE_EVENT and again.offset == 7
    wrong = scorer.validate(raw("e-2", age=500), WHERE)
    assert isinstance(wrong, DeadLetter) and wrong.reason is Reason.OUT_OF_RANGE


def test_an_untrained_model_serves_version_0_with_no_prediction_until_a_version_is_served() -> None:
    scorer = Scorer(SPEC, clock=lambda: 200.0)
    event = scorer.validate(raw("e-1"), WHERE)
    features, prediction, state, _ = scorer.score(event, None, WHERE)  # type: ignore[arg-type]
    assert prediction.model_version == 0 and prediction.prediction is None
    assert features.features["events_last_hour"] == 1.0 and state is not None
    scorer.serve(3, Constant(True), "champion")  # type: ignore[arg-type]
    _, prediction, _, _ = scorer.score(scorer.validate(raw("e-2"), WHERE), state, WHERE)  # type: ignore[arg-type]
    assert (prediction.model_version, prediction.prediction, prediction.challenger) == (3, True, None)


def test_a_challenger_shadows_every_event_and_serves_only_its_canary_share() -> None:
    spec = replace(SPEC, training=replace(SPEC.training, canary_percent=20.0))
    scorer = Scorer(spec, clock=lambda: 200.0)
    scorer.serve(1, Constant(True), "champion")  # type: ignore[arg-type]
    scorer.serve(2, Constant(False), "challenger")  # type: ignore[arg-type]
    served = []
    for i in range(2_000):
        event = scorer.validate(raw(f"e-{i}", entity=f"c-{i}"), WHERE)
        _, prediction, _, _ = scorer.score(event, None, WHERE)  # type: ignore[arg-type]
        assert prediction.challenger == {"model_version": 2, "prediction": False}
        served.append((prediction.model_version, prediction.prediction))
    canary = [s for s in served if s[0] == 2]
    assert set(canary) == {(2, False)} and 300 < len(canary) < 500  # about 20% of the entities
    scorer.serve(2, Constant(False), "champion")  # promoted: the challenger slot empties
    assert scorer.challenger is None and scorer.champion.version == 2


def test_a_scorer_loads_new_champions_and_challengers_and_status_changes_of_what_it_serves() -> None:
    scorer = Scorer(SPEC, clock=lambda: 200.0)
    scorer.serve(3, build_model(SPEC), "champion")
    scorer.serve(4, build_model(SPEC), "challenger")
    assert scorer.concerns(5, "champion") and scorer.concerns(5, "challenger")
    assert scorer.concerns(4, "retired") and scorer.concerns(3, "retired")
    assert not scorer.concerns(2, "retired") and not scorer.concerns(5, "candidate")
    scorer.serve(4, build_model(SPEC), "retired")
    assert scorer.challenger is None and not scorer.concerns(4, "retired")


def test_only_a_champion_chosen_by_someone_else_than_the_trainer_is_promoted_by_hand() -> None:
    assert promoted_by_hand("champion", "cli")
    assert not promoted_by_hand("champion", "trainer") and not promoted_by_hand("champion", "")
    assert not promoted_by_hand("challenger", "cli")


def test_predictions_are_watched_only_once_a_served_champion_has_learned_enough() -> None:
    """A model still learning moves its own predictions: the prediction monitor waits for a
    champion trained on ``after_examples`` (5,000 by default) and says where it started."""
    (watched,) = [d for d in SPEC.drift if d.signal == "prediction"]
    assert watched.after_examples == 5000
    scorer = Scorer(replace(SPEC, entity=()), clock=lambda: 200.0)  # no entity feature windows to wait for
    monitor = next(m for d, m in scorer.monitors if d.signal == "prediction")

    def score(n: int) -> None:
        for i in range(n):
            scorer.score(scorer.validate(raw(f"e-{scorer.scored}-{i}", entity=f"c-{i}"), WHERE), None, WHERE)  # type: ignore[arg-type]

    score(10)  # the untrained model
    scorer.serve(1, Constant(True), "champion", trained_examples=2000)  # type: ignore[arg-type]
    score(10)
    assert monitor.updates == 0 and scorer.watching_since == {}
    scorer.serve(2, Constant(True), "champion", trained_examples=5000)  # type: ignore[arg-type]
    score(10)
    assert monitor.updates == 10 and scorer.watching_since == {"predictions": (21, 2, 5000)}
    # a newer champion serves; the monitor goes on watching version 2's predictions, pinned: a
    # model that goes on learning would move its own predictions
    monitor.trace = []
    scorer.serve(3, Constant(False), "champion")  # type: ignore[arg-type]  # trained examples not known: enough
    score(1)
    assert monitor.updates == 11 and scorer.watching_since["predictions"] == (21, 2, 5000)
    assert monitor.trace == [(31, True)]


def test_predictions_are_watched_only_once_the_entity_features_windows_have_filled() -> None:
    """A count over the last hour grows through a stream's first hour of event time, and moves
    the predictions with it: the monitor waits that hour out (the demo spec's longest window)."""
    scorer = Scorer(SPEC, clock=lambda: 200.0)
    assert scorer.windows_fill_s == 3600.0
    scorer.serve(1, Constant(True), "champion", trained_examples=9000)  # type: ignore[arg-type]
    monitor = next(m for d, m in scorer.monitors if d.signal == "prediction")
    for n, ts in enumerate((1000.0, 2000.0, 4599.0, 4600.0, 4700.0)):
        scorer.score(scorer.validate(raw(f"e-{n}", ts=ts), WHERE), None, WHERE)  # type: ignore[arg-type]
    assert monitor.updates == 2 and scorer.watching_since == {"predictions": (4, 1, 9000)}
