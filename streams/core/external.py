"""Models trained elsewhere, in River's one-example interface, so the registry, the scorer, the
trainer's promotion gate and replay take them like the trainer's own.

- :class:`SklearnModel`: a fitted scikit-learn estimator or ``Pipeline``. Each event's features
  become one row in the columns the model was fitted on (a one-row frame when it was fitted on
  named columns, as a notebook's ``DataFrame``; a missing feature is NaN). It does not learn from
  labels, unless given a refit policy (``refit_every``): then it is refitted, from a fresh clone,
  on the last ``window`` labelled examples.
- :class:`Frozen`: a River model that serves and is judged without learning.

>>> import numpy as np
>>> from sklearn.linear_model import LogisticRegression
>>> fitted = LogisticRegression().fit(np.array([[0.0], [1.0], [9.0], [10.0]]), [False, False, True, True])
>>> m = SklearnModel(fitted, features=("x",), classifier=True)
>>> m.predict_one({"x": 9.5}), m.predict_one({"x": 0.2})
(True, False)
>>> sorted(m.predict_proba_one({"x": 5.0}))
[False, True]
>>> m.learn_one({"x": 0.0}, True)  # no refit policy: the labels judge it, they do not change it
>>> m.predict_one({"x": 9.5}), m.examples
(True, 1)
"""

from __future__ import annotations

import math
import warnings
from collections import deque
from typing import Any

import numpy as np

# a model fitted on named columns, given array rows where that changes nothing (SklearnModel.prefer_arrays)
warnings.filterwarnings("ignore", message="X does not have valid feature names", category=UserWarning)


def _plain(value: Any) -> Any:
    """A numpy scalar as the Python value it stands for (labels compare with plain values)."""
    return value.item() if hasattr(value, "item") else value


def _cell(value: Any) -> Any:
    """A feature's value as a column takes it: None (missing) as NaN."""
    return math.nan if value is None else value


def describe_estimator(estimator: Any) -> str:
    """``Pipeline(StandardScaler, LogisticRegression)``, or the estimator's class name."""
    steps = getattr(estimator, "steps", None)
    if isinstance(steps, list) and steps:
        return f"{type(estimator).__name__}({', '.join(type(step).__name__ for _, step in steps)})"
    return type(estimator).__name__


class SklearnModel:
    """A fitted scikit-learn estimator or Pipeline, scored one event at a time."""

    def __init__(self, estimator: Any, *, features: tuple[str, ...], classifier: bool, frame: bool = False,
                 refit_every: int = 0, window: int = 1000) -> None:
        self.estimator = estimator
        self.features = tuple(features)
        self.classifier = classifier
        #: fitted on named columns (a DataFrame): it is given a one-row frame, else an array row
        self.frame = frame
        self.has_proba = classifier and hasattr(estimator, "predict_proba")
        self.refit_every = refit_every
        self.window: deque[tuple[dict[str, Any], Any]] = deque(maxlen=window)
        self.since_fit = 0
        self.examples = 0  # labelled examples it was judged (or refitted) on

    def __repr__(self) -> str:
        return f"SklearnModel({describe_estimator(self.estimator)})"

    @property
    def learns(self) -> bool:
        """Whether labels change it: the trainer publishes a version of a champion that learned."""
        return bool(self.refit_every)

    def describe(self) -> str:
        refit = f", refitted every {self.refit_every} on the last {self.window.maxlen}" if self.refit_every else ""
        return f"registered sklearn {describe_estimator(self.estimator)}{refit}"

    def rows(self, xs: list[dict[str, Any]]) -> Any:
        """Feature dicts as the estimator's input: a frame in its columns, or a 2-D array."""
        if self.frame:
            import pandas as pd

            return pd.DataFrame({name: [_cell(x.get(name)) for x in xs] for name in self.features},
                                columns=list(self.features))
        return np.array([[_cell(x.get(name)) for name in self.features] for x in xs], dtype=object if any(
            isinstance(x.get(name), str) for x in xs for name in self.features) else np.float64).reshape(len(xs), len(self.features))

    def prefer_arrays(self, xs: list[dict[str, Any]]) -> bool:
        """Score with array rows rather than one-row frames when that changes nothing on ``xs``
        (numbers only, no step that selects columns by name, the same outputs): scikit-learn checks
        a frame's columns on every call, five times the cost of a small tree's prediction.
        Returns whether it now does."""
        if not self.frame or not xs or any(isinstance(x.get(n), str) for x in xs for n in self.features):
            return False
        if "ColumnTransformer" in repr(self.estimator):
            return False
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                named = self._outputs(self.rows(xs))
                self.frame = False
                same = self._outputs(self.rows(xs)) == named
            except Exception:  # noqa: BLE001 - it takes only frames: keep them
                same = False
        self.frame = not same
        return same

    def _outputs(self, rows: Any) -> list[Any]:
        if self.has_proba:
            return self.estimator.predict_proba(rows).tolist()  # type: ignore[no-any-return]
        return self.estimator.predict(rows).tolist()  # type: ignore[no-any-return]

    def predict_proba_one(self, x: dict[str, Any]) -> dict[Any, float]:
        if not self.classifier:
            return {}
        if not self.has_proba:  # a classifier with no probabilities: all on its prediction
            return {_plain(self.estimator.predict(self.rows([x]))[0]): 1.0}
        proba = self.estimator.predict_proba(self.rows([x]))[0]
        return {_plain(c): float(p) for c, p in zip(self.estimator.classes_, proba, strict=True)}

    def predict_one(self, x: dict[str, Any]) -> Any:
        if self.classifier:
            proba = self.predict_proba_one(x)
            return max(proba, key=proba.get) if proba else None  # type: ignore[arg-type]
        return float(self.estimator.predict(self.rows([x]))[0])

    def learn_one(self, x: dict[str, Any], y: Any) -> None:
        self.examples += 1
        if not self.refit_every:
            return
        self.window.append((x, y))
        self.since_fit += 1
        if self.since_fit >= self.refit_every:
            self._refit()

    def _refit(self) -> None:
        from sklearn.base import clone

        ys = [y for _, y in self.window]
        if self.classifier and len(set(ys)) < 2:
            return  # one class in the window: keep the fitted model
        fresh = clone(self.estimator)
        fresh.fit(self.rows([x for x, _ in self.window]), ys)
        self.estimator, self.since_fit = fresh, 0


class Frozen:
    """A River model that predicts and does not learn: a registered version judged as it was saved."""

    def __init__(self, model: Any) -> None:
        self.model = model
        self.examples = 0

    def __repr__(self) -> str:
        return f"Frozen({self.model!r})"

    learns = False

    def describe(self) -> str:
        from streams.core.model import describe

        return f"registered {describe(self.model)} (not learning)"

    def predict_one(self, x: dict[str, Any]) -> Any:
        return self.model.predict_one(x)

    def predict_proba_one(self, x: dict[str, Any]) -> dict[Any, float]:
        return self.model.predict_proba_one(x)  # type: ignore[no-any-return]

    def learn_one(self, x: dict[str, Any], y: Any) -> None:
        self.examples += 1
