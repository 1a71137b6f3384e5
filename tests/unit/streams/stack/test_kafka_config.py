from dataclasses import replace
from pathlib import Path

from streams.settings import Settings
from streams.stack.kafka import Node, controller_ports, formatted, nodes, write_config


def _props(path: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in path.read_text().splitlines() if line)


def configs(settings: Settings, state: Path) -> list[tuple[Path, Path]]:
    """Each node's server.properties and log4j.properties, written as ``stack up`` writes them."""
    s = replace(settings, state_dir=state)
    layout = nodes(s)
    ports = controller_ports(s, layout)
    return [write_config(s, node, ports) for node in layout]


def test_server_properties_are_a_one_node_kraft_broker_with_absolute_paths(tmp_path: Path) -> None:
    settings = replace(Settings.from_env({}), kafka_bootstrap="127.0.0.1:19092", kafka_controller_port=19093)
    [(server, log4j)] = configs(settings, tmp_path)
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
    first = _props(configs(settings, tmp_path)[0][0])["controller.quorum.voters"]
    second = _props(configs(settings, tmp_path)[0][0])["controller.quorum.voters"]
    assert first == second


def test_three_addresses_are_a_cluster_of_three_voters_with_three_copies(tmp_path: Path) -> None:
    settings = replace(Settings.from_env({}), kafka_bootstrap="127.0.0.1:19092,127.0.0.1:19094,127.0.0.1:19096")
    written = [_props(server) for server, _ in configs(settings, tmp_path)]
    assert [p["node.id"] for p in written] == ["1", "2", "3"]
    assert len({p["controller.quorum.voters"] for p in written}) == 1  # every node names the same quorum
    voters = written[0]["controller.quorum.voters"].split(",")
    assert [v.split("@")[0] for v in voters] == ["1", "2", "3"]
    assert [p["advertised.listeners"] for p in written] == [f"PLAINTEXT://127.0.0.1:{n}" for n in (19092, 19094, 19096)]
    assert len({p["log.dirs"] for p in written}) == 3
    for p in written:
        assert p["default.replication.factor"] == p["offsets.topic.replication.factor"] == "3"
        assert p["min.insync.replicas"] == p["transaction.state.log.min.isr"] == "2"
    again = [_props(server)["controller.quorum.voters"] for server, _ in configs(settings, tmp_path)]
    assert again == [written[0]["controller.quorum.voters"]] * 3  # the quorum's ports are kept


def test_stack_up_brokers_keeps_the_cluster_for_commands_given_the_first_address(tmp_path: Path) -> None:
    from streams.stack.kafka import remember

    one = replace(Settings.from_env({}), kafka_bootstrap="127.0.0.1:29092", state_dir=tmp_path)
    assert [n.name for n in nodes(one)] == ["kafka"]
    three = remember(one, 3)
    assert three.kafka_bootstrap == "127.0.0.1:29092,127.0.0.1:29093,127.0.0.1:29094"
    assert [n.address for n in nodes(one)] == ["127.0.0.1:29092", "127.0.0.1:29093", "127.0.0.1:29094"]
    assert [n.name for n in nodes(one)] == ["kafka-1", "kafka-2", "kafka-3"]
    other = replace(one, kafka_bootstrap="127.0.0.1:39092")  # another first address: not that cluster
    assert [n.name for n in nodes(other)] == ["kafka"]


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


def test_a_node_counts_as_formatted_only_once_both_of_formats_files_are_there(tmp_path: Path) -> None:
    """A broker started again skips the format's JVM; a format cut short (no meta.properties,
    which Kafka writes last) is run again."""
    node = Node(1, "127.0.0.1", 9092, tmp_path / "kafka", "kafka")
    data = node.folder / "data"
    assert not formatted(node)
    data.mkdir(parents=True)
    (data / "bootstrap.checkpoint").write_bytes(b"")
    assert not formatted(node)
    (data / "meta.properties").write_text("version=1\n")
    assert formatted(node)
