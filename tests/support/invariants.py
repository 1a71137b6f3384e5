"""The invariants a run must keep, read back from the topics and Redis (see issue 13).

Each check returns the problems it found, as sentences; an empty list is a pass.
"""

from __future__ import annotations

import base64
import time
from collections import Counter
from dataclasses import dataclass, field

import orjson
import redis

from streams.kafka.reader import read_topic
from streams.replay.namespace import wait_consumed
from streams.settings import Settings
from streams.state import models_log
from streams.state.artifacts import ArtifactRefused
from streams.state.checkpoint import CheckpointStore
from streams.state.registry import ALIASED, Registry
from streams.worker.process import WorkerProcess
from tests.support.pipeline import end_offsets


@dataclass
class Sent:
    """What a test sent: the valid raw events' ids, the invalid raw records, the labelled ids."""

    valid: set[str] = field(default_factory=set)
    invalid: int = 0
    labelled: set[str] = field(default_factory=set)


@dataclass
class Figures:
    """What the checker counted, for the test's report."""

    predicted: int = 0
    duplicate_predictions: int = 0
    dead_letters: int = 0
    examples: int = 0
    learned: int = 0


CHECKPOINT_WAIT_S = 60.0  # the longest a trainer's last checkpoint may take once its offsets are committed


def alerts(settings: Settings, kind: str | None = None) -> list[dict]:  # type: ignore[type-arg]
    """The alerts on the topic so far (of one kind, when given), in order."""
    found = [orjson.loads(r.value) for r in read_topic(settings, "alerts", missing_ok=True)]
    return [a for a in found if kind is None or a["kind"] == kind]


def caught_up(settings: Settings, worker: WorkerProcess, timeout_s: float) -> float:
    """I4: seconds until the worker group has committed every record of every topic it reads
    (fails past ``timeout_s``)."""
    began = time.monotonic()
    wait_consumed(settings, worker, timeout_s)
    return time.monotonic() - began


def _event_id(letter: dict) -> str | None:  # type: ignore[type-arg]
    payload = letter.get("payload") or ""
    for raw in (payload.encode(), _b64(payload)):
        try:
            value = orjson.loads(raw)
        except orjson.JSONDecodeError:
            continue
        if isinstance(value, dict) and isinstance(value.get("event_id"), str):
            return value["event_id"]
    return None


def _b64(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except ValueError:
        return b""


def stream_problems(settings: Settings, sent: Sent, duplicate_bound: int, *,
                    checkpoint_kept: bool = True) -> tuple[list[str], Figures]:
    """I1 and I2 over every topic, read from the beginning.

    I1: every valid event id is predicted; every invalid raw record has a dead letter; no event
    is both predicted and dead-lettered as invalid. I2: duplicate predictions are at most
    ``duplicate_bound``; every label became an example; the trainer learned each example once
    (its checkpoint counts them; not when a fault took the checkpoint: ``checkpoint_kept``)."""
    problems: list[str] = []
    figures = Figures()
    predicted = Counter(orjson.loads(r.value)["event_id"] for r in read_topic(settings, "predictions", timeout_s=60))
    figures.predicted = len(predicted)
    figures.duplicate_predictions = sum(predicted.values()) - len(predicted)
    missing = sent.valid - set(predicted)
    if missing:
        problems.append(f"I1: {len(missing)} valid events have no prediction, e.g. {sorted(missing)[:5]}")
    sources = {settings.topic("raw"), settings.topic("rekeyed")}
    letters = [orjson.loads(r.value) for r in read_topic(settings, "deadletter", timeout_s=60)]
    figures.dead_letters = len(letters)
    invalid = [d for d in letters if d["source_topic"] in sources and d["reason"] != "duplicate_event"]
    records = {(d["source_topic"], d["partition"], d["offset"]) for d in invalid}
    if len(records) != sent.invalid:
        problems.append(f"I1: {sent.invalid} invalid raw records were sent, {len(records)} have a dead letter")
    both = {i for d in invalid if (i := _event_id(d)) is not None} & set(predicted)
    if both:
        problems.append(f"I1: {len(both)} events are both predicted and dead-lettered, e.g. {sorted(both)[:5]}")
    if figures.duplicate_predictions > duplicate_bound:
        problems.append(f"I2: {figures.duplicate_predictions} duplicate predictions, above the bound {duplicate_bound}")
    examples = Counter(orjson.loads(r.value)["event_id"] for r in read_topic(settings, "examples", timeout_s=60))
    figures.examples = len(examples)
    unlearned = sent.labelled - set(examples)
    if unlearned:
        problems.append(f"I2: {len(unlearned)} labels became no example, e.g. {sorted(unlearned)[:5]}")
    store = CheckpointStore(redis.Redis.from_url(settings.redis_connect_url), settings.topic_prefix,
                            settings.signing_key())
    saved = store.load()
    if checkpoint_kept:
        # the trainer checkpoints a second or two after its last example, and its offsets may be
        # committed before that: wait until the checkpoint covers the whole topic (one that skipped
        # examples covers it too, and is caught by its count below). Read at once, the last
        # batch's examples were once missing from it: 5,920 of 6,000, in CI.
        end = end_offsets(settings, "examples")
        deadline = time.monotonic() + CHECKPOINT_WAIT_S
        while (saved is None or saved.offset < end) and time.monotonic() < deadline:
            time.sleep(0.5)
            saved = store.load()
    figures.learned = saved.state.position if saved is not None else 0
    if checkpoint_kept and figures.learned != len(examples):
        covered = "nothing" if saved is None else f"offsets below {saved.offset:,} of {end:,}"
        problems.append(f"I2: the trainer learned {figures.learned} examples, the topic holds {len(examples)} distinct ones "
                        f"(its checkpoint covers {covered})")
    return problems, figures


def registry_problems(settings: Settings, registry: Registry) -> list[str]:
    """I3: versions are 1..N with no gap and no number used for two artifacts; every artifact
    verifies; every alias names a version that exists; Redis and the ``models`` topic agree."""
    records = models_log.read_versions(settings, timeout_s=30.0)
    problems = []
    artifacts: dict[int, set[str]] = {}
    for r in records:
        if r.artifact:
            artifacts.setdefault(r.version, set()).add(r.artifact_sha256)
    problems += [f"version {v} names {len(shas)} different artifacts on the topic"
                 for v, shas in sorted(artifacts.items()) if len(shas) > 1]
    latest, holders = registry.latest(records)
    if sorted(latest) != list(range(1, len(latest) + 1)):
        problems.append(f"the topic's versions are not 1..N: {sorted(latest)}")
    for v, record in sorted(latest.items()):
        try:
            registry.load_record(record)
        except ArtifactRefused as exc:
            problems.append(f"version {v}: {exc}")
    stored = {r.version: r for r in registry.versions()}
    if sorted(stored) != sorted(latest):
        problems.append(f"Redis holds versions {sorted(stored)}, the topic {sorted(latest)}")
    for v in sorted(set(stored) & set(latest)):
        mine, theirs = stored[v], latest[v]
        if (mine.status, mine.artifact_sha256) != (theirs.status, theirs.artifact_sha256):
            problems.append(f"version {v}: Redis says {mine.status}, the topic {theirs.status}")
    for alias in ALIASED:
        held = registry.alias(alias)
        if held is not None and held not in stored:
            problems.append(f"the {alias} alias names version {held}, which Redis does not hold")
        if held != holders.get(alias):
            problems.append(f"the {alias} alias is version {held} in Redis, {holders.get(alias)} on the topic")
    counter = int(registry.client.get(registry.keys.counter) or 0)
    if counter != max(latest, default=0):
        problems.append(f"the version counter is at {counter}, the highest version is {max(latest, default=0)}")
    return problems
