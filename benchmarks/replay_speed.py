"""Fast replay against `river.evaluate.progressive_val_score` on the same data, and the trainer's core.

Both learn the demo pipeline's model test-then-train on the same featurized Agrawal stream;
replay also validates, featurizes, scores, joins, watches drift and runs the champion, the
challenger and the gate, so it does several times the work of the bare evaluation loop.
"""

from __future__ import annotations

import itertools
import time

from river import evaluate, metrics

from streams.core.example import Example
from streams.core.features import featurize_all
from streams.core.model import build_model
from streams.core.replay import replay
from streams.core.trainer import PublishRequest, Trainer
from streams.kafka.sources import builtin
from streams.specs.load import load_spec

EVENTS = 20_000


def replay_against_bare(events: int = EVENTS) -> tuple[float, float, float]:
    """(progressive_val_score events/s, fast replay events/s, the accuracy both reach)."""
    spec = load_spec(None)
    items = list(itertools.islice(builtin("agrawal-drift", seed=42, drift_at=events // 2), events))
    stream = featurize_all(spec, items)
    began = time.perf_counter()
    expected = evaluate.progressive_val_score(stream, build_model(spec), metrics.Accuracy())
    bare = time.perf_counter() - began
    began = time.perf_counter()
    result = replay(spec, items)
    fast = time.perf_counter() - began
    assert result.prequential == expected.get(), (result.prequential, expected.get())
    return events / bare, events / fast, float(expected.get())


def trainer_speed(events: int = 30_000) -> float:
    """Examples/s through the trainer's core alone (champion, drift, challenger, gate)."""
    spec = load_spec(None)
    items = list(itertools.islice(builtin("agrawal-drift", seed=42, drift_at=events // 3), events))
    examples = [Example(f"e{i}", x, y, 0.0) for i, (x, y) in enumerate(featurize_all(spec, items))]
    trainer = Trainer(spec)
    began = time.perf_counter()
    for n, example in enumerate(examples, 1):
        for request in trainer.learn(example)[1]:
            if isinstance(request, PublishRequest):
                trainer.published(request.lane, n)
    return events / (time.perf_counter() - began)
