"""The NFA, feature by feature, on the cases Flink CEP documents and tests."""

from __future__ import annotations

import pytest

from cep.nfa.spec import Consuming, GroupElement, SkipKind, Times

from .helpers import el, run_matcher

STRICT, RELAXED, ANY = Consuming.STRICT, Consuming.SKIP_TILL_NEXT, Consuming.SKIP_TILL_ANY


def test_strict_next_needs_the_very_next_event():
    events = [("a", "a1"), ("x", "x"), ("b", "b1"), ("a", "a2"), ("b", "b2")]
    assert run_matcher([el("a"), el("b", consuming=STRICT)], events) == [("a2", "b2")]


def test_relaxed_then_takes_the_next_matching_event_only():
    events = [("a", "a1"), ("x", "x"), ("b", "b1"), ("b", "b2")]
    assert run_matcher([el("a"), el("b")], events) == [("a1", "b1")]


def test_then_any_branches_on_every_matching_event():
    events = [("a", "a1"), ("b", "b1"), ("x", "x"), ("b", "b2")]
    assert run_matcher([el("a"), el("b", consuming=ANY)], events) == [("a1", "b1"), ("a1", "b2")]


def test_every_event_may_start_a_match():
    events = [("a", "a1"), ("a", "a2"), ("b", "b1")]
    assert sorted(run_matcher([el("a"), el("b")], events)) == [("a1", "b1"), ("a2", "b1")]


def test_within_is_exclusive_of_the_bound():
    events = [("a", "a1", 0), ("b", "b1", 60_000), ("a", "a2", 100_000), ("b", "b2", 159_999)]
    assert run_matcher([el("a"), el("b")], events, within=60_000) == [("a2", "b2")]


def test_loop_at_the_end_emits_each_extension():
    events = [("a", "a"), ("b", "b1"), ("b", "b2"), ("b", "b3")]
    got = run_matcher([el("a"), el("b", times=Times(1, None))], events)
    assert got == [("a", "b1"), ("a", "b1", "b2"), ("a", "b1", "b2", "b3")]


# Flink's documented skip-strategy table uses "b+ c" with c strictly next to the loop.
B_PLUS_NEXT_C = [el("b", times=Times(1, None)), el("c", consuming=STRICT)]
B1_B2_B3_C = [("b", "b1"), ("b", "b2"), ("b", "b3"), ("c", "c")]


@pytest.mark.parametrize(
    ("skip", "var", "expected"),
    [
        (SkipKind.NONE, None, {("b1", "b2", "b3", "c"), ("b2", "b3", "c"), ("b3", "c")}),
        (SkipKind.TO_NEXT, None, {("b1", "b2", "b3", "c"), ("b2", "b3", "c"), ("b3", "c")}),
        (SkipKind.PAST_LAST, None, {("b1", "b2", "b3", "c")}),
        (SkipKind.TO_FIRST, "b", {("b1", "b2", "b3", "c"), ("b2", "b3", "c"), ("b3", "c")}),
        (SkipKind.TO_LAST, "b", {("b1", "b2", "b3", "c"), ("b3", "c")}),
    ],
)
def test_skip_strategies_match_flinks_table(skip, var, expected):
    got = run_matcher(B_PLUS_NEXT_C, B1_B2_B3_C, skip=skip, var=var)
    assert set(got) == expected
    assert len(got) == len(expected)


def test_skip_strategy_releases_matches_in_start_order():
    got = run_matcher(B_PLUS_NEXT_C, B1_B2_B3_C, skip=SkipKind.TO_NEXT)
    assert got == [("b1", "b2", "b3", "c"), ("b2", "b3", "c"), ("b3", "c")]


def test_relaxed_loop_with_relaxed_follower_branches_like_flink():
    # After a loop, a relaxed follower may skip later loop events (Flink's ignore-after-proceed).
    got = run_matcher([el("b", times=Times(1, None)), el("c")], B1_B2_B3_C)
    assert set(got) == {
        ("b1", "c"), ("b1", "b2", "c"), ("b1", "b2", "b3", "c"), ("b2", "c"), ("b2", "b3", "c"), ("b3", "c"),
    }


def test_consecutive_loop_stops_at_a_gap():
    events = [("a", "a"), ("b", "b1"), ("x", "x"), ("b", "b2"), ("c", "c")]
    got = run_matcher([el("a"), el("b", times=Times(1, None), inner=STRICT), el("c")], events)
    assert set(got) == {("a", "b1", "c")}


def test_any_loop_gives_every_combination_of_later_iterations():
    events = [("a", "a"), ("b", "b1"), ("b", "b2"), ("b", "b3"), ("c", "c")]
    # `any` is the loop's inner contiguity: the first b is still the next b after a (relaxed).
    got = run_matcher([el("a"), el("b", times=Times(1, None), inner=ANY), el("c", consuming=STRICT)], events)
    assert set(got) == {("a", "b1", "b2", "b3", "c"), ("a", "b1", "b3", "c")}
    # With `then any` before the loop as well, every subset of the b's is a match.
    got = run_matcher([el("a"), el("b", times=Times(1, None), consuming=ANY, inner=ANY), el("c", consuming=STRICT)], events)
    assert set(got) == {("a", "b1", "b2", "b3", "c"), ("a", "b1", "b3", "c"), ("a", "b2", "b3", "c"), ("a", "b3", "c")}


def test_exact_times_and_ranges():
    events = [("a", "a"), ("b", "b1"), ("b", "b2"), ("b", "b3"), ("c", "c")]
    exactly_two = run_matcher([el("a"), el("b", times=Times(2, 2), consuming=STRICT), el("c")], events)
    assert exactly_two == [("a", "b1", "b2", "c")]  # the relaxed c skips b3
    exactly_two_then_next = run_matcher([el("a"), el("b", times=Times(2, 2)), el("c", consuming=STRICT)], events)
    assert exactly_two_then_next == []  # b3 sits between b2 and c
    two_to_three = run_matcher([el("a"), el("b", times=Times(2, 3)), el("c", consuming=STRICT)], events)
    assert set(two_to_three) == {("a", "b1", "b2", "b3", "c")}


def test_optional_element_gives_both_paths():
    events = [("a", "a"), ("c", "c1"), ("b", "b1")]
    got = run_matcher([el("a"), el("c", times=Times(0, 1)), el("b")], events)
    assert set(got) == {("a", "c1", "b1"), ("a", "b1")}


def test_optional_first_element():
    events = [("a", "a1"), ("b", "b1")]
    got = run_matcher([el("a", times=Times(0, 1)), el("b", consuming=STRICT)], events)
    assert set(got) == {("a1", "b1"), ("b1",)}


def test_zero_or_more_in_the_middle():
    events = [("a", "a"), ("c", "c")]
    assert run_matcher([el("a"), el("b", times=Times(0, None)), el("c")], events) == [("a", "c")]


def test_quantified_group_repeats_the_subsequence():
    group = GroupElement((el("b"), el("c", consuming=STRICT)), Times(2, 2), RELAXED)
    events = [("a", "a"), ("b", "b1"), ("c", "c1"), ("b", "b2"), ("c", "c2"), ("d", "d")]
    got = run_matcher([el("a"), group, el("d")], events)
    assert set(got) == {("a", "b1", "c1", "b2", "c2", "d")}


def test_looping_group():
    group = GroupElement((el("b"), el("c", consuming=STRICT)), Times(1, None), RELAXED)
    events = [("a", "a"), ("b", "b1"), ("c", "c1"), ("b", "b2"), ("c", "c2")]
    got = run_matcher([el("a"), group], events)
    assert set(got) == {("a", "b1", "c1"), ("a", "b1", "c1", "b2", "c2")}


def test_held_matches_are_released_at_end_of_input():
    # past last + a loop at the end: the first match is released once nothing earlier is pending.
    events = [("a", "a"), ("b", "b1"), ("b", "b2")]
    got = run_matcher([el("a"), el("b", times=Times(1, None))], events, skip=SkipKind.PAST_LAST)
    assert got == [("a", "b1")]
