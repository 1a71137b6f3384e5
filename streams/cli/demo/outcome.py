"""How `driftline demo` went, from what its run recorded: where the concept drift was detected
against where the changed concept reached the trainer, the versions published and promoted, and
the served accuracy before, at and after the drift (the predictions served, joined with the
labels, by windows of event positions).

Pure: the demo reads the topics and hands the records in.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

WINDOW = 2000  # events in each accuracy window (fewer in a short run: a quarter of it)


@dataclass(frozen=True)
class Window:
    """The served accuracy over the events numbered ``lo`` .. ``hi - 1`` that a trained model
    scored (``served`` of them; before the first version, the pipeline's untrained model predicts
    nothing)."""

    name: str
    lo: int
    hi: int
    served: int
    accuracy: float | None


@dataclass(frozen=True)
class Outcome:
    events: int
    drift_at: int  # the first event of the changed concept
    first_after: int | None  # the trainer's position (1-based) of the first example of the changed concept
    detections: list[dict[str, Any]]  # concept_drift alerts, in order
    published: list[int]  # versions, in order
    promoted: list[dict[str, Any]]  # model_promoted alerts
    rolled_back: list[dict[str, Any]]  # model_rolled_back alerts
    windows: list[Window] = field(default_factory=list)

    @property
    def detected(self) -> dict[str, Any] | None:
        """The first concept-drift detection at or after the changed concept reached the trainer."""
        if self.first_after is None:
            return None
        return next((d for d in self.detections if d.get("at_example", 0) >= self.first_after), None)

    @property
    def false_alarms(self) -> list[dict[str, Any]]:
        """Concept-drift detections before the changed concept reached the trainer."""
        return [d for d in self.detections if self.first_after is None or d.get("at_example", 0) < self.first_after]

    @property
    def took_over(self) -> bool:
        """A model was promoted after the drift was detected."""
        detected = self.detected
        return detected is not None and any(p.get("ts", 0) >= detected.get("ts", 0) for p in self.promoted)

    def as_json(self) -> dict[str, Any]:
        detected = self.detected
        return {"events": self.events, "drift_at_event": self.drift_at, "first_post_drift_example": self.first_after,
                "drift_detected_at_example": detected["at_example"] if detected else None,
                "false_alarms_at_example": [d["at_example"] for d in self.false_alarms],
                "versions_published": self.published, "promoted": [p.get("version") for p in self.promoted],
                "rolled_back": [p.get("version") for p in self.rolled_back],
                "served_accuracy": {w.name: {"from_event": w.lo, "to_event": w.hi, "served": w.served,
                                             "accuracy": w.accuracy} for w in self.windows}}


def event_position(event_id: str, prefix: str) -> int | None:
    """The position in the stream of an event id ``<prefix><n>``; None for any other id."""
    if not event_id.startswith(prefix):
        return None
    tail = event_id[len(prefix):]
    return int(tail) if tail.isdigit() else None


def first_post_drift(learned: Sequence[str], prefix: str, drift_at: int) -> int | None:
    """The trainer's position (1-based) of its first example of an event at or after ``drift_at``."""
    for n, event_id in enumerate(learned, 1):
        position = event_position(event_id, prefix)
        if position is not None and position >= drift_at:
            return n
    return None


def windows(events: int, drift_at: int, width: int | None = None) -> list[tuple[str, int, int]]:
    """The accuracy windows: the ``width`` events before the drift, the ``width`` from it, the last ``width``."""
    width = width or max(1, min(WINDOW, events // 4))
    return [("before the drift", max(0, drift_at - width), drift_at),
            ("after the drift", drift_at, min(events, drift_at + width)),
            ("at the end", max(0, events - width), events)]


def served_accuracy(served: Mapping[int, Any], labels: Sequence[Any], lo: int, hi: int) -> tuple[int, float | None]:
    """How many labelled events numbered ``lo`` .. ``hi - 1`` were served a prediction (None: no
    prediction), and the share of those served right."""
    pairs = [(served[n], labels[n]) for n in range(lo, min(hi, len(labels)))
             if served.get(n) is not None and labels[n] is not None]
    return len(pairs), (sum(p == y for p, y in pairs) / len(pairs) if pairs else None)


def outcome(*, events: int, drift_at: int, prefix: str, alerts: Sequence[Mapping[str, Any]], learned: Sequence[str],
            served: Mapping[int, Any], labels: Sequence[Any]) -> Outcome:
    """The demo's outcome from its alerts (in order), the trainer's order of event ids, the
    predictions served by event position, and the labels by event position."""
    def kind(name: str) -> list[dict[str, Any]]:
        return [dict(a) for a in alerts if a.get("kind") == name]

    measured = []
    for name, lo, hi in windows(events, drift_at):
        count, accuracy = served_accuracy(served, labels, lo, hi)
        measured.append(Window(name, lo, hi, count, accuracy))
    published = [int(a["version"]) for a in kind("model_published") if isinstance(a.get("version"), int)]
    return Outcome(events, drift_at, first_post_drift(learned, prefix, drift_at), kind("concept_drift"), published,
                   kind("model_promoted"), kind("model_rolled_back"), measured)


def summary_lines(out: Outcome, prefix: str) -> list[str]:
    """The outcome in a few lines, for a person."""
    lines = []
    detected = out.detected
    if detected is not None and out.first_after is not None:
        where = event_position(str(detected.get("event_id", "")), prefix)
        event = f" (the label of event {where:,})" if where is not None else ""
        lines.append(f"drift detected at example {detected['at_example']:,}{event}: "
                     f"{detected['at_example'] - out.first_after:,} labelled examples after the first one of the changed "
                     f"concept (example {out.first_after:,}); the concept changed at event {out.drift_at:,}")
    else:
        lines.append(f"drift NOT detected (the concept changed at event {out.drift_at:,})")
    for alarm in out.false_alarms:
        lines.append(f"  a concept-drift alert before the change, at example {alarm['at_example']:,}")
    versions = f"{len(out.published)} (v{out.published[0]} .. v{out.published[-1]})" if out.published else "none"
    lines.append(f"versions published: {versions}")
    for p in out.promoted:
        lines.append(f"promoted: v{p.get('version')}: {p.get('message', '')}")
    if not out.promoted:
        lines.append("promoted: none")
    for r in out.rolled_back:
        lines.append(f"rolled back: v{r.get('version')}: {r.get('message', '')}")
    for w in out.windows:
        if w.accuracy is None:
            lines.append(f"served accuracy {w.name} (events {w.lo:,}..{w.hi - 1:,}): no trained model in service yet")
        else:
            lines.append(f"served accuracy {w.name} (events {w.lo:,}..{w.hi - 1:,}, {w.served:,} scored by a trained "
                         f"model): {w.accuracy:.3f}")
    return lines
