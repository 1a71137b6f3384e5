"""The Faust app factory: the app is wiring, nothing more; agents register themselves on it."""

from __future__ import annotations

import faust
from mode.utils.times import want_seconds

from streams.kafka import clients
from streams.kafka.topics import MODELS_MAX_BYTES, TopicSpec, durability
from streams.settings import Settings
from streams.worker.stream import Stream
from streams.worker.transport import App

#: seconds between the worker's offset commits: what a crash can make it read, and score, again
COMMIT_INTERVAL_S = 2.8


def create_app(settings: Settings, *, name: str = "worker") -> faust.App:
    """Build the Faust app for these settings.

    Values travel as raw bytes: ``schemas.decode`` turns them into typed records or dead letters,
    so a bad record never kills an agent inside Faust's own deserializer. The consumer's inner
    loop is :mod:`streams.worker.transport`'s.
    """
    datadir = settings.state_dir / "faust" / name
    datadir.parent.mkdir(parents=True, exist_ok=True)
    return App(
        f"{settings.topic_prefix}-{name}",
        broker=[f"kafka://{server.strip()}" for server in settings.kafka_bootstrap.split(",")],
        store="memory://",
        autodiscover=False,
        key_serializer="raw",
        value_serializer="raw",
        web_host="127.0.0.1",
        web_bind=settings.web_bind,
        web_port=settings.web_port,
        topic_partitions=settings.partitions,
        topic_replication_factor=settings.replication_factor,  # Faust's own topics: changelogs
        topic_allow_declare=True,
        consumer_auto_offset_reset="earliest",
        broker_commit_interval=COMMIT_INTERVAL_S,
        # static membership: a worker restarted under the same name takes its partitions back at
        # once; one that stays away is dropped after the session timeout, and the rest take over
        consumer_group_instance_id=settings.group_instance_id,
        broker_session_timeout=float(settings.session_timeout_s),
        broker_heartbeat_interval=max(1.0, settings.session_timeout_s / 5),
        producer_acks=-1,  # and idempotent (streams.worker.transport.Producer)
        broker_credentials=clients.faust_credentials(settings),
        # a few milliseconds of linger fill batches: far fewer produce requests per record
        producer_linger=0.005,
        producer_max_batch_size=256 * 1024,
        producer_max_request_size=MODELS_MAX_BYTES,  # model-version events carry their artifact
        datadir=str(datadir),
        Stream=Stream,  # an idle batching agent sleeps (streams.worker.stream)
    )


def changelog_specs(app: faust.App) -> list[TopicSpec]:
    """The changelog topics of the app's own tables, as Faust makes them (compacted, the table's
    partitions, the app's replication factor) and as durable as driftline's topics.

    The worker makes them before it starts. Faust makes them only after its consumer has
    subscribed, and the consumer learns of them at its next metadata refresh, often the first
    broker restart. It then rebalances the whole group, and scoring stops for seconds then.
    """
    specs = []
    for table in app.tables.values():
        topic = table.changelog_topic
        replicas = topic.replicas or app.conf.topic_replication_factor
        cleanup = ",".join(policy for policy, on in (("compact", topic.compacting), ("delete", topic.deleting)) if on)
        config = (("cleanup.policy", cleanup),) if cleanup else ()
        if topic.retention:
            config += (("retention.ms", str(int(want_seconds(topic.retention) * 1000))),)
        specs.append(TopicSpec(topic.get_topic_name(), topic.partitions or app.conf.topic_partitions,
                               config + tuple(topic.config.items()) + durability(replicas), replicas))
    return specs
