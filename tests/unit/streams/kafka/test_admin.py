"""Asking the cluster as an administrator, with no broker there."""

from __future__ import annotations

import pytest

from streams.errors import EnvironmentProblem
from streams.kafka import admin
from streams.settings import Settings
from streams.stack.ports import free_port


def test_a_command_with_no_broker_to_answer_is_told_so_in_one_line_naming_the_address() -> None:
    """What a command checks before its kafka-python clients would wait out their 30 s bootstrap
    timeout (`models list` with Kafka away sat that long before it said so)."""
    away = f"127.0.0.1:{free_port()}"  # nothing listens there
    with pytest.raises(EnvironmentProblem) as told:
        admin.require_broker(Settings(kafka_bootstrap=away), timeout_ms=300)
    assert str(told.value) == f"no Kafka broker answers at {away} (start one with `driftline stack up`)"
