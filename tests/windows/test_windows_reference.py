"""Window patterns against a naive reference: group by key and window, aggregate in one pass.

The reference applies the same lateness rule (watermark = newest time - lateness - 1; an event at
or behind it is dropped) and then computes each window from scratch, with plain Python.
"""

from __future__ import annotations

import json
import math
import statistics

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import cep
from cep.detector import Detector

LATENESS = 3000
AGGS = ("count() as n, sum(v) as s, avg(v) as a, min(v) as lo, max(v) as hi, first(v) as f, last(v) as l, "
        "stddev(v) as sd, distinct_count(v) as d")


def source(window: str) -> str:
    return f"""
pattern w
  from s
  key k
  time ts lateness 3s
  window {window}
  emit k, {AGGS}, window.start as ws, window.end as we
"""


def on_time(events):
    """The reference lateness rule: what survives, in event-time order (ties by arrival)."""
    kept, newest = [], None
    for arrival, e in enumerate(events):
        if newest is not None and e["ts"] <= newest - LATENESS - 1:
            continue
        kept.append((e["ts"], arrival, e))
        newest = e["ts"] if newest is None else max(newest, e["ts"])
    kept.sort(key=lambda t: (t[0], t[1]))
    return [e for _, _, e in kept]


def aggregates(values):
    nums = [v for v in values if isinstance(v, int) and not isinstance(v, bool)]
    present = [v for v in values if v is not None]
    strs = [v for v in values if isinstance(v, str)]
    return {
        "n": len(values),
        "s": sum(nums) if nums else None,
        "a": sum(nums) / len(nums) if nums else None,
        "lo": min(nums) if nums else (min(strs) if strs else None),
        "hi": max(nums) if nums else (max(strs) if strs else None),
        "f": present[0] if present else None,
        "l": present[-1] if present else None,
        "sd": statistics.stdev(nums) if len(nums) >= 2 else None,
        "d": len(set(map(json.dumps, present))),
    }


def reference(kind, events, size=10_000, slide=None, gap=None, count=None, every=None):
    events = on_time(events)
    by_key: dict[str, list[dict]] = {}
    for e in events:
        by_key.setdefault(e["k"], []).append(e)
    out = []
    for key, evs in by_key.items():
        windows = []
        if kind == "tumbling":
            starts = sorted({e["ts"] - e["ts"] % size for e in evs})
            windows = [(s, s + size, [e for e in evs if s <= e["ts"] < s + size]) for s in starts]
        elif kind == "sliding":
            aligned = {e["ts"] - e["ts"] % slide - j * slide for e in evs for j in range(size // slide + 2)}
            starts = sorted(s for s in aligned if any(s <= e["ts"] < s + size for e in evs))
            windows = [(s, s + size, [e for e in evs if s <= e["ts"] < s + size]) for s in starts]
        elif kind == "session":
            group = [evs[0]]
            for e in evs[1:]:
                if e["ts"] - group[-1]["ts"] >= gap:
                    windows.append((group[0]["ts"], group[-1]["ts"] + gap, group))
                    group = []
                group.append(e)
            windows.append((group[0]["ts"], group[-1]["ts"] + gap, group))
        elif kind == "rolling":
            windows = [(e["ts"] - size, e["ts"], [x for x in evs[: i + 1] if x["ts"] >= e["ts"] - size])
                       for i, e in enumerate(evs)]
        elif kind == "count":
            step = every or count
            for end in range(count, len(evs) + 1, step):
                chunk = evs[end - count:end]
                windows.append((chunk[0]["ts"], chunk[-1]["ts"], chunk))
        for start, end, members in windows:
            record = {"k": key, "ws": start, "we": end, **aggregates([m.get("v") for m in members])}
            out.append(record)
    return out


def run(window: str, events):
    out: list[cep.Match] = []
    detector = Detector(cep.compile_patterns(source(window)), out.append)
    for e in events:
        detector.feed("s", e)
    detector.finish()
    return [{k: v for k, v in m.fields.items()} for m in out]


def normalise(records):
    def fix(r):
        return {k: (round(v, 6) if isinstance(v, float) and not math.isnan(v) else v) for k, v in r.items()}
    return sorted((fix(r) for r in records), key=lambda r: json.dumps(r, sort_keys=True))


@st.composite
def readings(draw):
    n = draw(st.integers(0, 30))
    t = 0
    events = []
    for i in range(n):
        t += draw(st.integers(0, 4000))
        events.append({"k": draw(st.sampled_from(["a", "b"])), "ts": t,
                       "v": draw(st.one_of(st.integers(-5, 5), st.none(), st.just("x"))), "i": i})
    # arrival order: each event delayed by up to 2x the lateness, so some become late
    delays = draw(st.lists(st.integers(0, 2 * LATENESS), min_size=n, max_size=n))
    return [e for _, _, e in sorted((e["ts"] + d, i, e) for i, (e, d) in enumerate(zip(events, delays)))]


CASES = [
    ("tumbling 10s", dict(kind="tumbling", size=10_000)),
    ("sliding 10s every 4s", dict(kind="sliding", size=10_000, slide=4000)),
    ("session 5s", dict(kind="session", gap=5000)),
    ("rolling 10s", dict(kind="rolling", size=10_000)),
    ("count 3", dict(kind="count", count=3)),
    ("count 3 every 2", dict(kind="count", count=3, every=2)),
    ("count 2 every 3", dict(kind="count", count=2, every=3)),
]


@pytest.mark.parametrize(("window", "params"), CASES, ids=[c[0] for c in CASES])
@settings(max_examples=120, deadline=None)
@given(events=readings())
def test_windows_agree_with_the_naive_reference(window, params, events):
    assert normalise(run(window, events)) == normalise(reference(events=events, **params))


ORDER_FREE = "count() as n, sum(v) as s, avg(v) as a, min(v) as lo, max(v) as hi, stddev(v) as sd, distinct_count(v) as d"


@settings(max_examples=150, deadline=None)
@given(events=readings())
def test_arrival_order_tumbling_windows_match_the_reference_in_order(events):
    """Tumbling windows of order-free aggregates take events as they arrive (no reorder buffer):
    same windows, same values, and the same firing order as the ordered path — by window end,
    then by the (time, arrival) of each window's first on-time event."""
    src = f"""
pattern w
  from s
  key k
  time ts lateness 3s
  window tumbling 10s
  emit k, {ORDER_FREE}, window.start as ws, window.end as we, i as last_i
"""
    detector = Detector(cep.compile_patterns(src), (out := []).append)
    assert detector.runners[0].operator.ordered is False  # the path under test
    for e in events:
        detector.feed("s", e)
    detector.finish()
    got = [dict(m.fields) for m in out]

    kept = on_time(events)  # in (time, arrival) order
    arrival = {id(e): i for i, e in enumerate(events)}
    windows: dict[tuple[str, int], list[dict]] = {}
    for e in kept:
        windows.setdefault((e["k"], e["ts"] - e["ts"] % 10_000), []).append(e)
    order = sorted(windows, key=lambda w: (w[1] + 10_000, windows[w][0]["ts"], arrival[id(windows[w][0])]))
    expected = []
    for key, start in order:
        members = windows[(key, start)]
        agg = aggregates([m.get("v") for m in members])
        expected.append({"k": key, **{f: agg[f] for f in ("n", "s", "a", "lo", "hi", "sd", "d")},
                         "ws": start, "we": start + 10_000, "last_i": members[-1]["i"]})

    def rounded(rows):
        return [{k: round(v, 6) if isinstance(v, float) else v for k, v in r.items()} for r in rows]

    assert rounded(got) == rounded(expected)
