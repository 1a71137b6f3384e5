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
