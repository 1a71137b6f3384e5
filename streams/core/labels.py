"""Labels: a feedback label checked against the pipeline's task.

>>> coerce_label("binary", 1)
True
>>> coerce_label("regression", "x") is None
True
"""

from __future__ import annotations

from typing import Any

from streams.core.spec import Task


def coerce_label(task: Task, label: Any) -> Any | None:
    """The label in the task's type, or None when it does not fit (a ``wrong_type`` dead letter)."""
    if task == "binary":
        if isinstance(label, bool):
            return label
        if isinstance(label, int | float) and label in (0, 1):
            return bool(label)
        if isinstance(label, str) and label.lower() in ("true", "false", "0", "1"):
            return label.lower() in ("true", "1")
        return None
    if task == "multiclass":
        if isinstance(label, bool) or not isinstance(label, str | int):
            return None
        return label
    if isinstance(label, bool) or not isinstance(label, int | float):
        return None
    return float(label)
