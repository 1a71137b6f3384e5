"""What a Redis error says about Redis, in words for an alert: it does not answer, or it answers
and refuses writes (its memory is full under ``noeviction``, or it is a read-only replica)."""

from __future__ import annotations

import redis


def refuses_writes(exc: BaseException) -> bool:
    """Whether Redis answered and refused to write (rather than not answering).

    >>> refuses_writes(redis.exceptions.OutOfMemoryError("OOM command not allowed")), refuses_writes(redis.ConnectionError())
    (True, False)
    """
    return isinstance(exc, (redis.exceptions.OutOfMemoryError, redis.exceptions.ReadOnlyError))


def trouble(exc: BaseException) -> str:
    """The trouble in words: ``"refuses writes (...)"`` or ``"does not answer (...)"``.

    >>> trouble(redis.exceptions.OutOfMemoryError("command not allowed when used memory > 'maxmemory'."))
    "refuses writes (command not allowed when used memory > 'maxmemory'.)"
    >>> trouble(redis.ConnectionError("Connection refused"))
    'does not answer (ConnectionError: Connection refused)'
    """
    if refuses_writes(exc):
        return f"refuses writes ({exc})"
    return f"does not answer ({type(exc).__name__}: {exc})"
