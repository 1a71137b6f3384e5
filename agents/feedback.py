"""feedback → labels (+ deadletter): decode, check the label's type, re-key by event id.

Users' clients partition feedback their own way; re-keying with our producer puts each label on
the same partition as its event's features, so the join can meet them. This agent runs only in a
worker that runs the feedback agent without the join (the agents split across processes); where
both run, the join reads the feedback itself and re-keys only the labels not on their event's
partition (:mod:`agents.join`).
"""

from __future__ import annotations

import time
from typing import Any

from agents.runtime import Runtime
from schemas import Accepted, DeadLetter, Reason, decode, encode
from streams.core.join import SOURCE_HEADER
from streams.core.labels import coerce_label
from streams.worker import metrics


def register(rt: Runtime) -> None:
    timer = metrics.PROCESSING.labels("feedback")
    labels_topic = rt.settings.topic("labels")

    @rt.app.agent(rt.topics["feedback"], name="feedback")
    async def feedback(stream: Any) -> None:
        out = rt.outbox()
        async for events in stream.take_events(rt.settings.batch_max, within=rt.settings.batch_wait):
            began = time.perf_counter()
            for event in events:
                m = event.message
                outcome = decode("feedback", event.value, max_bytes=rt.settings.max_event_bytes, source_topic=m.topic,
                                 partition=m.partition, offset=m.offset, record_ts=m.timestamp)
                if not isinstance(outcome, Accepted):
                    letter = outcome.dead_letter
                elif coerce_label(rt.spec.task, outcome.value.label) is None:
                    letter = DeadLetter.for_bytes(Reason.WRONG_TYPE, f"label {outcome.value.label!r} does not fit a {rt.spec.task} task",
                                                  event.value, source_topic=m.topic, partition=m.partition, offset=m.offset,
                                                  ts=rt.scorer.clock())
                else:
                    # the user's record time travels as the label's own; its partition and offset in
                    # a header, read only if the label is dead-lettered (it never met its event)
                    await out.add(labels_topic, event.value, outcome.value.event_id.encode(),
                                  timestamp_ms=int(m.timestamp * 1000) if m.timestamp else None,
                                  headers=[(SOURCE_HEADER, b"%d:%d" % (m.partition, m.offset))])
                    metrics.LABELS_REKEYED.inc()
                    continue
                await rt.send("deadletter", encode(letter), key=m.key)
                metrics.DEADLETTERS.labels(letter.reason.value).inc()
            await out.send()
            metrics.observe_batch(timer, (time.perf_counter() - began) / len(events), len(events))
