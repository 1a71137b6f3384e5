"""`driftline replay --deadletter`: after a spec fix, send the dead-lettered raw events that now
pass back to ``raw``, unchanged (same bytes, same key, so the same event ids); the rest stay.

Only records that came from the ``raw`` topic are re-driven, and never ``duplicate_event`` ones
(those were real repeats). Re-driving twice is harmless: the worker's duplicate check rejects
an event it has already seen within its horizon.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from schemas import Accepted, DeadLetter, Reason, decode
from streams.core.scoring import Scorer, Where
from streams.core.spec import PipelineSpec
from streams.kafka import admin, clients
from streams.kafka.reader import read_topic
from streams.settings import Settings


@dataclass
class Redrive:
    sent: int = 0
    still_failing: Counter[str] = field(default_factory=Counter)
    skipped: Counter[str] = field(default_factory=Counter)  # not from raw, or real duplicates


def redrive(settings: Settings, spec: PipelineSpec, timeout_s: float = 30.0) -> Redrive:
    """Re-check every dead letter from ``raw`` against ``spec``; send those that pass to ``raw``."""
    admin.require_broker(settings)
    producer = clients.producer(settings)
    scorer = Scorer(spec, max_bytes=settings.max_event_bytes)
    out = Redrive()
    try:
        for r in read_topic(settings, "deadletter", timeout_s=timeout_s):
            outcome = decode("deadletter", r.value)
            if not isinstance(outcome, Accepted):
                out.skipped["not a dead letter"] += 1
                continue
            letter: DeadLetter = outcome.value
            if letter.source_topic != settings.topic("raw") or letter.reason is Reason.DUPLICATE_EVENT:
                out.skipped[letter.reason.value] += 1
                continue
            payload = letter.payload_bytes()
            checked = scorer.validate(payload, Where(letter.source_topic, letter.partition, letter.offset, None))
            if isinstance(checked, DeadLetter):
                out.still_failing[checked.reason.value] += 1
                continue
            producer.send(settings.topic("raw"), key=r.key, value=payload)
            out.sent += 1
        producer.flush()
        return out
    finally:
        producer.close()
