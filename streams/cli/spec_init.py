"""`driftline spec init FILE`: infer a pipeline spec from a sample file, as TOML to edit.

Each data field gets a type (boolean, integer, number, category, text), whether it is always
there, a range or its categories; the label column decides the task (two values: binary; a few
integers or strings: multiclass; otherwise regression).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from streams.core.spec import parse_spec
from streams.errors import UsageError
from streams.kafka.sources import from_file

MAX_CATEGORIES = 20  # more distinct strings than this: free text, not a category


@dataclass
class Column:
    """What one pass over a column keeps: its count, whether every value so far is a boolean, an
    integer or a number, its range, and up to ``MAX_CATEGORIES + 1`` distinct strings."""

    seen: int = 0
    booleans: bool = True
    integers: bool = True
    numbers: bool = True
    low: Any = None
    high: Any = None
    strings: set[str] = field(default_factory=set)
    floats: bool = False  # a value that is a float (not an integer): no class label

    def add(self, value: Any) -> None:
        self.seen += 1
        is_bool = isinstance(value, bool)
        self.booleans &= is_bool
        self.integers &= isinstance(value, int) and not is_bool
        self.numbers &= isinstance(value, int | float) and not is_bool
        self.floats |= isinstance(value, float)
        if isinstance(value, int | float) and not is_bool:
            self.low = value if self.low is None else min(self.low, value)
            self.high = value if self.high is None else max(self.high, value)
        if len(self.strings) <= MAX_CATEGORIES:
            self.strings.add(str(value))

    @property
    def kind(self) -> str:
        """
        >>> c = Column()
        >>> for v in (3, 1, 2.5): c.add(v)
        >>> c.kind, c.low, c.high
        ('number', 1, 3)
        """
        if self.booleans:
            return "boolean"
        if self.integers:
            return "integer"
        if self.numbers:
            return "number"
        return "category" if len(self.strings) <= MAX_CATEGORIES else "text"


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return repr(value)


def infer(path: Path) -> str:
    """The spec for a sample file, as TOML; it parses (checked before it is returned).

    Every row is read, in one pass keeping a few numbers per column, so the ranges and categories
    cover the whole file: the spec never dead-letters a row of the file it came from."""
    rows = 0
    columns: dict[str, Column] = {}
    labels = Column()
    for event, label in from_file(path):
        rows += 1
        for name, value in event["data"].items():
            if value is not None and value != "":
                columns.setdefault(name, Column()).add(value)
        if label is not None:
            labels.add(label)
    if not rows:
        raise UsageError(f"{path}: no rows to learn a spec from")
    if not labels.seen:
        raise UsageError(f"{path}: no label column (`label` in a .csv, \"label\" in a .jsonl line): nothing to learn")
    if len(labels.strings) == 2 or labels.booleans:
        task = "binary"
    elif not labels.floats and len(labels.strings) <= MAX_CATEGORIES:
        task = "multiclass"
    else:
        task = "regression"
    lines = [f"# inferred by `driftline spec init {path.name}` from all {rows} rows: the ranges and categories are",
             "# the file's own (widen them where later data may go further), check it, then edit",
             "[pipeline]", f'name = "{path.stem}"', f'task = "{task}"', ""]
    usable = []
    for name, column in columns.items():
        kind = column.kind
        lines += ["[[fields]]", f"name = {_toml_value(name)}", f'type = "{kind}"']
        if column.seen < rows:
            lines.append("required = false")
        if kind in ("integer", "number"):
            lines += [f"min = {_toml_value(column.low)}", f"max = {_toml_value(column.high)}"]
        if kind == "category":
            lines.append("categories = [" + ", ".join(_toml_value(c) for c in sorted(column.strings)) + "]")
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
