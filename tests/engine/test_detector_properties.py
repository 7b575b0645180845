"""Whole-engine properties: the real parser, compiler, NFA and event-time driver together."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

import cep
from cep.detector import Detector
from cep.errors import EventError

SMALL_THEN_BIG = open("patterns/small_then_big.cep", encoding="utf-8").read()

# A pattern that keeps a lot of state alive: non-deterministic branching, a loop, a window.
STATEFUL = """
pattern spree
  from transactions
  key card_id
  time ts lateness 3s
  match small then any mid+ then big within 20s
  define
    small as amount < 1
    mid as amount between 1 and 100
    big as amount > 500
  skip none
  emit card_id, small.ts as first_ts, count(mid) as mids, big.ts as last_ts
"""

LATENESS_MS = {"small_then_big": 5000, "spree": 3000}

amounts = st.sampled_from([0.05, 0.5, 20, 50, 900, "n/a", None])


@st.composite
def transactions(draw, max_size=40, max_gap_ms=9000):
    n = draw(st.integers(0, max_size))
    t = 1_704_067_200_000
    events = []
    for i in range(n):
        t += draw(st.integers(1, max_gap_ms))  # distinct times: ties legitimately depend on arrival
        events.append({"card_id": draw(st.sampled_from(["c1", "c2", "c3"])), "amount": draw(amounts), "ts": t, "n": i})
    return events


def run(source: str, events: list[dict]) -> list[dict]:
    out: list[cep.Match] = []
    detector = Detector(cep.compile_patterns(source), out.append)
    for event in events:
        detector.feed("transactions", event)
    detector.finish()
    return [m.to_record() for m in out]


def arrival_order(events, delays):
    """Each event arrives at ts + delay; sorting by arrival time keeps every event on time."""
    return [e for _, _, e in sorted((e["ts"] + d, i, e) for i, (e, d) in enumerate(zip(events, delays)))]


@settings(max_examples=150, deadline=None)
@given(data=st.data(), source=st.sampled_from([SMALL_THEN_BIG, STATEFUL]))
def test_any_arrival_order_within_lateness_gives_the_same_alerts(data, source):
    events = data.draw(transactions())
    lateness = LATENESS_MS["spree" if "spree" in source else "small_then_big"]
    delays = data.draw(st.lists(st.integers(0, lateness), min_size=len(events), max_size=len(events)))
    assert run(source, arrival_order(events, delays)) == run(source, events)


@settings(max_examples=150, deadline=None)
@given(events=transactions(), cut=st.integers(0, 40), source=st.sampled_from([SMALL_THEN_BIG, STATEFUL]))
def test_snapshot_and_restore_mid_stream_changes_nothing(events, cut, source):
    cut = min(cut, len(events))
    patterns = cep.compile_patterns(source)
    expected = run(source, events)

    out: list[cep.Match] = []
    first = Detector(patterns, out.append)
    for event in events[:cut]:
        first.feed("transactions", event)
    snapshot = json.loads(json.dumps(first.snapshot()))  # must survive a real serialisation

    second = Detector(cep.compile_patterns(source), out.append)
    second.restore(snapshot)
    for event in events[cut:]:
        second.feed("transactions", event)
    second.finish()
    assert [m.to_record() for m in out] == expected
    assert second.stats.events == len(events)


def test_late_events_never_take_part_in_a_match():
    events = [
        {"card_id": "c1", "amount": 900, "ts": 100_000},
        {"card_id": "c2", "amount": 5, "ts": 200_000},  # watermark now 194_999
        {"card_id": "c1", "amount": 0.05, "ts": 99_000},  # late: would pair with nothing anyway
        {"card_id": "c1", "amount": 0.05, "ts": 194_999},  # late by exactly the boundary
        {"card_id": "c1", "amount": 900, "ts": 195_000},  # on time
    ]
    out: list[cep.Match] = []
    detector = Detector(cep.compile_patterns(SMALL_THEN_BIG), out.append)
    statuses = [detector.feed("transactions", e) for e in events]
    detector.finish()
    assert statuses == [cep.detector.ACCEPTED, cep.detector.ACCEPTED, cep.detector.LATE, cep.detector.LATE,
                        cep.detector.ACCEPTED]
    assert out == []
    assert detector.stats.late == 2


def test_event_exactly_lateness_old_is_on_time_and_matches():
    events = [
        {"card_id": "c2", "amount": 5, "ts": 200_000},
        {"card_id": "c1", "amount": 0.05, "ts": 195_000},  # exactly 5 s older than the newest
        {"card_id": "c1", "amount": 900, "ts": 196_000},
    ]
    records = run(SMALL_THEN_BIG, events)
    assert [(r["key"], r["small_amount"], r["big_amount"]) for r in records] == [("c1", 0.05, 900)]


def test_unusable_events_raise_event_error_with_a_reason_and_are_counted():
    detector = Detector(cep.compile_patterns(SMALL_THEN_BIG), lambda m: None)
    reasons = []
    for bad in ([1, 2], {"amount": 1, "ts": 5}, {"card_id": "c1", "amount": 1}, {"card_id": "c1", "ts": "soon"}):
        try:
            detector.feed("transactions", bad)
        except EventError as exc:
            reasons.append(str(exc))
    assert len(reasons) == 4
    assert "not a JSON object" in reasons[0]
    assert "card_id" in reasons[1]
    assert "'ts'" in reasons[2] and "missing" in reasons[2]
    assert "soon" in reasons[3]
    assert detector.stats.invalid == 4


def test_within_prunes_partial_matches_when_time_passes_without_events():
    source = SMALL_THEN_BIG.replace("small next big", "small then big")
    detector = Detector(cep.compile_patterns(source), lambda m: None)
    operator = detector.runners[0].operator
    detector.feed("transactions", {"card_id": "quiet", "amount": 0.05, "ts": 0})
    detector.feed("transactions", {"card_id": "other", "amount": 20, "ts": 30_000})
    assert operator.partial_matches == 1  # the quiet card waits for its big charge
    detector.feed("transactions", {"card_id": "other", "amount": 20, "ts": 66_000})  # watermark 60_999
    assert operator.partial_matches == 0  # pruned by the timer at 0 + 60 s, no event of "quiet" needed
    assert "quiet" not in operator.keys
