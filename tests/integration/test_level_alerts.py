"""The contract's ``deadletter_rate`` alert, through a real `driftline worker`: raised once when
more than the spec's share of the raw records dead-letters, with the reasons, and said once more
when the rate is back."""

from __future__ import annotations

import itertools
import uuid
from dataclasses import replace
from pathlib import Path

import orjson
from kafka import KafkaProducer

from streams.kafka import admin
from streams.kafka.sources import builtin
from streams.kafka.topics import topic_specs
from streams.settings import Settings
from streams.specs.load import DEFAULT_SPEC_PATH
from tests.support.pipeline import Worker, read_all, wait_for

SPEC = DEFAULT_SPEC_PATH.read_text() + "\n[validate]\ndeadletter_rate = 0.05\ndeadletter_window = 200\n"


def _rate_alerts(s: Settings, until: int) -> list[dict]:  # type: ignore[type-arg]
    found = [orjson.loads(r.value) for r in read_all(s, "alerts", until, timeout=5)]
    return [a for a in found if a["kind"].startswith("deadletter_rate")]


def test_a_dead_letter_rate_over_the_line_is_one_alert_then_one_recovered(stack_settings: Settings, tmp_path: Path) -> None:
    s = replace(stack_settings, topic_prefix=f"rate{uuid.uuid4().hex[:8]}")
    admin.ensure_topics(s, topic_specs(s))
    worker = Worker(s, tmp_path, spec_text=SPEC)
    worker.start()
    s = worker.settings
    events = [e for e, _ in itertools.islice(builtin("agrawal-drift", seed=5), 1000)]
    producer = KafkaProducer(bootstrap_servers=s.kafka_bootstrap, acks="all")
    try:
        for n, event in enumerate(events[:400]):  # one in ten is not JSON: 10%, over the 5% allowed
            value = b"{broken" if n % 10 == 0 else orjson.dumps(event)
            producer.send(s.topic("raw"), value=value, key=event["entity_id"].encode())
        producer.flush()
        wait_for("the deadletter_rate alert", lambda: len(_rate_alerts(s, 1)) >= 1, 120)
        for event in events[400:]:  # then only valid events: the rate falls to 0 over the last 200
            producer.send(s.topic("raw"), value=orjson.dumps(event), key=event["entity_id"].encode())
        producer.flush()
        wait_for("the deadletter_rate_recovered alert", lambda: len(_rate_alerts(s, 2)) >= 2, 120)
        said = _rate_alerts(s, 2)
    finally:
        producer.close()
        worker.stop()

    assert [a["kind"] for a in said] == ["deadletter_rate", "deadletter_rate_recovered"], said
    raised, back = said
    assert raised["severity"] == "warning" and back["severity"] == "info"
    assert raised["subject"] == s.topic("raw") and raised["threshold"] == 0.05 and raised["records"] >= 200
    assert 0.05 < raised["rate"] <= 0.2 and set(raised["reasons"]) == {"invalid_json"}, raised
    assert "were dead-lettered" in raised["message"] and "above the 5.0% allowed" in raised["message"]
    assert back["rate"] <= 0.025
