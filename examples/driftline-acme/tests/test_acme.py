"""The plugin's own tests: its features and estimator, and that driftline finds them."""

from __future__ import annotations

import math

from acme_features.features import loan_to_salary, salary_vs_usual
from acme_features.models import ScaledLogistic

from streams.core import plugins


def event(salary: float, loan: float = 1000.0) -> dict:  # type: ignore[type-arg]
    return {"event_id": "e", "entity_id": "c-1", "ts": 0.0, "data": {"salary": salary, "loan": loan}}


def test_the_ratio_and_a_zero_salary() -> None:
    assert loan_to_salary(event(50_000.0, 100_000.0)) == {"loan_to_salary": 2.0}
    assert loan_to_salary(event(0.0)) == {"loan_to_salary": 0.0}
    try:
        loan_to_salary(event(0.0), strict=True)
    except ZeroDivisionError:
        pass
    else:
        raise AssertionError("strict: a salary of 0 must raise")


def test_the_usual_salary_is_learned_per_customer_in_its_state() -> None:
    state: dict = {}  # type: ignore[type-arg]
    scores = [salary_vs_usual(event(s), state)["salary_vs_usual"] for s in (100.0, 110.0, 90.0, 100.0, 200.0)]
    assert scores[:2] == [0.0, 0.0]  # no spread seen yet
    assert state["n"] == 5 and math.isclose(state["mean"], 120.0)
    assert scores[-1] > 10  # far from the usual 90..110


def test_the_estimator_learns_a_threshold() -> None:
    model = ScaledLogistic(lr=0.1)
    for i in range(2000):
        x = {"v": float(i % 100)}
        model.learn_one(x, x["v"] >= 50)
    assert model.predict_one({"v": 90.0}) is True and model.predict_one({"v": 10.0}) is False


def test_driftline_finds_them_by_their_entry_point_names() -> None:
    assert "acme-scaled-logistic" in plugins.installed(plugins.ESTIMATORS)
    assert {"loan_to_salary", "salary_vs_usual"} <= set(plugins.installed(plugins.FEATURES))
    assert plugins.load(plugins.ESTIMATORS, "acme-scaled-logistic") is ScaledLogistic
    assert plugins.load(plugins.FEATURES, "salary_vs_usual").outputs == ("salary_vs_usual", "salary_seen")
