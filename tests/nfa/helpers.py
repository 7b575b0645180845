"""Build specs and run the real matcher over labelled events, returning matches as id tuples."""

from __future__ import annotations

from cep.nfa.buffer import chain
from cep.nfa.compiler import compile_nfa
from cep.nfa.runtime import KeyRuns, Matcher, StepResult
from cep.nfa.spec import Condition, Consuming, Element, PatternSpec, SkipKind, SkipStrategy, Times


def is_kind(kind: str) -> Condition:
    return Condition(lambda e: e["kind"] == kind, False, f"kind == {kind!r}")


def el(name: str, kind: str | None = None, times: Times = Times(1, 1), consuming: Consuming = Consuming.SKIP_TILL_NEXT,
       inner: Consuming = Consuming.SKIP_TILL_NEXT) -> Element:
    return Element(name, is_kind(kind or name), times, consuming, inner)


def run_matcher(elements, events, *, skip=SkipKind.NONE, var=None, within=None, times=None, end=True):
    """``events`` are (kind, id) pairs or (kind, id, ts); returns matches as tuples of ids, in output order."""
    nfa = compile_nfa(PatternSpec(tuple(elements), within, SkipStrategy(skip, var)))
    matcher = Matcher(nfa)
    key_runs = KeyRuns()
    out = []
    for seq, item in enumerate(events):
        kind, ident = item[0], item[1]
        ts = item[2] if len(item) > 2 else seq
        result = StepResult()
        matcher.step(key_runs, {"kind": kind, "id": ident}, ts, seq, result)
        out.extend(tuple(n.event["id"] for n in chain(m.node)) for m in result.matches)
    if end:
        result = StepResult()
        matcher.end_of_input(key_runs, result)
        out.extend(tuple(n.event["id"] for n in chain(m.node)) for m in result.matches)
    return out
