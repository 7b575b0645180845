"""The generated tumbling-window batch loop (cep.stream.fused) against the unfused path.

Replay feeds a tumbling window of order-free aggregates through one generated function that
inlines the driver, the time and key getters, the operator and the aggregate plan. Feeding the
same events one at a time (``Detector.feed``) takes the unfused path. Both must agree on
everything observable: each event's fate (accepted, late, unusable and why), the alerts and
their order, the counters, and the snapshot (so a checkpoint taken by either restores into the
other).
"""

from __future__ import annotations

import json
import types

from hypothesis import given, settings
from hypothesis import strategies as st

import cep
from cep.detector import Detector
from cep.errors import EventError
from cep.stream.rolling import RollingOperator

AGGS = "count() as n, sum(v) as s, avg(v) as a, min(v) as lo, max(v) as hi, stddev(v) as sd, distinct_count(v) as d"


# `key k` reads a plain field, inlined in the generated loops; `key k, g` (two fields) takes the
# loops' other head, which calls the key getter.
KEYS = st.sampled_from(["k", "k, g"])


def pattern(unit: str, where: bool, window: str = "tumbling 5s", having: str = "", key: str = "k") -> str:
    return f"""
pattern w
  from s{" where v != 3" if where else ""}
  key {key}
  time ts {unit} lateness 2s
  window {window}
  {having}
  emit k, {AGGS}, window.start as ws, window.end as we, i as last_i
"""


def unfused(detector: Detector) -> Detector:
    """Make the detector's rolling operator step through the hand-written method."""
    operator = detector.runners[0].operator
    operator.on_event = types.MethodType(RollingOperator.on_event, operator)
    detector.runners[0].driver._on_event = operator.on_event
    return detector


_MISSING = object()


def spelled(ms: int, unit_scale: int, how: str):
    """A time in one of the spellings a log may hold (numbers are inlined, the rest is not)."""
    clock = f"{ms // 60_000 % 60:02d}:{ms // 1000 % 60:02d}.{ms % 1000:03d}"
    if how == "iso":
        return f"1970-01-01T{ms // 3_600_000:02d}:{clock}Z"
    if how == "offset":  # the same instant written in UTC+01:00
        return f"1970-01-01T{ms // 3_600_000 + 1:02d}:{clock}+01:00"
    if how == "naive":
        return f"1970-01-01T{ms // 3_600_000:02d}:{clock}"
    if how == "number":
        return ms // unit_scale
    return {"huge": 10**18, "null": None, "word": "soon", "float": 1.5, "bool": True, "list": [1]}[how]


def events(unit_scale: int):
    """Mostly-increasing times (steps of about a second, hitting window edges and the watermark
    exactly) with jumps back within and beyond the lateness, a few keys, some broken events."""
    step = st.sampled_from([0, 1, 999, 1000, 1000, 1001, 2000, 3000])
    back = st.sampled_from([0, 0, 0, 0, 1, 1999, 2000, 2001, 5000])
    how = st.sampled_from(["number"] * 6 + ["iso"] * 3 + ["offset", "naive", "huge", "null", "word", "float",
                                                          "bool", "list"])
    key = st.sampled_from(["a", "b", "a", "b", "c", 7, None, {"x": 1}, _MISSING])
    value = st.one_of(st.integers(-5, 5), st.none(), st.sampled_from(["x", "y"]))

    def build(rows):
        out, now = [], 10_000
        for i, (forward, backward, spelling, k, v) in enumerate(rows):
            now += forward
            ms = max(0, now - backward)
            if unit_scale > 1:
                ms -= ms % unit_scale
            e = {"ts": spelled(ms, unit_scale, spelling), "v": v, "i": i, "g": i % 2}
            if k is not _MISSING:
                e["k"] = k
            out.append(e)
        return out

    return st.lists(st.tuples(step, back, how, key, value), max_size=60).map(build)


def by_one(detector: Detector, evs: list[dict]) -> list[tuple[int, str | None]]:
    problems = []
    for index, e in enumerate(evs):
        try:
            if detector.feed("s", e) == cep.detector.LATE:
                problems.append((index, None))
        except EventError as exc:
            problems.append((index, str(exc)))
    return problems


def in_batches(detector: Detector, evs: list[dict], cuts: list[int]) -> list[tuple[int, str | None]]:
    feed = detector.batch_feeder("s")
    problems, start = [], 0
    for end in sorted({c % (len(evs) + 1) for c in cuts} | {len(evs)}):
        problems += [(start + i, reason) for i, reason in feed(evs[start:end])]
        start = end
    return problems


def assert_same(source: str, data: st.DataObject, unit: str, hand_written_step: bool = False) -> None:
    """Feed random events to two detectors of ``source``: one in random batches (the generated
    loops), one event at a time (the driver's per-event ``add``, and with ``hand_written_step``
    the rolling operator's hand-written method). Everything observable must agree."""
    evs = data.draw(events(1000 if unit == "seconds" else 1))
    cuts = data.draw(st.lists(st.integers(0, 100), max_size=5))
    patterns = cep.compile_patterns(source)
    slow_out, fast_out = [], []
    slow, fast = Detector(patterns, slow_out.append), Detector(patterns, fast_out.append)
    if hand_written_step:
        unfused(slow)
    assert hasattr(fast.runners[0].driver.add_many, "source"), "the generated loop is installed"

    assert in_batches(fast, evs, cuts) == by_one(slow, evs)
    assert fast.stats == slow.stats
    assert json.dumps(fast.snapshot()) == json.dumps(slow.snapshot())
    fast.finish()
    slow.finish()
    assert [m.fields for m in fast_out] == [m.fields for m in slow_out]


@settings(max_examples=200, deadline=None)
@given(data=st.data(), unit=st.sampled_from(["millis", "seconds"]), where=st.booleans(), key=KEYS)
def test_the_fused_loop_is_the_unfused_path(data, unit, where, key):
    assert_same(pattern(unit, where, key=key), data, unit)


def test_a_snapshot_of_the_fused_path_restores_and_continues():
    patterns = cep.compile_patterns(pattern("millis", False))
    evs = [{"k": k, "ts": t, "v": v, "i": i} for i, (k, t, v) in enumerate(
        [("a", 1000, 1), ("b", 1500, 2), ("a", 4000, 3), ("a", 6000, 4), ("b", 9000, 5), ("a", 12000, 6)])]
    whole_out = []
    whole = Detector(patterns, whole_out.append)
    whole.batch_feeder("s")(evs)
    whole.finish()

    first_out, second_out = [], []
    first = Detector(patterns, first_out.append)
    first.batch_feeder("s")(evs[:3])
    second = Detector(patterns, second_out.append)
    second.restore(json.loads(json.dumps(first.snapshot())))
    second.batch_feeder("s")(evs[3:])
    second.finish()
    assert [m.fields for m in first_out + second_out] == [m.fields for m in whole_out]
    assert [(m.fields["k"], m.fields["n"]) for m in whole_out] == [("a", 2), ("b", 1), ("a", 1), ("b", 1), ("a", 1)]


def test_the_watermark_boundary_is_the_same_on_both_paths():
    """An event exactly at the watermark (newest - lateness - 1) is late; one ms later it is not."""
    patterns = cep.compile_patterns(pattern("millis", False))
    evs = [{"k": "a", "ts": 5000, "v": 1}, {"k": "a", "ts": 2999, "v": 2}, {"k": "a", "ts": 3000, "v": 3}]
    fast = Detector(patterns, [].append)
    slow = Detector(patterns, [].append)
    assert fast.batch_feeder("s")(evs) == by_one(slow, evs) == [(1, None)]


@settings(max_examples=150, deadline=None)
@given(data=st.data(), unit=st.sampled_from(["millis", "seconds"]), where=st.booleans(), key=KEYS,
       having=st.sampled_from(["", "having count() > 1", "having window.end > 20000"]))
def test_the_fused_rolling_window_is_the_hand_written_one(data, unit, where, key, having):
    """Rolling windows: the batch loop with the step inlined, and the generated step, against the
    hand-written step fed one event at a time (sweeps, the having filter, where, errors)."""
    assert_same(pattern(unit, where, "rolling 3s", having, key), data, unit, hand_written_step=True)


@settings(max_examples=100, deadline=None)
@given(data=st.data(), unit=st.sampled_from(["millis", "seconds"]), key=KEYS,
       window=st.sampled_from(["", "sliding 4s every 2s", "session 2s", "count 2"]))
def test_the_generated_driver_loops_feed_any_processor_as_add_does(data, unit, key, window):
    """Every other pattern (a sequence; sliding, session and count windows) gets the driver's
    generated batch loop; it must treat every event as the per-event ``add`` does."""
    if window:
        assert_same(pattern(unit, False, window, key=key), data, unit)
        return
    assert_same(f"""
pattern seq
  from s
  key {key}
  time ts {unit} lateness 2s
  match a then b within 3s
  define a as v > 0
         b as v < 0
  emit k, a.i as first, b.i as second
""", data, unit)
