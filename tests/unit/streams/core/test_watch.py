from streams.core.watch import LogDir, Subscription, Watch


def kinds(findings: list) -> list[str]:  # type: ignore[type-arg]
    return [f.kind for f in findings]


def test_a_log_directory_going_low_is_said_once_and_its_recovery_once() -> None:
    w = Watch(min_free=0.10, stall_s=60)
    assert w.disks([LogDir(1, "/d", 1000, 500)]) == []
    low = w.disks([LogDir(1, "/d", 1000, 80)])
    assert kinds(low) == ["broker_disk_low"] and low[0].severity == "critical"
    assert low[0].detail["usable_bytes"] == 80 and low[0].detail["log_dir"] == "/d"
    assert w.disks([LogDir(1, "/d", 1000, 50)]) == []  # still low: nothing new
    assert w.disks([LogDir(1, "/d", 1000, 110)]) == []  # just above the threshold: not yet recovered
    assert kinds(w.disks([LogDir(1, "/d", 1000, 130)])) == ["broker_disk_recovered"]
    assert w.disks([LogDir(1, "/d", 1000, 130)]) == []


def test_each_log_directory_is_watched_on_its_own() -> None:
    w = Watch(min_free=0.10, stall_s=60)
    found = w.disks([LogDir(1, "/a", 1000, 50), LogDir(1, "/b", 1000, 900), LogDir(2, "/a", 1000, 10)])
    assert [f.subject for f in found] == ["broker 1", "broker 2"]


def test_a_subscriber_that_stops_reading_is_stalled_after_the_time_and_recovers_when_it_reads() -> None:
    w = Watch(min_free=0.10, stall_s=60)
    assert w.subscribers([Subscription("ops", "d.alerts", 5, 9)], now=0) == []
    assert w.subscribers([Subscription("ops", "d.alerts", 5, 12)], now=59) == []
    stalled = w.subscribers([Subscription("ops", "d.alerts", 5, 14)], now=60)
    assert kinds(stalled) == ["subscriber_stalled"] and stalled[0].detail["lag"] == 9
    assert w.subscribers([Subscription("ops", "d.alerts", 5, 20)], now=120) == []
    assert kinds(w.subscribers([Subscription("ops", "d.alerts", 6, 20)], now=121)) == ["subscriber_recovered"]


def test_a_subscriber_with_nothing_to_read_is_never_stalled() -> None:
    w = Watch(min_free=0.10, stall_s=60)
    for now in (0, 100, 1000):
        assert w.subscribers([Subscription("ops", "d.alerts", 9, 9)], now=now) == []
    # records arrive: the clock starts then, not when it last moved
    assert w.subscribers([Subscription("ops", "d.alerts", 9, 10)], now=1001) == []
    assert kinds(w.subscribers([Subscription("ops", "d.alerts", 9, 10)], now=1061)) == ["subscriber_stalled"]


def test_a_group_that_goes_away_is_forgotten() -> None:
    w = Watch(min_free=0.10, stall_s=1)
    w.subscribers([Subscription("ops", "d.alerts", 1, 5)], now=0)
    assert kinds(w.subscribers([Subscription("ops", "d.alerts", 1, 5)], now=2)) == ["subscriber_stalled"]
    assert w.subscribers([], now=3) == []
    assert w.stalled == set() and w.positions == {}
