"""A subscriber to ``predictions`` in a process of its own, as a user's client is: it follows the
topic from its start with kafka-python and writes, for each event id, the wall time (ms) its first
prediction reached it. Run by :mod:`benchmarks.live`:

    python -m benchmarks.subscriber EVENTS OUT_FILE READY_FILE

with the namespace's settings in the environment. It writes READY_FILE once it has its
partitions, and OUT_FILE (JSON) when it has received EVENTS predictions or is told to stop (SIGTERM).
"""

from __future__ import annotations

import signal
import sys
import time
from pathlib import Path

import orjson
from kafka import TopicPartition

from streams.kafka import clients
from streams.settings import Settings


def main(events: int, out: Path, ready: Path) -> None:
    stop = [False]
    signal.signal(signal.SIGTERM, lambda *_: stop.__setitem__(0, True))
    settings = Settings.from_env()
    topic = settings.topic("predictions")
    consumer = clients.consumer(settings, fetch_max_wait_ms=100)
    received: dict[str, float] = {}
    try:
        partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        ready.write_text("ready")
        while not stop[0] and len(received) < events:
            for records in consumer.poll(timeout_ms=100).values():
                now = time.time() * 1000
                for r in records:
                    received.setdefault(orjson.loads(r.value)["event_id"], now)
    finally:
        consumer.close()
        out.write_bytes(orjson.dumps(received))


if __name__ == "__main__":
    main(int(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]))
