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

from hypothesis import given, settings
from hypothesis import strategies as st

import cep
from cep.detector import Detector
from cep.errors import EventError

AGGS = "count() as n, sum(v) as s, avg(v) as a, min(v) as lo, max(v) as hi, stddev(v) as sd, distinct_count(v) as d"


def pattern(unit: str, where: bool) -> str:
    return f"""
pattern w
  from s{" where v != 3" if where else ""}
  key k
  time ts {unit} lateness 2s
  window tumbling 5s
  emit k, {AGGS}, window.start as ws, window.end as we, i as last_i
"""


def times(unit_scale: int):
    # Whole seconds give equal times, and the -1/+1 ms neighbours hit the watermark
    # (newest - 2001) and window edges exactly.
    base = st.integers(0, 40).map(lambda s: s * 1000 // unit_scale)
    if unit_scale == 1:
        base = st.tuples(base, st.sampled_from([-1, 0, 0, 1])).map(lambda t: max(0, t[0] + t[1]))
    return st.one_of(
        base, base, base,  # epoch numbers, the inlined case (weighted up)
        base.map(lambda t: t * unit_scale).map(  # ISO strings: the getter's own path
            lambda ms: f"1970-01-01T00:{ms // 60_000:02d}:{ms // 1000 % 60:02d}.{ms % 1000:03d}Z"),
        st.just(10**18),  # out of range: an error with the getter's reason
        st.sampled_from([None, "soon", 1.5, True, [1]]),
    )


def events(unit_scale: int):
    event = st.fixed_dictionaries(
        {"ts": times(unit_scale)},
        optional={"k": st.sampled_from(["a", "b", "c", None, 7, {"x": 1}]),
                  "v": st.one_of(st.integers(-5, 5), st.none(), st.sampled_from(["x", "y"]))},
    )
    return st.lists(event, max_size=60).map(lambda es: [{**e, "i": i} for i, e in enumerate(es)])


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


@settings(max_examples=200, deadline=None)
@given(data=st.data(), unit=st.sampled_from(["millis", "seconds"]), where=st.booleans())
def test_the_fused_loop_is_the_unfused_path(data, unit, where):
    evs = data.draw(events(1000 if unit == "seconds" else 1))
    cuts = data.draw(st.lists(st.integers(0, 100), max_size=5))
    patterns = cep.compile_patterns(pattern(unit, where))
    slow_out, fast_out = [], []
    slow, fast = Detector(patterns, slow_out.append), Detector(patterns, fast_out.append)
    assert hasattr(fast.runners[0].driver.add_many, "source"), "the fused loop is installed"

    assert in_batches(fast, evs, cuts) == by_one(slow, evs)
    assert fast.stats == slow.stats
    assert json.dumps(fast.snapshot()) == json.dumps(slow.snapshot())
    fast.finish()
    slow.finish()
    assert [m.fields for m in fast_out] == [m.fields for m in slow_out]


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
