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


def test_the_tree_walk_finds_scikit_learns_leaf_at_and_around_every_threshold() -> None:
    """Values a hair either side of each split (float32 rounding decides those), strings seen
    and unseen, missing keys, extreme numbers: the walk's probabilities are predict_proba's."""
    import math

    import numpy as np

    model = WindowedSklearn("", classifier=True, window=400, refit_every=400)
    data = rows(400, seed=3)
    for x in data:
        model.learn_one(x, x["a"] + x["b"] > 0.9 or x["colour"] == "blue" and x["a"] > 0.3)  # type: ignore[operator]
    assert model.walk is not None
    tree = model.fitted.tree_
    probes: list[dict[str, object]] = [{}, {"colour": "green"}, {"a": 1e300, "b": -1e300}, {"a": True, "b": 0}]
    reaches = tree.decision_path(model.vectorizer.transform(data).astype(np.float32)).tocsc()
    for node in range(tree.node_count):
        if tree.children_left[node] == -1:
            continue
        at = data[reaches[:, node].nonzero()[0][0]]  # an example whose path passes this split
        name = model.vectorizer.feature_names_[tree.feature[node]]
        if "=" in name:
            probes += [{**at, "colour": name.split("=")[1]}, {**at, "colour": "green"}]
            continue
        for t in (tree.threshold[node], float(np.float32(tree.threshold[node]))):
            probes += [{**at, name: v} for v in (t, math.nextafter(t, 0.0), math.nextafter(t, 1.0), t + 1e-9, t - 1e-9)]
    for x in probes:
        # the leaf tree_.apply finds (predict_proba's own, which refuses numbers beyond float32)
        with np.errstate(over="ignore"):
            counts = tree.value[tree.apply(model.vectorizer.transform([x]).astype(np.float32))][0][0]
        theirs = dict(zip(model.fitted.classes_.tolist(), (counts / counts.sum()).tolist(), strict=True))
        assert model.predict_proba_one(x) == pytest.approx(theirs), x
    assert model.walk.proba({"a": 1e300}) is None  # beyond float32: scikit-learn's path places it


def test_without_a_walk_scikit_learn_decides() -> None:
    """A value the walk cannot place (not finite), a key with "=" in it, and a model pickled before
    it had a walk: scikit-learn's own path answers."""
    import pickle

    model = WindowedSklearn("", classifier=True, window=200, refit_every=200)
    for x in rows(200):
        model.learn_one(x, x["a"] > 0.5)  # type: ignore[operator]
    assert model.walk is not None and model.walk.proba({"a": float("nan")}) is None
    assert model.predict_one({"a": 0.9, "b": 0.1, "colour": "red"}) is True
    old = pickle.loads(pickle.dumps(model))
    del old.walk
    assert old.predict_proba_one({"a": 0.9}) == model.predict_proba_one({"a": 0.9})
    odd = WindowedSklearn("", classifier=True, window=200, refit_every=200)
    for x in rows(200):
        odd.learn_one({"a=b": x["a"]}, x["a"] > 0.5)  # type: ignore[operator]
    assert odd.walk is None and odd.predict_one({"a=b": 0.9}) is True


def test_each_refit_fits_the_window_laid_out_afresh_though_rows_are_laid_out_once() -> None:
    """The rows kept between refits (issue 27) are the window's own, in its order, also when a
    new string value or a key that was missing adds columns, and after a pickle round trip."""
    import pickle

    rng = random.Random(5)
    model = WindowedSklearn("", classifier=True, window=120, refit_every=40)
    refits = 0
    for i in range(400):
        x: dict[str, object] = {"a": rng.random(), "colour": rng.choice(["red", "blue"] + (["green"] if i > 200 else []))}
        if i > 300:
            x["late"] = rng.random()
        model.learn_one(x, rng.random() > 0.5)
        if i == 250:
            model = pickle.loads(pickle.dumps(model))
        if model.since_fit == 0:
            refits += 1
            index = model.vectorizer.vocabulary_
            assert (model._matrix(index) == matrix([w for w, _ in model.window], index)).all()
            assert model.rows is not None and all(row is not None for row in model.rows)
    assert refits == 10 and {"colour=green", "late"} <= set(model.vectorizer.feature_names_)
