from __future__ import annotations

from dataclasses import FrozenInstanceError, fields, replace
from pathlib import Path

import pytest

from streams.settings import Settings, SettingsError


def test_defaults_fit_the_local_stack_and_the_contract() -> None:
    s = Settings.from_env({})
    assert s.kafka_bootstrap == "127.0.0.1:9092"
    assert s.redis_url == "redis://127.0.0.1:6379/0"
    assert s.topic_prefix == "driftline"
    assert s.web_port == 6066
    assert s.max_event_bytes == 64 * 1024
    assert s.topic("raw") == "driftline.raw"


def test_every_contract_variable_is_read() -> None:
    s = Settings.from_env(
        {
            "DRIFTLINE_KAFKA_BOOTSTRAP": "10.0.0.1:19092,10.0.0.2:19092",
            "DRIFTLINE_REDIS_URL": "redis://cache:6380/2",
            "DRIFTLINE_TOPIC_PREFIX": "shop",
            "DRIFTLINE_PIPELINE": "/etc/pipe.toml",
            "DRIFTLINE_WEB_PORT": "7000",
        }
    )
    assert s.kafka_host_port == ("10.0.0.1", 19092)
    assert s.redis_host_port == ("cache", 6380)
    assert s.topic("alerts") == "shop.alerts"
    assert s.pipeline == "/etc/pipe.toml"
    assert s.web_port == 7000


def test_settings_are_frozen() -> None:
    s = Settings.from_env({})
    with pytest.raises(FrozenInstanceError):
        s.web_port = 1  # type: ignore[misc]


def test_as_env_rebuilds_the_same_settings(tmp_path: Path) -> None:
    s = Settings.from_env({"DRIFTLINE_STATE_DIR": str(tmp_path), "DRIFTLINE_PARTITIONS": "3"})
    assert Settings.from_env(s.as_env()) == s
    assert {f.metadata["env"] for f in fields(Settings)} == set(s.as_env())


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("DRIFTLINE_WEB_PORT", "http", "not an integer"),
        ("DRIFTLINE_WEB_PORT", "70000", "a port is 0..65535"),
        ("DRIFTLINE_KAFKA_BOOTSTRAP", "localhost", "expected host:port"),
        ("DRIFTLINE_REDIS_URL", "http://x:1", "expected redis://"),
        ("DRIFTLINE_TOPIC_PREFIX", "a b", "letters, digits"),
        ("DRIFTLINE_PARTITIONS", "0", "at least 1"),
        ("DRIFTLINE_KAFKA_SECURITY_PROTOCOL", "TLS", "one of PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL"),
        ("DRIFTLINE_KAFKA_SECURITY_PROTOCOL", "SASL_SSL", "needs DRIFTLINE_KAFKA_USERNAME and DRIFTLINE_KAFKA_PASSWORD"),
        ("DRIFTLINE_KAFKA_CA_FILE", "/nowhere/ca.pem", "no such file"),
        ("DRIFTLINE_BROKER_WATCH_S", "-1", "0 (off) or more seconds"),
        ("DRIFTLINE_BROKER_DISK_MIN_FREE_PCT", "100", "between 1 and 99"),
        ("DRIFTLINE_SUBSCRIBER_STALL_S", "0", "at least 1 second"),
    ],
)
def test_a_bad_value_names_the_variable(variable: str, value: str, message: str) -> None:
    with pytest.raises(SettingsError) as err:
        Settings.from_env({variable: value})
    assert variable in str(err.value)
    assert message in str(err.value)


def test_the_worker_web_server_listens_on_the_loopback_unless_told(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from streams.worker.app import create_app

    default = create_app(Settings.from_env({"DRIFTLINE_STATE_DIR": str(tmp_path)}))
    told = create_app(Settings.from_env({"DRIFTLINE_STATE_DIR": str(tmp_path), "DRIFTLINE_WEB_BIND": "0.0.0.0"}), name="other")
    assert (default.conf.web_bind, told.conf.web_bind) == ("127.0.0.1", "0.0.0.0")


def test_no_secret_shows_in_the_settings_repr_or_a_bad_url_message() -> None:
    s = Settings.from_env({"DRIFTLINE_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT", "DRIFTLINE_KAFKA_USERNAME": "app",
                           "DRIFTLINE_KAFKA_PASSWORD": "kafka-secret", "DRIFTLINE_MODEL_KEY": "model-secret",
                           "DRIFTLINE_REDIS_URL": "redis://:redis-secret@cache:6379/0"})
    shown = repr(s) + s.redis_url_shown
    assert "app" in shown and "cache:6379" in shown
    assert not any(secret in shown for secret in ("kafka-secret", "model-secret", "redis-secret"))
    with pytest.raises(SettingsError) as err:
        Settings.from_env({"DRIFTLINE_REDIS_URL": "http://:redis-secret@cache:6379"})
    assert "redis-secret" not in str(err.value) and "***" in str(err.value)


def test_every_kafka_client_gets_the_same_security(tmp_path: Path) -> None:
    from streams.kafka import clients
    from streams.worker.app import create_app

    ca = tmp_path / "ca.pem"
    ca.write_text("")
    s = Settings.from_env({"DRIFTLINE_KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "DRIFTLINE_KAFKA_USERNAME": "app",
                           "DRIFTLINE_KAFKA_PASSWORD": "pw", "DRIFTLINE_KAFKA_SASL_MECHANISM": "SCRAM-SHA-256",
                           "DRIFTLINE_KAFKA_CA_FILE": str(ca), "DRIFTLINE_STATE_DIR": str(tmp_path)})
    assert clients.security(s) == {"security_protocol": "SASL_SSL", "sasl_mechanism": "SCRAM-SHA-256",
                                   "sasl_plain_username": "app", "sasl_plain_password": "pw",
                                   "ssl_check_hostname": True, "ssl_cafile": str(ca)}
    plain = Settings.from_env({"DRIFTLINE_STATE_DIR": str(tmp_path)})
    assert create_app(plain).conf.broker_credentials is None
    with pytest.raises(Exception, match="(?i)pem|ssl|no certificate"):  # an empty CA file is not a CA
        clients.ssl_context(s)


def test_the_local_stacks_redis_password_is_used_when_the_url_names_none(tmp_path: Path) -> None:
    s = Settings.from_env({"DRIFTLINE_STATE_DIR": str(tmp_path)})
    assert s.redis_connect_url == "redis://127.0.0.1:6379/0"  # no stack password yet
    s.redis_password_file.write_text("p/w+1\n")
    assert s.redis_connect_url == "redis://:p%2Fw%2B1@127.0.0.1:6379/0"
    given = Settings.from_env({"DRIFTLINE_STATE_DIR": str(tmp_path), "DRIFTLINE_REDIS_URL": "redis://:mine@h:1/0"})
    assert given.redis_connect_url == "redis://:mine@h:1/0" and given.redis_url_shown == "redis://:***@h:1/0"


def test_with_credentials_spells_out_the_state_folders_redis_password_and_model_key(tmp_path: Path) -> None:
    s = Settings.from_env({"DRIFTLINE_STATE_DIR": str(tmp_path)})
    with pytest.raises(SettingsError, match="no model signing key"):
        s.with_credentials()
    s.redis_password_file.write_text("pw\n")
    s.model_key_file.write_text("k3y\n")
    carried = s.with_credentials()
    assert carried.redis_url == "redis://:pw@127.0.0.1:6379/0" and carried.model_key == "k3y"
    # another state folder (a namespace's, a worker's) holds neither, and still connects alike
    moved = replace(carried, state_dir=tmp_path / "elsewhere")
    assert moved.redis_connect_url == s.redis_connect_url and moved.signing_key() == b"k3y"


def test_a_namespace_connects_to_redis_with_the_parents_generated_password(tmp_path: Path) -> None:
    """Regression (issue 24): `make demo` for a new user was refused by the stack's Redis, since the
    namespace's own state folder holds no password."""
    from streams.replay.namespace import namespace_settings

    parent = Settings.from_env({"DRIFTLINE_STATE_DIR": str(tmp_path / "stack")})
    parent.redis_password_file.parent.mkdir(parents=True)
    parent.redis_password_file.write_text("secret\n")
    parent.model_key_file.write_text("k3y\n")
    ns = namespace_settings(parent, tmp_path / "ns", kind="demo")
    assert ns.state_dir == tmp_path / "ns" and ns.topic_prefix.startswith("driftline-demo-")
    assert ns.redis_connect_url == "redis://:secret@127.0.0.1:6379/0"
    assert ns.signing_key() == b"k3y"
    # what the worker process gets: its environment rebuilds the same credentials
    rebuilt = Settings.from_env(ns.as_env())
    assert rebuilt.redis_connect_url == ns.redis_connect_url and rebuilt.signing_key() == b"k3y"
