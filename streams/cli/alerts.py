"""`driftline alerts`: read the alerts topic and print each alert on one line (or as JSON)."""

from __future__ import annotations

import time

import orjson
from kafka import TopicPartition
from kafka.errors import KafkaError

from schemas import Accepted, decode
from streams.errors import EnvironmentProblem
from streams.kafka import admin, clients
from streams.settings import Settings


def format_alert(alert: dict[str, object]) -> str:
    when = time.strftime("%H:%M:%S", time.localtime(float(alert.get("ts", 0))))  # type: ignore[arg-type]
    return f"{when}  {str(alert.get('severity', '')):8}  {str(alert.get('kind', '')):18}  {alert.get('subject', '')}: {alert.get('message', '')}"


def print_alerts(settings: Settings, *, follow: bool, from_beginning: bool, as_json: bool) -> int:
    topic = settings.topic("alerts")
    admin.require_broker(settings)
    try:
        consumer = clients.consumer(settings)
    except KafkaError as exc:
        raise EnvironmentProblem(f"no Kafka broker answers at {settings.kafka_bootstrap}: {exc}") from None
    try:
        partitions = consumer.partitions_for_topic(topic) or set()
        if not partitions:
            raise EnvironmentProblem(f"topic {topic} does not exist (is the stack up?)")
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(tps)
        if from_beginning:
            consumer.seek_to_beginning(*tps)
        else:
            consumer.seek_to_end(*tps)
        end = consumer.end_offsets(tps)
        while True:
            batch = consumer.poll(timeout_ms=500)
            for records in batch.values():
                for record in records:
                    outcome = decode("alerts", record.value)
                    if isinstance(outcome, Accepted):
                        obj = outcome.value.to_dict()
                        print(orjson.dumps(obj).decode() if as_json else format_alert(obj), flush=True)
            if not follow and all(consumer.position(tp) >= end[tp] for tp in tps):
                return 0
    finally:
        consumer.close()
