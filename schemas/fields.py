"""Checks of a raw event's ``data`` against declared fields (the pipeline spec's raw fields).

>>> amount = FieldSpec(name="amount", type="number", min=0)
>>> check_fields({"amount": -1}, [amount])
(<Reason.OUT_OF_RANGE: 'out_of_range'>, 'amount must be >= 0, got -1')
>>> check_fields({"amount": 3}, [amount]) is None
True
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from schemas.reasons import Reason

FieldType = Literal["number", "integer", "category", "boolean", "text"]
FIELD_TYPES: tuple[str, ...] = ("number", "integer", "category", "boolean", "text")


@dataclass(frozen=True, slots=True, kw_only=True)
class FieldSpec:
    """One declared raw field: its type, whether it is required, its range or categories."""

    name: str
    type: FieldType
    required: bool = True
    min: float | None = None
    max: float | None = None
    categories: frozenset[str] | None = None
    unseen: Literal["allow", "deadletter"] = "allow"

    def __post_init__(self) -> None:
        if self.type not in FIELD_TYPES:
            raise ValueError(f"field {self.name!r}: unknown type {self.type!r}; one of {', '.join(FIELD_TYPES)}")
        if self.unseen not in ("allow", "deadletter"):
            raise ValueError(f"field {self.name!r}: unseen must be allow or deadletter")


Problem = tuple[Reason, str]


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return "string" if isinstance(value, str) else type(value).__name__


def check_value(value: Any, spec: FieldSpec) -> Problem | None:
    """The problem with one present, non-null value, or None."""
    name = spec.name
    if spec.type in ("number", "integer"):
        if isinstance(value, bool) or not isinstance(value, int | float):
            return Reason.WRONG_TYPE, f"{name} must be a {spec.type}, got {_kind(value)}"
        if not math.isfinite(value):
            return Reason.OUT_OF_RANGE, f"{name} must be finite"
        if spec.type == "integer" and float(value) != int(value):
            return Reason.WRONG_TYPE, f"{name} must be an integer, got {value}"
        if spec.min is not None and value < spec.min:
            return Reason.OUT_OF_RANGE, f"{name} must be >= {spec.min:g}, got {value}"
        if spec.max is not None and value > spec.max:
            return Reason.OUT_OF_RANGE, f"{name} must be <= {spec.max:g}, got {value}"
    elif spec.type == "boolean":
        if not isinstance(value, bool):
            return Reason.WRONG_TYPE, f"{name} must be a boolean, got {_kind(value)}"
    elif spec.type == "category":
        if isinstance(value, bool) or not isinstance(value, str | int):
            return Reason.WRONG_TYPE, f"{name} must be a category (string), got {_kind(value)}"
        if spec.categories is not None and spec.unseen == "deadletter" and str(value) not in spec.categories:
            return Reason.UNKNOWN_CATEGORY, f"{name}={value!r} is not one of the declared categories"
    elif not isinstance(value, str):
        return Reason.WRONG_TYPE, f"{name} must be text, got {_kind(value)}"
    return None


def check_fields(data: Mapping[str, Any], specs: Sequence[FieldSpec]) -> Problem | None:
    """The first problem of ``data`` against ``specs`` (in spec order), or None when it fits."""
    for spec in specs:
        value = data.get(spec.name)
        if value is None:
            if spec.required:
                return Reason.MISSING_FIELD, f"required field data.{spec.name} is missing"
            continue
        problem = check_value(value, spec)
        if problem is not None:
            return problem
    return None
