"""Cases whose results Flink CEP's documentation states, run through the public Harness the way
Flink's NFA test harness feeds events (arrival order, no buffering, no end-of-input flush)."""

from __future__ import annotations

import pytest

from cep.testing import Harness

EVENTS = ["C", "D", "A1", "A2", "A3", "D", "A4", "B"]


def matches(match_clause: str, events: list[str]) -> set[tuple[str, ...]]:
    source = f"""
pattern p
  from s
  match {match_clause}
  define
    start as name == 'c'
    middle as name == 'a'
    end1 as name == 'b'
  skip none
"""
    harness = Harness(source, buffered=False)
    harness.feed([{"name": e[0].lower(), "id": e} for e in events])
    return {tuple(e["id"] for var in ("start", "middle", "end1") for e in m.events.get(var, [])) for m in harness.matches}


@pytest.mark.parametrize(
    ("loop", "expected"),
    [
        # Flink docs, "Contiguity within looping patterns": begin(c).followedBy(a).oneOrMore()
        # [.consecutive() | .allowCombinations()].followedBy(b) over "C D A1 A2 A3 D A4 B".
        ("middle+ consecutive", {("C", "A1", "B"), ("C", "A1", "A2", "B"), ("C", "A1", "A2", "A3", "B")}),
        ("middle+", {("C", "A1", "B"), ("C", "A1", "A2", "B"), ("C", "A1", "A2", "A3", "B"),
                     ("C", "A1", "A2", "A3", "A4", "B")}),
        ("middle+ any", {("C", "A1", "B"), ("C", "A1", "A2", "B"), ("C", "A1", "A3", "B"), ("C", "A1", "A4", "B"),
                         ("C", "A1", "A2", "A3", "B"), ("C", "A1", "A2", "A4", "B"), ("C", "A1", "A3", "A4", "B"),
                         ("C", "A1", "A2", "A3", "A4", "B")}),
    ],
)
def test_contiguity_within_looping_patterns(loop, expected):
    assert matches(f"start then {loop} then end1", EVENTS) == expected


@pytest.mark.parametrize(
    ("join", "expected"),
    [
        # Flink docs, "Contiguity": pattern "a b" over "a", "c", "b1", "b2".
        ("next", set()),
        ("then", {("A", "B1")}),
        ("then any", {("A", "B1"), ("A", "B2")}),
    ],
)
def test_contiguity_between_two_elements(join, expected):
    source = f"""
pattern p
  from s
  match a {join} b
  define
    a as name == 'a'
    b as name == 'b'
  skip none
"""
    harness = Harness(source, buffered=False)
    harness.feed([{"name": n, "id": i} for n, i in [("a", "A"), ("c", "C"), ("b", "B1"), ("b", "B2")]])
    got = {(m.events["a"][0]["id"], m.events["b"][0]["id"]) for m in harness.matches}
    assert got == expected
