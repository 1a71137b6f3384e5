from dataclasses import replace
from pathlib import Path

from streams.settings import Settings
from streams.stack.kafka import write_config


def _props(path: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in path.read_text().splitlines() if line)


def test_server_properties_are_a_one_node_kraft_broker_with_absolute_paths(tmp_path: Path) -> None:
    settings = replace(Settings.from_env({}), kafka_bootstrap="127.0.0.1:19092", kafka_controller_port=19093)
    server, log4j = write_config(settings, tmp_path)
    props = _props(server)
    assert props["process.roles"] == "broker,controller"
    assert props["controller.quorum.voters"] == "1@127.0.0.1:19093"
    assert props["listeners"] == "PLAINTEXT://127.0.0.1:19092,CONTROLLER://127.0.0.1:19093"
    assert props["advertised.listeners"] == "PLAINTEXT://127.0.0.1:19092"
    assert Path(props["log.dirs"]).is_absolute()
    assert props["offsets.topic.replication.factor"] == "1"
    assert props["transaction.state.log.replication.factor"] == "1"
    assert props["group.initial.rebalance.delay.ms"] == "0"
    assert log4j.exists()


def test_the_controller_port_is_kept_across_restarts(tmp_path: Path) -> None:
    settings = Settings.from_env({})
    first = _props(write_config(settings, tmp_path)[0])["controller.quorum.voters"]
    second = _props(write_config(settings, tmp_path)[0])["controller.quorum.voters"]
    assert first == second


def test_cluster_ids_never_start_with_a_dash(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    # regression: an id like "-3xk…" was read as an option by the storage tool and start-up failed
    import uuid

    from streams.stack import kafka

    dash_first = uuid.UUID(bytes=bytes([0xF8]) + bytes(15))  # base64 of 0xF8… starts with "-"
    ids = iter([dash_first, uuid.UUID(int=1)])
    monkeypatch.setattr(kafka.uuid, "uuid4", lambda: next(ids))
    cid = kafka.new_cluster_id()
    assert not cid.startswith("-")
    assert len(cid) == 22
