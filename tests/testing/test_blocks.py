"""Test blocks run on the real engine: passing, failing with a diff, and the expect rules."""

from __future__ import annotations

from pathlib import Path

import pytest

from cep import PatternError
from cep.testing import TestFile, run_file

ROOT = Path(__file__).resolve().parents[2]

PATTERN = """\
pattern small_then_big
  from transactions
  key card_id
  time ts lateness 5s
  match small next big within 1m
  define
    small as amount < 0.10
    big as amount > 500
  emit card_id, small.amount as small_amount, big.amount as big_amount
"""


def results(tests: str, path: str = "cards.cep") -> list:
    return TestFile.from_source(PATTERN + tests, path).run_all()


def one(tests: str):
    (result,) = results(tests)
    return result


def test_the_shipped_pattern_files_tests_pass():
    found = run_file(ROOT / "patterns" / "small_then_big.cep")
    assert [r.name for r in found] == ["a tiny charge then a big one is flagged",
                                       "a big one three minutes later is not",
                                       "another charge in between breaks the pair"]
    assert all(r.passed for r in found), [r.report for r in found]
    assert [r.line for r in found] == [17, 24, 30]


def test_a_wrong_expectation_fails_with_a_diff():
    result = one("""
test "two cards"
  given transactions
    {"card_id": "c1", "amount": 0.05, "ts": "2024-01-01T00:00:00Z"}
    {"card_id": "c1", "amount": 900, "ts": "2024-01-01T00:00:20Z"}
    {"card_id": "c2", "amount": 0.01, "ts": "2024-01-01T00:00:21Z"}
    {"card_id": "c2", "amount": 600, "ts": "2024-01-01T00:00:22Z"}
  expect small_then_big
    {"card_id": "c1", "small_amount": 0.05, "big_amount": 901}
    {"card_id": "c2", "big_amount": 600}
    {"card_id": "c3"}
""")
    assert not result.passed
    assert result.location == "cards.cep:11" and result.name == "two cards"
    assert result.report == """\
expect small_then_big (line 17): expected 3 records, emitted 2
  - {"card_id": "c1", "small_amount": 0.05, "big_amount": 901}
  + {"card_id": "c1", "small_amount": 0.05, "big_amount": 900}
        big_amount: expected 901, emitted 900
    {"card_id": "c2", "big_amount": 600}
  - {"card_id": "c3"}"""


def test_expect_no_shows_what_was_emitted_and_lists_late_events():
    result = one("""
test "nothing"
  given transactions
    {"card_id": "c1", "amount": 0.05, "ts": "2024-01-01T00:00:00Z"}
    {"card_id": "c1", "amount": 900, "ts": "2024-01-01T00:00:20Z"}
    {"card_id": "c1", "amount": 1, "ts": "2024-01-01T00:00:10Z"}
  expect no small_then_big
""")
    assert result.report == """\
expect no small_then_big (line 16): 1 record emitted
  + {"pattern": "small_then_big", "key": "c1", "time": "2024-01-01T00:00:20Z", "card_id": "c1", \
"small_amount": 0.05, "big_amount": 900}
note: 1 event was late (at or behind the watermark) and never reached a pattern:
    {"card_id": "c1", "amount": 1, "ts": "2024-01-01T00:00:10Z"}"""


def test_fields_are_projected_and_numbers_compare_with_tolerance():
    result = one("""
test "projection"
  given transactions
    {"card_id": "c1", "amount": 0.030000000000000002, "ts": 1000}
    {"card_id": "c1", "amount": 900.0, "ts": 2000}
  expect small_then_big
    {"key": "c1", "time": 2000, "small_amount": 0.03, "big_amount": 900}
""")
    assert result.passed, result.report


def test_a_middle_expect_sees_only_what_was_emitted_so_far():
    # Lateness 5s: right after the big charge the watermark has not passed it yet.
    found = results("""
test "buffered until time moves on"
  given transactions
    {"card_id": "c1", "amount": 0.05, "ts": "2024-01-01T00:00:00Z"}
    {"card_id": "c1", "amount": 900, "ts": "2024-01-01T00:00:20Z"}
  expect no small_then_big
  advance 1ms
  expect small_then_big
    {"card_id": "c1"}
  expect no small_then_big

test "each expect takes the records since the previous one"
  given transactions
    {"card_id": "c1", "amount": 0.05, "ts": "2024-01-01T00:00:00Z"}
    {"card_id": "c1", "amount": 900, "ts": "2024-01-01T00:00:20Z"}
  advance 1s
  expect small_then_big
    {"card_id": "c1"}
  given transactions
    {"card_id": "c2", "amount": 0.05, "ts": "2024-01-01T00:01:00Z"}
    {"card_id": "c2", "amount": 900, "ts": "2024-01-01T00:01:20Z"}
  expect small_then_big
    {"card_id": "c2"}

test "the input ends after the last given"
  given transactions
    {"card_id": "c1", "amount": 0.05, "ts": "2024-01-01T00:00:00Z"}
    {"card_id": "c1", "amount": 900, "ts": "2024-01-01T00:00:20Z"}
  expect small_then_big
    {"card_id": "c1"}
""")
    assert [r.report for r in found] == ["", "", ""]


def test_advance_lets_an_event_at_exactly_now_plus_d_in():
    result = one("""
test "time moves on before the big charge"
  given transactions
    {"card_id": "c2", "amount": 0.01, "ts": "2024-01-01T00:00:00Z"}
  advance 30s
  given transactions
    {"card_id": "c2", "amount": 750, "ts": "2024-01-01T00:00:30Z"}
  expect small_then_big
    {"card_id": "c2", "big_amount": 750}
""")
    assert result.passed, result.report


def test_a_failing_middle_expect_does_not_hide_a_later_one():
    result = one("""
test "two failures"
  given transactions
    {"card_id": "c1", "amount": 0.05, "ts": "2024-01-01T00:00:00Z"}
  expect small_then_big
    {"card_id": "c1"}
  given transactions
    {"card_id": "c1", "amount": 900, "ts": "2024-01-01T00:00:20Z"}
  expect no small_then_big
""")
    assert [f.splitlines()[0] for f in result.failures] == [
        "expect small_then_big (line 14): expected 1 record, emitted 0",
        "expect no small_then_big (line 18): 1 record emitted",
    ]


def test_expect_timeout_fails_clearly_while_timeouts_do_not_exist():
    result = one("""
test "timeouts"
  given transactions
    {"card_id": "c1", "amount": 0.05, "ts": "2024-01-01T00:00:00Z"}
  advance 2m
  expect timeout small_then_big
    {"card_id": "c1"}
""")
    assert result.report == """\
expect timeout small_then_big (line 15): expected 1 record, emitted 0
  `small_then_big` emits no timeouts: it has no `on timeout emit` clause
  - {"card_id": "c1"}"""


def test_an_unusable_event_fails_the_test():
    result = one("""
test "typo in the key"
  given transactions
    {"card": "c1", "amount": 0.05, "ts": "2024-01-01T00:00:00Z"}
  expect no small_then_big
""")
    assert result.report == """\
given transactions (line 12), event 1: the engine cannot use it: missing key field 'card_id'
    {"card": "c1", "amount": 0.05, "ts": "2024-01-01T00:00:00Z"}"""


def test_pattern_errors_raise_with_every_diagnostic():
    with pytest.raises(PatternError) as caught:
        TestFile.from_source('pattern p from s match a define b as x > 1\ntest "t"\n  given q\n', "bad.cep")
    messages = [d.message for d in caught.value.diagnostics]
    assert any("`b` is defined but not used" in m for m in messages)
    assert any("no pattern in this file reads stream `q`" in m for m in messages)


def test_advance_needs_a_time_to_move_on_from():
    result = one("""
test "advance first"
  advance 1m
  given transactions
    {"card_id": "c1", "amount": 0.05, "ts": "2024-01-01T00:00:00Z"}
  expect no small_then_big
""")
    assert result.report == ("advance 1m (line 12): no event has been given yet, "
                             "so there is no time to move on from")
    untimed = TestFile.from_source("""\
pattern pairs
  from s
  match a next b
  define
    a as x == 1
    b as x == 2
  emit a.x as first

test "arrival order"
  given s
    {"x": 1}
    {"x": 2}
  expect pairs
    {"first": 1}

test "no time"
  given s
    {"x": 1}
  advance 1s
""").run_all()
    assert [r.report for r in untimed] == [
        "", "advance 1s (line 19): no pattern of the file has a `time` clause, so events only have arrival order"]
