"""Negation, absence and timeouts through the real engine (Flink's notNext / notFollowedBy)."""

from __future__ import annotations

import pytest

import cep
from cep.detector import Detector

TEMPLATE = """
pattern p
  from s
  key k
  time ts
  match {match} within 10s
  define
{defines}
  emit a.ts as at{extra}
{timeout}
"""


def source(match, variables="abc", timeout=False, emit_extra=""):
    defines = "\n".join(f"    {v} as x == '{v}'" for v in variables)
    return TEMPLATE.format(match=match, defines=defines, extra=emit_extra,
                           timeout="  on timeout emit a.ts as at" if timeout else "")


def run(src, *events):
    out: list[cep.Match] = []
    detector = Detector(cep.compile_patterns(src), out.append)
    for x, ts in events:
        detector.feed("s", {"k": "k", "x": x, "ts": ts})
    detector.finish()
    return [(m.fields.get("at"), m.time, m.timeout) for m in out]


def test_then_not_between_forbids_the_event_anywhere_between():
    src = source("a then not c then b")
    assert run(src, ("a", 0), ("x", 1), ("b", 2)) == [(0, 2, False)]
    assert run(src, ("a", 0), ("c", 1), ("b", 2)) == []
    assert run(src, ("a", 0), ("b", 1), ("c", 2)) == [(0, 1, False)]  # a c after b is fine


def test_next_not_forbids_only_the_very_next_event():
    src = source("a next not c then b")
    assert run(src, ("a", 0), ("c", 1), ("b", 2)) == []
    assert run(src, ("a", 0), ("x", 1), ("c", 2), ("b", 3)) == [(0, 3, False)]


def test_next_not_at_the_end_completes_on_a_non_matching_next_event():
    src = source("a next not c", variables="ac")
    assert run(src, ("a", 0), ("x", 4)) == [(0, 0, False)]
    assert run(src, ("a", 0), ("c", 4)) == []
    assert run(src, ("a", 0)) == []  # no next event, no decision


def test_absence_at_the_end_fires_when_within_runs_out_without_a_later_event():
    src = source("a then not c", variables="ac")
    assert run(src, ("a", 0), ("x", 5_000)) == [(0, 10_000, False)]
    assert run(src, ("a", 0), ("c", 9_999)) == []
    assert run(src, ("a", 0), ("c", 10_000)) == [(0, 10_000, False)]  # the window is [0, 10 s)
    assert run(src, ("a", 0)) == [(0, 10_000, False)]  # end of input: time runs out


def test_absence_fires_from_the_watermark_not_from_a_later_event_of_the_key():
    out: list[cep.Match] = []
    detector = Detector(cep.compile_patterns(source("a then not c", variables="ac")), out.append)
    detector.feed("s", {"k": "quiet", "x": "a", "ts": 0})
    detector.feed("s", {"k": "other", "x": "x", "ts": 10_001})  # watermark 10_000 (no lateness)
    assert [(m.key, m.time) for m in out] == [("quiet", 10_000)]


def test_timeouts_carry_what_matched_so_far():
    src = source("a then b", variables="ab", timeout=True)
    assert run(src, ("a", 0), ("x", 20_000)) == [(0, 10_000, True)]
    assert run(src, ("a", 0), ("b", 3_000)) == [(0, 3_000, False)]
    without = source("a then b", variables="ab")
    assert run(without, ("a", 0), ("x", 20_000)) == []  # no `on timeout emit`: nothing output


def test_timeout_records_say_so_in_replay_output():
    out: list[cep.Match] = []
    detector = Detector(cep.compile_patterns(source("a then b", variables="ab", timeout=True)), out.append)
    detector.feed("s", {"k": "k", "x": "a", "ts": "2024-01-01T00:00:00Z"})
    detector.finish()
    assert out[0].to_record() == {"pattern": "p", "key": "k", "time": "2024-01-01T00:00:10Z", "timeout": True,
                                  "at": "2024-01-01T00:00:00Z"}


@pytest.mark.parametrize(
    ("match", "message"),
    [
        ("a then not c", "needs `within`"),
        ("a then not c+ then b", "cannot be quantified"),
        ("a then not (c then d) then b", "single variable"),
    ],
)
def test_shapes_that_cannot_work_are_refused(match, message):
    src = f"pattern p\n  from s\n  time ts\n  match {match}\n  define a as x == 1\n"
    with pytest.raises(cep.PatternError) as info:
        cep.compile_patterns(src)
    assert message in str(info.value)


def test_on_timeout_without_within_is_refused():
    with pytest.raises(cep.PatternError, match="needs `within`"):
        cep.compile_patterns("pattern p\n  from s\n  time ts\n  match a then b\n  on timeout emit a.x\n")


def test_pathological_pattern_stays_within_its_bound_and_counts_the_drops():
    src = """
pattern blowup
  from s
  key k
  match a then any b+
  define
    a as x == 'a'
    b as x == 'b'
  skip none
  emit a.x
"""
    detector = Detector(cep.compile_patterns(src), lambda m: None, max_partial_matches=50)
    for i in range(300):
        detector.feed("s", {"k": "k", "x": "a" if i % 3 == 0 else "b"})
        assert detector.runners[0].operator.partial_matches <= 50
    detector.finish()
    assert detector.stats.dropped > 0  # dropped, but counted, never silently


def test_unbounded_branching_loops_are_warned_about_before_they_run():
    from cep.lang import check, parse

    base = "pattern p\n  from s\n  time ts\n  match {}\n  define\n    a as x == 1\n    b as x == 2\n"

    def warnings(shape):
        return [d.message for d in check(parse(base.format(shape))) if d.severity == "warning"]

    assert any("every combination" in w for w in warnings("a then b+ any"))
    assert any("every combination" in w for w in warnings("a then b* any"))
    assert any("pile up" in w for w in warnings("a then any b+"))
    for bounded in ("a then any b+ within 1m", "a then b+ any until x > 5", "a then any b{2,4}"):
        assert warnings(bounded) == []
    cep.compile_patterns(base.format("a then b+ any"))  # runs: memory is bounded per key


@pytest.mark.parametrize(
    ("events", "expected"),
    [
        ([("a", 0), ("c", 1), ("d", 2)], []),  # b skipped: the not still applies before d
        ([("a", 0), ("b", 1), ("c", 2), ("d", 3)], [(0, 3, False)]),  # b taken: the not is over
        ([("a", 0), ("d", 1)], [(0, 1, False)]),
        ([("a", 0), ("c", 1), ("b", 2), ("d", 3)], []),  # c before b: ends it
    ],
)
def test_a_not_carries_past_optional_elements_until_one_is_taken(events, expected):
    # Flink: getCurrentNotCondition / copyWithoutTransitiveNots
    src = source("a then not c then b? then d", variables="abcd")
    assert run(src, *events) == expected
