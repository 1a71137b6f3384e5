"""The model registry on the real Redis and the models topic: numbering, signatures, rebuild,
and the `driftline models` commands."""

from __future__ import annotations

import base64
import itertools
import subprocess
import sys
import time
import uuid
from dataclasses import replace
from pathlib import Path

import orjson
import pytest
import redis as redis_lib
from kafka import KafkaProducer

from streams.core.model import build_model
from streams.kafka import admin
from streams.kafka.produce import ProduceOptions, produce
from streams.kafka.sources import builtin
from streams.kafka.topics import topic_specs
from streams.settings import Settings
from streams.specs.load import load_spec
from streams.state import models_log
from streams.state.artifacts import ArtifactRefused
from streams.state.registry import Registry, RegistryLost, RegistryUnwritable
from tests.support.invariants import registry_problems
from tests.support.pipeline import DRIFTLINE, Worker, read_all

PUBLISHER = """
import sys
from streams.state.registry import Registry
from streams.settings import Settings
from streams.kafka.sources import builtin
registry = Registry.connect(Settings.from_env())
for n in range(int(sys.argv[1])):
    registry.publish({"n": n}, parent=None, status="candidate", reason="race", trained_examples=n, metrics={})
"""


@pytest.fixture
def settings(stack_settings: Settings) -> Settings:
    return replace(stack_settings, topic_prefix=f"reg{uuid.uuid4().hex[:8]}")


def cli(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([DRIFTLINE, "models", *args], env=settings.as_env(), capture_output=True, text=True, timeout=60)


def publish(registry: Registry, settings: Settings, status: str = "champion", **kwargs: object):  # type: ignore[no-untyped-def]
    changes = registry.publish(build_model(load_spec(None)), parent=kwargs.pop("parent", None), status=status,
                               reason=str(kwargs.pop("reason", "test")), trained_examples=100, metrics={"prequential_accuracy": 0.9})
    return changes[0]


def send_as_is(settings: Settings, records: list) -> None:  # type: ignore[type-arg]
    """Model-version events made outside a registry, written to the topic as they are."""
    log = models_log.TopicLog(settings)
    try:
        log(records)
    finally:
        log.close()


def test_two_publishers_at_once_never_share_a_number_and_leave_no_gap(settings: Settings) -> None:
    from streams.kafka import admin
    from streams.kafka.topics import topic_specs

    admin.ensure_topics(settings, topic_specs(settings))
    Registry.connect(settings).ensure()
    env = settings.as_env()
    procs = [subprocess.Popen([sys.executable, "-c", PUBLISHER, "40"], env=env) for _ in range(2)]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    versions = [r.version for r in Registry.connect(settings).versions()]
    assert versions == list(range(1, 81))


def test_after_flushall_a_publisher_is_stopped_until_the_topic_rebuilds_the_registry(settings: Settings) -> None:
    from streams.kafka import admin
    from streams.kafka.topics import topic_specs

    admin.ensure_topics(settings, topic_specs(settings))
    registry = Registry.connect(settings)
    registry.ensure()
    first, second = publish(registry, settings), publish(registry, settings, parent=1)
    registry.client.flushdb()
    with pytest.raises(RegistryLost):  # never number 1 again
        registry.publish({"x": 1}, parent=None, status="candidate", reason="t", trained_examples=0, metrics={})
    assert models_log.rebuild(settings, registry) == 2
    assert [r.version for r in registry.versions()] == [first.version, second.version]
    assert registry.alias("champion") == second.version
    assert registry.publish({"x": 1}, parent=None, status="candidate", reason="t", trained_examples=0, metrics={})[0].version == 3


def test_a_tampered_artifact_is_refused_with_an_alert_and_the_previous_model_keeps_serving(worker: Worker) -> None:
    s, registry = ready(worker)
    good = publish(registry, s)
    wait_serving(worker, good.version)
    blob = bytearray(base64.b64decode(good.artifact))
    blob[len(blob) // 2] ^= 0x01  # one byte changed on the way
    bad = replace(good, version=good.version + 1, parent=good.version, artifact=base64.b64encode(bytes(blob)).decode())
    with pytest.raises(ArtifactRefused, match="checksum"):
        registry.load_record(bad)
    send_as_is(s, [bad])
    alerts = [orjson.loads(r.value) for r in read_all(s, "alerts", 1, timeout=30)]
    rejected = [a for a in alerts if a["kind"] == "model_rejected"]
    assert rejected and rejected[0]["version"] == bad.version and "checksum" in rejected[0]["message"]
    assert worker.health()["model_version"] == good.version


def test_an_old_signed_artifact_replayed_under_a_new_number_is_refused(worker: Worker) -> None:
    """Each artifact is signed as its version: a genuine one, sent again as another version, is a replay."""
    s, registry = ready(worker)
    old = publish(registry, s)
    new = publish(registry, s, parent=old.version)
    wait_serving(worker, new.version)
    replayed = replace(old, version=new.version + 1, parent=new.version, reason="an old model, replayed")
    with pytest.raises(ArtifactRefused, match=f"model version {replayed.version}"):
        registry.load_record(replayed)
    send_as_is(s, [replayed])
    alerts = [orjson.loads(r.value) for r in read_all(s, "alerts", 1, timeout=30)]
    rejected = [a for a in alerts if a["kind"] == "model_rejected"]
    assert rejected and rejected[0]["version"] == replayed.version and "signature" in rejected[0]["message"]
    assert worker.health()["model_version"] == new.version


def test_a_wrong_key_is_refused_too(settings: Settings) -> None:
    registry = Registry.connect(settings)
    registry.ensure()
    record = registry.publish({"w": 1}, parent=None, status="candidate", reason="t", trained_examples=0, metrics={})[0]
    other = Registry(registry.client, settings.topic_prefix, b"not the deployment's key")
    with pytest.raises(ArtifactRefused, match="signature"):
        other.load(record.version)


def test_flushall_and_a_restart_keep_versions_statuses_and_metrics_and_scoring_never_stops(worker: Worker) -> None:
    s, registry = ready(worker)
    one = publish(registry, s)
    two = publish(registry, s, parent=one.version)
    wait_serving(worker, two.version)
    assert cli(s, "promote", str(one.version), "--reason", "back to one").returncode == 0
    wait_serving(worker, one.version)
    before = cli(s, "list", "--json")
    assert before.returncode == 0, before.stderr
    listed = orjson.loads(before.stdout)
    assert [(v["version"], v["status"]) for v in listed] == [(one.version, "champion"), (two.version, "retired")]

    redis_lib.Redis.from_url(s.redis_url).flushall()
    producer = KafkaProducer(bootstrap_servers=s.kafka_bootstrap)
    for n in range(50):
        event = {"event_id": f"after-flush-{n}", "entity_id": "c-1", "data": {
            "salary": 50000.0, "commission": 0.0, "age": 40, "elevel": 1, "car": 3, "zipcode": 2,
            "hvalue": 100000.0, "hyears": 10, "loan": 20000.0}}
        producer.send(s.topic("raw"), value=orjson.dumps(event))
    producer.flush()
    producer.close()
    predictions = [orjson.loads(r.value) for r in read_all(s, "predictions", 50, timeout=60)]
    served = {p["event_id"]: p["model_version"] for p in predictions if p["event_id"].startswith("after-flush")}
    assert len(served) == 50 and set(served.values()) == {one.version}  # still serving, from memory

    worker.stop()
    worker.start()
    after = cli(s, "list", "--json")
    assert after.returncode == 0, after.stderr
    assert orjson.loads(after.stdout) == listed
    wait_serving(worker, one.version)


def test_models_commands_answer_unknown_versions_with_one_line_and_exit_2(settings: Settings) -> None:
    registry = Registry.connect(settings)
    registry.ensure()
    registry.publish({"w": 1}, parent=None, status="candidate", reason="t", trained_examples=0, metrics={})
    for args in (["show", "7"], ["promote", "7"], ["diff", "1", "7"]):
        done = cli(settings, *args)
        assert done.returncode == 2, (args, done.stdout, done.stderr)
        assert done.stderr.strip().count("\n") == 0 and "unknown model version 7" in done.stderr
        assert "Traceback" not in done.stderr
    done = cli(settings, "rollback")
    assert done.returncode == 2 and "no champion" in done.stderr


def test_promote_and_rollback_by_hand_are_recorded_alerted_and_served(worker: Worker) -> None:
    s, registry = ready(worker)
    one = publish(registry, s)
    two = publish(registry, s, status="challenger", parent=one.version)
    wait_serving(worker, one.version)
    done = cli(s, "promote", str(two.version), "--reason", "better on the canary")
    assert done.returncode == 0, done.stderr
    wait_serving(worker, two.version)
    shown = orjson.loads(cli(s, "show", str(two.version), "--json").stdout)
    assert shown["status"] == "champion" and shown["reason"] == "better on the canary"
    assert shown["changed_by"].endswith("(cli)") and shown["lineage"] == [one.version]
    assert cli(s, "diff", str(one.version), str(two.version)).returncode == 0

    done = cli(s, "rollback")
    assert done.returncode == 0, done.stderr
    wait_serving(worker, one.version)
    statuses = {v["version"]: v["status"] for v in orjson.loads(cli(s, "list", "--json").stdout)}
    assert statuses == {one.version: "champion", two.version: "retired"}
    kinds = [orjson.loads(r.value)["kind"] for r in read_all(s, "alerts", 2, timeout=30)]
    assert "model_promoted" in kinds and "model_rolled_back" in kinds


def ready(worker: Worker) -> tuple[Settings, Registry]:
    """The worker's settings and registry, once the registry exists and the worker follows it."""
    registry = Registry.connect(worker.settings)
    registry.ensure()
    wait_following(worker)
    return worker.settings, registry


def wait_following(worker: Worker) -> None:
    deadline = time.monotonic() + 30
    while not worker.health()["following_models"]:
        assert time.monotonic() < deadline, "the models follower never started"
        time.sleep(0.05)


def wait_serving(worker: Worker, version: int) -> None:
    deadline = time.monotonic() + 20
    while worker.health()["model_version"] != version:
        assert time.monotonic() < deadline, f"version {version} never came into service ({worker.health()})"
        time.sleep(0.05)


def test_a_bad_model_promoted_by_hand_is_rolled_back_automatically(worker: Worker) -> None:
    s = worker.settings
    wait_following(worker)
    producer = KafkaProducer(bootstrap_servers=s.kafka_bootstrap, linger_ms=5)
    items = list(itertools.islice(builtin("agrawal-drift", seed=3, drift_at=10**9), 6_000))

    def send(part: list) -> None:  # type: ignore[type-arg]
        began = time.monotonic()
        for n, (event, label) in enumerate(part):
            if n % 100 == 0:
                time.sleep(max(0.0, n / 350 - (time.monotonic() - began)))
            event["ts"] = time.time()
            producer.send(s.topic("raw"), key=event["entity_id"].encode(), value=orjson.dumps(event))
            producer.send(s.topic("feedback"), key=event["event_id"].encode(),
                          value=orjson.dumps({"event_id": event["event_id"], "label": label}))
        producer.flush()

    send(items[:3_000])
    registry = Registry.connect(s)
    deadline = time.monotonic() + 60
    while registry.alias("champion") is None:  # the trainer published its champion
        assert time.monotonic() < deadline, "no champion was published"
        time.sleep(0.2)
    bad = build_model(load_spec(None))
    for event, label in items[:2_000]:
        bad.learn_one(event["data"] | {"loan_mean_last_10": event["data"]["loan"], "events_last_hour": 1.0}, not label)
    record = registry.publish(bad, parent=None, status="candidate", reason="learned the opposite", trained_examples=2_000,
                              metrics={})[0]
    done = cli(s, "promote", str(record.version), "--reason", "a deliberate mistake")
    assert done.returncode == 0, done.stderr
    send(items[3_000:])
    producer.close()
    deadline = time.monotonic() + 90
    rolled: list = []  # type: ignore[type-arg]
    while not rolled and time.monotonic() < deadline:
        alerts = [orjson.loads(r.value) for r in read_all(s, "alerts", 1, timeout=5)]
        rolled = [a for a in alerts if a["kind"] == "model_rolled_back"]
    assert rolled, [a["message"] for a in alerts]
    assert record.version in rolled[0]["retired"]
    assert registry.record(record.version).status == "retired"
    deadline = time.monotonic() + 20  # the champion before it serves again (or a later version of it)
    while worker.health()["model_version"] in (record.version, None):
        assert time.monotonic() < deadline, "the bad model is still in service"
        time.sleep(0.05)
    assert worker.health()["model_version"] >= rolled[0]["version"]


def test_a_record_on_the_models_topic_that_is_no_model_version_is_dead_lettered(worker: Worker) -> None:
    s, _ = ready(worker)
    producer = KafkaProducer(bootstrap_servers=s.kafka_bootstrap)
    producer.send(s.topic("models"), key=b"9", value=b'{"version": "nine"}').get(timeout=10)
    producer.close()
    dead = [orjson.loads(r.value) for r in read_all(s, "deadletter", 1, timeout=30)]
    assert [(d["source_topic"], d["reason"]) for d in dead] == [(s.topic("models"), "missing_field")]


def test_a_challenger_left_from_before_a_trainer_restart_is_retired(settings: Settings, tmp_path: Path) -> None:
    """No gate judges a challenger the trainer does not shadow: the trainer retires it when it
    starts, so the scorers stop shadowing it (and giving it a canary share)."""
    admin.ensure_topics(settings, topic_specs(settings))
    worker = Worker(settings, tmp_path)
    s = worker.settings  # with the signing key the worker uses
    registry = Registry.connect(s)
    registry.ensure()
    champion = publish(registry, s)
    orphan = publish(registry, s, status="challenger", parent=champion.version, reason="from before the restart")
    worker.start()
    try:
        wait_following(worker)
        produce(s, ProduceOptions("agrawal-drift", limit=300, feedback_delay=10, seed=9))  # the trainer starts
        deadline = time.monotonic() + 120
        while registry.alias("challenger") is not None:
            assert time.monotonic() < deadline, "the challenger from before was never retired"
            time.sleep(0.2)
        assert next(r.status for r in registry.versions() if r.version == orphan.version) == "retired"
        events = [orjson.loads(r.value) for r in read_all(s, "models", 3, timeout=30)]
        assert any(e["version"] == orphan.version and e["status"] == "retired" for e in events), events
        alerts = [orjson.loads(r.value) for r in read_all(s, "alerts", 1, timeout=30)]
        assert any(a["kind"] == "model_retired" and a.get("version") == orphan.version for a in alerts), alerts
    finally:
        worker.stop()


def fresh_registry(settings: Settings, log=None) -> Registry:  # type: ignore[no-untyped-def]
    admin.ensure_topics(settings, topic_specs(settings))
    registry = Registry.connect(settings)
    if log is not None:
        registry.log = log
    registry.ensure()
    return registry


def test_a_change_reaches_the_models_topic_before_redis(settings: Settings) -> None:
    topic = models_log.TopicLog(settings)
    in_redis_when_logged: list[bool] = []

    def log(records):  # type: ignore[no-untyped-def]
        in_redis_when_logged.extend(registry.client.exists(registry.keys.version(r.version)) == 1 for r in records)
        topic(records)

    registry = fresh_registry(settings, log)
    one = publish(registry, settings)
    two = publish(registry, settings, parent=one.version)
    assert in_redis_when_logged == [False, False, True]  # 1; then 2, and 1 retired (already stored)
    assert [(r.version, r.status) for r in models_log.read_versions(settings)] == \
        [(1, "champion"), (2, "champion"), (1, "retired")]
    assert registry.alias("champion") == two.version
    assert registry_problems(settings, registry) == []
    topic.close()


def test_a_number_taken_by_a_publisher_that_died_before_logging_it_is_given_back(settings: Settings) -> None:
    registry = fresh_registry(settings)
    publish(registry, settings)

    def dies(records):  # type: ignore[no-untyped-def]
        raise SystemExit("killed between taking a number and logging it")

    crashing = fresh_registry(settings, dies)
    with pytest.raises(SystemExit):
        publish(crashing, settings)
    assert models_log.repair(settings, registry) == []
    assert publish(registry, settings).version == 2  # not 3: no gap
    assert registry_problems(settings, registry) == []


def test_a_change_redis_refuses_stays_on_the_topic_and_is_written_when_redis_takes_writes(settings: Settings) -> None:
    """Redis at its memory limit with noeviction refuses writes: the version is on the topic (the
    log of truth), the publisher is told, and a repair writes it once Redis accepts writes."""
    topic = models_log.TopicLog(settings)
    registry = fresh_registry(settings)
    one = publish(registry, settings)
    policy = registry.client.config_get("maxmemory-policy")["maxmemory-policy"]
    limit = registry.client.config_get("maxmemory")["maxmemory"]

    def full_after_logging(records):  # type: ignore[no-untyped-def]
        topic(records)
        registry.client.config_set("maxmemory-policy", "noeviction")
        registry.client.config_set("maxmemory", 1)

    registry.log = full_after_logging
    try:
        with pytest.raises(RegistryUnwritable) as refused:
            publish(registry, settings, parent=one.version)
        assert [c.version for c in refused.value.changes] == [2, 1]
        assert "Redis refuses writes (command not allowed when used memory > 'maxmemory'" in str(refused.value)
        with pytest.raises(redis_lib.ResponseError, match="maxmemory"):
            models_log.repair(settings, registry)
        assert registry.alias("champion") == one.version  # Redis unchanged: nothing half-written
        assert [r.version for r in registry.versions()] == [1]
    finally:
        registry.client.config_set("maxmemory", limit)
        registry.client.config_set("maxmemory-policy", policy)
    assert models_log.repair(settings, registry) == [1, 2]
    assert registry.alias("champion") == 2 and registry.record(1).status == "retired"
    assert registry_problems(settings, registry) == []
    topic.close()


def test_repair_takes_the_topics_word_when_a_change_was_logged_and_never_written(settings: Settings) -> None:
    """The trainer killed between logging a promotion and writing it: the next trainer's repair
    finishes it, aliases included."""
    registry = fresh_registry(settings)
    one = publish(registry, settings)
    two = publish(registry, settings, status="challenger", parent=one.version)
    logged_only = [replace(two, status="champion", reason="won"),
                   replace(one, status="retired", reason=f"replaced by version {two.version} as champion")]
    send_as_is(settings, logged_only[:1])  # cut short: the retirement of version 1 never logged
    assert registry_problems(settings, registry) != []
    assert models_log.repair(settings, registry) == [1, 2]
    assert registry.alias("champion") == two.version and registry.alias("challenger") is None
    assert registry.record(one.version).status == "retired"
    assert registry_problems(settings, registry) == []
