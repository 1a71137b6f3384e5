"""The Faust reference: one plain Faust agent doing the relay's work, in batches of up to 1,000
(``stream.take``), its answers sent with the topic's ``send``. Run as a process:
``python -m benchmarks.faust_relay BOOTSTRAP SOURCE SINK COUNT OUT [driftline]``; it writes events
per second from its first record to its last to the file OUT; the caller then stops it. With
``driftline``, the app is :class:`streams.worker.transport.App` (Faust with driftline's consumer loop).
"""

from __future__ import annotations

import sys
import tempfile
import time

import faust

from benchmarks.relay import _model, work
from streams.worker import transport as faust_transport


def main(bootstrap: str, source: str, sink: str, count: int, out: str, flavour: str = "plain") -> None:
    App = faust_transport.App if flavour == "driftline" else faust.App
    app = App(f"bench-faust-{time.time_ns()}", broker=f"kafka://{bootstrap}", store="memory://",
                    value_serializer="raw", key_serializer="raw", web_enabled=False,
                    consumer_auto_offset_reset="earliest", producer_linger=0.005, producer_max_batch_size=256 * 1024,
                    datadir=tempfile.mkdtemp(prefix="bench-faust-"))
    src = app.topic(source, value_type=bytes, key_type=bytes)
    dst = app.topic(sink, value_type=bytes, key_type=bytes)
    model = _model()
    state = {"seen": 0, "began": 0.0}

    @app.agent(src)
    async def relay(stream):  # type: ignore[no-untyped-def]
        async for values in stream.take(1000, within=0.05):
            if not state["began"]:
                state["began"] = time.perf_counter()
            for value in values:
                await dst.send(value=work(model, value))
            state["seen"] += len(values)
            if state["seen"] >= count:
                await app.producer.flush()
                with open(out, "w") as f:
                    f.write(f"{count / (time.perf_counter() - state['began']):.0f}\n")

    from faust.worker import Worker
    sys.argv = sys.argv[:1]
    Worker(app, loglevel="ERROR", quiet=True).execute_from_commandline()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5], *sys.argv[6:7])
