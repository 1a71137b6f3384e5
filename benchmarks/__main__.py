"""`make bench`: fast replay against `river.evaluate.progressive_val_score` on the same data.

Both learn the demo pipeline's model test-then-train on the same featurized Agrawal stream;
replay also validates, featurizes, scores, joins, watches drift and runs the champion, the
challenger and the gate, so it does several times the work of the bare evaluation loop.
"""

from __future__ import annotations

import itertools
import time

from river import evaluate, metrics

from streams.core.features import featurize_all
from streams.core.model import build_model
from streams.core.replay import replay
from streams.core.spec import load_spec
from streams.sources import builtin

EVENTS = 20_000


def main() -> None:
    spec = load_spec(None)
    items = list(itertools.islice(builtin("agrawal-drift", seed=42, drift_at=EVENTS // 2), EVENTS))
    stream = featurize_all(spec, items)
    began = time.perf_counter()
    expected = evaluate.progressive_val_score(stream, build_model(spec), metrics.Accuracy())
    bare = time.perf_counter() - began
    began = time.perf_counter()
    result = replay(spec, items)
    fast = time.perf_counter() - began
    assert result.prequential == expected.get(), (result.prequential, expected.get())
    print(f"{EVENTS} agrawal-drift events, immediate labels, the demo pipeline's model")
    print(f"  progressive_val_score      {EVENTS / bare:8.0f} events/s  ({bare:.2f} s; accuracy {expected.get():.4f})")
    print(f"  driftline replay (fast)    {EVENTS / fast:8.0f} events/s  ({fast:.2f} s; the same prequential accuracy)")
    print(f"  replay / bare evaluation   {fast / bare:8.2f}x the time")


if __name__ == "__main__":
    main()
