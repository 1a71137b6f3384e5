"""Checks of a raw event's ``data`` against declared fields (the pipeline spec's raw fields).

Pure functions: the first problem found, as a reason code and a human detail, or None.

>>> amount = FieldSpec(name="amount", type="number", min=0)
>>> check_fields({"amount": -1}, [amount])
(<Reason.OUT_OF_RANGE: 'out_of_range'>, 'amount must be >= 0, got -1')
>>> check_fields({"amount": 3}, [amount]) is None
True
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from schemas.readers import json_type
from schemas.reasons import Reason

FieldType = Literal["number", "integer", "category", "boolean", "text"]
FIELD_TYPES: tuple[str, ...] = ("number", "integer", "category", "boolean", "text")

Problem = tuple[Reason, str]


@dataclass(frozen=True, slots=True, kw_only=True)
class FieldSpec:
    """One declared raw field: its type, whether it is required, its range or categories.

    ``min``/``max`` bound numbers and integers (inclusive). ``categories`` are the known values
    of a category; ``unseen="deadletter"`` rejects others as ``unknown_category``, ``"allow"``
    lets them through (the featurizer decides what an unseen category means).
    """

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
            raise ValueError(f"field {self.name!r}: unseen must be allow or deadletter, got {self.unseen!r}")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"field {self.name!r}: min {self.min:g} is above max {self.max:g}")


def _numeric(value: Any, spec: FieldSpec) -> Problem | None:
    name = spec.name
    if isinstance(value, bool) or not isinstance(value, int | float):
        return Reason.WRONG_TYPE, f"{name} must be {'an integer' if spec.type == 'integer' else 'a number'}, got {json_type(value)}"
    if isinstance(value, float):
        if not math.isfinite(value):
            return Reason.OUT_OF_RANGE, f"{name} must be finite, got {value}"
        if spec.type == "integer" and not value.is_integer():
            return Reason.WRONG_TYPE, f"{name} must be an integer, got {value}"
    if spec.min is not None and value < spec.min:
        return Reason.OUT_OF_RANGE, f"{name} must be >= {spec.min:g}, got {value}"
    if spec.max is not None and value > spec.max:
        return Reason.OUT_OF_RANGE, f"{name} must be <= {spec.max:g}, got {value}"
    return None


def _boolean(value: Any, spec: FieldSpec) -> Problem | None:
    if not isinstance(value, bool):
        return Reason.WRONG_TYPE, f"{spec.name} must be a boolean, got {json_type(value)}"
    return None


def _category(value: Any, spec: FieldSpec) -> Problem | None:
    if isinstance(value, bool) or not isinstance(value, str | int):
        return Reason.WRONG_TYPE, f"{spec.name} must be a category (a string or integer), got {json_type(value)}"
    if spec.categories is not None and spec.unseen == "deadletter" and str(value) not in spec.categories:
        known = ", ".join(sorted(spec.categories))
        return Reason.UNKNOWN_CATEGORY, f"{spec.name}={value!r} is not one of the declared categories ({known})"
    return None


def _text(value: Any, spec: FieldSpec) -> Problem | None:
    if not isinstance(value, str):
        return Reason.WRONG_TYPE, f"{spec.name} must be text, got {json_type(value)}"
    return None


_CHECKS: dict[str, Callable[[Any, FieldSpec], Problem | None]] = {
    "number": _numeric, "integer": _numeric, "boolean": _boolean, "category": _category, "text": _text,
}


def check_value(value: Any, spec: FieldSpec) -> Problem | None:
    """The problem with one present, non-null value, or None.

    >>> items = FieldSpec(name="items", type="integer")
    >>> check_value(2.0, items) is None
    True
    >>> check_value(True, items)
    (<Reason.WRONG_TYPE: 'wrong_type'>, 'items must be an integer, got boolean')
    """
    return _CHECKS[spec.type](value, spec)


def check_fields(data: Mapping[str, Any], specs: Sequence[FieldSpec]) -> Problem | None:
    """The first problem of ``data`` against ``specs`` (in spec order), or None when it fits.

    A null value counts as missing. Fields not declared are not checked.
    """
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


def fits_compiled(specs: Sequence[FieldSpec]) -> Callable[[Mapping[str, Any]], bool]:
    """A function that says True only when ``check_fields(data, specs)`` finds no problem: the
    hot path's question, answered without a call per field (the checks are written out once, as
    Python source, per spec). False means "ask :func:`check_fields`": it may also be said of
    data that fits (an integer field given ``2.0``), never True of data that does not.

    >>> fits = fits_compiled([FieldSpec(name="amount", type="number", min=0), FieldSpec(name="n", type="integer", required=False)])
    >>> fits({"amount": 3}), fits({"amount": -1}), fits({"amount": float("nan")}), fits({"amount": 1.5, "n": True})
    (True, False, False, False)
    """
    lines = ["def fits(data):", "    get = data.get"]
    constants: dict[str, Any] = {}
    for i, spec in enumerate(specs):
        lines += [f"    v = get({spec.name!r})", "    if v is None:", f"        {'return False' if spec.required else 'pass'}",
                  "    else:", "        t = type(v)"]
        if spec.type in ("number", "integer"):
            accepted = "t is int" if spec.type == "integer" else "t is float or t is int"
            lines.append(f"        if not ({accepted}): return False")
            bounds = []
            if spec.min is not None:  # bounds as names, not literals: a bound may be inf
                constants[f"low{i}"] = spec.min
                bounds.append(f"low{i} <= v")
            if spec.max is not None:
                constants[f"high{i}"] = spec.max
                bounds.append(f"v <= high{i}")
            if spec.type == "number":
                bounds.append("v - v == 0")  # finite: inf - inf and nan - nan are nan
            lines.append(f"        if not ({' and '.join(bounds) or 'True'}): return False")
        elif spec.type == "boolean":
            lines.append("        if t is not bool: return False")
        elif spec.type == "text":
            lines.append("        if t is not str: return False")
        else:  # category
            if spec.categories is not None and spec.unseen == "deadletter":
                constants[f"known{i}"] = spec.categories
                lines.append(f"        if t is not str or v not in known{i}: return False")
            else:
                lines.append("        if t is not str and t is not int: return False")
    lines.append("    return True")
    namespace: dict[str, Any] = dict(constants)
    exec(compile("\n".join(lines), "<fields>", "exec"), namespace)  # noqa: S102 - source written here, from checked specs
    return namespace["fits"]  # type: ignore[no-any-return]
