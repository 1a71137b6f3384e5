"""Plugins in a spec, without a broker: the example package's estimator and feature functions
(installed by make), found by entry-point name; anything else still refused."""

from __future__ import annotations

import itertools

import pytest

from schemas import RawEvent, Reason
from streams.core import plugins
from streams.core.features import Unscorable, featurize
from streams.core.model import build_model
from streams.core.replay import replay
from streams.core.spec import SpecError, parse_spec
from streams.kafka.sources import builtin
from streams.specs.load import DEFAULT_SPEC_PATH

DEMO = DEFAULT_SPEC_PATH.read_text()
FUNCTIONS = """[[features.function]]
name = "loan_to_salary"
params = { strict = true }

[[features.function]]
name = "salary_vs_usual"

"""


def plugged_spec():  # type: ignore[no-untyped-def]
    """The demo's spec with the example plugin's estimator and both its feature functions."""
    text = DEMO.replace('estimator = "river.tree.HoeffdingTreeClassifier"', 'estimator = "acme-scaled-logistic"\nparams = { lr = 0.05 }')
    return parse_spec(text.replace("[model]", FUNCTIONS + "[model]"))


def event(i: int, salary: float, entity: str = "c-1") -> RawEvent:
    data = {"salary": salary, "commission": 0.0, "age": 30, "elevel": 1, "car": 2, "zipcode": 3, "hvalue": 1.0,
            "hyears": 2, "loan": 1000.0}
    return RawEvent(event_id=f"e-{i}", entity_id=entity, ts=1_700_000_000.0 + i, data=data)


def test_a_spec_names_a_plugin_estimator_and_feature_functions_by_entry_point() -> None:
    spec = plugged_spec()
    model = build_model(spec)
    assert type(model) is plugins.load(plugins.ESTIMATORS, "acme-scaled-logistic") and model.lr == 0.05
    assert type(model).__name__ == "ScaledLogistic"
    assert [f.name for f in spec.functions] == ["loan_to_salary", "salary_vs_usual"]
    assert [f.stateful for f in spec.functions] == [False, True]
    assert spec.feature_names[9:12] == ("loan_to_salary", "salary_vs_usual", "salary_seen")


def test_features_come_from_the_functions_and_the_state_is_the_entitys() -> None:
    spec = plugged_spec()
    state = None
    for i, salary in enumerate((100.0, 110.0, 90.0, 100.0)):
        x, state = featurize(spec, event(i, salary), state, (0, i))
    assert x["loan_to_salary"] == 10.0 and x["salary_seen"] == 4.0
    assert state["f"]["salary_vs_usual"]["s"]["n"] == 4
    again, state = featurize(spec, event(3, 100.0), state, (0, 3))
    assert again == x and state["f"]["salary_vs_usual"]["s"]["n"] == 4  # read again: not counted twice
    other, _ = featurize(spec, event(9, 100.0, entity="c-2"), None, (1, 0))
    assert other["salary_seen"] == 1.0


def test_a_function_that_raises_makes_the_event_unscorable_and_leaves_the_state() -> None:
    spec = plugged_spec()
    _, state = featurize(spec, event(0, 100.0), None, (0, 0))
    before = repr(state)
    with pytest.raises(Unscorable) as raised:
        featurize(spec, event(1, 0.0), state, (0, 1))
    assert raised.value.reason is Reason.FEATURE_FAILED
    assert "feature function 'loan_to_salary' raised ZeroDivisionError" in str(raised.value)
    assert repr(state) == before


def test_a_later_function_that_raises_leaves_an_earlier_ones_state_too() -> None:
    """salary_vs_usual (stateful) runs first and returns; loan_to_salary (strict) then raises on a
    salary of 0: the customer's state must not count that event."""
    in_turn = '[[features.function]]\nname = "salary_vs_usual"\n\n[[features.function]]\nname = "loan_to_salary"\nparams = { strict = true }\n\n'
    spec = parse_spec(DEMO.replace("[model]", in_turn + "[model]"))
    assert [f.name for f in spec.functions] == ["salary_vs_usual", "loan_to_salary"]
    _, state = featurize(spec, event(0, 100.0), None, (0, 0))
    before = repr(state)
    with pytest.raises(Unscorable, match="loan_to_salary"):
        featurize(spec, event(1, 0.0), state, (0, 1))
    assert repr(state) == before and state["f"]["salary_vs_usual"]["s"]["n"] == 1


def test_replay_runs_the_plugins_and_dead_letters_what_they_refuse() -> None:
    spec = plugged_spec()
    items = list(itertools.islice(builtin("agrawal-drift", seed=4, drift_at=10**9), 1_500))
    items[700][0]["data"]["salary"] = 0.0  # strict loan_to_salary raises on it
    result = replay(spec, iter(items))
    assert result.deadletters == {"feature_failed": 1, "unknown_event": 1}  # its label, as live
    assert result.examples == 1_499 and result.prequential > 0.6


@pytest.mark.parametrize("change,says", [
    (('estimator = "river.tree.HoeffdingTreeClassifier"', 'estimator = "acme-no-such"'),
     "'acme-no-such' is not a dotted name such as river.linear_model.LogisticRegression, nor an installed plugin "
     "(driftline.estimators: acme-scaled-logistic"),
    (('estimator = "river.tree.HoeffdingTreeClassifier"', 'estimator = "acme_features.models.ScaledLogistic"'),
     "'acme_features.models.ScaledLogistic' is not allowed"),
    (("[model]", '[[features.function]]\nname = "no_such_function"\n\n[model]'),
     "feature function 'no_such_function' is not an installed plugin (driftline.features: loan_to_salary, salary_vs_usual)"),
    (("[model]", '[[features.function]]\nname = "loan_to_salary"\nparams = { ratio = 2 }\n\n[model]'),
     "feature function 'loan_to_salary' does not take these params"),
])
def test_anything_else_is_still_refused(change: tuple[str, str], says: str) -> None:
    with pytest.raises(SpecError) as refused:
        parse_spec(DEMO.replace(*change))
    assert says in str(refused.value)


def test_a_state_that_is_not_json_is_the_functions_error_and_is_not_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    spec = plugged_spec()
    _, state = featurize(spec, event(0, 100.0), None, (0, 0))
    before = repr(state)

    def keeps_a_set(event, state):  # type: ignore[no-untyped-def]
        state["seen"] = {1, 2}
        return {"salary_vs_usual": 0.0, "salary_seen": 1.0}

    original = plugins.load
    monkeypatch.setattr(plugins, "load", lambda group, name: keeps_a_set if name == "salary_vs_usual" else original(group, name))
    with pytest.raises(Unscorable, match="feature function 'salary_vs_usual' raised TypeError"):
        featurize(spec, event(1, 100.0), state, (0, 1))
    assert repr(state) == before

