"""A published version's copy of a model: it predicts as the model did, and goes its own way."""

from __future__ import annotations

import itertools

from streams.core.batch import WindowedSklearn
from streams.core.features import featurize_all
from streams.core.model import build_model, snapshot
from streams.kafka.sources import builtin
from streams.specs.load import load_spec

SPEC = load_spec(None)


def test_a_snapshot_predicts_as_the_model_did_and_does_not_learn_with_it() -> None:
    examples = featurize_all(SPEC, itertools.islice(builtin("agrawal-drift", seed=2, drift_at=10**9), 1_600))
    model, batch = build_model(SPEC), WindowedSklearn("", classifier=True, window=500, refit_every=250)
    for x, y in examples[:1_000]:
        model.learn_one(x, y)
        batch.learn_one(x, y)
    frozen, frozen_batch = snapshot(model), snapshot(batch)
    later = examples[1_000:]
    before = [(model.predict_proba_one(x), batch.predict_proba_one(x)) for x, _ in later]
    assert [(frozen.predict_proba_one(x), frozen_batch.predict_proba_one(x)) for x, _ in later] == before
    for x, y in later:
        model.learn_one(x, y)
        batch.learn_one(x, y)
    assert [(frozen.predict_proba_one(x), frozen_batch.predict_proba_one(x)) for x, _ in later] == before
    assert [(model.predict_proba_one(x), batch.predict_proba_one(x)) for x, _ in later] != before  # they learned on
