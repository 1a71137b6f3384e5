"""The scikit-learn challenger: refits on its window, and its fast path agrees with scikit-learn."""

from __future__ import annotations

import random

import pytest

from streams.core.batch import WindowedSklearn, matrix


def rows(n: int, seed: int = 1) -> list[dict[str, object]]:
    rng = random.Random(seed)
    return [{"a": rng.random(), "b": rng.random(), "colour": rng.choice(["red", "blue"])} for _ in range(n)]


@pytest.mark.parametrize("estimator", ["", "sklearn.ensemble.RandomForestClassifier", "sklearn.linear_model.LogisticRegression"])
def test_probabilities_are_scikit_learns_own(estimator: str) -> None:
    model = WindowedSklearn(estimator, classifier=True, window=500, refit_every=100)
    for x in rows(500):
        model.learn_one(x, x["a"] > 0.5 and x["colour"] == "red")  # type: ignore[operator]
    for x in rows(60, seed=2):
        ours = model.predict_proba_one(x)
        theirs = dict(zip(model.fitted.classes_.tolist(), model.fitted.predict_proba(model.vectorizer.transform([x]))[0].tolist(), strict=True))
        assert ours == pytest.approx(theirs)
    assert model.predict_one({"a": 0.9, "b": 0.1, "colour": "red"}) is True


def test_it_learns_only_from_its_window_and_refits_on_schedule() -> None:
    model = WindowedSklearn("", classifier=True, window=200, refit_every=50)
    data = rows(400)
    for x in data[:200]:
        model.learn_one(x, x["a"] > 0.5)  # type: ignore[operator]
    for x in data[200:]:
        model.learn_one(x, x["a"] <= 0.5)  # type: ignore[operator]  # the concept flips
    assert model.predict_one({"a": 0.9, "b": 0.5, "colour": "red"}) is False  # the old concept is forgotten
    assert model.since_fit == 0 and len(model.window) == 200


def test_a_regressor_predicts_numbers() -> None:
    model = WindowedSklearn("", classifier=False, window=300, refit_every=100)
    for x in rows(300):
        model.learn_one(x, 10.0 * x["a"])  # type: ignore[operator]
    assert model.predict_proba_one({"a": 0.5}) == {}  # no classes to weigh
    assert model.predict_one({"a": 0.9, "b": 0.0, "colour": "blue"}) == pytest.approx(9.0, abs=1.0)


def test_its_columns_are_dict_vectorizers_own() -> None:
    from sklearn.feature_extraction import DictVectorizer

    data = rows(300)
    model = WindowedSklearn("", classifier=True, window=300, refit_every=300)
    for x in data:
        model.learn_one(x, x["a"] > 0.5)  # type: ignore[operator]
    theirs = DictVectorizer(sparse=False).fit(data)
    assert model.vectorizer.feature_names_ == list(theirs.feature_names_)
    assert (matrix(data, model.vectorizer.vocabulary_) == theirs.transform(data)).all()
