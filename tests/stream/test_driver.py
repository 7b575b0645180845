"""The keyed event-time operator, driven with a real recording processor."""

import json
from operator import itemgetter
from typing import Any, Hashable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cep.errors import EventTimeError, SnapshotError
from cep.stream import (
    END_OF_TIME,
    EventTimeDriver,
    TimerContext,
    decode_key,
    encode_key,
    make_time_getter,
)


class Recorder:
    """Writes what it sees to ``out``; with ``timeout``, asks for a timer at ``ts + timeout``
    for every event, like a ``within`` clause. Its state (per-key counts) shows up in the
    timer records, so losing it in a restore would change the output."""

    def __init__(self, out: list, timeout: int | None = None) -> None:
        self.out = out
        self.timeout = timeout
        self.counts: dict[Hashable, int] = {}

    def bind(self, timers: TimerContext) -> None:
        self.timers = timers

    def on_event(self, key: Hashable, ts: int, event: Any) -> None:
        self.counts[key] = self.counts.get(key, 0) + 1
        self.out.append(("event", ts, key, event["id"]))
        if self.timeout is not None:
            self.timers.register_timer(key, ts + self.timeout)

    def on_timer(self, key: Hashable, ts: int) -> None:
        self.out.append(("timer", ts, key, self.counts.get(key)))

    def snapshot(self) -> Any:
        return [[encode_key(k), n] for k, n in self.counts.items()]

    def restore(self, data: Any) -> None:
        self.counts = {decode_key(k): n for k, n in data}


def make(out, *, timeout=None, lateness=0, timed=True):
    return EventTimeDriver(
        Recorder(out, timeout),
        time_of=itemgetter("ts") if timed else None,
        key_of=itemgetter("k"),
        lateness_ms=lateness,
    )


def ev(ts, ident, key="a"):
    return {"ts": ts, "id": ident, "k": key}


def test_events_wait_for_the_watermark():
    out = []
    driver = make(out, lateness=5)
    driver.add(ev(10, 1))
    driver.add(ev(12, 2))
    assert out == [] and driver.watermark == 6 and driver.buffered == 2
    driver.add(ev(16, 3))  # watermark 10: releases ts 10 only
    assert out == [("event", 10, "a", 1)]
    driver.finish()
    assert [r[3] for r in out] == [1, 2, 3]
    assert driver.watermark == END_OF_TIME and driver.buffered == 0


def test_lateness_boundary_and_late_events_never_reach_processor():
    out = []
    driver = make(out, lateness=10)
    assert driver.add(ev(100, 1))
    assert driver.add(ev(90, 2))  # exactly `lateness` older than the newest: on time
    assert not driver.add(ev(89, 3))  # one ms more: late
    driver.finish()
    assert [r[3] for r in out] == [2, 1]
    assert (driver.accepted, driver.late) == (2, 1)
    assert not driver.add(ev(10**12, 4))  # after finish everything is late


def test_lateness_none_means_zero():
    driver = make([], lateness=None)
    driver.add(ev(100, 1))
    assert driver.add(ev(100, 2))  # same time as the newest is never late
    assert not driver.add(ev(99, 3))


def test_equal_timestamps_in_arrival_order():
    out = []
    driver = make(out, lateness=3)
    for ts, ident in [(5, 1), (4, 2), (5, 3), (4, 4), (5, 5)]:
        driver.add(ev(ts, ident))
    driver.finish()
    assert [r[3] for r in out] == [2, 4, 1, 3, 5]


def test_timers_fire_before_events_at_the_same_time():
    out = []
    driver = make(out, timeout=5, lateness=100)
    driver.register_timer("b", 7)
    for ts, ident in [(5, 1), (10, 2), (7, 3), (10, 4), (12, 5)]:
        driver.add(ev(ts, ident))
    driver.finish()
    assert out == [
        ("event", 5, "a", 1),
        ("timer", 7, "b", None),
        ("event", 7, "a", 3),
        ("timer", 10, "a", 2),  # registered by the event at 5: prunes before events at 10
        ("event", 10, "a", 2),
        ("event", 10, "a", 4),
        ("timer", 12, "a", 4),  # from the event at 7
        ("event", 12, "a", 5),
        ("timer", 15, "a", 5),
        ("timer", 17, "a", 5),
    ]


def test_timer_at_the_current_time_fires_before_the_next_event():
    out = []
    driver = make(out, timeout=0)
    for ts, ident in [(1, 1), (1, 2), (2, 3)]:
        driver.add(ev(ts, ident))
    driver.finish()
    assert [(r[0], r[1]) for r in out] == [
        ("event", 1), ("timer", 1), ("event", 1), ("timer", 1), ("event", 2), ("timer", 2)
    ]  # the second event re-registers (a, 1) after it fired, so it fires again


def test_timers_fire_without_new_events_when_the_watermark_advances():
    out = []
    driver = make(out, timeout=50)
    driver.add(ev(0, 1))
    driver.add(ev(1, 2))
    assert out == [("event", 0, "a", 1)]
    driver.advance_watermark(49)
    assert out[-1] == ("event", 1, "a", 2)
    driver.advance_watermark(50)
    assert out[-1] == ("timer", 50, "a", 2)
    driver.advance_watermark(10)  # never backwards
    assert driver.watermark == 50
    assert not driver.add(ev(50, 3))


def test_delete_timer():
    out = []
    driver = make(out)
    driver.register_timer("a", 5)
    driver.register_timer("a", 6)
    driver.delete_timer("a", 5)
    driver.delete_timer("a", 99)  # no such timer: a no-op
    driver.finish()
    assert out == [("timer", 6, "a", None)]


def test_finish_fires_every_timer_and_releases_everything():
    out = []
    driver = make(out, timeout=10**12, lateness=1000)
    for i, ts in enumerate([30, 10, 20]):
        driver.add(ev(ts, i))
    assert out == []
    driver.finish()
    assert [r[0] for r in out] == ["event"] * 3 + ["timer"] * 3
    assert driver.pending_timers == 0


def test_time_errors_propagate_and_change_nothing():
    out = []
    driver = EventTimeDriver(Recorder(out), time_of=make_time_getter(("ts",)),
                             key_of=itemgetter("k"), lateness_ms=0)
    with pytest.raises(EventTimeError, match="'ts'"):
        driver.add({"id": 1, "k": "a"})
    assert (driver.accepted, driver.late) == (0, 0)


def test_no_time_mode_processes_at_once_in_arrival_order():
    out = []
    driver = make(out, timeout=2, timed=False)
    assert driver.add({"ts": 99, "id": 1, "k": "a"})  # the ts field is ignored
    assert out == [("event", 0, "a", 1)]
    driver.add({"ts": 1, "id": 2, "k": "b"})
    driver.add({"ts": 1, "id": 3, "k": "a"})  # timer at 2 fires before the event with index 2
    assert out[1:] == [("event", 1, "b", 2), ("timer", 2, "a", 1), ("event", 2, "a", 3)]
    driver.finish()
    assert [r[:2] for r in out[4:]] == [("timer", 3), ("timer", 4)]
    assert driver.late == 0 and driver.accepted == 3


# -- snapshots -----------------------------------------------------------------------------


def round_trip(driver):
    return json.loads(json.dumps(driver.snapshot()))


def test_snapshot_is_versioned_json():
    driver = make([], timeout=5, lateness=3)
    driver.add({"ts": 5, "id": 1, "k": ("user", 7, None)})
    data = round_trip(driver)
    assert data["format"] == "cep.driver" and data["version"] == 1
    assert data["mode"] == "event_time" and data["lateness_ms"] == 3
    assert data["buffer"] == [[5, 0, {"t": ["user", 7, None]}, {"ts": 5, "id": 1,
                                                                 "k": ["user", 7, None]}]]


@pytest.mark.parametrize("key", ["s", 1, 2.5, None, True, (), ("a", (1, None), 2.0)])
def test_keys_round_trip_exactly(key):
    back = decode_key(json.loads(json.dumps(encode_key(key))))
    assert back == key and type(back) is type(key)


def test_unencodable_key():
    with pytest.raises(SnapshotError, match="frozenset"):
        encode_key(frozenset())


def test_restore_rejects_other_versions_formats_and_modes():
    data = round_trip(make([]))
    for bad in [{**data, "version": 2}, {**data, "format": "x"}, {**data, "seq": "1"}, [],
                {k: v for k, v in data.items() if k != "timers"}]:
        with pytest.raises(SnapshotError):
            make([]).restore(bad)
    with pytest.raises(SnapshotError, match="mode"):
        make([], timed=False).restore(data)


def run(events, split=None, *, timeout=None, lateness=0, timed=True):
    """Feed events (with a snapshot -> JSON -> restore into a fresh driver at ``split``)."""
    out: list = []
    driver = make(out, timeout=timeout, lateness=lateness, timed=timed)
    results = []
    for i, event in enumerate(events):
        if i == split:
            data = round_trip(driver)
            driver = make(out, timeout=timeout, lateness=lateness, timed=timed)
            driver.restore(data)
        results.append(driver.add(event))
    driver.finish()
    return out, results, (driver.accepted, driver.late)


keys = st.one_of(st.sampled_from(["a", "b"]), st.tuples(st.sampled_from(["x", "y"]), st.integers(0, 1)))
streams = st.lists(st.tuples(st.integers(0, 40), keys), max_size=40).map(
    lambda items: [{"ts": ts, "id": i, "k": k} for i, (ts, k) in enumerate(items)]
)


@settings(max_examples=200)
@given(streams, st.data(), st.none() | st.integers(0, 10), st.integers(0, 8), st.booleans())
def test_snapshot_restore_continue_equals_uninterrupted(events, data, timeout, lateness, timed):
    split = data.draw(st.integers(0, len(events)))
    expected = run(events, timeout=timeout, lateness=lateness, timed=timed)
    assert run(events, split, timeout=timeout, lateness=lateness, timed=timed) == expected


# -- reordering within the allowed lateness changes nothing ----------------------------------


def bounded_delay(timestamps, delays):
    """Arrival order where each event arrives at ts + delay (delay <= lateness): then every
    event's ts >= (max ts seen before it) - lateness, i.e. none is late."""
    arrival = sorted(range(len(timestamps)), key=lambda i: (timestamps[i] + delays[i], i))
    return [{"ts": timestamps[i], "id": i, "k": "ab"[i % 2]} for i in arrival]


@settings(max_examples=300)
@given(st.data(), st.integers(0, 20), st.none() | st.integers(0, 15))
def test_distinct_timestamps_any_allowed_order_same_output(data, lateness, timeout):
    timestamps = data.draw(st.lists(st.integers(0, 200), unique=True, max_size=30))
    delays = data.draw(st.lists(st.integers(0, lateness), min_size=len(timestamps),
                                max_size=len(timestamps)))
    shuffled = bounded_delay(timestamps, delays)
    in_order = bounded_delay(timestamps, [0] * len(timestamps))
    out, results, counts = run(shuffled, timeout=timeout, lateness=lateness)
    assert all(results) and counts == (len(timestamps), 0)
    assert out == run(in_order, timeout=timeout, lateness=lateness)[0]
    assert [r[1] for r in out if r[0] == "event"] == sorted(timestamps)


@settings(max_examples=300)
@given(st.data(), st.integers(0, 20))
def test_equal_timestamps_keep_arrival_order(data, lateness):
    timestamps = data.draw(st.lists(st.integers(0, 30), max_size=30))
    delays = data.draw(st.lists(st.integers(0, lateness), min_size=len(timestamps),
                                max_size=len(timestamps)))
    arrived = bounded_delay(timestamps, delays)
    out, results, _ = run(arrived, lateness=lateness)
    assert all(results)
    # A stable sort by ts of the arrival sequence: ties stay in arrival order.
    expected = sorted(arrived, key=lambda e: e["ts"])
    assert [r[3] for r in out] == [e["id"] for e in expected]


def time_or_fail(event):
    if event["ts"] is None:
        raise EventTimeError("time field 'ts': is null")
    return event["ts"]


@settings(max_examples=300)
@given(
    st.lists(st.tuples(st.one_of(st.none(), st.integers(0, 40)), keys), max_size=40).map(
        lambda items: [{"ts": ts, "id": i, "k": k} for i, (ts, k) in enumerate(items)]
    ),
    st.data(),
    st.none() | st.integers(0, 10),
    st.integers(0, 8),
    st.booleans(),
    st.booleans(),
)
def test_add_many_equals_add_one_by_one(events, data, timeout, lateness, timed, ordered):
    """Batches of any size give the same processor calls, statuses and counters as add(),
    in time order (the reorder buffer) and in arrival order (ordered=False)."""

    def build(out):
        return EventTimeDriver(
            Recorder(out, timeout),
            time_of=time_or_fail if timed else None,
            key_of=itemgetter("k"),
            lateness_ms=lateness,
            ordered=ordered,
        )

    one_out: list = []
    one = build(one_out)
    expected = []
    for index, event in enumerate(events):
        try:
            if not one.add(event):
                expected.append((index, None))
        except EventTimeError as exc:
            expected.append((index, str(exc)))
    one.finish()

    cuts = sorted(data.draw(st.lists(st.integers(0, len(events)), max_size=4)))
    many_out: list = []
    many = build(many_out)
    got = []
    start = 0
    for cut in [*cuts, len(events)]:
        got.extend((start + i, reason) for i, reason in many.add_many(events[start:cut]))
        start = cut
    many.finish()

    assert got == (expected if timed else [p for p in expected if p[1] is not None])
    assert many_out == one_out
    assert (many.accepted, many.late, many.invalid) == (one.accepted, one.late, one.invalid)


def test_unbuffered_mode_processes_at_once_with_event_timestamps():
    """Flink's NFA test harness style: arrival order, own timestamps, timers by event time."""
    out: list = []
    driver = EventTimeDriver(Recorder(out, timeout=10), time_of=itemgetter("ts"), key_of=itemgetter("k"),
                             buffered=False)
    for event in (ev(5, 0), ev(3, 1), ev(16, 2), ev(40, 3, key="b")):
        assert driver.add(event) is True  # nothing is late
    assert out == [
        ("event", 5, "a", 0),
        ("event", 3, "a", 1),  # out of order, processed as it came
        ("timer", 13, "a", 2),  # due before the event at 16
        ("timer", 15, "a", 2),
        ("event", 16, "a", 2),
        ("timer", 26, "a", 3),
        ("event", 40, "b", 3),
    ]
    data = json.loads(json.dumps(driver.snapshot()))
    assert data["mode"] == "immediate"


def test_unordered_mode_gives_events_on_arrival_but_still_refuses_late_ones():
    out: list = []
    driver = EventTimeDriver(Recorder(out, timeout=10), time_of=itemgetter("ts"), key_of=itemgetter("k"),
                             lateness_ms=5, ordered=False)
    assert driver.add(ev(20, 0)) is True
    assert driver.add(ev(16, 1)) is True  # out of order, within lateness: straight through
    assert driver.add(ev(14, 2)) is False  # 14 <= watermark 14: late
    assert driver.add(ev(40, 3)) is True  # watermark 34: the timers at 30 and 26 fire first
    assert out == [("event", 20, "a", 0), ("event", 16, "a", 1), ("timer", 26, "a", 2), ("timer", 30, "a", 2),
                   ("event", 40, "a", 3)]


@settings(max_examples=200)
@given(st.lists(st.integers(0, 60), max_size=40), st.integers(0, 8), st.booleans())
def test_the_driver_follows_the_watermark_rule_of_bounded_out_of_orderness(stamps, lateness, ordered):
    """The driver inlines the watermark for speed; it must agree with the tracker that states
    the rule (newest - lateness - 1; late iff ts <= watermark) after every event."""
    from cep.stream.watermarks import BoundedOutOfOrderness

    tracker = BoundedOutOfOrderness(lateness).create()
    driver = EventTimeDriver(Recorder([]), time_of=itemgetter("ts"), key_of=itemgetter("k"),
                             lateness_ms=lateness, ordered=ordered)
    for i, ts in enumerate(stamps):
        late = tracker.is_late(ts)
        if not late:
            tracker.observe(ts)
        assert driver.add(ev(ts, i)) is not late
        assert driver.watermark == tracker.current
