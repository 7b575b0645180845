"""The NFA agrees with a brute-force matcher on random streams for random sequence shapes.

The reference enumerates every increasing tuple of positions and checks the definition of each
contiguity directly (SASE+ / Flink semantics for single elements, no skip):
strict — the very next event; relaxed (skip till next match) — no event in between satisfies
the element's condition; any (skip till any match) — any later event. Slow, obviously right.
"""

from __future__ import annotations

from collections import Counter
from itertools import combinations

from hypothesis import given, settings
from hypothesis import strategies as st

from cep.nfa.spec import Consuming

from .helpers import el, run_matcher

KINDS = "abc"
CONSUMING = [Consuming.STRICT, Consuming.SKIP_TILL_NEXT, Consuming.SKIP_TILL_ANY]


def reference(shape, kinds, times, within):
    matches = []
    n = len(kinds)
    for positions in combinations(range(n), len(shape)):
        ok = True
        for j, (kind, consuming) in enumerate(shape):
            i = positions[j]
            if kinds[i] != kind:
                ok = False
                break
            if j == 0:
                continue
            prev = positions[j - 1]
            if consuming is Consuming.STRICT and i != prev + 1:
                ok = False
            elif consuming is Consuming.SKIP_TILL_NEXT and any(kinds[k] == kind for k in range(prev + 1, i)):
                ok = False
            if not ok:
                break
        if ok and within is not None and times[positions[-1]] - times[positions[0]] >= within:
            ok = False
        if ok:
            matches.append(tuple(f"e{i}" for i in positions))
    return matches


shapes = st.lists(st.tuples(st.sampled_from(KINDS), st.sampled_from(CONSUMING)), min_size=1, max_size=4)
streams = st.lists(st.tuples(st.sampled_from(KINDS + "x"), st.integers(0, 3)), max_size=12)


@settings(max_examples=300, deadline=None)
@given(shape=shapes, stream=streams, within=st.one_of(st.none(), st.integers(1, 12)))
def test_nfa_agrees_with_brute_force(shape, stream, within):
    kinds = [k for k, _ in stream]
    times = []
    t = 0
    for _, gap in stream:
        t += gap
        times.append(t)
    elements = [el(f"v{j}", kind, consuming=consuming) for j, (kind, consuming) in enumerate(shape)]
    events = [(kind, f"e{i}", times[i]) for i, kind in enumerate(kinds)]
    got = run_matcher(elements, events, within=within)
    assert Counter(got) == Counter(reference(shape, kinds, times, within))
