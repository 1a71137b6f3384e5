"""Causes outside driftline that a user can meet are said in one line, never as internal errors."""

from __future__ import annotations

import errno

import aiokafka.errors
import kafka.errors
import redis

from streams.outside import described
from streams.settings import Settings

S = Settings(redis_url="redis://:secret@127.0.0.1:6379/0")


def test_a_redis_that_refuses_the_credentials_is_named_with_the_variable_to_set() -> None:
    for exc in (redis.AuthenticationError("invalid username-password pair"),
                redis.ResponseError("NOAUTH Authentication required."),
                redis.AuthenticationError("HELLO must be called with the client already authenticated")):
        line = described(exc, S)
        assert line is not None and "refused the credentials" in line and "DRIFTLINE_REDIS_URL" in line, line
        assert "secret" not in line and "redis://:***@127.0.0.1:6379/0" in line


def test_a_redis_or_a_broker_that_does_not_answer_says_how_to_start_one() -> None:
    line = described(redis.ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused."), S)
    assert line is not None and line.startswith("Redis at redis://:***@") and "does not answer" in line
    assert "driftline stack up" in line
    for exc in (kafka.errors.KafkaConnectionError(), kafka.errors.KafkaTimeoutError("Unable to bootstrap"),
                aiokafka.errors.KafkaConnectionError("Unable to bootstrap from [('127.0.0.1', 9092)]")):
        line = described(exc, S)
        assert line is not None and line.startswith("Kafka at 127.0.0.1:9092 does not answer"), line
        assert "DRIFTLINE_KAFKA_BOOTSTRAP" in line and "\n" not in line


def test_a_port_taken_is_named_and_other_errors_stay_internal() -> None:
    line = described(OSError(errno.EADDRINUSE, "error while attempting to bind on address ('127.0.0.1', 6066): "
                                               "address already in use"), None)
    assert line is not None and "6066" in line and "taken" in line
    assert described(OSError(errno.ENOENT, "no such file"), S) is None
    assert described(KeyError("x"), S) is None
    assert described(kafka.errors.TopicAuthorizationFailedError(), S) is None
    assert described(redis.ResponseError("WRONGTYPE Operation against a key"), S) is None
