"""cep.testing.strategies: streams shaped by the pattern, and arrival orders within lateness."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from hypothesis import HealthCheck, find, given, settings
from hypothesis import strategies as st

import cep
from cep.stream.timestamps import parse_timestamp
from cep.testing import Harness
from cep.testing.strategies import events_for, in_order, shuffled_within

ROOT = Path(__file__).resolve().parents[2]
SMALL_THEN_BIG = (ROOT / "patterns" / "small_then_big.cep").read_text(encoding="utf-8")

# Many partial matches alive at once, no skip: reordering mistakes would show.
SPREE = """
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

FILTERED = """
pattern logins
  from auth where region in ['eu', 'us'] and trusted == false
  key user.id
  time at seconds lateness 2s
  match a next b
  define
    a as lower(kind) == 'fail' and score is null
    b as kind == 'ok' and attempts >= 3
  emit user.id, b.attempts as attempts
"""

SEARCH = settings(max_examples=2000, database=None, suppress_health_check=list(HealthCheck))
COMPILED = {source: cep.compile_patterns(source) for source in (SMALL_THEN_BIG, SPREE, FILTERED)}


def outputs(source: str, events: list[dict], **options) -> tuple[list[dict], list[dict]]:
    h = Harness(COMPILED[source], **options)
    h.feed(events)
    h.finish()
    return [m.to_record() for m in h.matches], h.late


def test_events_follow_the_pattern_shape():
    @given(events_for(SMALL_THEN_BIG))
    @settings(max_examples=100, database=None, deadline=None)
    def check(events):
        assert all(set(e) == {"card_id", "amount", "ts"} for e in events)
        assert {e["card_id"] for e in events} <= {"k1", "k2", "k3"}
        times = [parse_timestamp(e["ts"]) for e in events]
        assert times == sorted(times)
        assert all(isinstance(e["ts"], str) and e["ts"].endswith("Z") for e in events)
        assert all(b - a <= 30_000 for a, b in zip(times, times[1:]))  # half of `within 1m`

    check()


def sample(strategy, n: int = 300) -> list:
    """``n`` draws of a strategy, the same ones on every run."""
    drawn: list = []

    @given(strategy)
    @settings(max_examples=n, database=None, derandomize=True, deadline=None,
              suppress_health_check=list(HealthCheck))
    def collect(value):
        drawn.append(value)

    collect()
    return drawn


def test_amounts_fall_on_both_sides_of_each_literal():
    amounts = [e["amount"] for evs in sample(events_for(SMALL_THEN_BIG, count=(1, 3))) for e in evs]
    for side in (lambda a: a < 0.10, lambda a: 0.10 < a < 1, lambda a: 1 < a < 500,
                 lambda a: 500 < a < 501, lambda a: a > 501):
        assert sum(map(side, amounts)) >= len(amounts) // 50


def test_generated_streams_produce_matches():
    found = find(events_for(SMALL_THEN_BIG), lambda evs: len(outputs(SMALL_THEN_BIG, evs)[0]) > 0, settings=SEARCH)
    assert len(found) == 2  # shrunk to a small charge and a big one
    assert found[0]["amount"] < 0.10 < 500 < found[1]["amount"]
    assert any(len(outputs(SPREE, evs)[0]) >= 3 for evs in sample(events_for(SPREE), 200))


def test_a_good_share_of_streams_match():
    hits = []

    @given(events_for(SMALL_THEN_BIG, count=(10, 30)))
    @settings(max_examples=200, database=None, derandomize=True, deadline=None)
    def sample(events):
        hits.append(bool(outputs(SMALL_THEN_BIG, events)[0]))

    sample()
    assert sum(hits) >= len(hits) // 5, f"{sum(hits)} of {len(hits)} streams matched"


def test_strings_booleans_nulls_and_nested_keys_are_inferred():
    events = [evs[0] for evs in sample(events_for(FILTERED, count=1))]
    assert all(set(e) == {"region", "trusted", "user", "kind", "score", "attempts", "at"} for e in events)
    assert {e["user"]["id"] for e in events} == {"k1", "k2", "k3"}
    assert all(isinstance(e["at"], int) for e in events)  # `time at seconds`: epoch seconds
    for case in (lambda e: e["region"] == "eu" and e["trusted"] is False,
                 lambda e: e["region"] not in ("eu", "us"),
                 lambda e: e["kind"] == "fail" and e["score"] is None,
                 lambda e: e["score"] is not None,
                 lambda e: e["attempts"] == 2,  # just below `>= 3`
                 lambda e: e["attempts"] == 3):
        assert any(map(case, events))
    # ... and the filtered pattern does match some of such streams.
    assert any(outputs(FILTERED, evs)[0] for evs in sample(events_for(FILTERED), 200))


def test_overrides_and_options():
    @given(events_for(SMALL_THEN_BIG, count=4, fields={"amount": st.just(7), "shop": st.sampled_from(["a"])},
                      keys=["x"], start=0, max_gap="1s", time_format="millis"))
    @settings(max_examples=30, database=None)
    def check(events):
        assert len(events) == 4
        assert all(e["amount"] == 7 and e["shop"] == "a" and e["card_id"] == "x" for e in events)
        assert events[0]["ts"] == 0 and all(isinstance(e["ts"], int) for e in events)
        assert all(b["ts"] - a["ts"] <= 1000 for a, b in zip(events, events[1:]))

    check()


def test_shuffled_orders_reorder_and_shrink_to_event_time_order():
    events = [{"ts": t, "n": n} for n, t in enumerate((0, 1000, 1000, 2000, 9000))]
    assert find(shuffled_within("2s", events), lambda order: True, settings=SEARCH) == events
    orders = {tuple(e["n"] for e in order) for order in sample(shuffled_within("2s", events), 100)}
    assert len(orders) > 3  # it does reorder
    for order in orders:  # never more than 2s behind the newest, equal times in their order
        newest = -1
        for n in order:
            assert newest - events[n]["ts"] <= 2000
            newest = max(newest, events[n]["ts"])
        assert order.index(1) < order.index(2)
    assert all(order[-1] == 4 for order in orders)  # 9s is too far ahead to overtake anything


@given(st.data())
@settings(max_examples=150, database=None, deadline=None)
def test_reordering_within_lateness_changes_nothing(data):
    for source, lateness in ((SMALL_THEN_BIG, 5000), (SPREE, 3000)):
        events = data.draw(events_for(source))
        arrived = data.draw(shuffled_within(lateness, events))
        ordered = data.draw(in_order(arrived))
        assert ordered == sorted(events, key=lambda e: parse_timestamp(e["ts"]))
        expected, _ = outputs(source, events)
        got, late = outputs(source, arrived)
        assert late == []
        assert got == expected


@given(events_for(SMALL_THEN_BIG, max_gap="2s").flatmap(lambda evs: shuffled_within(0, evs)))
@settings(max_examples=50, database=None)
def test_no_lateness_leaves_event_time_order(arrived):
    times = [parse_timestamp(e["ts"]) for e in arrived]
    assert times == sorted(times)


def test_equal_times_keep_their_order():
    events = [{"ts": 5, "n": i} for i in range(6)] + [{"ts": 0, "n": 6}]

    @given(shuffled_within(10, events))
    @settings(max_examples=50, database=None)
    def check(arrived):
        assert [e["n"] for e in arrived if e["ts"] == 5] == [0, 1, 2, 3, 4, 5]

    check()


def test_importing_cep_testing_does_not_need_hypothesis():
    code = "import sys, cep.testing; assert 'hypothesis' not in sys.modules; print(cep.testing.Harness.__name__)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "Harness"
