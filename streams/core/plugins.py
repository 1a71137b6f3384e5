"""Plugins: estimators and feature functions from installed packages, found through entry points,
the way pytest and mkdocs find theirs.

A package declares them in its ``pyproject.toml``::

    [project.entry-points."driftline.estimators"]
    odds = "acme_fraud.models:OddsClassifier"

    [project.entry-points."driftline.features"]
    amount_vs_usual = "acme_fraud.features:amount_vs_usual"

and a spec names them by the entry-point name: ``estimator = "odds"`` in ``[model]``, and
``name = "amount_vs_usual"`` in a ``[[features.function]]``. What the operator installed is
trusted; a spec still cannot import anything else.

A feature function takes the event (a dict: ``event_id``, ``entity_id``, ``ts``, ``data``) and the
spec's ``params`` as keyword arguments, and returns a dict of named values; it declares the names it
returns with :func:`feature`. One with a parameter named ``state`` is also given the entity's
own state for it, a JSON-ready dict it may change, kept with the entity's other state (changelogged,
partitioned by entity, forgotten after the entity's TTL). Replay calls it the same way, so it must
depend only on what it is given.

>>> @feature("double")
... def double(event, field="x"):
...     return {"double": 2 * event["data"][field]}
>>> double.outputs, double({"data": {"x": 2.5}})
(('double',), {'double': 5.0})
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from importlib import metadata
from typing import Any, TypeVar

ESTIMATORS = "driftline.estimators"
FEATURES = "driftline.features"

F = TypeVar("F", bound=Callable[..., Any])


def feature(*outputs: str) -> Callable[[F], F]:
    """Declare the names a feature function returns (its ``outputs``)."""
    def mark(fn: F) -> F:
        fn.outputs = tuple(outputs)  # type: ignore[attr-defined]
        return fn
    return mark


@functools.cache
def _entry_points(group: str) -> dict[str, metadata.EntryPoint]:
    return {ep.name: ep for ep in metadata.entry_points(group=group)}


def installed(group: str) -> list[str]:
    """The names of the plugins installed in ``group``."""
    return sorted(_entry_points(group))


def is_installed(group: str, name: str) -> bool:
    """Whether a plugin named ``name`` is installed in ``group`` (no sorting: the hot path asks)."""
    return name in _entry_points(group)


@functools.cache
def load(group: str, name: str) -> Any | None:
    """The object a plugin's entry point names (loaded once per process), or None when no
    installed package declares ``name`` in ``group``."""
    point = _entry_points(group).get(name)
    return None if point is None else point.load()
