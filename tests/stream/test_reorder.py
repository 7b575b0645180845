import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cep.errors import SnapshotError
from cep.stream.reorder import ReorderBuffer


def test_release_in_time_order_ties_by_arrival():
    buf = ReorderBuffer()
    for ts, name in [(5, "a"), (3, "b"), (5, "c"), (1, "d"), (3, "e"), (9, "f")]:
        buf.push(ts, "k", name)
    assert [e for _, _, e in buf.release(5)] == ["d", "b", "e", "a", "c"]
    assert len(buf) == 1
    assert list(buf.release(8)) == []
    assert list(buf.release(9)) == [(9, "k", "f")]


def test_keys_and_events_are_never_compared():
    buf = ReorderBuffer()
    buf.push(1, ("x", 1), {"a": 1})
    buf.push(1, None, {"b": 2})  # a tuple key and None: unorderable, and dicts too
    assert [k for _, k, _ in buf.release(1)] == [("x", 1), None]


@given(st.lists(st.tuples(st.integers(-50, 50), st.integers(0, 3))), st.integers(-60, 60))
def test_snapshot_round_trip_preserves_release_order(items, split_wm):
    buf = ReorderBuffer()
    for i, (ts, key) in enumerate(items):
        buf.push(ts, key, i)
    copy = ReorderBuffer()
    copy.restore(json.loads(json.dumps(buf.snapshot())))
    copy.push(0, 0, "after")
    buf.push(0, 0, "after")
    assert list(copy.release(split_wm)) == list(buf.release(split_wm))
    assert list(copy.release(100)) == list(buf.release(100))


def test_restore_rejects_corrupt_data():
    with pytest.raises(SnapshotError):
        ReorderBuffer().restore({"entries": []})
    with pytest.raises(SnapshotError):
        ReorderBuffer().restore({"seq": 1, "entries": [[1, 5, "k", {}]]})
