"""The partitioner hash the outbox and the join use is the Kafka default partitioner's, on any key."""

from __future__ import annotations

from aiokafka.partitioner import murmur2
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.kafka.partitioner import key_hash


@settings(max_examples=2000, deadline=None)
@given(key=st.binary(max_size=70))
def test_key_hash_is_aiokafkas_murmur2_made_positive(key: bytes) -> None:
    assert key_hash(key) == murmur2(key) & 0x7FFFFFFF


def test_the_java_clients_own_test_cases() -> None:
    """Kafka's UtilsTest.testMurmur2 cases (signed 32-bit there), made positive as toPositive does."""
    cases = {b"21": -973932308, b"foobar": -790332482, b"a-little-bit-long-string": -985981536,
             b"a-little-bit-longer-string": -1486304829, b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8": -58897971,
             b"abc": 479470107}
    for key, signed in cases.items():
        assert key_hash(key) == signed & 0x7FFFFFFF, key
