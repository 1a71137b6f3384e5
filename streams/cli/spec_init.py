"""`driftline spec init FILE`: infer a pipeline spec from a sample file, as TOML to edit.

Each data field gets a type (boolean, integer, number, category, text), whether it is always
there, a range or its categories; the label column decides the task (two values: binary; a few
integers or strings: multiclass; otherwise regression).
"""

from __future__ import annotations

import itertools
from collections import Counter
from pathlib import Path
from typing import Any

from streams.core.spec import parse_spec
from streams.errors import UsageError
from streams.kafka.sources import from_file

MAX_CATEGORIES = 20  # more distinct strings than this: free text, not a category
SAMPLE = 10_000


def _kind(values: list[Any]) -> str:
    if all(isinstance(v, bool) for v in values):
        return "boolean"
    if all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return "integer"
    if all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
        return "number"
    strings = Counter(str(v) for v in values)
    return "category" if len(strings) <= MAX_CATEGORIES else "text"


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return repr(value)


def infer(path: Path) -> str:
    """The spec for a sample file, as TOML; it parses (checked before it is returned)."""
    rows = list(itertools.islice(from_file(path), SAMPLE))
    if not rows:
        raise UsageError(f"{path}: no rows to learn a spec from")
    columns: dict[str, list[Any]] = {}
    for event, _ in rows:
        for name, value in event["data"].items():
            if value is not None and value != "":
                columns.setdefault(name, []).append(value)
    labels = [label for _, label in rows if label is not None]
    if not labels:
        raise UsageError(f"{path}: no label column (`label` in a .csv, \"label\" in a .jsonl line): nothing to learn")
    distinct = set(labels)
    if len(distinct) == 2 or all(isinstance(v, bool) for v in labels):
        task = "binary"
    elif all(isinstance(v, int | str) and not isinstance(v, bool) for v in labels) and len(distinct) <= MAX_CATEGORIES:
        task = "multiclass"
    else:
        task = "regression"
    lines = [f"# inferred by `driftline spec init {path.name}` from {len(rows)} rows: check it, then edit", "[pipeline]",
             f'name = "{path.stem}"', f'task = "{task}"', ""]
    usable = []
    for name, values in columns.items():
        kind = _kind(values)
        lines += ["[[fields]]", f"name = {_toml_value(name)}", f'type = "{kind}"']
        if len(values) < len(rows):
            lines.append("required = false")
        if kind in ("integer", "number"):
            lines += [f"min = {_toml_value(min(values))}", f"max = {_toml_value(max(values))}"]
        if kind == "category":
            lines.append("categories = [" + ", ".join(_toml_value(c) for c in sorted({str(v) for v in values})) + "]")
        if kind != "text":
            usable.append(name)
        lines.append("")
    lines += ["[features]", "passthrough = [" + ", ".join(_toml_value(n) for n in usable) + "]", "", "[model]",
              'estimator = "' + ("river.linear_model.LinearRegression" if task == "regression" else "river.tree.HoeffdingTreeClassifier") + '"',
              "", "[[drift]]", 'signal = "error"', "", "[training]",
              f'metric = "{"mae" if task == "regression" else "accuracy"}"', ""]
    text = "\n".join(lines)
    parse_spec(text)  # what we print must load
    return text
