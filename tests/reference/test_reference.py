"""Hand-made cases for the small_then_big oracle, so the oracle itself is known to be right.

Each case is a few lines written out in full; times are seconds after midnight 2024-01-01 UTC
unless a case needs milliseconds.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .small_then_big import event_time_ms, run

SAMPLE = Path(__file__).resolve().parents[2] / "samples" / "transactions.jsonl"


def tx(card: str, amount: object, ts: str, **extra: object) -> str:
    return json.dumps({"card_id": card, "amount": amount, "ts": ts, **extra})


def at(seconds: float) -> str:
    """An ISO time ``seconds`` after 2024-01-01T00:00:00Z, with milliseconds."""
    ms = round(seconds * 1000)
    minutes, rest = divmod(ms, 60_000)
    hours, minutes = divmod(minutes, 60)
    return f"2024-01-01T{hours:02d}:{minutes:02d}:{rest // 1000:02d}.{rest % 1000:03d}Z"


def pairs(result) -> list[tuple[str, object, object]]:
    return [(a["card_id"], a["small_amount"], a["big_amount"]) for a in result.alerts]


def test_event_time_forms():
    assert event_time_ms("1970-01-01T00:00:01Z") == 1000
    assert event_time_ms("1970-01-01T00:00:01.250Z") == 1250
    assert event_time_ms("1970-01-01T01:00:01+01:00") == 1000
    assert event_time_ms("1970-01-01T00:00:01") == 1000  # naive is UTC
    assert event_time_ms("1970-01-01T00:00:00.0019Z") == 1  # truncated, not rounded
    assert event_time_ms(1234) == 1234
    for bad in ("not a time", True, None, 1.5, [1]):
        with pytest.raises(ValueError):
            event_time_ms(bad)


def test_small_then_big_matches_with_the_full_output():
    result = run([tx("c1", 0.05, "2024-01-01T00:00:00Z"), tx("c1", 900, "2024-01-01T00:00:20Z")])
    assert result.alerts == [
        {
            "pattern": "small_then_big",
            "key": "c1",
            "card_id": "c1",
            "small_amount": 0.05,
            "big_amount": 900,
            "small_ts": "2024-01-01T00:00:00Z",
            "big_ts": "2024-01-01T00:00:20Z",
        }
    ]
    assert result.dead_lettered == [] and result.late == []


@pytest.mark.parametrize(
    ("gap", "matches"), [(59.999, True), (60.0, False), (61.0, False), (0.0, True)]
)
def test_within_one_minute_is_strictly_less(gap, matches):
    result = run([tx("c1", 0.05, at(10)), tx("c1", 900, at(10 + gap))])
    assert bool(result.alerts) is matches


@pytest.mark.parametrize(
    ("small", "big", "matches"),
    [(0.09, 501, True), (0.10, 900, False), (0.05, 500, False), (0.05, 500.01, True)],
)
def test_thresholds_are_strict(small, big, matches):
    assert bool(run([tx("c1", small, at(0)), tx("c1", big, at(1))]).alerts) is matches


def test_exactly_lateness_older_is_not_late_but_one_ms_more_is():
    lines = [
        tx("c9", 10, at(100)),
        tx("c1", 0.05, at(95)),  # exactly 5 s older than the max: in time
        tx("c2", 0.05, at(94.999)),  # 5.001 s older: late
    ]
    result = run(lines)
    assert result.late == [3]


def test_a_late_event_that_would_have_matched_is_excluded():
    lines = [
        tx("c9", 10, at(100)),
        tx("c1", 0.05, at(90)),  # late: 10 s older than the max
        tx("c1", 900, at(101)),
    ]
    result = run(lines)
    assert result.late == [2]
    assert result.alerts == []
    # The same events in time do match: it is lateness that removes the alert.
    assert pairs(run([lines[1], lines[0], lines[2]])) == [("c1", 0.05, 900)]


def test_late_events_do_not_move_the_watermark_or_the_order():
    lines = [
        tx("c9", 10, at(100)),
        tx("c9", 10, at(10)),  # late
        tx("c1", 0.05, at(96)),  # in time: the late event did not lower or raise anything
        tx("c1", 900, at(97)),
    ]
    result = run(lines)
    assert result.late == [2]
    assert pairs(result) == [("c1", 0.05, 900)]


def test_out_of_order_within_lateness_is_sorted_by_event_time():
    # The big one arrives first but is 2 s later in event time.
    result = run([tx("c1", 900, at(12)), tx("c1", 0.05, at(10))])
    assert pairs(result) == [("c1", 0.05, 900)]
    assert result.late == []


def test_contiguity_is_broken_by_an_event_of_the_same_card_only():
    same_card = run([tx("c1", 0.05, at(0)), tx("c1", 20, at(5)), tx("c1", 900, at(10))])
    assert same_card.alerts == []
    other_card = run([tx("c1", 0.05, at(0)), tx("c2", 20, at(5)), tx("c1", 900, at(10))])
    assert pairs(other_card) == [("c1", 0.05, 900)]


def test_an_unusable_amount_is_an_event_that_is_neither_small_nor_big():
    for odd in ("0.05", None, True, False):
        lines = [tx("c1", 0.05, at(0)), tx("c1", odd, at(5)), tx("c1", 900, at(10))]
        assert run(lines).alerts == [], odd
        assert run([tx("c1", odd, at(0)), tx("c1", 900, at(5))]).alerts == [], odd
    missing = json.dumps({"card_id": "c1", "ts": at(5)})
    assert run([tx("c1", 0.05, at(0)), missing, tx("c1", 900, at(10))]).alerts == []


def test_small_small_big_matches_the_second_small_only():
    result = run([tx("c1", 0.01, at(0)), tx("c1", 0.02, at(1)), tx("c1", 900, at(2))])
    assert pairs(result) == [("c1", 0.02, 900)]


def test_repeated_pairs_on_one_card_each_match():
    lines = [tx("c1", 0.01, at(0)), tx("c1", 900, at(1)), tx("c1", 0.02, at(2)), tx("c1", 901, at(3))]
    assert pairs(run(lines)) == [("c1", 0.01, 900), ("c1", 0.02, 901)]


def test_alerts_are_ordered_by_big_time_then_arrival():
    lines = [
        tx("c1", 0.01, at(0)),
        tx("c2", 0.02, at(0.5)),
        tx("c2", 902, at(3)),  # arrives first, same big time as c1's
        tx("c1", 901, at(3)),
        tx("c3", 0.03, at(1)),
        tx("c3", 903, at(2)),
    ]
    assert [a["card_id"] for a in run(lines).alerts] == ["c3", "c2", "c1"]


def test_dead_letters_keep_line_numbers_and_blank_lines_are_skipped():
    lines = [
        tx("c1", 0.05, at(0)),
        "",
        '{"card_id": "c1", "amount": 1',  # truncated
        "plain text",
        "   ",
        '["c1", 1, "2024-01-01T00:00:01Z"]',
        json.dumps({"card_id": "c1", "amount": 1}),  # no ts
        json.dumps({"card_id": "c1", "amount": 1, "ts": "not a time"}),
        json.dumps({"amount": 1, "ts": at(1)}),  # no card_id
        json.dumps({"card_id": None, "amount": 1, "ts": at(1)}),
        '{"card_id": "c1", "amount": NaN, "ts": "2024-01-01T00:00:01Z"}',
        b'{"card_id": "c\xff", "amount": 1, "ts": "2024-01-01T00:00:01Z"}',
        tx("c1", 900, at(2)),
    ]
    result = run(lines)
    assert result.dead_lettered == [3, 4, 6, 7, 8, 9, 10, 11, 12]
    # Dead letters are not events: they neither break contiguity nor move time.
    assert pairs(result) == [("c1", 0.05, 900)]


def test_timestamps_with_offsets_compare_as_instants():
    # 01:00:30+01:00 is 00:00:30Z: 30 s after the small one, so it matches.
    result = run([tx("c1", 0.05, "2024-01-01T00:00:00Z"), tx("c1", 900, "2024-01-01T01:00:30+01:00")])
    assert result.alerts[0]["big_ts"] == "2024-01-01T01:00:30+01:00"


def test_sample_file_expectations():
    """The numbers samples/README.md states for samples/transactions.jsonl."""
    raw = SAMPLE.read_bytes().split(b"\n")
    result = run(raw)
    assert len(result.alerts) == 6
    assert result.dead_lettered == [32, 35, 50, 93, 196, 272]
    assert result.late == [191, 203, 207, 208, 216, 226]
    # Reordered by event time (and without dead letters) nothing is late, and the late pair
    # 207/208 becomes a seventh alert.
    good = [line for n, line in enumerate(raw, 1) if n not in result.dead_lettered and line.strip()]
    good.sort(key=lambda line: event_time_ms(json.loads(line)["ts"]))
    in_order = run(good)
    assert in_order.late == [] and len(in_order.alerts) == 7
