"""A worker runs the example plugin package (examples/driftline-acme, installed by make): its
estimator serves and learns, its feature functions compute features live, the stateful one per
customer, and an event one of them refuses is dead-lettered with the reason."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import orjson
from kafka import KafkaProducer

from streams.kafka import clients
from streams.kafka.produce import ProduceOptions, produce
from streams.settings import Settings
from streams.specs.load import DEFAULT_SPEC_PATH
from streams.state.registry import Registry
from tests.support.pipeline import Worker, end_offsets, read_all, replayed_as_live, wait_for

SPEC = DEFAULT_SPEC_PATH.read_text().replace(
    'estimator = "river.tree.HoeffdingTreeClassifier"', 'estimator = "acme-scaled-logistic"\nparams = { lr = 0.05 }'
).replace("[model]", """[[features.function]]
name = "loan_to_salary"
params = { strict = true }

[[features.function]]
name = "salary_vs_usual"

[model]""")

EVENTS = 2_000


def send_zero_salary(settings: Settings) -> None:
    producer: KafkaProducer = clients.producer(settings)
    data = {"salary": 0.0, "commission": 0.0, "age": 30, "elevel": 1, "car": 2, "zipcode": 3, "hvalue": 1.0, "hyears": 2, "loan": 10.0}
    producer.send(settings.topic("raw"), orjson.dumps({"event_id": "zero-salary", "entity_id": "c-1", "ts": 1_700_000_100.0, "data": data}))
    producer.flush()
    producer.close()


def test_a_worker_runs_a_plugins_estimator_and_feature_functions(stack_settings: Settings, tmp_path: Path) -> None:
    import uuid
    from dataclasses import replace

    from streams.kafka import admin
    from streams.kafka.topics import topic_specs

    settings = replace(stack_settings, topic_prefix=f"plug{uuid.uuid4().hex[:8]}")
    admin.ensure_topics(settings, topic_specs(settings))
    worker = Worker(settings, tmp_path, spec_text=SPEC)
    worker.start()
    try:
        settings = worker.settings
        produce(settings, ProduceOptions("agrawal-drift", limit=EVENTS, feedback_delay=20, seed=8, drift_at=10**9))
        send_zero_salary(settings)
        wait_for("every event's outcome", lambda: end_offsets(settings, "features") + end_offsets(settings, "deadletter") >= EVENTS + 1, 240)

        raws = {orjson.loads(r.value)["event_id"]: orjson.loads(r.value) for r in read_all(settings, "raw", until=EVENTS + 1)}
        features = [orjson.loads(r.value) for r in read_all(settings, "features", until=EVENTS)]
        assert len(features) == EVENTS
        seen: dict[str, list[tuple[float, float]]] = defaultdict(list)
        for f in features:
            data = raws[f["event_id"]]["data"]
            assert f["features"]["loan_to_salary"] == data["loan"] / data["salary"]
            seen[f["entity_id"]].append((f["ts"], f["features"]["salary_seen"]))
        for entity, counts in seen.items():  # the stateful function's count, per customer, in order
            assert [n for _, n in sorted(counts)] == [float(i) for i in range(1, len(counts) + 1)], entity

        letters = [orjson.loads(r.value) for r in read_all(settings, "deadletter", until=1)]
        assert [(d["reason"], orjson.loads(d["payload"])["event_id"]) for d in letters] == [("feature_failed", "zero-salary")]
        assert "feature function 'loan_to_salary' raised ZeroDivisionError" in letters[0]["detail"]

        registry = Registry.connect(settings)
        wait_for("a champion", lambda: registry.alias("champion") is not None, 120)
        assert registry.record(registry.alias("champion")).model == "ScaledLogistic"  # type: ignore[arg-type]
        predictions = [orjson.loads(r.value) for r in read_all(settings, "predictions", until=EVENTS)]
        assert sum(p["prediction"] is not None for p in predictions) > EVENTS // 2

        # the live run replayed on its own schedule: the plugins' features, so every prediction, again
        reproduced = replayed_as_live(settings, tmp_path / "replay")
        assert reproduced["predictions"] == EVENTS and reproduced.get("differ", 0) == 0
    finally:
        worker.stop()
