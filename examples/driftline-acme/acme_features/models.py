"""ACME's own estimator: River's logistic regression on standardized features, as one class
its notebooks and the pipeline's spec both name."""

from __future__ import annotations

from typing import Any

from river import base, linear_model, optim, preprocessing


class ScaledLogistic(base.Classifier):
    """Online logistic regression on standardized numeric features (strings are left out)."""

    def __init__(self, lr: float = 0.05, l2: float = 0.0) -> None:
        self.lr = lr
        self.l2 = l2
        self._scaler = preprocessing.StandardScaler()
        self._model = linear_model.LogisticRegression(optimizer=optim.SGD(lr), l2=l2)

    @staticmethod
    def _numbers(x: dict[str, Any]) -> dict[str, float]:
        return {k: float(v) for k, v in x.items() if isinstance(v, int | float) and not isinstance(v, bool)}

    def learn_one(self, x: dict[str, Any], y: Any) -> None:
        numbers = self._numbers(x)
        self._scaler.learn_one(numbers)
        self._model.learn_one(self._scaler.transform_one(numbers), y)

    def predict_proba_one(self, x: dict[str, Any]) -> dict[Any, float]:
        return self._model.predict_proba_one(self._scaler.transform_one(self._numbers(x)))
