from pathlib import Path

from streams.kafka.topics import topic_specs
from streams.settings import Settings


def test_contract_topics_with_partitions_from_settings() -> None:
    specs = {s.name: s for s in topic_specs(Settings.from_env({"DRIFTLINE_PARTITIONS": "6", "DRIFTLINE_TOPIC_PREFIX": "p"}))}
    for name in ("raw", "features", "predictions", "feedback", "deadletter", "alerts", "models"):
        assert f"p.{name}" in specs
    assert specs["p.raw"].partitions == 6
    assert specs["p.feedback"].partitions == 6
    assert specs["p.alerts"].partitions == 1
    assert specs["p.examples"].partitions == 1  # one trainer learns, in order
    assert dict(specs["p.models"].config) == {"cleanup.policy": "compact", "max.message.bytes": str(32 * 1024 * 1024)}  # events carry artifacts


def test_topics_and_faust_changelogs_get_the_replication_factor_from_settings(tmp_path: Path) -> None:
    from streams.worker.app import create_app

    settings = Settings.from_env({"DRIFTLINE_REPLICATION_FACTOR": "3", "DRIFTLINE_TOPIC_PREFIX": "p",
                                  "DRIFTLINE_STATE_DIR": str(tmp_path)})
    assert {s.replication_factor for s in topic_specs(settings)} == {3}
    assert all(dict(s.config)["min.insync.replicas"] == "2" for s in topic_specs(settings))  # one broker may be down
    assert create_app(settings).conf.topic_replication_factor == 3
    assert {s.replication_factor for s in topic_specs(Settings.from_env({}))} == {1}  # the local single-node stack


def test_the_worker_makes_its_tables_changelogs_as_faust_would_and_as_durable_as_its_topics(tmp_path: Path) -> None:
    """The changelogs are made before the worker starts (its consumer learned of one Faust made
    at its start only at the first broker restart, and rebalanced the group then): compacted, the
    table's partitions, the cluster's replication and durability."""
    from streams.worker.app import changelog_specs, create_app

    settings = Settings.from_env({"DRIFTLINE_REPLICATION_FACTOR": "3", "DRIFTLINE_PARTITIONS": "6",
                                  "DRIFTLINE_TOPIC_PREFIX": "p", "DRIFTLINE_STATE_DIR": str(tmp_path)})
    app = create_app(settings)
    app.Table("entity-state", partitions=6)
    app.Table("kept-a-day", partitions=6).tumbling(60, expires=86_400)  # windows: compacted and deleted
    specs = {s.name: s for s in changelog_specs(app)}
    assert set(specs) == {"p-worker-entity-state-changelog", "p-worker-kept-a-day-changelog"}
    entity = specs["p-worker-entity-state-changelog"]
    assert (entity.partitions, entity.replication_factor) == (6, 3)
    assert dict(entity.config) == {"cleanup.policy": "compact", "min.insync.replicas": "2"}
    windowed = dict(specs["p-worker-kept-a-day-changelog"].config)
    assert (windowed["cleanup.policy"], windowed["min.insync.replicas"]) == ("compact,delete", "2"), windowed
    single = create_app(Settings.from_env({"DRIFTLINE_STATE_DIR": str(tmp_path)}))
    single.Table("entity-state", partitions=4)
    assert [(s.replication_factor, dict(s.config)) for s in changelog_specs(single)] == [(1, {"cleanup.policy": "compact"})]
