"""Alternation `a | b`, also of sub-sequences (which Flink lacks; SQL has it)."""

from __future__ import annotations

import cep
from cep.detector import Detector


def run(match, kinds, skip="none"):
    used = [v for v in "xabc" if f"{v}" in match.split()]
    used = [v for v in "xabc" if any(tok.strip("()|+") == v for tok in match.split())]
    defines = "\n".join(f"    {v} as k == '{v}'" for v in used)
    emits = ", ".join(f"{v}.i as {v}" for v in used)
    src = f"pattern p\n  from s\n  match {match}\n  define\n{defines}\n  skip {skip}\n  emit {emits}\n"
    out: list[cep.Match] = []
    detector = Detector(cep.compile_patterns(src), out.append)
    for i, k in enumerate(kinds):
        detector.feed("s", {"k": k, "i": i})
    detector.finish()
    return [{k: v for k, v in m.fields.items() if v is not None} for m in out]


def test_relaxed_alternation_takes_the_next_event_fitting_any_option():
    assert run("x then (a | b)", "xyba") == [{"x": 0, "b": 2}]


def test_strict_and_any_alternation():
    assert run("x next (a | b)", "xyba") == []
    assert run("x next (a | b)", "xbya") == [{"x": 0, "b": 1}]
    assert run("x then any (a | b)", "xyba") == [{"x": 0, "b": 2}, {"x": 0, "a": 3}]


def test_alternation_of_sub_sequences():
    assert run("(x then a | b) then c", "xabc") == [{"x": 0, "a": 1, "c": 3}, {"b": 2, "c": 3}]


def test_alternation_at_the_top():
    assert run("x | a", "xa") == [{"x": 0}, {"a": 1}]


def test_quantified_alternation_prefers_the_longest_match_under_a_skip():
    assert run("x then (a | b)+ then c", "xabac", skip="past last") == [{"x": 0, "a": 3, "b": 2, "c": 4}]
