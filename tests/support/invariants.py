"""The invariants a run must keep, read back from the topics and Redis (see issue 13).

Each check returns the problems it found, as sentences; an empty list is a pass.
"""

from __future__ import annotations

from streams.settings import Settings
from streams.state import models_log
from streams.state.artifacts import ArtifactRefused
from streams.state.registry import ALIASED, Registry


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
