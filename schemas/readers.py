"""Typed readers of one field of a parsed JSON object, for ``decode``.

Each reader returns the field's value in its Python type, or raises :class:`Invalid` with the
contract reason code and a detail naming the field, what was expected and what came.

>>> read_number({"amount": 2}, "amount")
2.0
>>> read_number({"amount": True}, "amount")
Traceback (most recent call last):
...
schemas.readers.Invalid: amount must be a number, got boolean
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

from schemas.reasons import Reason

MAX_TS = 253402300799.0
"""9999-12-31T23:59:59Z, the last second an ISO-8601 year of four digits can name."""
MAX_ID = 256
"""The longest id (event, entity, alert), in characters."""

Obj = Mapping[str, Any]


class Invalid(Exception):
    """A field that does not fit: the reason code and a human detail."""

    def __init__(self, reason: Reason, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


def json_type(value: object) -> str:
    """The JSON name of a parsed value's type (``bool`` is a boolean, not a number).

    >>> [json_type(v) for v in (None, True, 1, 1.5, "s", [], {})]
    ['null', 'boolean', 'number', 'number', 'string', 'array', 'object']
    """
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object" if isinstance(value, dict) else type(value).__name__


def _wrong(name: str, expected: str, value: object) -> Invalid:
    return Invalid(Reason.WRONG_TYPE, f"{name} must be {expected}, got {json_type(value)}")


def require(obj: Obj, *names: str) -> None:
    """Raise ``missing_field`` for the first of ``names`` absent from ``obj``."""
    for name in names:
        if name not in obj:
            raise Invalid(Reason.MISSING_FIELD, f"required field {name!r} is missing")


def read_number(obj: Obj, name: str) -> float:
    """A finite JSON number (not a boolean), as float."""
    value = obj[name]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _wrong(name, "a number", value)
    if not math.isfinite(value):
        raise Invalid(Reason.OUT_OF_RANGE, f"{name} must be finite, got {value}")
    return float(value)


def read_integer(obj: Obj, name: str, minimum: int) -> int:
    """A JSON integer (not a boolean, not a float) of at least ``minimum``."""
    value = obj[name]
    if isinstance(value, bool) or not isinstance(value, int):
        raise _wrong(name, "an integer", value)
    if value < minimum:
        raise Invalid(Reason.OUT_OF_RANGE, f"{name} must be >= {minimum}, got {value}")
    return value


def read_optional_integer(obj: Obj, name: str, minimum: int) -> int | None:
    """Like :func:`read_integer`; absent or null gives None."""
    return None if obj.get(name) is None else read_integer(obj, name, minimum)


def read_string(obj: Obj, name: str, max_len: int | None = None) -> str:
    """A JSON string; with ``max_len``, of 1 to ``max_len`` characters (else ``out_of_range``)."""
    value = obj[name]
    if not isinstance(value, str):
        raise _wrong(name, "a string", value)
    if max_len is not None and not 0 < len(value) <= max_len:
        raise Invalid(Reason.OUT_OF_RANGE, f"{name} must hold 1 to {max_len} characters, got {len(value)}")
    return value


def read_choice(obj: Obj, name: str, choices: tuple[str, ...]) -> str:
    """A JSON string that is one of ``choices`` (else ``out_of_range``)."""
    value = read_string(obj, name)
    if value not in choices:
        raise Invalid(Reason.OUT_OF_RANGE, f"{name} must be one of {', '.join(choices)}, got {value!r}")
    return value


def read_id(obj: Obj, name: str, *, numbers: bool = False) -> str:
    """An id: a string of 1 to ``MAX_ID`` characters; an integer (any number with
    ``numbers``) is taken as its decimal string.

    >>> read_id({"entity_id": 9}, "entity_id")
    '9'
    """
    value = obj[name]
    accepted = (int, float) if numbers else (int,)
    if isinstance(value, accepted) and not isinstance(value, bool):
        return read_string({name: str(value)}, name, MAX_ID)
    if not isinstance(value, str):
        raise _wrong(name, "a string or number" if numbers else "a string or integer", value)
    return read_string(obj, name, MAX_ID)


def read_optional_id(obj: Obj, name: str, *, numbers: bool = False) -> str | None:
    """Like :func:`read_id`; absent or null gives None."""
    return None if obj.get(name) is None else read_id(obj, name, numbers=numbers)


def read_object(obj: Obj, name: str) -> dict[str, Any]:
    """A JSON object."""
    value = obj[name]
    if not isinstance(value, dict):
        raise _wrong(name, "an object", value)
    return value


def read_scalars(obj: Obj, name: str) -> dict[str, Any]:
    """A JSON object whose values are scalars (string, number, boolean, null)."""
    value = read_object(obj, name)
    for key, item in value.items():
        if isinstance(item, dict | list):
            raise _wrong(f"{name}.{key}", "a scalar (string, number, boolean or null)", item)
    return value


def _in_range(name: str, seconds: float, shown: object) -> float:
    if not 0 <= seconds <= MAX_TS:
        raise Invalid(Reason.OUT_OF_RANGE, f"{name} must be between 1970 and 9999, got {shown!r}")
    return seconds


def read_epoch(obj: Obj, name: str) -> float:
    """Epoch seconds, between 1970 and the end of 9999."""
    return _in_range(name, read_number(obj, name), obj[name])


def read_time(obj: Obj, name: str) -> float:
    """Epoch seconds or an ISO-8601 string (naive means UTC), as epoch seconds.

    >>> read_time({"ts": "2024-11-22T12:53:20.5"}, "ts")
    1732280000.5
    """
    value = obj[name]
    if not isinstance(value, str):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise _wrong(name, "epoch seconds or an ISO-8601 string", value)
        return read_epoch(obj, name)
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise Invalid(Reason.WRONG_TYPE, f"{name} must be epoch seconds or ISO-8601, got {value!r}") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    try:
        seconds = parsed.timestamp()
    except (OverflowError, OSError, ValueError):
        seconds = -1.0
    return _in_range(name, seconds, value)


def read_optional_time(obj: Obj, name: str) -> float | None:
    """Like :func:`read_time`; absent or null gives None."""
    return None if obj.get(name) is None else read_time(obj, name)


def read_label(obj: Obj, name: str) -> bool | int | float | str:
    """A label: a boolean, a finite number or a string."""
    value = obj[name]
    if not isinstance(value, bool | int | float | str):
        raise _wrong(name, "a boolean, number or string", value)
    if isinstance(value, float) and not math.isfinite(value):
        raise Invalid(Reason.OUT_OF_RANGE, f"{name} must be finite, got {value}")
    return value


def read_optional_label(obj: Obj, name: str) -> bool | int | float | str | None:
    """Like :func:`read_label`; absent or null gives None."""
    return None if obj.get(name) is None else read_label(obj, name)


def read_numbers(obj: Obj, name: str) -> dict[str, float]:
    """A JSON object of finite numbers, as floats."""
    value = read_object(obj, name)
    return {key: read_number({f"{name}[{key!r}]": item}, f"{name}[{key!r}]") for key, item in value.items()}


def read_probabilities(obj: Obj, name: str) -> dict[str, float] | None:
    """Class -> probability, each in [0, 1]; absent or null gives None."""
    if obj.get(name) is None:
        return None
    out = read_numbers(obj, name)
    for key, p in out.items():
        if not 0.0 <= p <= 1.0:
            raise Invalid(Reason.OUT_OF_RANGE, f"{name}[{key!r}] must be a probability in [0, 1], got {p}")
    return out
