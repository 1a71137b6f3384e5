import pytest

from streams.core.seen import SeenEvents


def test_a_repeat_inside_the_horizon_is_a_duplicate_and_after_it_is_new() -> None:
    seen = SeenEvents(horizon=10.0)
    assert seen.add("e-1", now=100.0)
    assert not seen.add("e-1", now=110.0)  # exactly at the horizon: still remembered
    assert seen.add("e-1", now=110.5)


def test_ids_expire_in_the_order_they_were_first_seen() -> None:
    seen = SeenEvents(horizon=5.0)
    for i in range(5):
        seen.add(f"e-{i}", now=float(i))
    assert seen.expire(now=7.5) == 3
    assert "e-2" not in seen and "e-3" in seen
    assert len(seen) == 2


def test_memory_is_bounded_by_max_size_forgetting_the_oldest() -> None:
    seen = SeenEvents(horizon=1e9, max_size=3)
    for i in range(5):
        seen.add(f"e-{i}", now=0.0)
    assert len(seen) == 3
    assert "e-0" not in seen and "e-4" in seen


def test_nonsense_parameters_are_refused() -> None:
    with pytest.raises(ValueError):
        SeenEvents(horizon=0)
