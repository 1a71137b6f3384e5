"""The trainer's prequential metric is progressive validation; concept drift is found where it is."""

from __future__ import annotations

import functools
import itertools
import random
from dataclasses import replace

import pytest
from river import evaluate, metrics

from schemas import RawEvent
from streams.core.example import Example
from streams.core.features import featurize
from streams.core.model import build_model
from streams.core.promotion import StatusChange
from streams.core.trainer import PublishRequest, Trainer
from streams.kafka.sources import builtin
from streams.specs.load import load_spec

SPEC = load_spec(None)


def examples(n: int, seed: int = 42, drift_at: int = 10_000) -> list[tuple[dict, bool]]:  # type: ignore[type-arg]
    """The first ``n`` featurized examples of the built-in drifting stream (copies: a test may
    change them)."""
    return [(dict(x), y) for x, y in _featurized(seed, drift_at)[:n]]


@functools.cache
def _featurized(seed: int, drift_at: int, most: int = 20_000) -> tuple[tuple[dict, bool], ...]:  # type: ignore[type-arg]
    states: dict[str, dict] = {}  # type: ignore[type-arg]
    out = []
    for ev, y in itertools.islice(builtin("agrawal-drift", seed=seed, drift_at=drift_at), most):
        raw = RawEvent(event_id=ev["event_id"], entity_id=ev["entity_id"], ts=ev["ts"], data=ev["data"])
        x, states[ev["entity_id"]] = featurize(SPEC, raw, states.get(ev["entity_id"]))
        out.append((x, y))
    return tuple(out)


def test_prequential_accuracy_equals_progressive_val_score() -> None:
    stream = examples(3000)
    trainer = Trainer(SPEC)
    for i, (x, y) in enumerate(stream):
        trainer.learn(Example(f"e{i}", x, y, float(i)))
    expected = evaluate.progressive_val_score(stream, build_model(SPEC), metrics.Accuracy())
    assert trainer.champion.metric.get() == expected.get()
    assert 0.5 < expected.get() < 1.0


@pytest.mark.heavy
@pytest.mark.parametrize("seed", [42, 1, 7])
def test_one_concept_drift_right_after_the_change_and_none_before(seed: int) -> None:
    trainer = Trainer(SPEC)
    found = []
    for i, (x, y) in enumerate(examples(20_000, seed=seed)):
        detections, requests = trainer.learn(Example(f"e{i}", x, y, float(i)))
        found += [i for d in detections if d.kind == "concept_drift"]
        for n, request in enumerate(requests):
            if isinstance(request, PublishRequest):
                trainer.published(request.lane, i * 10 + n)
    assert len(found) == 1
    assert 10_000 <= found[0] < 11_000


def interleaved(items: list, seed: int, partitions: int = 4) -> list[int]:  # type: ignore[type-arg]
    """Positions in the order a join over ``partitions`` partitions may emit them: each
    partition in order, the partitions taking turns in runs of 1 to 60 records."""
    rng = random.Random(seed)
    queues: list[list[int]] = [[] for _ in range(partitions)]
    for i in range(len(items)):
        queues[(i * 2654435761 % 2**32) % partitions].append(i)
    order: list[int] = []
    while any(queues):
        queue = rng.choice([q for q in queues if q])
        run = rng.randint(1, 60)
        order += queue[:run]
        del queue[:run]
    return order


@pytest.mark.heavy
@pytest.mark.parametrize(("seed", "shuffle"), [(1, 1), (42, 2)])
def test_concept_drift_is_found_in_partition_interleaved_orders(seed: int, shuffle: int) -> None:
    # regression: ADWIN on the errors missed this drift on orders like these (CI, 2026-11-22)
    items = examples(20_000, seed=seed)
    order = interleaved(items, shuffle)
    first_after = next(n for n, i in enumerate(order) if i >= 10_000)
    trainer = Trainer(SPEC)
    found = []
    for n, i in enumerate(order):
        x, y = items[i]
        detections, requests = trainer.learn(Example(f"e{i}", x, y, float(n)))
        found += [n for d in detections if d.kind == "concept_drift"]
        for k, request in enumerate(requests):
            if isinstance(request, PublishRequest):
                trainer.published(request.lane, n * 10 + k)
    assert len(found) == 1 and first_after <= found[0] < first_after + 1_000, (found, first_after)


def test_the_first_version_is_asked_for_once_per_hundred_examples_until_it_is_numbered() -> None:
    # regression: with no registry answering, every example after the 100th asked again
    trainer = Trainer(SPEC)
    asked = [i for i, (x, y) in enumerate(examples(1_000)) if trainer.learn(Example(f"e{i}", x, y, float(i)))[1]]
    assert asked == list(range(99, 1_000, 100))


def test_a_challenger_is_published_after_drift_and_versions_are_requested_on_schedule() -> None:
    trainer = Trainer(SPEC)
    statuses = []
    for i, (x, y) in enumerate(examples(16_000)):
        _, requests = trainer.learn(Example(f"e{i}", x, y, float(i)))
        for request in requests:
            if isinstance(request, PublishRequest):
                statuses.append((i, request.status, request.parent))
                trainer.published(request.lane, len(statuses))
    assert statuses[0][1] == "champion" and statuses[0][2] is None  # the first version has no parent
    challengers = [s for s in statuses if s[1] == "challenger"]
    assert len(challengers) == 1 and challengers[0][0] > 10_000
    champions = [s for s in statuses if s[1] == "champion"]
    assert len(champions) >= 7  # every publish_every (2000) examples


def run(trainer: Trainer, stream: list, start: int = 0) -> list[tuple[int, object]]:  # type: ignore[type-arg]
    """Feed examples; number each publish request like a registry; every request, by position."""
    out = []
    for i, (x, y) in enumerate(stream, start):
        _, requests = trainer.learn(Example(f"e{i}", x, y, float(i)))
        for request in requests:
            if isinstance(request, PublishRequest):
                trainer.published(request.lane, 1000 + i)
            out.append((i, request))
    return out


def test_a_batch_challenger_started_at_the_drift_wins_the_gate_and_becomes_champion() -> None:
    trainer = Trainer(SPEC)
    requests = run(trainer, examples(14_000))
    challenger = [(i, r) for i, r in requests if isinstance(r, PublishRequest) and r.status == "challenger"]
    promoted = [(i, r) for i, r in requests if isinstance(r, StatusChange) and r.alert == "model_promoted"]
    assert len(challenger) == 1 and 10_000 < challenger[0][0] < 11_000
    assert type(challenger[0][1].model).__name__ == "WindowedSklearn"  # the scikit-learn challenger
    first, last = challenger[0][1].trained_range  # its lineage: the examples since the drift
    assert last == challenger[0][0] + 1 and last - first + 1 == challenger[0][1].trained_examples
    champions = [(i, r.trained_range[0]) for i, r in requests if isinstance(r, PublishRequest) and r.status == "champion"]
    assert {start for i, start in champions if i < challenger[0][0]} == {1}  # the first champion learned from the start
    assert {start for i, start in champions if i > promoted[0][0]} <= {first}  # the promoted one, from the drift
    assert len(promoted) == 1 and promoted[0][1].version == 1000 + challenger[0][0]
    assert promoted[0][0] < 12_000 and "won the promotion gate" in promoted[0][1].reason
    assert type(trainer.champion.model).__name__ == "WindowedSklearn" and trainer.challenger is None


def test_a_bad_champion_promoted_by_hand_is_rolled_back() -> None:
    trainer = Trainer(SPEC)
    stream = examples(5_000)
    run(trainer, stream[:3_000])
    good = trainer.champion.version
    bad = build_model(SPEC)
    for x, y in stream[:2_000]:
        bad.learn_one(x, not y)  # a model that learned the opposite
    trainer.adopt(77, bad)
    requests = run(trainer, stream[3_000:], start=3_000)
    rolled = [(i, r) for i, r in requests if isinstance(r, StatusChange)]  # (its errors may also start a challenger)
    assert rolled and rolled[0][1].alert == "model_rolled_back"
    assert rolled[0][1].version == good and rolled[0][1].status == "champion"
    assert rolled[0][0] < 3_000 + SPEC.training.rollback_examples + 5
    assert trainer.previous is None and trainer.watch is None


def test_a_challenger_that_never_beats_the_champion_is_retired_after_the_timeout() -> None:
    spec = replace(SPEC, training=replace(SPEC.training, challenger="river", promotion_timeout_examples=1_500, sklearn_every=0))
    trainer = Trainer(spec)
    requests = run(trainer, examples(13_000))
    changes = [(i, r) for i, r in requests if isinstance(r, StatusChange)]
    assert [r.alert for _, r in changes] == ["model_retired"]  # a fresh Hoeffding tree trails the adapted champion
    assert trainer.challenger is None


def test_an_example_joined_again_after_a_crash_is_learned_once() -> None:
    from streams.core.example import Example
    from streams.core.trainer import Trainer

    t = Trainer(SPEC)
    example = Example("e-1", {"salary": 1.0}, True, 0.0)
    t.learn(example)
    assert t.learn(example) == ([], []) and t.position == 1 and t.duplicates == 1


def test_publish_seconds_publishes_a_slow_streams_champion_by_event_time() -> None:
    """publish_every is far off; publish_seconds (event time) asks for a version anyway, and only
    once that much time has passed since the last one."""
    spec = replace(SPEC, training=replace(SPEC.training, publish_every=100_000, publish_seconds=30.0, challenger_on_drift=False))
    trainer = Trainer(spec)
    asked = []
    for i, (x, y) in enumerate(examples(400)):
        ts = 1_000.0 + i  # one example a second
        for request in trainer.learn(Example(f"e{i}", x, y, ts))[1]:
            if isinstance(request, PublishRequest) and request.lane == "champion":
                asked.append(ts)
                trainer.published("champion", len(asked))
    assert asked[0] == 1_099.0  # the first version after 100 examples, as without publish_seconds
    assert [b - a for a, b in itertools.pairwise(asked)] == [30.0] * (len(asked) - 1)
    assert len(asked) == 1 + (399 - 99) // 30


def test_without_publish_seconds_time_alone_asks_for_no_version() -> None:
    spec = replace(SPEC, training=replace(SPEC.training, publish_every=100_000, challenger_on_drift=False))
    trainer = Trainer(spec)
    asked = []
    for i, (x, y) in enumerate(examples(400)):
        for request in trainer.learn(Example(f"e{i}", x, y, 1_000.0 + i * 60))[1]:
            if isinstance(request, PublishRequest):
                asked.append(i)
                trainer.published(request.lane, len(asked))
    assert asked == [99]


def test_a_challenger_the_trainer_does_not_shadow_is_retired() -> None:
    trainer = Trainer(SPEC)
    assert trainer.unwatched(None) is None
    orphan = trainer.unwatched(7)  # the registry's challenger, from before a restart
    assert orphan is not None and (orphan.version, orphan.status, orphan.alert) == (7, "retired", "model_retired")
    for i, (x, y) in enumerate(examples(14_000)):  # on to the challenger the drift starts, once published
        requests = trainer.learn(Example(f"e{i}", x, y, float(i)))[1]
        published = [r for r in requests if isinstance(r, PublishRequest)]
        for r in published:
            trainer.published(r.lane, 1000 + i)
        if any(r.lane == "challenger" for r in published):
            break
    assert trainer.challenger is not None and trainer.challenger.version is not None
    assert trainer.unwatched(trainer.challenger.version) is None  # shadowed, and judged by the gate
    assert trainer.unwatched(trainer.challenger.version - 1) is not None
