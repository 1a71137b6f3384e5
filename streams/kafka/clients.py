"""Every Kafka client driftline makes, configured in one place: servers, security, idempotence.

kafka-python (the CLI, the registry's log, admin work), aiokafka (the models follower) and Faust
(the worker) each spell the same settings their own way; this module is the one translation from
:class:`~streams.settings.Settings` (``DRIFTLINE_KAFKA_SECURITY_PROTOCOL``, ``_SASL_MECHANISM``,
``_USERNAME``, ``_PASSWORD``, ``_CA_FILE``, ``_CERT_FILE``, ``_KEY_FILE``).

Producers are idempotent and wait for every in-sync replica (``acks=all``): a send the client
retries after a lost answer is written once, in order.
"""

from __future__ import annotations

import ssl
from typing import Any

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer

from streams.settings import Settings


def servers(settings: Settings) -> list[str]:
    """The bootstrap servers, as a list."""
    return [s.strip() for s in settings.kafka_bootstrap.split(",") if s.strip()]


def security(settings: Settings) -> dict[str, Any]:
    """kafka-python's keyword arguments for the connection's security.

    >>> security(Settings())
    {'security_protocol': 'PLAINTEXT'}
    >>> sorted(security(Settings(kafka_security_protocol="SASL_SSL", kafka_username="u", kafka_password="p")))
    ['sasl_mechanism', 'sasl_plain_password', 'sasl_plain_username', 'security_protocol', 'ssl_check_hostname']
    """
    out: dict[str, Any] = {"security_protocol": settings.kafka_security_protocol}
    if settings.kafka_sasl:
        out.update(sasl_mechanism=settings.kafka_sasl_mechanism, sasl_plain_username=settings.kafka_username,
                   sasl_plain_password=settings.kafka_password)
    if settings.kafka_tls:
        out["ssl_check_hostname"] = True
        for name, value in (("ssl_cafile", settings.kafka_ca_file), ("ssl_certfile", settings.kafka_cert_file),
                            ("ssl_keyfile", settings.kafka_key_file)):
            if value:
                out[name] = value
    return out


def ssl_context(settings: Settings) -> ssl.SSLContext | None:
    """The TLS context aiokafka and Faust take (None without TLS): the CA given, else the system's."""
    if not settings.kafka_tls:
        return None
    context = ssl.create_default_context(cafile=settings.kafka_ca_file or None)
    if settings.kafka_cert_file:
        context.load_cert_chain(settings.kafka_cert_file, settings.kafka_key_file or None)
    return context


def aio_security(settings: Settings) -> dict[str, Any]:
    """aiokafka's keyword arguments for the connection's security."""
    out: dict[str, Any] = {"security_protocol": settings.kafka_security_protocol}
    if settings.kafka_sasl:
        out.update(sasl_mechanism=settings.kafka_sasl_mechanism, sasl_plain_username=settings.kafka_username,
                   sasl_plain_password=settings.kafka_password)
    if settings.kafka_tls:
        out["ssl_context"] = ssl_context(settings)
    return out


def faust_credentials(settings: Settings) -> Any:
    """Faust's ``broker_credentials`` (None for plaintext)."""
    import faust

    if settings.kafka_sasl:
        return faust.SASLCredentials(username=settings.kafka_username, password=settings.kafka_password,
                                     mechanism=settings.kafka_sasl_mechanism, ssl_context=ssl_context(settings))
    if settings.kafka_tls:
        return faust.SSLCredentials(ssl_context(settings))
    return None


def producer(settings: Settings, **config: Any) -> KafkaProducer:
    """An idempotent kafka-python producer (``acks=all``); ``config`` adds to or overrides it."""
    return KafkaProducer(**{"bootstrap_servers": servers(settings), "acks": "all", "enable_idempotence": True,
                            **security(settings), **config})


def consumer(settings: Settings, *topics: str, **config: Any) -> KafkaConsumer:
    """A kafka-python consumer that commits nothing unless told."""
    return KafkaConsumer(*topics, **{"bootstrap_servers": servers(settings), "enable_auto_commit": False,
                                     **security(settings), **config})


def admin(settings: Settings, **config: Any) -> KafkaAdminClient:
    """A kafka-python admin client."""
    return KafkaAdminClient(**{"bootstrap_servers": servers(settings), **security(settings), **config})


#: how long the broker holds a follower's fetch when nothing new is there: how often an idle follower
#: asks, and how late a model version or a reference update can come (a record written meanwhile
#: mostly answers the held fetch at once; here about one in three waited out the hold). At 20 ms one
#: worker's model follower kept the broker answering about 30 empty fetches a second: 9 % of a core
#: of the broker's and 5 % of the worker's, with no event flowing
FOLLOW_WAIT_MS = 250


def aio_consumer(settings: Settings, *topics: str, **config: Any) -> Any:
    """An aiokafka consumer that commits nothing unless told, and follows its topics at
    :data:`FOLLOW_WAIT_MS`."""
    from aiokafka import AIOKafkaConsumer

    return AIOKafkaConsumer(*topics, **{"bootstrap_servers": servers(settings), "enable_auto_commit": False,
                                        "fetch_max_wait_ms": FOLLOW_WAIT_MS, **aio_security(settings), **config})
