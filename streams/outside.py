"""What a failure outside driftline means, in one line for the person at the terminal.

A cause a user can meet (a Redis that refuses the credentials or is away, a broker that is away,
a port that is taken) is never an "internal error": :func:`described` turns the exception into a
sentence that names the address and what to do; ``driftline``'s entry point prints it as one line
with exit code 1. An exception it does not recognise stays an internal error: a bug of ours.
"""

from __future__ import annotations

import errno
import sys

from streams.settings import Settings
from streams.state.redis_trouble import refuses_credentials

STACK_HINT = "start the local stack with `driftline stack up`, or set {var}"


def described(exc: BaseException, settings: Settings | None) -> str | None:
    """The outside cause of ``exc`` in one line, or None when it is not one.

    >>> described(OSError(errno.EADDRINUSE, "address already in use"), None)
    'a port driftline needs is taken ([Errno 98] address already in use): stop what holds it, or pick another port'
    >>> described(ValueError("x"), None) is None
    True
    """
    return _redis(exc, settings) or _kafka(exc, settings) or _port(exc)


def _redis(exc: BaseException, settings: Settings | None) -> str | None:
    redis = sys.modules.get("redis")
    if redis is None or not isinstance(exc, redis.RedisError):
        return None
    where = f"Redis at {settings.redis_url_shown}" if settings is not None else "Redis"
    text = str(exc)
    if refuses_credentials(exc):
        return f"{where} refused the credentials ({_first_line(text)}); set DRIFTLINE_REDIS_URL with its password"
    if isinstance(exc, redis.ConnectionError | redis.TimeoutError):
        return f"{where} does not answer ({_first_line(text)}): {STACK_HINT.format(var='DRIFTLINE_REDIS_URL')}"
    if isinstance(exc, redis.exceptions.OutOfMemoryError | redis.exceptions.ReadOnlyError):
        return f"{where} refuses writes ({_first_line(text)})"
    return None


def _kafka(exc: BaseException, settings: Settings | None) -> str | None:
    names = {cls.__name__ for cls in type(exc).__mro__}
    module = type(exc).__module__
    if not module.startswith(("kafka", "aiokafka")):
        return None
    unreachable = {"NoBrokersAvailable", "MetadataEmptyBrokerList", "KafkaTimeoutError", "KafkaConnectionError", "NodeNotReadyError",
                   "RequestTimedOutError", "BrokerNotAvailableError", "LeaderNotAvailableError"}
    if not names & unreachable:
        return None
    where = f"Kafka at {settings.kafka_bootstrap}" if settings is not None else "Kafka"
    return (f"{where} does not answer ({type(exc).__name__}: {_first_line(str(exc))}): "
            f"{STACK_HINT.format(var='DRIFTLINE_KAFKA_BOOTSTRAP')}")


def _port(exc: BaseException) -> str | None:
    if isinstance(exc, OSError) and exc.errno == errno.EADDRINUSE:
        return f"a port driftline needs is taken ({_first_line(str(exc))}): stop what holds it, or pick another port"
    return None


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else "no detail"
