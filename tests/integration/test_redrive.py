"""`driftline replay --deadletter`: after a spec fix, what now passes goes back to raw unchanged."""

from __future__ import annotations

import subprocess
from collections import Counter
from pathlib import Path

import orjson
from kafka import KafkaProducer

from streams.specs.load import DEFAULT_SPEC_PATH
from tests.support.pipeline import DRIFTLINE, Worker, read_all

DATA = {"salary": 50000.0, "commission": 0.0, "elevel": 1, "car": 3, "zipcode": 2, "hvalue": 100000.0,
        "hyears": 10, "loan": 20000.0}


def test_dead_letters_that_pass_the_fixed_spec_go_back_to_raw_with_their_ids_and_keys(worker: Worker, tmp_path: Path) -> None:
    s = worker.settings
    producer = KafkaProducer(bootstrap_servers=s.kafka_bootstrap, acks="all")
    for n in range(10):  # ages the demo spec refuses (max 120) and a fixed spec allows
        event = {"event_id": f"old-{n}", "entity_id": f"c-{n}", "data": {**DATA, "age": 130 + n}}
        producer.send(s.topic("raw"), key=f"c-{n}".encode(), value=orjson.dumps(event))
    producer.send(s.topic("raw"), key=b"x", value=b"{not json")  # stays: still invalid
    producer.flush()
    producer.close()
    dead = read_all(s, "deadletter", 11, timeout=60)
    assert len(dead) == 11
    fixed = tmp_path / "fixed.toml"
    fixed.write_text(DEFAULT_SPEC_PATH.read_text().replace("name = \"age\"\ntype = \"integer\"\nmin = 0\nmax = 120",
                                                          "name = \"age\"\ntype = \"integer\"\nmin = 0\nmax = 200"))
    assert "max = 200" in fixed.read_text()
    worker.stop()  # the raw topic now only gains what the re-drive sends
    done = subprocess.run([DRIFTLINE, "replay", "--deadletter", "--spec", str(fixed)], env=s.as_env(),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "re-driven to" in done.stdout and ": 10;" in done.stdout and "invalid_json 1" in done.stdout
    raw = [r for r in read_all(s, "raw", 21, timeout=30) if r.value.startswith(b"{\"event_id\"")]
    copies = Counter((orjson.loads(r.value)["event_id"], r.key, r.value) for r in raw)
    # each refused event is on raw twice now, byte for byte, with its key; the broken one once
    assert sorted(copies.values()) == [2] * 10 and {k[0] for k in copies} == {f"old-{n}" for n in range(10)}
    assert {k[1] for k in copies} == {f"c-{n}".encode() for n in range(10)}
