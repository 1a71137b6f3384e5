"""Event sources for `driftline produce` and replay: built-in streams with known drift, and files.

Each source yields ``(raw_event_dict, label)`` in order; the label stands for the event's feedback.
"""

from __future__ import annotations

import csv
import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
from river.datasets import synth

from streams.errors import UsageError

Item = tuple[dict[str, Any], Any]
BUILTIN = ("agrawal-drift", "sea-drift", "hyperplane")


def replay_length(drift_at: int) -> int:
    """How many events a replay takes of a built-in stream when not told (the streams never end):
    twice the change point, so the change comes halfway.

    >>> replay_length(10_000)
    20000
    """
    return 2 * drift_at


def _switch(before: Iterator[tuple[dict[str, Any], Any]], after: Iterator[tuple[dict[str, Any], Any]], at: int) -> Iterator[tuple[dict[str, Any], Any]]:
    """The first stream until position ``at``, then the second: an abrupt, known concept drift."""
    return itertools.chain(itertools.islice(before, at), after)


def agrawal(classification_function: int, seed: int) -> Iterator[tuple[dict[str, Any], Any]]:
    """River's Agrawal stream, about nine times faster: River's generator evaluates each feature's
    name with ``eval`` for every event (nine compilations an event, most of its time); handed the
    names compiled once, it evaluates those instead. The same events, keys in the same order
    (``tests/unit/streams/kafka/test_sources.py`` checks it against River's own)."""
    generator = synth.Agrawal(classification_function=classification_function, seed=seed)
    names = {compile(name, "<agrawal>", "eval"): name for name in generator.feature_names}
    generator.feature_names = list(names)
    for x, y in generator:
        yield {names[code]: value for code, value in x.items()}, y


def builtin(name: str, *, seed: int = 42, drift_at: int = 10_000, start_ts: float = 1_700_000_000.0) -> Iterator[Item]:
    """A built-in stream: ``agrawal-drift`` (classification function 0 → 2 at ``drift_at``),
    ``sea-drift`` (variant 0 → 3), ``hyperplane`` (gradual drift throughout)."""
    if name == "agrawal-drift":
        data = _switch(agrawal(0, seed), agrawal(2, seed + 1), drift_at)
    elif name == "sea-drift":
        data = _switch(iter(synth.SEA(variant=0, seed=seed)), iter(synth.SEA(variant=3, seed=seed + 1)), drift_at)
    elif name == "hyperplane":
        data = iter(synth.Hyperplane(seed=seed, n_features=10, n_drift_features=2, mag_change=0.001))
    else:
        raise UsageError(f"unknown source {name!r}: one of {', '.join(BUILTIN)}, or a .csv / .jsonl file")
    for i, (x, y) in enumerate(data):
        event = {
            "event_id": f"{name}-{seed}-{i}",
            "entity_id": f"c-{(i * 7919) % 1000}",
            "ts": start_ts + i * 0.01,
            "data": {str(k): (float(v) if isinstance(v, float) else v) for k, v in x.items()},
        }
        yield event, bool(y) if not isinstance(y, bool) and y in (0, 1) else y


def from_file(path: Path) -> Iterator[Item]:
    """Raw events from a ``.jsonl`` (optional ``label``) or ``.csv`` (data columns plus optional
    ``event_id``, ``entity_id``, ``ts``, ``label``)."""
    if not path.exists():
        raise UsageError(f"{path}: no such file")
    if path.suffix == ".jsonl":
        with path.open("rb") as handle:
            for number, line in enumerate(handle, 1):
                if not line.strip():
                    continue
                try:
                    obj = orjson.loads(line)
                except orjson.JSONDecodeError:
                    raise UsageError(f"{path}:{number}: not a JSON object") from None
                if not isinstance(obj, dict):
                    raise UsageError(f"{path}:{number}: not a JSON object")
                label = obj.pop("label", None)
                obj.setdefault("event_id", f"{path.stem}-{number}")
                yield obj, label
    elif path.suffix == ".csv":
        with path.open(newline="") as handle:
            for number, row in enumerate(csv.DictReader(handle), 1):
                meta = {k: row.pop(k) for k in ("event_id", "entity_id", "ts", "label") if k in row}
                event: dict[str, Any] = {"event_id": meta.get("event_id") or f"{path.stem}-{number}",
                                         "data": {k: _cell(v) for k, v in row.items()}}
                if meta.get("entity_id"):
                    event["entity_id"] = meta["entity_id"]
                if meta.get("ts"):
                    event["ts"] = _cell(meta["ts"])
                yield event, _cell(meta["label"]) if meta.get("label") not in (None, "") else None
    else:
        raise UsageError(f"{path}: a source file is .csv or .jsonl")


def _cell(text: str) -> Any:
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    return text


def open_source(source: str, *, seed: int = 42, drift_at: int = 10_000) -> Iterator[Item]:
    if source in BUILTIN:
        return builtin(source, seed=seed, drift_at=drift_at)
    return from_file(Path(source))
