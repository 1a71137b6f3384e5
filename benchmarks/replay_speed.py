"""Fast replay against `river.evaluate.progressive_val_score` on the same data, and the trainer's core.

Both learn the demo pipeline's model test-then-train on the same featurized Agrawal stream;
replay also validates, featurizes, scores, joins, watches drift and runs the champion, the
challenger and the gate, so it does several times the work of the bare evaluation loop. Each is
run once on the stream's first events before it is timed: imports and first calls are not
counted, for either.
"""

from __future__ import annotations

import itertools
import time

from river import evaluate, metrics

from streams.core.batch import WindowedSklearn
from streams.core.example import Example
from streams.core.features import featurize_all
from streams.core.model import build_model
from streams.core.replay import replay
from streams.core.trainer import PublishRequest, Trainer
from streams.kafka.sources import builtin
from streams.specs.load import load_spec

EVENTS = 20_000
WARM_UP = 2_000


def replay_against_bare(events: int = EVENTS) -> tuple[float, float, float]:
    """(progressive_val_score events/s, fast replay events/s, the accuracy both reach)."""
    spec = load_spec(None)
    items = list(itertools.islice(builtin("agrawal-drift", seed=42, drift_at=events // 2), events))
    stream = featurize_all(spec, items)
    evaluate.progressive_val_score(stream[:WARM_UP], build_model(spec), metrics.Accuracy())
    replay(spec, items[:WARM_UP])
    _ = WindowedSklearn("", classifier=True).estimator  # the challenger's estimator, imported once per process
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


def challenger_cost(examples: int = 10_000) -> tuple[float, float]:
    """(µs per example the scikit-learn challenger learns, its refits included; µs per example it
    predicts), with the spec's defaults (a decision tree refitted every 250 on the last 1,000)."""
    spec = load_spec(None)
    items = list(itertools.islice(builtin("agrawal-drift", seed=3), examples))
    stream = featurize_all(spec, items)
    model = WindowedSklearn(spec.training.sklearn_estimator, classifier=True, window=spec.training.sklearn_window,
                            refit_every=spec.training.sklearn_refit_every)
    began = time.perf_counter()
    for x, y in stream:
        model.learn_one(x, y)
    learn = time.perf_counter() - began
    began = time.perf_counter()
    for x, _ in stream:
        model.predict_proba_one(x)
    return learn / examples * 1e6, (time.perf_counter() - began) / examples * 1e6
