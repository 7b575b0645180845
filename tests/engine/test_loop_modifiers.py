"""Loop modifiers (until, greedy, reluctant) and `within … between events`, end to end.

Each case runs the plain loop next to the modified one, so the test shows what the modifier
changes, not just that something matched.
"""

from __future__ import annotations

import cep
from cep.detector import Detector


def run(match, defines, events):
    src = f"pattern p\n  from s\n  key k\n  time ts\n  match {match}\n  define\n{defines}\n  skip none\n" \
          "  emit count(b) as nb, c.ts as c_at\n"
    out: list[cep.Match] = []
    detector = Detector(cep.compile_patterns(src), out.append)
    for ts, kind, v in events:
        detector.feed("s", {"k": "k", "kind": kind, "ts": ts, "v": v})
    detector.finish()
    return sorted((m.fields["nb"], m.fields["c_at"]) for m in out)


ABC = "    a as kind == 'a'\n    b as kind == 'b'\n    c as kind == 'c'"


def test_until_stops_the_loop_at_the_first_event_meeting_it():
    events = [(0, "a", 0), (1, "b", 1), (2, "b", 9), (3, "b", 1), (4, "c", 0)]
    assert run("a then b+ then c", ABC, events) == [(1, 4), (2, 4), (3, 4)]
    assert run("a then b+ until v > 5 then c", ABC, events) == [(1, 4)]


def test_greedy_takes_as_many_as_possible():
    # c also accepts b's: a plain loop lets c take any of them; a greedy one keeps them.
    defines = "    a as kind == 'a'\n    b as kind == 'b'\n    c as kind == 'b' or kind == 'c'"
    events = [(0, "a", 0), (1, "b", 0), (2, "b", 0), (3, "c", 0)]
    assert run("a then b+ then c", defines, events) == [(1, 2), (2, 3)]
    assert run("a then b+ greedy then c", defines, events) == [(2, 3)]


def test_reluctant_takes_as_few_as_possible():
    # c accepts any event with v > 0: a reluctant loop leaves such events to c.
    defines = "    a as kind == 'a'\n    b as kind == 'b'\n    c as v > 0"
    events = [(0, "a", 0), (1, "b", 0), (2, "b", 5), (3, "b", 0), (4, "b", 7)]
    assert run("a then b+ then c", defines, events) == [(1, 2), (2, 4), (3, 4)]
    assert run("a then b+? then c", defines, events) == [(1, 2)]


def test_within_between_events_bounds_each_gap_not_the_whole_match():
    events = [(0, "a", 0), (8_000, "b", 0), (16_000, "b", 0), (24_000, "c", 0)]
    assert run("a then b+ then c within 10s between events", ABC, events) == [(2, 24_000)]
    assert run("a then b+ then c within 10s", ABC, events) == []
    assert run("a then b+ then c within 5s between events", ABC, events) == []


def test_prev_reads_the_keys_earlier_events():
    src = """
pattern rising
  from s
  key k
  match a{3} consecutive
  define a as price > prev(price) and prev(price, 2) is not null
  skip past last
  emit k, first(a.price) as p0, last(a.price) as p3
"""
    out: list[cep.Match] = []
    detector = Detector(cep.compile_patterns(src), out.append)
    for k, price in [("x", 1), ("y", 9), ("x", 2), ("x", 3), ("y", 8), ("x", 4), ("x", 5), ("x", 3)]:
        detector.feed("s", {"k": k, "price": price})
    detector.finish()
    # x: 1 2 3 4 5 -> rises at 3 (prev 2, prev2 1), 4, 5; y's events never count for x
    assert [(m.key, m.fields["p0"], m.fields["p3"]) for m in out] == [("x", 3, 5)]
