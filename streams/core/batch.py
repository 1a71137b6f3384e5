"""A scikit-learn estimator as a challenger: refitted on a sliding window of recent examples.

It speaks River's one-example interface (``learn_one``, ``predict_one``, ``predict_proba_one``),
so the trainer, registry, scorer and replay treat it like any online model: the classic batch
retrain competing with online learning, on the same footing. Features are vectorised with
``DictVectorizer``'s rules (numbers as they are, strings one-hot, columns in name order), built
here in one pass: ``DictVectorizer.transform`` cost more than the tree's fit itself.

>>> m = WindowedSklearn("", classifier=True, window=50, refit_every=10)
>>> m.predict_one({"x": 1.0}) is None  # nothing fitted yet
True
>>> for i in range(40):
...     m.learn_one({"x": float(i)}, i >= 20)
>>> m.predict_one({"x": 35.0}), m.predict_one({"x": 3.0})
(True, False)
"""

from __future__ import annotations

import math
import struct
from collections import deque
from typing import Any

import numpy as np
from sklearn.feature_extraction import DictVectorizer

from streams.core.spec import check_importable

#: decision trees by default: they score one row in about 0.16 ms here, where
#: HistGradientBoosting takes about 1.9 ms (its per-call overhead), too slow to serve per event
#: a fixed random_state, so that replay refits exactly the trees the live trainer fitted
DEFAULT_ESTIMATORS = {
    True: ("sklearn.tree.DecisionTreeClassifier", {"min_samples_leaf": 5, "random_state": 0}),
    False: ("sklearn.tree.DecisionTreeRegressor", {"min_samples_leaf": 5, "random_state": 0}),
}


class WindowedSklearn:
    """A scikit-learn estimator refitted every ``refit_every`` examples on the last ``window``."""

    def __init__(self, estimator: str, *, classifier: bool, window: int = 1000, refit_every: int = 250,
                 params: dict[str, Any] | None = None) -> None:
        default, default_params = DEFAULT_ESTIMATORS[classifier]
        self.estimator_path = estimator or default
        self.params = dict(params if params is not None else ({} if estimator else default_params))
        self.classifier = classifier
        self.window: deque[tuple[dict[str, Any], Any]] = deque(maxlen=window)
        self.refit_every = refit_every
        self.since_fit = 0
        self.fitted: Any = None
        self.vectorizer: DictVectorizer | None = None
        self.walk: TreeWalk | None = None  # a fitted single tree's nodes as lists (see TreeWalk)
        self.rows: deque[list[float] | None] | None = None  # the window's examples laid out (see _matrix)
        self.rows_index: dict[str, int] | None = None
        #: each window example's number keys and (key, string) pairs: the columns it needs
        self.kinds: deque[tuple[tuple[str, ...], tuple[tuple[str, str], ...]]] | None = None

    def __repr__(self) -> str:
        return f"WindowedSklearn({self.estimator_path}, window={self.window.maxlen})"

    def describe(self) -> str:
        return f"sklearn {self.estimator_path.rsplit('.', 1)[-1]} (window {self.window.maxlen})"

    def learn_one(self, x: dict[str, Any], y: Any) -> None:
        self.window.append((x, y))
        rows, kinds = getattr(self, "rows", None), getattr(self, "kinds", None)
        if rows is not None:
            rows.append(None)  # laid out at the next refit
        if kinds is not None:
            kinds.append(_columns(x))
        self.since_fit += 1
        if self.since_fit >= self.refit_every:
            self._fit()

    @property
    def estimator(self) -> type:
        """The estimator's class, found once (not at every refit: the import check is not free)."""
        found = getattr(self, "_estimator", None)  # absent in a model pickled before it was kept
        if found is None:
            found = self._estimator = check_importable(self.estimator_path)
        return found

    def _fit(self) -> None:
        ys = [y for _, y in self.window]
        if self.classifier and len(set(ys)) < 2:
            return  # one class seen so far: nothing to separate yet
        kinds = getattr(self, "kinds", None)  # absent in a model pickled before
        if kinds is None or len(kinds) != len(self.window):
            kinds = self.kinds = deque((_columns(x) for x, _ in self.window), maxlen=self.window.maxlen)
        numbers: set[str] = set().union(*(n for n, _ in kinds))
        strings: set[tuple[str, str]] = set().union(*(s for _, s in kinds))
        # column -> (its key, the string it one-hots or None for a number); a string's column wins a
        # clash of names (the walk is then off: see TreeWalk.of)
        names: dict[str, tuple[str, str | None]] = {k: (k, None) for k in numbers}
        names.update({f"{k}={v}": (k, v) for k, v in strings})
        vectorizer = DictVectorizer(sparse=False)
        vectorizer.feature_names_ = sorted(names)
        vectorizer.vocabulary_ = {name: i for i, name in enumerate(vectorizer.feature_names_)}
        model = self.estimator(**self.params)
        model.fit(self._matrix(vectorizer.vocabulary_), ys)
        self.fitted, self.vectorizer, self.since_fit = model, vectorizer, 0
        self.walk = TreeWalk.of(model, [names[n] for n in vectorizer.feature_names_]) if self.classifier else None

    def _matrix(self, index: dict[str, int]) -> np.ndarray:
        """The window as the columns of ``index``: each example laid out once while the columns
        stay the same (a refit every 250 of the last 1,000 examples lays out 250, not 1,000).
        ``self.rows`` holds each window example's row, in the window's order, None until laid out."""
        rows: deque[list[float] | None] | None = getattr(self, "rows", None)  # absent in a model pickled before
        if rows is None or len(rows) != len(self.window) or getattr(self, "rows_index", None) != index:
            rows = self.rows = deque([None] * len(self.window), maxlen=self.window.maxlen)
        missing = [i for i, row in enumerate(rows) if row is None]
        if missing:
            laid = matrix([self.window[i][0] for i in missing], index).tolist()
            for i, row in zip(missing, laid, strict=True):
                rows[i] = row
        self.rows_index = index
        return np.array(rows, dtype=np.float64).reshape(len(self.window), len(index))

    def predict_proba_one(self, x: dict[str, Any]) -> dict[Any, float]:
        if not self.classifier or self.fitted is None or self.vectorizer is None:
            return {}
        walk = getattr(self, "walk", None)  # None in a model pickled before it had one
        if walk is not None:
            proba = walk.proba(x)
            if proba is not None:
                return proba
        row = matrix([x], self.vectorizer.vocabulary_)
        tree = getattr(self.fitted, "tree_", None)
        if tree is not None and getattr(self.fitted, "n_outputs_", 1) == 1:
            # a fitted tree's own leaf lookup: what predict_proba does, without its per-call input
            # checks, which cost ten times the lookup for one row
            with np.errstate(over="ignore"):  # beyond float32 is +-inf, as predict_proba would take it
                counts = tree.value[tree.apply(row.astype(np.float32))][0][0]
            total = float(counts.sum()) or 1.0
            return {_plain(c): float(n) / total for c, n in zip(self.fitted.classes_, counts, strict=True)}
        return {_plain(c): float(p) for c, p in zip(self.fitted.classes_, self.fitted.predict_proba(row)[0], strict=True)}

    def predict_one(self, x: dict[str, Any]) -> Any:
        if self.fitted is None or self.vectorizer is None:
            return None
        if self.classifier:
            proba = self.predict_proba_one(x)
            return max(proba, key=proba.get) if proba else None  # type: ignore[arg-type]
        return float(self.fitted.predict(matrix([x], self.vectorizer.vocabulary_))[0])


def _columns(x: dict[str, Any]) -> tuple[tuple[str, ...], tuple[tuple[str, str], ...]]:
    """The keys an example lays out as numbers, and the (key, string) pairs it one-hots."""
    strings = tuple((k, v) for k, v in x.items() if isinstance(v, str))
    if not strings:
        return tuple(k for k, v in x.items() if v is not None), ()
    return tuple(k for k, v in x.items() if v is not None and not isinstance(v, str)), strings


class TreeWalk:
    """A fitted scikit-learn decision tree's nodes as Python lists, walked for one example: the
    leaf ``tree_.apply`` finds, without building a row and an array for it (about ten times
    faster for one row; the batch challenger is shadow-scored on every event). Values are
    compared as ``apply`` compares them, rounded to float32."""

    def __init__(self, left: list[int], right: list[int], feature: list[int], threshold: list[float],
                 columns: list[tuple[str, str | None]], leaves: dict[int, dict[Any, float]]) -> None:
        self.left, self.right, self.feature, self.threshold = left, right, feature, threshold
        self.columns, self.leaves = columns, leaves

    @classmethod
    def of(cls, fitted: Any, columns: list[tuple[str, str | None]]) -> TreeWalk | None:
        """The walk of a fitted single-output tree classifier over ``columns`` (its matrix's
        columns: a key and the string it one-hots, or None for a number); None for any other model,
        or where a key contains "=" (two keys' columns could have one name)."""
        tree = getattr(fitted, "tree_", None)
        if tree is None or getattr(fitted, "n_outputs_", 1) != 1 or any("=" in k for k, _ in columns):
            return None
        left = tree.children_left.tolist()
        leaves = {}
        for node, child in enumerate(left):
            if child == -1:
                counts = tree.value[node][0]
                total = float(counts.sum()) or 1.0
                leaves[node] = {_plain(c): float(n) / total for c, n in zip(fitted.classes_, counts, strict=True)}
        return cls(left, tree.children_right.tolist(), tree.feature.tolist(), tree.threshold.tolist(), columns, leaves)

    def proba(self, x: dict[str, Any]) -> dict[Any, float] | None:
        """The class probabilities at ``x``'s leaf; None when a value is not a finite number
        (scikit-learn's own path decides where a missing value goes)."""
        left, right, feature, threshold, columns = self.left, self.right, self.feature, self.threshold, self.columns
        node = 0
        while left[node] != -1:
            key, one_hot = columns[feature[node]]
            value = x.get(key)
            if one_hot is not None:
                number = 1.0 if value == one_hot and isinstance(value, str) else 0.0
            elif value is None or isinstance(value, str):
                number = 0.0
            else:
                number = float(value)
                if not math.isfinite(number) or abs(number) > _FLOAT32_MAX:
                    return None
                number = _float32(number)
            node = left[node] if number <= threshold[node] else right[node]
        return dict(self.leaves[node])


_FLOAT32_MAX = 3.4028234663852886e38
_F32 = struct.Struct("f")


def _float32(value: float) -> float:
    """``value`` rounded to the nearest float32, as ``X.astype(np.float32)`` rounds it."""
    return _F32.unpack(_F32.pack(value))[0]  # type: ignore[no-any-return]


def matrix(rows: list[dict[str, Any]], index: dict[str, int]) -> np.ndarray:
    """Examples as the columns of ``index``, as ``DictVectorizer.transform`` lays them out (numbers
    as they are, ``name=value`` one-hot for strings, unknown names dropped), without its per-call
    cost.

    >>> matrix([{"a": 2.0, "c": "x"}, {"a": 1, "c": "y", "z": 5}], {"a": 0, "c=x": 1, "c=y": 2}).tolist()
    [[2.0, 1.0, 0.0], [1.0, 0.0, 1.0]]
    """
    width = len(index)
    out = []
    for x in rows:
        row = [0.0] * width
        for key, value in x.items():
            if isinstance(value, str):
                column = index.get(f"{key}={value}")
                if column is not None:
                    row[column] = 1.0
            elif value is not None:
                column = index.get(key)
                if column is not None:
                    row[column] = float(value)
        out.append(row)
    return np.array(out, dtype=np.float64).reshape(len(rows), width)


def _plain(value: Any) -> Any:
    """A numpy scalar as the Python value it stands for (labels compare with plain values)."""
    return value.item() if hasattr(value, "item") else value
