"""A second, locked-down Apache Kafka broker for the tests that need authentication and ACLs.

:func:`secure_broker` starts Kafka with the local stack's jars and Java (``streams.stack.kafka``)
as one KRaft node (broker and controller) in a folder the caller gives, on free ports of its
own, and stops it (and only it) on exit. Clients authenticate with SASL (SCRAM-SHA-256,
SCRAM-SHA-512 or PLAIN) over TLS, with a CA and a broker certificate made at start for
``localhost`` and ``127.0.0.1``; a second listener offers the same SASL without TLS. The
StandardAuthorizer refuses whatever no ACL allows, except to the super user ``admin``, whose
password is made at start. The development broker is never touched.
"""

from __future__ import annotations

import secrets
import ssl
import subprocess
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from aiokafka.helpers import create_ssl_context
from kafka.admin import (
    ACL,
    ACLFilter,
    ACLOperation,
    ACLPermissionType,
    ACLResourcePatternType,
    KafkaAdminClient,
    ResourcePattern,
    ResourceType,
    UserScramCredentialUpsertion,
)
from kafka.errors import KafkaError

from streams.errors import EnvironmentProblem
from streams.settings import Settings
from streams.stack import class_data
from streams.stack.kafka import _java_cmd, ensure_jars, java, new_cluster_id
from streams.stack.ports import free_port, is_listening
from streams.stack.procs import is_alive, stop

HOST = "127.0.0.1"
ADMIN = "admin"
SCRAM = ("SCRAM-SHA-256", "SCRAM-SHA-512")
START_TIMEOUT = 90.0  # seconds for the broker to answer an authenticated request
APPLY_TIMEOUT = 15.0  # seconds for a new user or ACL to reach the broker's metadata
LOG_TAIL = 20  # last lines of the broker's log quoted when it fails ...
LOG_ERRORS = 12  # ... after its last error lines
# a short-lived broker on a small shared machine: a small heap, the serial collector and the
# C1 compiler only cost less CPU at start-up than the stack's defaults
JVM_OPTS = "-Xms128m -Xmx512m -XX:+UseSerialGC -XX:TieredStopAtLevel=1"

_PLAIN = "org.apache.kafka.common.security.plain.PlainLoginModule required"
_SCRAM = "org.apache.kafka.common.security.scram.ScramLoginModule required;"
_UNSAFE = '"\\,=[];'


@dataclass(frozen=True)
class SecureBroker:
    """A running secure broker: where it listens, its CA and its super user's credentials."""

    folder: Path
    sasl_ssl_port: int
    sasl_plaintext_port: int
    ca_file: Path
    admin_user: str
    admin_password: str = field(repr=False)
    log: Path

    @property
    def bootstrap(self) -> str:
        """The SASL_SSL listener: SASL over TLS."""
        return f"{HOST}:{self.sasl_ssl_port}"

    @property
    def sasl_plaintext_bootstrap(self) -> str:
        """The SASL_PLAINTEXT listener: the same SASL, no TLS."""
        return f"{HOST}:{self.sasl_plaintext_port}"

    def client_config(
        self, user: str | None = None, password: str | None = None, mechanism: str = "SCRAM-SHA-512", *, tls: bool = True
    ) -> dict[str, Any]:
        """kafka-python keyword arguments for ``user`` (default: the admin) over SASL_SSL (or
        SASL_PLAINTEXT with ``tls=False``)."""
        user, password = self._login(user, password)
        config: dict[str, Any] = {
            "bootstrap_servers": self.bootstrap if tls else self.sasl_plaintext_bootstrap,
            "security_protocol": "SASL_SSL" if tls else "SASL_PLAINTEXT",
            "sasl_mechanism": mechanism,
            "sasl_plain_username": user,
            "sasl_plain_password": password,
        }
        if tls:
            config["ssl_cafile"] = str(self.ca_file)
        return config

    def ssl_context(self) -> ssl.SSLContext:
        """A client TLS context trusting this broker's CA (for aiokafka and Faust)."""
        return create_ssl_context(cafile=str(self.ca_file))

    def aiokafka_config(
        self, user: str | None = None, password: str | None = None, mechanism: str = "SCRAM-SHA-512"
    ) -> dict[str, Any]:
        """aiokafka keyword arguments for ``user`` (default: the admin) over SASL_SSL."""
        user, password = self._login(user, password)
        return {
            "bootstrap_servers": self.bootstrap,
            "security_protocol": "SASL_SSL",
            "sasl_mechanism": mechanism,
            "sasl_plain_username": user,
            "sasl_plain_password": password,
            "ssl_context": self.ssl_context(),
        }

    def _login(self, user: str | None, password: str | None) -> tuple[str, str]:
        """``user`` and ``password``; the admin's when no user is named."""
        if user is None:
            return self.admin_user, self.admin_password
        if password is None:
            raise ValueError(f"no password given for {user!r}")
        return user, password

    @contextmanager
    def admin(self, timeout_ms: int = 10000) -> Iterator[KafkaAdminClient]:
        """A kafka-python admin client authenticated as the super user."""
        client = KafkaAdminClient(
            **self.client_config(), request_timeout_ms=timeout_ms, bootstrap_timeout_ms=timeout_ms
        )
        try:
            yield client
        finally:
            client.close()

    def add_user(self, name: str, password: str, mechanisms: Iterable[str] = SCRAM) -> None:
        """Create (or change) a SCRAM user now; return once the broker accepts its logins."""
        mechanisms = list(mechanisms)
        with self.admin() as admin:
            # one request per mechanism: the broker refuses two alterations of a user in one
            for mechanism in mechanisms:
                failed = admin.alter_user_scram_credentials([UserScramCredentialUpsertion(name, mechanism, password)])
                if failed.get(name):
                    raise EnvironmentProblem(f"the secure broker refused SCRAM user {name!r} ({mechanism}): {failed[name]}")
            # credentials travel through the metadata log: wait until the broker has them all
            wanted = {mechanism.replace("-", "_") for mechanism in mechanisms}
            _until(
                lambda: wanted <= {info["mechanism"].name for info in
                                   admin.describe_user_scram_credentials([name])[name]["credential_infos"]},
                f"SCRAM user {name!r} to reach the broker",
            )

    def grant(
        self, user: str, operations: Iterable[str], *, topic: str | None = None, group: str | None = None,
        prefixed: bool = False, deny: bool = False,
    ) -> None:
        """Allow ``user`` the ``operations`` (READ, WRITE, DESCRIBE, ALL, ...) on one topic or one
        consumer group (with ``prefixed``: on every one whose name starts so), or with ``deny``
        refuse them (a DENY wins over any ALLOW); return once the broker applies them."""
        acls = self._acls(user, operations, topic, group, prefixed, deny)
        resource = acls[0].resource_pattern
        with self.admin() as admin:
            result = admin.create_acls(acls)
            if result["failed"]:
                raise EnvironmentProblem(f"the secure broker refused ACLs for {user!r}: {result['failed']}")
            # ACLs travel through the metadata log too: wait until the authorizer has them all
            query = ACLFilter(f"User:{user}", None, ACLOperation.ANY, ACLPermissionType.ANY, resource)
            _until(lambda: set(acls) <= set(admin.describe_acls(query)[0]), f"ACLs for {user!r} to reach the broker")

    def revoke(
        self, user: str, operations: Iterable[str], *, topic: str | None = None, group: str | None = None,
        prefixed: bool = False, deny: bool = False,
    ) -> None:
        """Remove ACLs :meth:`grant` made (the same arguments); return once the broker has."""
        acls = self._acls(user, operations, topic, group, prefixed, deny)
        filters = [ACLFilter(a.principal, a.host, a.operation, a.permission_type, a.resource_pattern) for a in acls]
        query = ACLFilter(f"User:{user}", None, ACLOperation.ANY, ACLPermissionType.ANY, acls[0].resource_pattern)
        with self.admin() as admin:
            admin.delete_acls(filters)
            _until(lambda: not set(acls) & set(admin.describe_acls(query)[0]), f"ACLs of {user!r} to be removed")

    @staticmethod
    def _acls(user: str, operations: Iterable[str], topic: str | None, group: str | None, prefixed: bool,
              deny: bool) -> list[ACL]:
        if (topic is None) == (group is None):
            raise ValueError("ACLs on exactly one of topic= or group=")
        resource = ResourcePattern(
            ResourceType.TOPIC if topic is not None else ResourceType.GROUP,
            topic if topic is not None else group,
            ACLResourcePatternType.PREFIXED if prefixed else ACLResourcePatternType.LITERAL,
        )
        permission = ACLPermissionType.DENY if deny else ACLPermissionType.ALLOW
        return [ACL(f"User:{user}", "*", ACLOperation[op.upper()], permission, resource) for op in operations]


@contextmanager
def secure_broker(
    folder: Path, users: Mapping[str, str] | None = None, settings: Settings | None = None,
) -> Iterator[SecureBroker]:
    """Start the secure broker in ``folder``; stop it on exit, even on error.

    ``users`` (name: password) exist from the start, for SCRAM (both) and PLAIN; PLAIN users
    are fixed in the broker's config, SCRAM users can also be added later with
    :meth:`SecureBroker.add_user`. ``settings`` give the jar cache and the Kafka version.
    """
    settings = replace(settings or Settings(), kafka_heap_opts=JVM_OPTS)
    folder = folder.resolve()
    folder.mkdir(parents=True, exist_ok=True)
    log = folder / "kafka.log"
    jars = ensure_jars(settings, log)
    ca_file, keystore = _make_tls(folder / "tls")
    password = secrets.token_hex(16)
    every = {**(users or {}), ADMIN: password}
    for name, pw in every.items():
        _check_login(name, pw)
    ports = _free_ports(3)
    broker = SecureBroker(folder, ports[0], ports[1], ca_file, ADMIN, password, log)
    server = folder / "server.properties"
    server.write_text("".join(f"{k}={v}\n" for k, v in _properties(broker, ports[2], keystore, every).items()))
    log4j = folder / "log4j.properties"
    log4j.write_text(
        "log4j.rootLogger=INFO, stdout\n"
        "log4j.appender.stdout=org.apache.log4j.ConsoleAppender\n"
        "log4j.appender.stdout.layout=org.apache.log4j.PatternLayout\n"
        "log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n\n"
        "log4j.logger.state.change.logger=WARN\nlog4j.logger.kafka.request.logger=WARN\n"
    )
    # SCRAM users made at format time (KIP-900) can log in from the first start on
    scram = [arg for name, pw in every.items() for mech in SCRAM for arg in ("--add-scram", f"{mech}=[name={name},password={pw}]")]
    shared, _ = class_data.options(settings, java(), jars.classpath)  # the local broker's archive, when there is one
    fmt = _java_cmd(settings, jars, log4j, ["kafka.tools.StorageTool", "format", "-t", new_cluster_id(), "-c", str(server), *scram],
                    jvm=shared)
    with log.open("ab") as out:
        formatted = subprocess.run(fmt, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, check=False, timeout=120)
    if formatted.returncode != 0:
        raise EnvironmentProblem(f"the secure broker could not format its storage in {folder}\n{_tail(log)}")
    with log.open("ab") as out:
        proc = subprocess.Popen(
            _java_cmd(settings, jars, log4j, ["kafka.Kafka", str(server)], jvm=shared),
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True, cwd=folder,
        )
    try:
        _wait_ready(broker, proc.pid)
        yield broker
    finally:
        stop(proc.pid, grace=15)


def _properties(broker: SecureBroker, controller_port: int, keystore: Path, users: Mapping[str, str]) -> dict[str, str]:
    """server.properties: KRaft, one node, SASL everywhere, the StandardAuthorizer on."""
    me = f'username="{ADMIN}" password="{broker.admin_password}"'
    plain_users = " ".join(f'user_{name}="{pw}"' for name, pw in users.items())
    props = {
        "process.roles": "broker,controller",
        "node.id": "1",
        "controller.quorum.voters": f"1@{HOST}:{controller_port}",
        "listeners": f"SASL_SSL://{HOST}:{broker.sasl_ssl_port},SASL_PLAINTEXT://{HOST}:{broker.sasl_plaintext_port},"
                     f"CONTROLLER://{HOST}:{controller_port}",
        "advertised.listeners": f"SASL_SSL://{HOST}:{broker.sasl_ssl_port},SASL_PLAINTEXT://{HOST}:{broker.sasl_plaintext_port}",
        "listener.security.protocol.map": "SASL_SSL:SASL_SSL,SASL_PLAINTEXT:SASL_PLAINTEXT,CONTROLLER:SASL_PLAINTEXT",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "SASL_PLAINTEXT",
        # the node talks to itself as the super user, with PLAIN: SCRAM credentials live in the
        # metadata log, which the controller listener must serve before it can read them
        "sasl.mechanism.controller.protocol": "PLAIN",
        "sasl.mechanism.inter.broker.protocol": "PLAIN",
        "listener.name.controller.sasl.enabled.mechanisms": "PLAIN",
        "listener.name.controller.plain.sasl.jaas.config": f'{_PLAIN} {me} user_{ADMIN}="{broker.admin_password}";',
        "sasl.enabled.mechanisms": "SCRAM-SHA-256,SCRAM-SHA-512,PLAIN",
        "ssl.keystore.type": "PEM",
        "ssl.keystore.location": str(keystore),
        "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
        "allow.everyone.if.no.acl.found": "false",
        "super.users": f"User:{ADMIN}",
        "auto.create.topics.enable": "false",
        "log.dirs": str(broker.folder / "data"),
        "num.partitions": "1",
        "offsets.topic.replication.factor": "1",
        "offsets.topic.num.partitions": "1",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "transaction.state.log.num.partitions": "1",
        "share.coordinator.state.topic.replication.factor": "1",
        "group.initial.rebalance.delay.ms": "0",
    }
    for listener in ("sasl_ssl", "sasl_plaintext"):
        for mechanism in SCRAM:
            props[f"listener.name.{listener}.{mechanism.lower()}.sasl.jaas.config"] = _SCRAM
        props[f"listener.name.{listener}.plain.sasl.jaas.config"] = f"{_PLAIN} {me} {plain_users};"
    return props


def _check_login(name: str, password: str) -> None:
    """Refuse what would break the JAAS config's quoting or the storage tool's --add-scram."""
    if not name or not password or any(c in _UNSAFE or c.isspace() for c in name + password):
        raise ValueError(f"user {name!r}: use a non-empty name and password without spaces or {_UNSAFE}")


def _make_tls(tls: Path) -> tuple[Path, Path]:
    """A CA and a broker certificate it signs for localhost and 127.0.0.1, made with openssl.

    Returns the CA's PEM and the broker's PEM keystore: its unencrypted PKCS#8 key, then its
    certificate chain (what Kafka's ``ssl.keystore.type=PEM`` reads without a key password).
    """
    tls.mkdir(parents=True, exist_ok=True)
    ca_key, ca_pem = tls / "ca.key", tls / "ca.pem"
    key, csr, cert, ext = tls / "broker.key", tls / "broker.csr", tls / "broker.pem", tls / "broker.ext"
    ext.write_text(
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=critical,CA:FALSE\n"
        "keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n"
        "subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid,issuer\n"
    )
    new_key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-noenc"]
    for cmd in (
        ["openssl", "req", "-x509", *new_key, "-keyout", ca_key, "-out", ca_pem, "-days", "2",
         "-subj", "/CN=driftline test CA", "-addext", "basicConstraints=critical,CA:TRUE",
         "-addext", "keyUsage=critical,keyCertSign,cRLSign"],
        ["openssl", "req", *new_key, "-keyout", key, "-out", csr, "-subj", "/CN=localhost"],
        ["openssl", "x509", "-req", "-in", csr, "-CA", ca_pem, "-CAkey", ca_key, "-set_serial",
         str(secrets.randbits(63)), "-days", "2", "-extfile", ext, "-out", cert],
    ):
        done = subprocess.run([str(arg) for arg in cmd], capture_output=True, text=True, check=False, timeout=30)
        if done.returncode != 0:
            raise EnvironmentProblem(f"openssl could not make the secure broker's TLS files: {done.stderr.strip()}")
    keystore = tls / "broker-keystore.pem"
    keystore.write_text(key.read_text() + cert.read_text() + ca_pem.read_text())
    return ca_pem, keystore


def _free_ports(count: int) -> list[int]:
    """``count`` distinct ports free right now."""
    ports: list[int] = []
    while len(ports) < count:
        port = free_port(HOST)
        if port not in ports:
            ports.append(port)
    return ports


def _wait_ready(broker: SecureBroker, pid: int) -> None:
    """Poll until the super user's metadata request succeeds over SASL_SSL; fail fast, with the
    log's end, when the process dies or the time is up."""
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if not is_alive(pid):
            raise EnvironmentProblem(f"the secure broker exited during start-up\n{_tail(broker.log)}")
        if is_listening(HOST, broker.sasl_ssl_port):
            try:
                with broker.admin(timeout_ms=3000) as admin:
                    admin.describe_cluster()
                return
            except KafkaError:
                pass
        time.sleep(0.5)
    raise EnvironmentProblem(f"the secure broker did not answer within {START_TIMEOUT:.0f}s\n{_tail(broker.log)}")


def _until(check: Any, what: str) -> None:
    """Poll ``check()`` until true, for at most :data:`APPLY_TIMEOUT` seconds."""
    deadline = time.monotonic() + APPLY_TIMEOUT
    while not check():
        if time.monotonic() > deadline:
            raise EnvironmentProblem(f"timed out waiting for {what}")
        time.sleep(0.2)


def _tail(log: Path) -> str:
    """The broker log's errors (no stack frames), then its last lines: a failed start-up's
    cause is often far above the shutdown chatter that ends the log."""
    try:
        lines = log.read_text(errors="replace").splitlines()
    except OSError:
        return f"(no log at {log})"
    errors = [line for line in lines if not line.startswith("\t")
              and any(word in line for word in (" ERROR ", " FATAL ", "Exception", "Caused by"))]
    return (f"errors in {log}:\n" + "\n".join(errors[-LOG_ERRORS:])
            + f"\nits last {LOG_TAIL} lines:\n" + "\n".join(lines[-LOG_TAIL:]))
