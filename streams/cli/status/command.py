"""`driftline status`: one screen of stack health, topics and lag, models, alerts and metrics.

:func:`gather` reads everything into a plain :class:`~streams.cli.status.model.Status` (each network call on a short
timeout, so a stack that is down answers in a few seconds); :mod:`streams.cli.status.render` prints
it, and :func:`run` is the command. A section that cannot be read says why and the rest still
shows; a worker that does not answer is "not running", not a failure of the command. Only the
stack (Kafka and Redis) being down makes it exit 1.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import redis
from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition
from kafka.errors import KafkaError

from schemas import Accepted, decode
from streams import stack
from streams.cli.status.metrics import read_worker
from streams.cli.status.model import GroupLag, Models, ModelSummary, Status, TopicEnd
from streams.cli.status.render import as_json, down_line, render
from streams.errors import EXIT_FAILED
from streams.kafka import clients
from streams.kafka.admin import _quiet_kafka_logs
from streams.kafka.groups import committed_offsets, group_states
from streams.kafka.tail import tail
from streams.kafka.topics import NAMES
from streams.settings import Settings, kafka_address
from streams.stack.ports import is_listening

if TYPE_CHECKING:
    from streams.state.registry import Registry

TIMEOUT_S = 2.0  # every network call: status answers in a few seconds when things are down
LAST_ALERTS = 5


# -- gathering ---------------------------------------------------------------------------------


def _kafka_config(cls: type, **wanted: Any) -> dict[str, Any]:
    """The options this kafka-python version knows (``bootstrap_timeout_ms`` is 3.x only)."""
    known = getattr(cls, "DEFAULT_CONFIG", {})
    return {k: v for k, v in wanted.items() if k in known}


def _servers(settings: Settings) -> list[str]:
    return [s.strip() for s in settings.kafka_bootstrap.split(",") if s.strip()]


def stack_health(settings: Settings) -> list[stack.Component]:
    """The stack's components as ``driftline stack status`` sees them.

    When nothing even accepts a connection at the bootstrap address the metadata request is not
    tried: kafka-python would wait out its 30 s bootstrap timeout first."""
    if any(is_listening(*kafka_address(s), timeout=TIMEOUT_S / 2) for s in _servers(settings)):
        return stack.status(settings)
    from streams.stack.redis import answer

    said = answer(settings.redis_connect_url, timeout=TIMEOUT_S / 2)
    return [
        stack.Component("kafka", settings.kafka_bootstrap, None, False, "nothing listens at that address"),
        stack.Component("redis", settings.redis_url_shown, None, said == "PONG", said),
    ]


def _consumer(settings: Settings) -> KafkaConsumer:
    return clients.consumer(settings, auto_offset_reset="earliest", client_id="driftline-status",
                            **_kafka_config(KafkaConsumer, bootstrap_timeout_ms=int(TIMEOUT_S * 1000)))


def topic_ends(consumer: KafkaConsumer, settings: Settings) -> tuple[list[TopicEnd], dict[TopicPartition, int]]:
    """Each contract topic that exists, with its end offset summed over partitions."""
    existing = consumer.topics()
    ends: dict[TopicPartition, int] = {}
    out = []
    for name in NAMES:
        topic = settings.topic(name)
        if topic not in existing:
            continue
        tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        got = consumer.end_offsets(tps, timeout_ms=int(TIMEOUT_S * 1000)) if tps else {}
        ends.update(got)
        out.append(TopicEnd(topic, len(tps), sum(got.values())))
    return out, ends


def lags(states: Mapping[str, str], committed: Mapping[str, Mapping[TopicPartition, int]],
         ends: Mapping[TopicPartition, int]) -> list[GroupLag]:
    """Lag by group and topic: end offset minus committed offset, summed over the committed
    partitions of topics in ``ends``; groups that commit none of them are left out."""
    out = []
    for group in sorted(committed):
        by_topic: dict[str, list[tuple[int, int]]] = defaultdict(list)
        for tp, offset in committed[group].items():
            if tp in ends:
                by_topic[tp.topic].append((offset, ends[tp]))
        for topic in sorted(by_topic):
            pairs = by_topic[topic]
            out.append(GroupLag(group, states.get(group, ""), topic, sum(c for c, _ in pairs), sum(e for _, e in pairs),
                                sum(max(0, e - c) for c, e in pairs)))
    return out


def group_lags(settings: Settings, ends: Mapping[TopicPartition, int]) -> list[GroupLag]:
    admin = clients.admin(settings, client_id="driftline-status", request_timeout_ms=int(TIMEOUT_S * 1000),
                          **_kafka_config(KafkaAdminClient, bootstrap_timeout_ms=int(TIMEOUT_S * 1000)))
    try:
        states = group_states(admin)
        return lags(states, committed_offsets(admin, states), ends)
    finally:
        admin.close()


def last_alerts(consumer: KafkaConsumer, settings: Settings, ends: Mapping[TopicPartition, int],
                n: int = LAST_ALERTS) -> list[dict[str, Any]]:
    """The last ``n`` alerts (oldest first), read from the end of the alerts topic."""
    mine = {tp: end for tp, end in ends.items() if tp.topic == settings.topic("alerts")}
    found: list[dict[str, Any]] = []
    for record in tail(consumer, mine, n, TIMEOUT_S):
        outcome = decode("alerts", record.value)
        if isinstance(outcome, Accepted):
            found.append(outcome.value.to_dict())
    found.sort(key=lambda a: float(a.get("ts", 0)))
    return found[-n:]


def _summary(registry: Registry, version: int | None) -> ModelSummary | None:
    from streams.state.registry import UnknownVersion

    if version is None:
        return None
    try:
        r = registry.record(version)
    except UnknownVersion:
        return ModelSummary(version, "(not in the registry)", 0.0, 0, {})
    return ModelSummary(r.version, r.model, r.created_at, r.trained_examples, dict(r.metrics))


def models(settings: Settings) -> Models:
    """Champion and challenger from the Redis registry (read only: no key needed, nothing rebuilt)."""
    from streams.state.registry import Registry  # imports River (seconds): only when the stack is up

    client = redis.Redis.from_url(settings.redis_connect_url, socket_timeout=TIMEOUT_S, socket_connect_timeout=TIMEOUT_S)
    try:
        registry = Registry(client, settings.topic_prefix, b"")
        top = client.get(registry.keys.counter)
        return Models(_summary(registry, registry.alias("champion")), _summary(registry, registry.alias("challenger")),
                      int(top or 0))
    finally:
        client.close()


def _section(problems: list[str], name: str, read: Callable[[], Any], default: Any) -> Any:
    try:
        return read()
    except (KafkaError, redis.RedisError, OSError, ValueError) as exc:
        problems.append(f"{name}: {type(exc).__name__}: {exc}")
        return default


def gather(settings: Settings) -> Status:
    """Everything ``status`` shows. Kafka and the registry are asked only when the stack is up."""
    components = stack_health(settings)
    status = Status(all(c.healthy for c in components), settings.topic_prefix, components,
                    read_worker(settings.web_port))
    if not status.healthy:
        return status
    problems = status.problems
    with _quiet_kafka_logs():  # what goes wrong is shown in its section, not logged over the screen
        consumer = _section(problems, "kafka", lambda: _consumer(settings), None)
        if consumer is not None:
            try:
                status.topics, ends = _section(problems, "topics", lambda: topic_ends(consumer, settings), ([], {}))
                status.groups = _section(problems, "consumer groups", lambda: group_lags(settings, ends), [])
                status.alerts = _section(problems, "alerts", lambda: last_alerts(consumer, settings, ends), [])
            finally:
                consumer.close()
    status.models = _section(problems, "models", lambda: models(settings), None)
    return status


def run(settings: Settings, *, as_json_output: bool, say: Callable[[str], None]) -> int:
    """The command: 0 when Kafka and Redis answer (worker or not), 1 when the stack is down."""
    status = gather(settings)
    if as_json_output:
        print(as_json(status))
    if not status.healthy:
        say(f"driftline: {down_line(status)}")
        return EXIT_FAILED
    if not as_json_output:
        render(status)
    return 0
