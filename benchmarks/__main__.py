"""`make bench`: every throughput figure of the dataflow issue beside its reference, in one run.

It starts a stack of its own (Kafka and Redis on free ports, in a temporary folder), measures,
prints the table and stops the stack. Nothing here is a pass/fail test: the figures depend on
the machine, which the table names.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from benchmarks import core_cost, features_cost, live, pipeline
from benchmarks.relay import bare_relay, transactional_relay
from benchmarks.replay_speed import challenger_cost, replay_against_bare, trainer_speed
from benchmarks.results import RESULTS, Row, Run, machine
from streams import stack
from streams.kafka import admin
from streams.kafka.produce import ProduceOptions, produce
from streams.kafka.topics import TopicSpec
from streams.settings import Settings
from streams.stack.ports import free_port

EVENTS = int(os.environ.get("DRIFTLINE_BENCH_EVENTS", "30000"))
KEEP_UP_RATES = [int(r) for r in os.environ.get("DRIFTLINE_BENCH_RATES", "500,1000").split(",")]
KEEP_UP_SECONDS = int(os.environ.get("DRIFTLINE_BENCH_SECONDS", "60"))


def references(s: Settings, tmp: Path) -> tuple[float, tuple[float, float], float, float]:
    """The bare aiokafka relay, the same relay exactly once (Kafka transactions: events per second
    and seconds per transaction), a plain Faust agent, and the same agent with driftline's
    consumer loop (:mod:`streams.worker.transport`), on the same backlog."""
    ns = replace(s, topic_prefix=f"bench-ref-{uuid.uuid4().hex[:6]}")
    admin.ensure_topics(ns, [TopicSpec(ns.topic(n), ns.partitions) for n in ("raw", "relay", "txn", "faust", "ours")])
    produce(ns, ProduceOptions("agrawal-drift", limit=EVENTS, feedback_fraction=0.0))
    bare = asyncio.run(bare_relay(ns.kafka_bootstrap, ns.topic("raw"), ns.topic("relay"), EVENTS))
    exactly_once = asyncio.run(transactional_relay(ns.kafka_bootstrap, ns.topic("raw"), ns.topic("txn"), EVENTS))
    return bare, exactly_once, faust_relay(ns, tmp, "faust", "plain"), faust_relay(ns, tmp, "ours", "driftline")


def faust_relay(ns: Settings, tmp: Path, sink: str, flavour: str) -> float:
    out = tmp / f"faust-relay-{flavour}.txt"
    proc = subprocess.Popen([sys.executable, "-m", "benchmarks.faust_relay", ns.kafka_bootstrap, ns.topic("raw"),
                             ns.topic(sink), str(EVENTS), str(out), flavour], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        pipeline.wait_for(f"the Faust relay ({flavour})", out.exists, timeout=600)
        time.sleep(0.2)
        return float(out.read_text().strip())
    finally:
        proc.kill()
        proc.wait()


def main() -> None:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # a stopped bench still stops its stack
    print(f"machine: {machine()}")
    print(f"backlogs of {EVENTS:,} agrawal-drift events; the project's own Kafka and Redis on this machine\n", flush=True)
    results = Run(machine(), EVENTS)
    with tempfile.TemporaryDirectory(prefix="driftline-bench-") as tmp_name:
        tmp = Path(tmp_name)
        base = Settings.from_env({})
        s = replace(base, kafka_bootstrap=f"127.0.0.1:{free_port()}", redis_url=f"redis://127.0.0.1:{free_port()}/0",
                    state_dir=tmp / "stack", cache_dir=Settings.from_env().cache_dir)
        stack.up(s)
        s = s.with_credentials()
        try:
            run(s, tmp, results)
        finally:
            stack.down(s)
    width = max(len(r.name) for r in results.rows)
    for r in results.rows:
        verdict = "" if r.target is None else f"  [{r.target}: {'met' if r.met else 'NOT MET'}]"
        print(f"  {r.name:<{width}}  {r.figure:>14}  {r.reference}{verdict}")
    results.write()
    print(f"\nwritten: {RESULTS / 'latest.md'}, {RESULTS / 'latest.json'}; one line added to {RESULTS / 'history.jsonl'}")


Rower = Callable[..., None]


def run(s: Settings, tmp: Path, results: Run) -> None:
    def row(name: str, figure: str, reference: str = "", *, key: str | None = None, value: float | None = None,
            target: str | None = None, met: bool | None = None) -> None:
        results.add(Row(name, figure, reference, key, value, target, met))
        print(f"  {name}: {figure}  {reference}" + ("" if target is None else f"  [{target}: {'met' if met else 'NOT MET'}]"), flush=True)

    bare, (txn, txn_s), faust, ours = references(s, tmp)
    row("reference: bare aiokafka relay", f"{bare:,.0f} ev/s", "consume → orjson → River predict+learn → batched produce",
        key="bare_relay", value=bare)
    row("the bare relay exactly once (Kafka transactions)", f"{txn:,.0f} ev/s",
        f"{txn / bare:.2f}× bare; a transaction per fetch, {txn_s * 1000:.0f} ms each from first send to commit", key="exactly_once", value=txn)
    row("reference: one plain Faust agent", f"{faust:,.0f} ev/s", f"the same work, stream.take(1000), topic.send; {faust / bare:.2f}× bare",
        key="faust_agent", value=faust)
    row("the same agent, driftline's consumer loop", f"{ours:,.0f} ev/s",
        f"streams.worker.transport: no task race per record; {ours / faust:.2f}× plain Faust", key="our_loop", value=ours)
    hot = pipeline.hot_path(s, tmp, EVENTS)
    row("hot path (--agents validate)", f"{hot:,.0f} ev/s", f"{hot / bare:.3f}× bare; {hot / ours:.2f}× the agent on our loop",
        key="hot_path", value=hot)
    hot3 = pipeline.cluster_hot_path(s, tmp, EVENTS)
    row("hot path on three brokers (3 copies, min.insync.replicas 2, acks=all)", f"{hot3:,.0f} ev/s",
        f"{hot3 / hot:.2f}× the same on one broker", key="hot_path_3_brokers", value=hot3)
    loop, loop_hot = pipeline.full_loop(s, tmp, EVENTS)
    row("full loop (every agent, labels 500 late)", f"{loop:,.0f} ev/s",
        f"{loop / hot:.2f}× the hot path, {loop / bare:.3f}× bare; its scoring ran at {loop_hot:,.0f}/s",
        key="full_loop", value=loop, target="≥ 0.5× the hot path", met=loop / hot >= 0.5)
    core, plain = core_cost.core_against_bare()
    row("hot path core in process (validate, featurize, score, monitors)", f"{core:,.1f} µs/ev",
        f"{core / plain:.2f}× the bare work: orjson decode + the model's predict_proba_one, {plain:,.1f} µs/ev",
        key="core_over_bare", value=core / plain, target="≤ 2× the bare work", met=core / plain <= 2.0)
    trainer = trainer_speed()
    row("trainer core alone (in process)", f"{trainer:,.0f} ex/s", "champion, drift, scikit-learn challenger, gate",
        key="trainer_core", value=trainer)
    learn_us, predict_us = challenger_cost()
    row("scikit-learn challenger: learning, its refits included", f"{learn_us:,.1f} µs/ex",
        f"a decision tree refitted every 250 examples on the last 1,000; predicting one example {predict_us:,.1f} µs",
        key="sklearn_learn_us", value=learn_us)
    gap, twice = pipeline.restart_gap(s, tmp)
    row("kill -9, restart at once: longest gap", f"{gap:.1f} s", f"{twice} events predicted twice",
        key="kill9_gap_s", value=gap, target="≤ 15 s", met=gap <= 15)
    one, two = pipeline.scale_out(s, tmp, EVENTS)
    row("hot path on 8 partitions, two worker processes", f"{two:,.0f} ev/s",
        f"one process: {one:,.0f}/s ({two / one:.2f}×; {os.cpu_count()} cores shared with the broker)", key="two_processes", value=two)
    started, idle = pipeline.idle_cpu(s, tmp)
    row("a whole worker with nothing to read: CPU", f"{idle * 100:.1f}% of a core",
        f"after {started:.1f} CPU seconds to start", key="idle_cpu", value=idle)
    early, late, dropped = pipeline.entity_memory(s, tmp)
    growth = late / max(1.0, early) - 1
    row("100,000 entities, each seen once, TTL 1 h of event time", f"{late:,.0f} MB",
        f"worker memory at the end; {early:,.0f} MB after 10,000 ({growth * 100:+.0f}%); {dropped:,} entities dropped by the TTL",
        key="entities_growth", value=growth, target="< +10%", met=growth < 0.10)
    for rate in KEEP_UP_RATES:
        keep_up_rows(row, live.keep_up(s, tmp, rate, KEEP_UP_SECONDS))
    keep_up_rows(row, live.keep_up(s, tmp, KEEP_UP_RATES[-1], KEEP_UP_SECONDS, split=True))  # as test_keep_up runs
    for name, (us, extra) in features_cost.costs().items():
        if extra == 0.0 and name == "demo spec":
            row("features and scoring in process, demo spec", f"{us:,.1f} µs/ev", "validate, featurize, score (the untrained model)")
        else:
            what = "a lookup as of the event's time" if "lookup" in name else "examples/driftline-acme's function"
            row(f"  {name}", f"{extra:+,.1f} µs/ev", f"{us:,.1f} µs/event in all ({what})")
    pvs, fast, accuracy = replay_against_bare()
    row("fast replay", f"{fast:,.0f} ev/s", f"{fast / pvs:.2f}× progressive_val_score's {pvs:,.0f}/s, the same accuracy {accuracy:.4f}",
        key="replay_over_pvs", value=fast / pvs, target="≥ 0.5×", met=fast / pvs >= 0.5)


#: p99 from the producer's send to the prediction, by rate (issue 27)
P99_TARGET_MS = {500: 100, 1000: 250}


def keep_up_rows(row: Rower, ku: live.KeepUp) -> None:
    how = f", two processes ({live.SCORING} | {live.LEARNING})" if ku.split else ""
    key = f"live{ku.rate}{'_split' if ku.split else ''}"
    row(f"live {ku.rate:,}/s for {KEEP_UP_SECONDS} s, labels 300 late{how}: caught up", f"{ku.caught_up_s - ku.produced_s:.1f} s",
        "after the last event was produced", key=f"{key}_behind_s", value=ku.caught_up_s - ku.produced_s)
    row("  events with no prediction, labels with no example", f"{ku.unpredicted:,}, {ku.unlearned:,}",
        f"of {ku.events:,}", key=f"{key}_lost", value=ku.unpredicted + ku.unlearned, target="0, 0: nothing lost",
        met=ku.unpredicted + ku.unlearned == 0)
    largest = max(ku.max_lag_s.values())
    row("  its largest lag", f"{largest:.1f} s", ", ".join(f"{k} {v:.1f}" for k, v in ku.max_lag_s.items()) + " (committed offsets)",
        key=f"{key}_lag_s", value=largest, target="< 5 s", met=largest < 5)
    p99 = ku.latency_ms["p99"]
    target = P99_TARGET_MS.get(ku.rate)
    row("  latency, producer's send → prediction", f"p99 {p99:,.0f} ms", f"p50 {ku.latency_ms['p50']:,.0f} ms, max {ku.latency_ms['max']:,.0f} ms (a kafka-python subscriber, from the raw record's "
        f"create time to its receipt; to the prediction's create time: p50 {ku.written_ms['p50']:,.0f}, p99 {ku.written_ms['p99']:,.0f} ms)",
        key=f"{key}_p99_ms", value=p99, target=None if target is None else f"p99 ≤ {target} ms", met=None if target is None else p99 <= target)
    fresh = ku.freshness_s
    row("  model freshness, version in service → first prediction", f"{max(fresh):.2f} s" if fresh else "no version",
        f"worst of {len(fresh)} champion versions", key=f"{key}_freshness_s", value=max(fresh) if fresh else None)
    before, after = ku.accuracy["before"], ku.accuracy["3,000 after"]
    row("  served accuracy around the concept change", f"{after:.3f}",
        f"3,000–6,000 events after; {before:.3f} before, {ku.accuracy['just after']:.3f} in the first 1,000 after",
        key=f"{key}_accuracy_after", value=after, target="within 0.05 of before", met=after >= before - 0.05)
    collections, paused, longest = ku.gc_full
    row("  full garbage collections in the scoring worker", f"{collections:,}",
        f"{paused * 1000:,.0f} ms in all, the longest ≤ {longest * 1000:,.0f} ms: the event loop waits meanwhile",
        key=f"{key}_gc_full_s", value=paused)
    growth = ku.rss_end_mb / max(1.0, ku.rss_warm_mb) - 1
    row("  worker memory, a quarter in → the end", f"{ku.rss_end_mb:,.0f} MB", f"from {ku.rss_warm_mb:,.0f} MB ({growth * 100:+.0f}%)",
        key=f"{key}_memory_growth", value=growth, target="< +10%", met=growth < 0.10)


if __name__ == "__main__":
    main()
