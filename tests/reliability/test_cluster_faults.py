"""Faults only a cluster has, on three brokers (replication factor 3, ``min.insync.replicas`` 2),
each followed by the invariants of ``test_faults``: I1 nothing lost, I2 duplicates bounded, I3 the
registry whole, I4 the lag back to 0.

The tests share one cluster (``cluster_base``), one at a time (their xdist group): starting three
brokers costs more than a fault. Each has a namespace of its own and finds the cluster whole.
"""

from __future__ import annotations

import signal
import time
from dataclasses import replace
from pathlib import Path

import orjson
import pytest

from streams import stack
from streams.kafka import admin
from streams.kafka.reader import read_topic
from streams.settings import Settings
from streams.stack.kafka import nodes
from streams.stack.procs import stop
from tests.reliability.conftest import whole
from tests.reliability.test_faults import CAUGHT_UP_S, LABEL_DELAY, RATE, check
from tests.support.faults import kill, stack_pid
from tests.support.feed import Feed
from tests.support.invariants import alerts, caught_up
from tests.support.pipeline import Worker, settled, wait_for

pytestmark = [pytest.mark.reliability, pytest.mark.xdist_group("cluster")]

EVENTS = 6_000
DOWN_S = 60.0  # a lost leader stays down this long


def leaders(s: Settings, *names: str) -> dict[int, int]:
    """Partitions of these topics each broker leads."""
    topics = admin_topics(s, [s.topic(n) for n in names])
    count: dict[int, int] = {}
    for topic in topics:
        for part in topic["partitions"]:
            count[part["leader_id"]] = count.get(part["leader_id"], 0) + 1
    return count


def admin_topics(s: Settings, names: list[str]) -> list[dict]:  # type: ignore[type-arg]
    from streams.kafka import clients

    client = clients.admin(s)
    try:
        return client.describe_topics(names)  # type: ignore[no-any-return]
    finally:
        client.close()


def longest_gap(s: Settings, since: float) -> float:
    """The longest time (seconds) the events of one ``raw`` partition went without a prediction
    from ``since`` (wall time, the fault) on, the wait for the first one included: what the events
    of a partition whose leader, or whose worker, was lost waited. A prediction carries the time
    the worker made it (its producer's); predictions are keyed by event, so each is traced back
    to its event's partition."""
    source = {orjson.loads(r.value)["event_id"]: r.partition for r in read_topic(s, "raw", timeout_s=60)}
    stamps: dict[int, list[float]] = {}
    for r in read_topic(s, "predictions", timeout_s=60):
        made = r.timestamp / 1000
        if made >= since:
            stamps.setdefault(source.get(orjson.loads(r.value)["event_id"], -1), []).append(made)
    ordered = [[since, *sorted(ts)] for ts in stamps.values()]
    return max((b - a for ts in ordered for a, b in zip(ts, ts[1:])), default=0.0)


def rebalanced(worker: Worker) -> int:
    """How often the worker's consumer joined its group so far (its log at INFO says)."""
    return worker.log.read_text(errors="replace").count("(Re-)joining group")


def broker(s: Settings, node_id: int) -> int:
    return stack_pid(s, f"kafka-{node_id}")


def test_the_leader_lost_writes_go_on_through_the_new_leaders(cluster: Settings, tmp_path: Path) -> None:
    """The broker leading most ``raw`` and ``predictions`` partitions SIGKILLed mid-stream and not
    brought back for a minute: the others take the leadership over, writes go on (acks=all, two in
    sync), and every invariant holds while it is still down."""
    s = cluster
    worker = Worker(s, tmp_path / "worker")
    worker.start()
    try:
        settled(s, 1)
        feed = Feed(s, EVENTS * 2, rate=RATE, label_delay=LABEL_DELAY, hold_at=(EVENTS // 2,)).start()
        feed.wait_hold(timeout=300)
        caught_up(s, worker, CAUGHT_UP_S)
        led = leaders(s, "raw", "predictions")
        doomed = max(led, key=lambda n: led[n])
        killed_at = time.time()
        kill(broker(s, doomed), signal.SIGKILL)
        feed.go_on()
        check(s, worker, feed, faults=1)
        gap = longest_gap(s, killed_at)
        down = time.time() - killed_at
        print(f"broker {doomed} led {led[doomed]} of {sum(led.values())} raw and predictions partitions; "
              f"longest gap between predictions {gap:.1f}s; down {down:.0f}s when the checks ended")
        assert worker.running()
        assert doomed not in leaders(s, "raw", "predictions"), "the killed broker still leads"
        assert gap < DOWN_S, f"predictions stopped for {gap:.1f}s: they waited for the lost broker"
        time.sleep(max(0.0, DOWN_S - down))
    finally:
        worker.stop()


def test_a_rolling_restart_under_a_steady_stream(cluster: Settings, tmp_path: Path) -> None:
    """Each broker in turn stopped (a controlled shutdown) and started again, the next one only
    once every partition has its copies back, as an upgrade does it, while events keep coming."""
    s = cluster
    worker = Worker(s, tmp_path / "worker", loglevel="INFO")  # its log says when the group rebalances
    worker.start()
    try:
        settled(s, 1)
        feed = Feed(s, EVENTS * 3, rate=RATE, label_delay=LABEL_DELAY, hold_at=(EVENTS // 2,)).start()
        feed.wait_hold(timeout=300)
        caught_up(s, worker, CAUGHT_UP_S)  # what waits from here on waited for the restarts alone
        rebalances = rebalanced(worker)
        began = time.time()
        feed.go_on()
        took = []
        for node in nodes(s):
            t0 = time.monotonic()
            stop(broker(s, node.node_id), grace=60)
            stack.up(s)
            wait_for(f"broker {node.node_id} back with every copy in sync", lambda: whole(s), 180)
            took.append(time.monotonic() - t0)
        still_feeding = not feed.done.is_set()
        check(s, worker, feed, faults=len(took))
        gap = longest_gap(s, began)
        print(f"restarts took {', '.join(f'{t:.1f}s' for t in took)}; the feed went on throughout: {still_feeding}; "
              f"longest gap between predictions {gap:.1f}s")
        assert worker.running()
        # a broker restart moves leaders, not partitions: the group stays as it is (it once learned
        # at the first restart of the changelog Faust made at its start, and rebalanced then)
        assert "not found in cluster metadata" not in worker.log.read_text(errors="replace"), "subscribed to a topic not made yet"
        assert rebalanced(worker) == rebalances, "the worker's group rebalanced during the restarts"
        # no partition waited for a broker to come back: its pause is shorter than a restart (both
        # stretch alike on a slower or busier machine, so the verdict does not hang on its speed)
        assert gap < max(took), f"predictions stopped for {gap:.1f}s, longer than a broker's restart ({max(took):.1f}s)"
    finally:
        worker.stop()


def test_below_min_insync_replicas_the_worker_waits_and_says_why(cluster: Settings, tmp_path: Path) -> None:
    """Two brokers of three down: every partition has one copy in sync, below
    ``min.insync.replicas`` (2), and the broker refuses writes (NotEnoughReplicas). The worker
    neither loses nor skips anything: it raises one alert naming the cause, waits, and goes on
    once a broker is back."""
    s = cluster
    # the broker watch asks every WATCH_S (a setting; 30 s by default)
    worker = Worker(replace(s, broker_watch_s=WATCH_S), tmp_path / "worker", loglevel="INFO")
    worker.start()
    try:
        settled(s, 1)
        feed = Feed(s, EVENTS, rate=RATE, label_delay=LABEL_DELAY, hold_at=(EVENTS // 3,)).start()
        feed.wait_hold(timeout=300)
        caught_up(s, worker, CAUGHT_UP_S)
        survivor, *others = [n.node_id for n in nodes(s)]
        for node_id in others:  # one at a time, as brokers go: the ISR shrinks to the survivor
            stop(broker(s, node_id), grace=60)
        refused = refused_write(s)
        feed.go_on()  # its producer waits too, as users' clients do
        wait_for("the worker saying why writes are refused", lambda: "kafka_unwritable" in worker.log.read_text(), 120)
        time.sleep(WATCH_S * 2)  # said once, however long it lasts
        assert worker.running(), "the worker died below min.insync.replicas"
        stack.up(s)  # both back; the alert written once writes are taken again
        check(s, worker, feed, faults=1)
        said = [a for a in alerts(s) if a["kind"] == "kafka_unwritable"]
        print(f"a write below min.insync.replicas: {refused}; alerts {[(a['kind'], a['message']) for a in said]}")
        assert "NotEnoughReplicas" in refused, refused
        assert len(said) == 1 and "min.insync.replicas" in said[0]["message"], said
        assert any(a["kind"] == "kafka_writable" for a in alerts(s)), "the return of writes was not said"
    finally:
        worker.stop()


WATCH_S = 3


def refused_write(s: Settings) -> str:
    """What the broker answers a write (acks=all) to ``raw`` now."""
    from kafka.errors import KafkaError

    from streams.kafka import clients

    producer = clients.producer(s, retries=0, enable_idempotence=False, request_timeout_ms=10_000)
    try:
        producer.send(s.topic("raw"), b"{}", key=b"probe").get(timeout=30)
        return "accepted"
    except KafkaError as exc:
        return type(exc).__name__
    finally:
        producer.close(timeout=5)


def test_a_controller_quorum_member_lost_while_a_namespace_starts(cluster: Settings, tmp_path: Path) -> None:
    """The quorum's leader (the active controller) SIGKILLed just as a new namespace starts: its
    topics and the worker's changelogs are being created. The others elect a new leader; the
    topics are made, and the namespace runs whole."""
    s = cluster
    worker = Worker(s, tmp_path / "worker", loglevel="INFO")  # its log says what it tried again
    leader = quorum_leader(s)
    worker_started = time.monotonic()
    # the stack's topics of the namespace are made by `driftline stack up` (the fixture); the
    # worker makes its own (changelogs, repartitions) as it starts: the kill lands in the middle
    from threading import Thread

    killer = Thread(target=kill, args=(broker(s, leader), signal.SIGKILL))
    killer.start()
    worker.start(timeout_s=180)
    killer.join()
    try:
        settled(s, 1, timeout_s=180)
        took = time.monotonic() - worker_started
        new_leader = quorum_leader(s, not_=leader)
        feed = Feed(s, EVENTS, rate=RATE, label_delay=LABEL_DELAY).start()
        check(s, worker, feed, faults=1)
        print(f"quorum leader {leader} killed as the worker started; {new_leader} leads now; "
              f"the worker had its partitions {took:.1f}s after it started")
        assert worker.running()
    finally:
        worker.stop()


def quorum_leader(s: Settings, not_: int | None = None, timeout_s: float = 60) -> int:
    """The node leading the KRaft metadata quorum, as a live node's quorum-state file says."""
    import json

    deadline = time.monotonic() + timeout_s
    while True:
        for node in nodes(s):
            state = node.folder / "data" / "__cluster_metadata-0" / "quorum-state"
            try:
                leader = int(json.loads(state.read_text())["leaderId"])
            except (OSError, ValueError, KeyError):
                continue
            if leader > 0 and leader != not_ and stack_alive(s, node.node_id):
                return leader
        assert time.monotonic() < deadline, "no quorum leader found"
        time.sleep(0.5)


def stack_alive(s: Settings, node_id: int) -> bool:
    from streams.stack.procs import PidFiles

    return PidFiles(s.state_dir / "run").read(f"kafka-{node_id}") is not None


def test_a_worker_lost_for_good_the_survivor_takes_over(cluster: Settings, tmp_path: Path) -> None:
    """Two workers on 8 partitions; the one with the trainer's role SIGKILLed and not restarted.
    The survivor takes its partitions and the role within the session timeout, and the stream
    is whole."""
    from streams.kafka.topics import topic_specs

    s = replace(cluster, partitions=8, topic_prefix=cluster.topic_prefix + "eight")
    admin.ensure_topics(s, topic_specs(s))
    first, second = Worker(s, tmp_path / "first"), Worker(s, tmp_path / "second")
    first.start()
    second.start()
    try:
        settled(s, 2)
        feed = Feed(s, EVENTS, rate=RATE, label_delay=LABEL_DELAY, hold_at=(EVENTS // 3,)).start()
        feed.wait_hold(timeout=300)
        wait_for("a trainer", lambda: first.health()["training"] or second.health()["training"], 120)
        doomed, survivor = (first, second) if first.health()["training"] else (second, first)
        killed_at = time.time()
        doomed.stop(signal.SIGKILL)
        feed.go_on()
        wait_for("the survivor with every partition and the trainer's role",
                 lambda: survivor.health()["training"] and settled_alone(s), s.session_timeout_s + 120)
        took = time.time() - killed_at
        check(s, survivor, feed, faults=1)
        gap = longest_gap(s, killed_at)
        print(f"the survivor had every partition and the trainer's role {took:.1f}s after the kill (session timeout "
              f"{s.session_timeout_s}s); the longest a partition went without a prediction: {gap:.1f}s")
    finally:
        first.stop()
        second.stop()


def settled_alone(s: Settings) -> bool:
    try:
        settled(s, 1, timeout_s=1)
        return True
    except AssertionError:
        return False


def test_status_names_each_broker_and_the_partitions_short_of_copies(cluster_base: Settings, cluster: Settings) -> None:
    """``driftline stack status``, as a user runs it, given only the first broker's address (the
    stack keeps the cluster's): a row for each broker; with one lost, that broker down, the
    under-replicated partitions named, and the exit code 1."""
    import os
    import subprocess

    from tests.support.pipeline import DRIFTLINE

    env = {k: v for k, v in os.environ.items() if not k.startswith("DRIFTLINE_")}
    env.update({"DRIFTLINE_STATE_DIR": str(cluster_base.state_dir), "DRIFTLINE_REDIS_URL": cluster_base.redis_url,
                "DRIFTLINE_KAFKA_BOOTSTRAP": cluster_base.kafka_bootstrap.split(",")[0]})

    def status() -> tuple[int, dict[str, dict]]:  # type: ignore[type-arg]
        ran = subprocess.run([DRIFTLINE, "stack", "status", "--json"], env=env, capture_output=True, text=True, timeout=120)
        return ran.returncode, {c["name"]: c for c in orjson.loads(ran.stdout)}

    code, rows = status()
    assert code == 0 and sorted(rows) == ["kafka", "kafka-1", "kafka-2", "kafka-3", "redis"], rows
    assert all(rows[f"kafka-{n}"]["healthy"] and rows[f"kafka-{n}"]["pid"] for n in (1, 2, 3)), rows
    assert "3 brokers, 0 under-replicated partitions" in rows["kafka"]["detail"], rows["kafka"]
    kill(broker(cluster, 3), signal.SIGKILL)
    wait_for("the cluster to count broker 3 out", lambda: len((admin.health(cluster) or admin.Health({}, {}, (), ())).brokers) == 2, 60)
    code, rows = status()
    print(rows["kafka"]["detail"])
    assert code == 1, rows
    assert not rows["kafka-3"]["healthy"] and "not running" in rows["kafka-3"]["detail"], rows["kafka-3"]
    assert rows["kafka-1"]["healthy"] and rows["kafka-2"]["healthy"], rows
    detail = rows["kafka"]["detail"]
    assert "2 brokers, " in detail and "under-replicated partitions (" in detail and " 0 under" not in detail, detail
