"""Sample records of every kind, shared by the schema tests.

A test that takes a ``sample`` argument runs once per record below; ``samples_by_kind`` gives
the first sample of each kind.
"""

from __future__ import annotations

import pytest

from schemas import Alert, DeadLetter, FeatureVector, Feedback, ModelVersion, Prediction, RawEvent, Reason

SAMPLES = [
    RawEvent(event_id="e-1", entity_id="c-9", ts=1732280000.5,
             data={"amount": 12.5, "country": "FR", "items": 3, "vip": True, "note": None}),
    RawEvent(event_id="e-2", data={}),
    FeatureVector(event_id="e-1", entity_id="c-9", ts=1732280000.5, features={"amount": 12.5, "country=FR": 1.0},
                  source_partition=2, source_offset=40, model_version=3, prediction=True),
    FeatureVector(event_id="e-2", entity_id=None, ts=0.0, features={}),
    Prediction(event_id="e-1", entity_id="c-9", model_version=3, prediction=True,
               proba={"True": 0.8, "False": 0.2}, ts=1.0, scored_at=1.5),
    Prediction(event_id="e-2", entity_id=None, model_version=0, prediction=4.5, proba=None, ts=1.0, scored_at=1.5,
               challenger={"model_version": 4, "prediction": 4.0}),
    Feedback(event_id="e-1", label=True, ts=1732280060.0),
    Feedback(event_id="e-2", label="fraud", ts=None),
    DeadLetter.for_bytes(Reason.WRONG_TYPE, "data must be an object, got array", b'{"data": []}',
                         source_topic="driftline.raw", partition=1, offset=7, ts=5.0),
    DeadLetter.for_bytes(Reason.INVALID_JSON, "not valid UTF-8 JSON", b"\x00\xff", ts=6.0),
    Alert(alert_id="a-1", alert_kind="data_drift", severity="warning", subject="amount", message="drift in amount",
          ts=9.0, detail={"detector": "ADWIN", "at_event": 1200}),
    ModelVersion(version=2, parent=1, status="champion", created_at=3.0, trained_examples=1000,
                 metrics={"accuracy": 0.91}, artifact_sha256="ab" * 32, reason="published"),
    ModelVersion(version=1, parent=None, status="candidate", created_at=2.0, trained_examples=0,
                 metrics={}, artifact_sha256="cd" * 32, reason="first"),
]


def _label(record: object) -> str:
    return f"{type(record).__name__}-{SAMPLES.index(record)}"  # type: ignore[arg-type]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "sample" in metafunc.fixturenames:
        metafunc.parametrize("sample", SAMPLES, ids=_label)


@pytest.fixture
def samples_by_kind() -> dict[str, object]:
    out: dict[str, object] = {}
    for record in SAMPLES:
        out.setdefault(type(record).kind, record)  # type: ignore[attr-defined]
    return out
