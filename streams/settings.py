"""The one frozen settings object, built from the environment at the edge and passed in.

Every variable has a default that fits the local stack (see ../shared/CONTRACT.md).
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit


class SettingsError(ValueError):
    """An environment variable holds a value driftline cannot use."""


def _default_state_dir() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "driftline"


def _default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "driftline"


def _var(env: str, default: Any, help: str, *, shown: str | None = None, secret: bool = False) -> Any:
    """A setting read from ``env``: its default (a value, or a function that makes it), what it
    means, how the default reads in the docs when the value alone does not say it (``shown``), and
    whether it is a secret (never in a repr). The reference page is generated from these
    (``streams.reference``): a setting added here is documented there."""
    meta = {"env": env, "help": help, "shown": shown}
    if callable(default):
        return field(default_factory=default, repr=not secret, metadata=meta)
    return field(default=default, repr=not secret, metadata=meta)


@dataclass(frozen=True)
class Settings:
    """driftline's configuration. Build it with :meth:`from_env`; never mutate it."""

    kafka_bootstrap: str = _var("DRIFTLINE_KAFKA_BOOTSTRAP", "127.0.0.1:9092", "Kafka bootstrap servers, `host:port[,host:port...]`.")
    kafka_security_protocol: str = _var("DRIFTLINE_KAFKA_SECURITY_PROTOCOL", "PLAINTEXT",
                                        "How every Kafka client connects: `PLAINTEXT`, `SSL`, `SASL_PLAINTEXT` or `SASL_SSL`.")
    kafka_sasl_mechanism: str = _var("DRIFTLINE_KAFKA_SASL_MECHANISM", "SCRAM-SHA-512",
                                     "With SASL: `PLAIN`, `SCRAM-SHA-256` or `SCRAM-SHA-512`.")
    kafka_username: str = _var("DRIFTLINE_KAFKA_USERNAME", "", "With SASL: the user's name (required, with the password).")
    kafka_password: str = _var("DRIFTLINE_KAFKA_PASSWORD", "", "With SASL: the user's password. Never printed.", secret=True)
    kafka_ca_file: str = _var("DRIFTLINE_KAFKA_CA_FILE", "", "With TLS: the PEM file of the CA that signed the brokers' "
                              "certificates (host names are checked).", shown="the system's CAs")
    kafka_cert_file: str = _var("DRIFTLINE_KAFKA_CERT_FILE", "", "With TLS, when the brokers ask for a client certificate: "
                                "its PEM certificate (with `DRIFTLINE_KAFKA_KEY_FILE`).")
    kafka_key_file: str = _var("DRIFTLINE_KAFKA_KEY_FILE", "", "With TLS: the client certificate's PEM key.", secret=True)
    redis_url: str = _var("DRIFTLINE_REDIS_URL", "redis://127.0.0.1:6379/0",
                          "Redis for the model registry and state: `redis://:password@host:port/db`, or `rediss://` for "
                          "TLS. Without a password, `DRIFTLINE_REDIS_PASSWORD`, else the local stack's generated one "
                          "(`<state>/redis.password`) is used when there is one. Never printed: status and messages mask "
                          "it (see `redis_url_shown`).", secret=True)
    redis_password: str = _var("DRIFTLINE_REDIS_PASSWORD", "", "The Redis password, when `DRIFTLINE_REDIS_URL` names none: "
                               "from a Secret, so that it is in no URL. Never printed.", secret=True)
    topic_prefix: str = _var("DRIFTLINE_TOPIC_PREFIX", "driftline", "Topic names are `<prefix>.<name>`.")
    pipeline: str = _var("DRIFTLINE_PIPELINE", "", "Path to a pipeline spec (TOML).", shown="the built-in demo pipeline")
    web_port: int = _var("DRIFTLINE_WEB_PORT", 6066, "The worker's HTTP port: the dashboard at `/`, `/metrics`, `/health`, `/api/*`.")
    web_bind: str = _var("DRIFTLINE_WEB_BIND", "127.0.0.1",
                         "The address the worker's web server listens on: the loopback only, unless told (`0.0.0.0` in a container).")
    state_dir: Path = _var("DRIFTLINE_STATE_DIR", _default_state_dir, "The local stack's pid files, logs and data.",
                           shown="~/.local/state/driftline")
    cache_dir: Path = _var("DRIFTLINE_CACHE_DIR", _default_cache_dir, "Kafka's jars, fetched once per machine.",
                           shown="~/.cache/driftline")
    partitions: int = _var("DRIFTLINE_PARTITIONS", 4, "Partitions of the event topics (`alerts`, `models`, `examples` have 1).")
    replication_factor: int = _var("DRIFTLINE_REPLICATION_FACTOR", 1,
                                   "Copies the broker keeps of each topic driftline creates (its own and Faust's "
                                   "changelogs): 1 for the local single-node stack, 3 on a production cluster.")
    max_event_bytes: int = _var("DRIFTLINE_MAX_EVENT_BYTES", 64 * 1024, "Larger raw values are dead-lettered as `oversized`.")
    worker_id: str = _var("DRIFTLINE_WORKER_ID", "",
                          "The worker's stable member name in its consumer group (Kafka's static membership): a worker "
                          "restarted under the same name takes its partitions back at once, with no rebalance.",
                          shown="<host>-<web port>")
    session_timeout_s: int = _var("DRIFTLINE_SESSION_TIMEOUT_S", 10,
                                  "A worker silent this long (seconds, 6 to 300) is dropped from the group and the "
                                  "others take its partitions over.")
    batch_max: int = _var("DRIFTLINE_BATCH_MAX", 1000, "Records an agent takes at a time (more per batch: less work per record).")
    batch_wait_ms: int = _var("DRIFTLINE_BATCH_WAIT_MS", 10,
                              "How long (milliseconds) an agent waits for a batch to fill: the latency a quiet stream pays.")
    kafka_controller_port: int = _var("DRIFTLINE_KAFKA_CONTROLLER_PORT", 0, "The local broker's KRaft controller port.",
                                      shown="a free port, kept")
    kafka_heap_opts: str = _var("DRIFTLINE_KAFKA_HEAP_OPTS", "-Xms256m -Xmx512m", "The local broker's JVM heap; each broker of a local "
                                 "cluster (`stack up --brokers`) gets `-Xms128m -Xmx256m` while this is left at its default.")
    kafka_version: str = _var("DRIFTLINE_KAFKA_VERSION", "3.9.1", "The Apache Kafka release the local stack fetches and runs.")
    model_key: str = _var("DRIFTLINE_MODEL_KEY", "", "Signs and verifies model artifacts (HMAC-SHA256): set the same "
                          "secret on every worker.", shown="the local stack's generated `<state>/model.key`", secret=True)
    failpoints: str = _var("DRIFTLINE_FAILPOINTS", "", "Test machinery (`streams.failpoints`): places where the process "
                           "kills itself, such as `registry.logged@2`, to prove what survives a crash.")
    alert_webhook: str = _var("DRIFTLINE_ALERT_WEBHOOK", "", "An `http://` or `https://` URL: each alert is also POSTed "
                              "there as JSON. Never printed (a webhook URL often carries a secret).", shown="empty (off)",
                              secret=True)
    broker_watch_s: int = _var("DRIFTLINE_BROKER_WATCH_S", 30,
                               "Every this many seconds a worker asks the broker how full its log directories are and "
                               "where outside subscribers of `alerts`, `predictions` and `deadletter` stand (0: never).")
    broker_disk_min_free_pct: int = _var("DRIFTLINE_BROKER_DISK_MIN_FREE_PCT", 10,
                                         "A broker log directory with less of its disk usable (percent) raises "
                                         "`broker_disk_low` (critical).")
    subscriber_stall_s: int = _var("DRIFTLINE_SUBSCRIBER_STALL_S", 300,
                                   "An outside consumer group with records to read whose offsets stand still this long "
                                   "(seconds) raises `subscriber_stalled`.")
    parent_pid: int = _var("DRIFTLINE_PARENT_PID", 0,
                           "Set by a driftline process that starts a worker (the demo, a live replay, the tests): the "
                           "worker stops when that process is gone, instead of consuming on with no one to stop it.",
                           shown="0 (off)")

    def __post_init__(self) -> None:
        if not self.topic_prefix or any(c not in _TOPIC_CHARS for c in self.topic_prefix):
            raise SettingsError(
                f"DRIFTLINE_TOPIC_PREFIX={self.topic_prefix!r}: use letters, digits, '.', '_' or '-'"
            )
        kafka_address(self.kafka_bootstrap)
        if self.kafka_security_protocol not in KAFKA_PROTOCOLS:
            raise SettingsError(f"DRIFTLINE_KAFKA_SECURITY_PROTOCOL={self.kafka_security_protocol!r}: one of "
                                f"{', '.join(KAFKA_PROTOCOLS)}")
        if self.kafka_sasl:
            if self.kafka_sasl_mechanism not in SASL_MECHANISMS:
                raise SettingsError(f"DRIFTLINE_KAFKA_SASL_MECHANISM={self.kafka_sasl_mechanism!r}: one of "
                                    f"{', '.join(SASL_MECHANISMS)}")
            if not self.kafka_username or not self.kafka_password:
                raise SettingsError(f"DRIFTLINE_KAFKA_SECURITY_PROTOCOL={self.kafka_security_protocol} needs "
                                    "DRIFTLINE_KAFKA_USERNAME and DRIFTLINE_KAFKA_PASSWORD")
        if bool(self.kafka_cert_file) != bool(self.kafka_key_file):
            raise SettingsError("DRIFTLINE_KAFKA_CERT_FILE and DRIFTLINE_KAFKA_KEY_FILE go together")
        for name in ("kafka_ca_file", "kafka_cert_file", "kafka_key_file"):
            path = getattr(self, name)
            if path and not Path(path).is_file():
                raise SettingsError(f"{_env_name(name)}={path}: no such file")
        redis_address(self.redis_url)
        for name in ("web_port", "kafka_controller_port"):
            port = getattr(self, name)
            if not 0 <= port <= 65535:
                raise SettingsError(f"{_env_name(name)}={port}: a port is 0..65535")
        if self.partitions < 1:
            raise SettingsError(f"DRIFTLINE_PARTITIONS={self.partitions}: at least 1")
        if self.replication_factor < 1:
            raise SettingsError(f"DRIFTLINE_REPLICATION_FACTOR={self.replication_factor}: at least 1")
        if not 6 <= self.session_timeout_s <= 300:
            raise SettingsError(f"DRIFTLINE_SESSION_TIMEOUT_S={self.session_timeout_s}: between 6 and 300 seconds "
                                "(the broker's group.min/max.session.timeout.ms)")
        if self.worker_id and any(c not in _TOPIC_CHARS for c in self.worker_id):
            raise SettingsError(f"DRIFTLINE_WORKER_ID={self.worker_id!r}: use letters, digits, '.', '_' or '-'")
        if self.batch_max < 1:
            raise SettingsError(f"DRIFTLINE_BATCH_MAX={self.batch_max}: at least 1")
        if self.batch_wait_ms < 1:
            raise SettingsError(f"DRIFTLINE_BATCH_WAIT_MS={self.batch_wait_ms}: at least 1 (milliseconds)")
        if self.max_event_bytes < 1:
            raise SettingsError(f"DRIFTLINE_MAX_EVENT_BYTES={self.max_event_bytes}: at least 1")
        if self.alert_webhook:
            webhook_address(self.alert_webhook)
        if self.broker_watch_s < 0:
            raise SettingsError(f"DRIFTLINE_BROKER_WATCH_S={self.broker_watch_s}: 0 (off) or more seconds")
        if not 0 < self.broker_disk_min_free_pct < 100:
            raise SettingsError(f"DRIFTLINE_BROKER_DISK_MIN_FREE_PCT={self.broker_disk_min_free_pct}: between 1 and 99")
        if self.subscriber_stall_s < 1:
            raise SettingsError(f"DRIFTLINE_SUBSCRIBER_STALL_S={self.subscriber_stall_s}: at least 1 second")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Read every ``DRIFTLINE_*`` variable; unset or empty ones keep their default."""
        env = os.environ if env is None else env
        values: dict[str, object] = {}
        for f in fields(cls):
            raw = env.get(f.metadata["env"], "").strip()
            if not raw:
                continue
            if f.type in ("int", int):
                try:
                    values[f.name] = int(raw)
                except ValueError:
                    raise SettingsError(f"{f.metadata['env']}={raw!r}: not an integer") from None
            elif f.type in ("Path", Path):
                values[f.name] = Path(raw).expanduser().resolve()
            else:
                values[f.name] = raw
        return cls(**values)  # type: ignore[arg-type]

    @property
    def kafka_sasl(self) -> bool:
        """Whether Kafka clients authenticate with SASL."""
        return self.kafka_security_protocol.startswith("SASL_")

    @property
    def kafka_tls(self) -> bool:
        """Whether Kafka connections use TLS."""
        return self.kafka_security_protocol in ("SSL", "SASL_SSL")

    @property
    def redis_url_shown(self) -> str:
        """:attr:`redis_url` with any password masked, for messages and status.

        >>> Settings(redis_url="rediss://app:s3cret@cache:6380/0").redis_url_shown
        'rediss://app:***@cache:6380/0'
        """
        return masked_url(self.redis_url)

    @property
    def redis_password_file(self) -> Path:
        """Where the local stack keeps the password it generated for its Redis."""
        return self.state_dir / "redis.password"

    @property
    def redis_connect_url(self) -> str:
        """The URL clients connect with: :attr:`redis_url`, with :attr:`redis_password` or else the
        local stack's generated password when the URL names none. Never print it: see
        :attr:`redis_url_shown`.

        >>> Settings(redis_url="rediss://cache:6380/0", redis_password="p@ss").redis_connect_url
        'rediss://:p%40ss@cache:6380/0'
        """
        parts = urlsplit(self.redis_url)
        if parts.password:
            return self.redis_url
        try:
            password = self.redis_password or self.redis_password_file.read_text().strip()
        except OSError:
            return self.redis_url
        if not password:
            return self.redis_url
        return parts._replace(netloc=f"{parts.username or ''}:{quote(password, safe='')}@{parts.netloc}").geturl()

    def with_credentials(self) -> Settings:
        """These settings with the credentials their state folder holds spelled out: the Redis
        URL as it connects (:attr:`redis_connect_url`) and the model key (:meth:`signing_key`).

        Settings derived from these with a state folder of their own (a namespace's worker, a
        benchmark's, a test's) then reach the same Redis and sign with the same key: every path
        that makes such settings goes through here. Raises :class:`SettingsError` when there is
        no model key anywhere."""
        return replace(self, redis_url=self.redis_connect_url, model_key=self.signing_key().decode())

    @property
    def model_key_file(self) -> Path:
        """Where the local stack keeps the key it generated, when none is given."""
        return self.state_dir / "model.key"

    def signing_key(self) -> bytes:
        """The key that signs and verifies model artifacts: ``DRIFTLINE_MODEL_KEY``, else the
        local stack's generated one."""
        if self.model_key:
            return self.model_key.encode()
        try:
            key = self.model_key_file.read_text().strip()
        except OSError:
            key = ""
        if not key:
            raise SettingsError(
                f"no model signing key: set DRIFTLINE_MODEL_KEY, or start the local stack "
                f"(`driftline stack up` writes one to {self.model_key_file})"
            )
        return key.encode()

    @property
    def group_instance_id(self) -> str:
        """The worker's static member name: :attr:`worker_id`, else ``<host>-<web port>``."""
        return self.worker_id or f"{socket.gethostname()}-{self.web_port}"

    @property
    def batch_wait(self) -> float:
        """:attr:`batch_wait_ms` in seconds."""
        return self.batch_wait_ms / 1000.0

    def topic(self, name: str) -> str:
        """The full topic name for a contract name: ``topic("raw") == "driftline.raw"``."""
        return f"{self.topic_prefix}.{name}"

    @property
    def kafka_host_port(self) -> tuple[str, int]:
        """The first bootstrap server, as (host, port)."""
        return kafka_address(self.kafka_bootstrap)

    @property
    def redis_host_port(self) -> tuple[str, int]:
        return redis_address(self.redis_url)

    def as_env(self) -> dict[str, str]:
        """The environment that rebuilds these settings in another process."""
        return {f.metadata["env"]: str(getattr(self, f.name)) for f in fields(self)}


KAFKA_PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
SASL_MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")

_TOPIC_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")


def _env_name(attr: str) -> str:
    return next(f.metadata["env"] for f in fields(Settings) if f.name == attr)


def kafka_address(bootstrap: str) -> tuple[str, int]:
    """Parse the first ``host:port`` of a bootstrap list."""
    first = bootstrap.split(",")[0].strip()
    if first.startswith("kafka://"):
        first = first[len("kafka://") :]
    host, sep, port = first.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) <= 65535:
        raise SettingsError(f"DRIFTLINE_KAFKA_BOOTSTRAP={bootstrap!r}: expected host:port[,host:port]")
    return host.strip("[]"), int(port)


def webhook_address(url: str) -> tuple[str, int]:
    """Check an ``http://`` or ``https://`` webhook URL; its (host, port)."""
    parts = urlsplit(url)
    try:
        port = (443 if parts.scheme == "https" else 80) if parts.port is None else parts.port
    except ValueError:
        port = -1
    if parts.scheme not in ("http", "https") or not parts.hostname or port < 1 or any(c.isspace() for c in url):
        raise SettingsError(f"DRIFTLINE_ALERT_WEBHOOK={url!r}: expected an http:// or https:// URL with a host")
    return parts.hostname, port


def masked_url(url: str) -> str:
    """A URL with its password, if any, masked."""
    parts = urlsplit(url)
    if not parts.password:
        return url
    user = parts.username or ""
    host = parts.netloc.rpartition("@")[2]
    return parts._replace(netloc=f"{user}:***@{host}").geturl()


def redis_address(url: str) -> tuple[str, int]:
    """Parse ``redis://host:port/db`` into (host, port)."""
    parts = urlsplit(url)
    try:
        port = parts.port or 6379
    except ValueError:
        port = -1
    if parts.scheme not in ("redis", "rediss") or not parts.hostname or port < 1:
        raise SettingsError(f"DRIFTLINE_REDIS_URL={masked_url(url)!r}: expected redis://host:port/db")
    return parts.hostname, port
