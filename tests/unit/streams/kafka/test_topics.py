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
