import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cep.errors import SnapshotError
from cep.state.timers import TimerService


def test_pop_due_in_time_then_registration_order():
    timers = TimerService()
    for key, ts in [("b", 5), ("a", 3), ("c", 5), ("a", 5), ("z", 9)]:
        timers.register(key, ts)
    assert timers.peek() == 3
    assert list(timers.pop_due(5)) == [(3, "a"), (5, "b"), (5, "c"), (5, "a")]
    assert timers.peek() == 9 and len(timers) == 1


def test_register_is_deduplicated_per_time_and_key():
    timers = TimerService()
    assert timers.register("a", 5)
    assert not timers.register("a", 5)
    assert timers.register("a", 6)
    assert timers.register("b", 5)
    assert len(timers) == 3
    assert ("a", 5) in timers


def test_delete():
    timers = TimerService()
    timers.register("a", 5)
    timers.register("b", 5)
    assert timers.delete("a", 5)
    assert not timers.delete("a", 5)
    assert not timers.delete("zz", 1)
    assert list(timers.pop_due(100)) == [(5, "b")]
    assert timers.peek() is None


def test_mixed_key_types_never_compared():
    timers = TimerService()
    timers.register(("t", 1), 1)
    timers.register(None, 1)
    timers.register(3, 1)
    timers.delete(None, 1)
    assert list(timers.pop_due(1)) == [(1, ("t", 1)), (1, 3)]


def test_timer_registered_while_popping_fires_if_due():
    timers = TimerService()
    timers.register("a", 1)
    seen = []
    for ts, key in timers.pop_due(10):
        seen.append((ts, key))
        if key == "a":
            timers.register("b", 2)
    assert seen == [(1, "a"), (2, "b")]


@given(st.lists(st.tuples(st.sampled_from("abc"), st.integers(0, 20))), st.integers(0, 20))
def test_snapshot_round_trip(registrations, upto):
    timers = TimerService()
    for key, ts in registrations:
        timers.register(key, ts)
    copy = TimerService()
    copy.restore(json.loads(json.dumps(timers.snapshot())))
    assert list(copy.pop_due(upto)) == list(timers.pop_due(upto))
    assert copy.snapshot() == timers.snapshot()


def test_restore_rejects_corrupt_data():
    with pytest.raises(SnapshotError):
        TimerService().restore([[1.5, "a"]])
    with pytest.raises(SnapshotError):
        TimerService().restore([[1]])
