"""What a Redis error says about Redis, in words for an alert: it does not answer, or it answers
and refuses writes (its memory is full under ``noeviction``, or it is a read-only replica)."""

from __future__ import annotations

import redis

from streams.errors import EnvironmentProblem
from streams.settings import Settings


def refuses_writes(exc: BaseException) -> bool:
    """Whether Redis answered and refused to write (rather than not answering).

    >>> refuses_writes(redis.exceptions.OutOfMemoryError("OOM command not allowed")), refuses_writes(redis.ConnectionError())
    (True, False)
    """
    return isinstance(exc, (redis.exceptions.OutOfMemoryError, redis.exceptions.ReadOnlyError))


def refuses_credentials(exc: BaseException) -> bool:
    """Whether Redis answered and refused who we said we are: a wrong or missing password, or a
    HELLO before AUTH (what a URL without the password meets on a Redis that wants one).

    >>> refuses_credentials(redis.ResponseError("NOAUTH Authentication required.")), refuses_credentials(redis.ConnectionError())
    (True, False)
    """
    if isinstance(exc, redis.AuthenticationError | redis.exceptions.AuthenticationWrongNumberOfArgsError):
        return True
    return isinstance(exc, redis.ResponseError) and any(
        code in str(exc) for code in ("NOAUTH", "WRONGPASS", "HELLO must be called"))


def trouble(exc: BaseException) -> str:
    """The trouble in words: ``"refuses writes (...)"`` or ``"does not answer (...)"``.

    >>> trouble(redis.exceptions.OutOfMemoryError("command not allowed when used memory > 'maxmemory'."))
    "refuses writes (command not allowed when used memory > 'maxmemory'.)"
    >>> trouble(redis.ConnectionError("Connection refused"))
    'does not answer (ConnectionError: Connection refused)'
    >>> trouble(redis.exceptions.NoPermissionError("this user has no permissions to run the 'evalsha' command"))
    "refuses this user a command (this user has no permissions to run the 'evalsha' command)"
    """
    if refuses_writes(exc):
        return f"refuses writes ({exc})"
    if isinstance(exc, redis.exceptions.NoPermissionError):  # an ACL: it answered, and said no
        return f"refuses this user a command ({exc})"
    return f"does not answer ({type(exc).__name__}: {exc})"


def answers(settings: Settings) -> bool:
    """Whether Redis answers at the configured URL. One that answers and refuses the credentials
    is a setting to mend, raised as one line (:class:`EnvironmentProblem`), never a traceback."""
    client = redis.Redis.from_url(settings.redis_connect_url, socket_timeout=3, socket_connect_timeout=3)
    try:
        return bool(client.ping())
    except redis.RedisError as e:
        if not refuses_credentials(e):
            return False
        raise EnvironmentProblem(f"Redis at {settings.redis_url_shown} refused the credentials ({e}); "
                                 "set DRIFTLINE_REDIS_URL with its password") from None
    finally:
        client.close()
