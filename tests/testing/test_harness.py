"""cep.testing.Harness drives the real detector: buffering, lateness, timers, unbuffered mode."""

from __future__ import annotations

from pathlib import Path

import pytest

from cep import EventError, EventTimeError, Match, PatternError
from cep.errors import CepError, StateError
from cep.testing import Harness

ROOT = Path(__file__).resolve().parents[2]
SMALL_THEN_BIG = ROOT / "patterns" / "small_then_big.cep"

SMALL = {"card_id": "c1", "amount": 0.05, "ts": "2024-01-01T00:00:00Z"}
BIG = {"card_id": "c1", "amount": 900, "ts": "2024-01-01T00:00:20Z"}

# `b` must carry the `x` of its `a`: a run started by an earlier `a` can stay alive while a later
# one completes, so with `skip past last` the completed match is held until the earlier run
# dies — which, with nothing else arriving, only the `within` timer can cause.
HELD = """
pattern pair
  from s
  key k
  time ts
  match a then b within 10s
  define
    a as x > 0
    b as y == a.x
  emit a.x as x, b.ts as b_ts
"""
HELD_EVENTS = [{"k": "k", "x": 1, "ts": 0}, {"k": "k", "x": 2, "ts": 1000}, {"k": "k", "y": 2, "ts": 2000}]


def test_buffered_harness_emits_when_the_watermark_passes_the_events():
    h = Harness.from_file(SMALL_THEN_BIG)
    assert h.feed([SMALL, BIG]) == []  # the big charge waits for the watermark (lateness 5s)
    out = h.finish()
    assert len(out) == 1 and h.matches == out and h.timeouts == []
    match = out[0]
    assert isinstance(match, Match)
    assert match.pattern == "small_then_big" and match.key == "c1"
    assert match.fields == {"card_id": "c1", "small_amount": 0.05, "big_amount": 900,
                            "small_ts": SMALL["ts"], "big_ts": BIG["ts"]}
    assert match.events == {"small": [SMALL], "big": [BIG]}
    assert match.time_value == BIG["ts"] and match.time == 1_704_067_220_000


def test_a_later_event_moves_the_watermark_and_releases_the_match():
    h = Harness.from_file(SMALL_THEN_BIG)
    h.feed([SMALL, BIG])
    # 5s of lateness: an event at 00:00:25.001 puts the watermark at 00:00:20, passing BIG.
    out = h.feed({"card_id": "c9", "amount": 1, "ts": "2024-01-01T00:00:25.001Z"})
    assert [m.fields["big_amount"] for m in out] == [900]


def test_unbuffered_harness_emits_at_once_and_never_flushes_by_itself():
    h = Harness.from_file(SMALL_THEN_BIG, buffered=False)
    assert h.feed([SMALL]) == []
    out = h.feed([BIG])
    assert [m.fields["small_amount"] for m in out] == [0.05]
    # An event far in the past is not late in this mode: it is processed, in arrival order.
    h.feed({"card_id": "c2", "amount": 0.01, "ts": "2023-01-01T00:00:00Z"})
    assert h.late == [] and h.stats.late == 0 and h.stats.accepted == 3


def test_unbuffered_mode_keeps_arrival_order_where_buffered_mode_sorts():
    # BIG arrives first with an earlier time than SMALL's: event-time order is small, big.
    early_big = dict(BIG, ts="2024-01-01T00:00:01Z")
    late_small = dict(SMALL, ts="2024-01-01T00:00:00Z")
    buffered = Harness.from_file(SMALL_THEN_BIG)
    buffered.feed([early_big, late_small])
    assert len(buffered.finish()) == 1
    unbuffered = Harness.from_file(SMALL_THEN_BIG, buffered=False)
    unbuffered.feed([early_big, late_small])
    assert unbuffered.finish() == [] and unbuffered.matches == []


@pytest.mark.parametrize("buffered", [True, False])
def test_within_timer_fires_exactly_when_advance_reaches_it(buffered):
    h = Harness(HELD, buffered=buffered)
    assert h.feed(HELD_EVENTS) == []
    assert h.advance(to=2000) == []  # b processed; its match is held by the run of x=1
    assert h.advance(to=9_999) == []  # that run's within timer is due at 0 + 10s
    out = h.advance(to=10_000)
    assert [m.fields for m in out] == [{"x": 2, "b_ts": 2000}]
    assert h.finish() == []


def test_advance_by_settles_everything_before_now_plus_d():
    h = Harness(HELD)
    h.feed(HELD_EVENTS)
    assert h.advance(by="8s") == [] and h.now == 10_000  # watermark 9 999: the timer waits
    assert [m.fields["x"] for m in h.advance(by=1)] == [2]  # watermark 10 000


def test_advance_by_keeps_an_event_at_exactly_now_plus_d_on_time():
    h = Harness.from_file(SMALL_THEN_BIG)
    h.feed([SMALL])
    h.advance(by="30s")
    h.feed([dict(BIG, ts="2024-01-01T00:00:30Z")])
    assert h.late == []
    assert [m.fields["big_amount"] for m in h.finish()] == [900]


def test_advance_accepts_iso_times_and_never_moves_back():
    h = Harness.from_file(SMALL_THEN_BIG)
    h.feed([SMALL, BIG])
    assert [m.key for m in h.advance(to="2024-01-01T00:00:20Z")] == ["c1"]
    h.advance(to=0)  # ignored: the watermark never goes back
    h.feed([dict(SMALL, ts="2024-01-01T00:00:19Z")])
    assert len(h.late) == 1


def test_late_events_are_kept_not_raised():
    h = Harness.from_file(SMALL_THEN_BIG)
    h.feed([dict(SMALL, ts="2024-01-01T00:00:20Z")])
    on_time = dict(SMALL, ts="2024-01-01T00:00:15Z")  # exactly `lateness` behind: on time
    late = dict(SMALL, ts="2024-01-01T00:00:14.999Z")  # one more millisecond: late
    assert h.feed([on_time, late]) == []
    assert h.late == [late] and h.stats.late == 1


def test_lateness_override():
    h = Harness.from_file(SMALL_THEN_BIG, lateness="0s")
    h.feed([dict(SMALL, ts="2024-01-01T00:00:20Z"), dict(SMALL, ts="2024-01-01T00:00:19.999Z")])
    assert len(h.late) == 1


def test_unusable_events_raise_event_error_with_the_reason():
    h = Harness.from_file(SMALL_THEN_BIG)
    with pytest.raises(EventError, match="missing key field 'card_id'"):
        h.feed([SMALL, {"amount": 1, "ts": "2024-01-01T00:00:01Z"}])
    with pytest.raises(EventTimeError, match="event 1 of 1 .*'ts'"):
        h.feed([{"card_id": "c1", "amount": 1, "ts": "yesterday"}])
    with pytest.raises(EventError, match="not a JSON object"):
        h.feed([["not", "an", "object"]], stream="transactions")
    assert h.stats.accepted == 1  # SMALL went in before the bad event


def test_pattern_selection_and_streams():
    two = HELD + """
pattern other
  from t
  match a
  emit a.v as v
"""
    with pytest.raises(CepError, match="several streams"):
        Harness(two).feed([{"v": 1}])
    h = Harness(two)
    h.feed([{"v": 1}], stream="t")
    assert [m.fields for m in h.outputs_of("other")] == [{"v": 1}]
    only = Harness(two, pattern="other")
    assert only.feed([{"v": 2}])[0].fields == {"v": 2}  # the one stream is the default
    with pytest.raises(CepError, match="no pattern named 'nope'"):
        Harness(two, pattern="nope")
    with pytest.raises(CepError, match="no pattern reads stream 'u'"):
        Harness(two, stream="u")


def test_pattern_errors_are_raised_with_diagnostics():
    with pytest.raises(PatternError, match="emit"):
        Harness("pattern p from s match a emit a.x as key")


def test_no_input_after_finish():
    h = Harness.from_file(SMALL_THEN_BIG)
    h.finish()
    with pytest.raises(StateError, match="finish"):
        h.feed([SMALL])
    with pytest.raises(StateError):
        h.advance(to=0)


def test_advance_arguments():
    h = Harness.from_file(SMALL_THEN_BIG)
    with pytest.raises(TypeError):
        h.advance()
    with pytest.raises(TypeError):
        h.advance(to=1, by=1)
    with pytest.raises(CepError, match="feed a timed event first"):
        h.advance(by="1s")
    with pytest.raises(ValueError, match="not a duration"):
        h.feed([SMALL]) or h.advance(by="1 minute")
