"""ACME's features, computed the same way in training and on the stream.

Each takes the event (``event_id``, ``entity_id``, ``ts``, ``data``) and returns named values; the
stateful one keeps its running figures per customer in the ``state`` driftline gives it.
"""

from __future__ import annotations

import math
from typing import Any

from streams.core.plugins import feature


@feature("loan_to_salary")
def loan_to_salary(event: dict[str, Any], strict: bool = False) -> dict[str, float]:
    """The loan as a multiple of the yearly salary. ``strict``: a salary of 0 is an error (the
    event is dead-lettered with its reason), not a ratio of 0."""
    data = event["data"]
    salary = float(data["salary"])
    if salary == 0 and not strict:
        return {"loan_to_salary": 0.0}
    return {"loan_to_salary": float(data["loan"]) / salary}


@feature("salary_vs_usual", "salary_seen")
def salary_vs_usual(event: dict[str, Any], state: dict[str, Any]) -> dict[str, float]:
    """How far this event's salary is from the customer's usual one, in standard deviations of
    the salaries seen before it (Welford's running mean and variance, kept in ``state``)."""
    salary = float(event["data"]["salary"])
    n, mean, m2 = state.get("n", 0), state.get("mean", 0.0), state.get("m2", 0.0)
    spread = math.sqrt(m2 / n) if n > 1 else 0.0
    score = (salary - mean) / spread if spread > 0 else 0.0
    n += 1
    delta = salary - mean
    mean += delta / n
    m2 += delta * (salary - mean)
    state.update(n=n, mean=mean, m2=m2)
    return {"salary_vs_usual": score, "salary_seen": float(n)}
