"""Negation agrees with a brute-force reference on random streams for random shapes.

Shapes: two or three positive elements (each joined strictly, relaxed or any), optionally with
a negated element between two of them (`next not` / `then not`) or at the end (`next not`, or
`then not` = absence with `within`). The reference enumerates position tuples of the positive
elements and checks every rule directly.
"""

from __future__ import annotations

from collections import Counter
from itertools import combinations

from hypothesis import given, settings
from hypothesis import strategies as st

from cep.nfa.spec import Consuming, Element

from .helpers import el, is_kind, run_matcher

STRICT, RELAXED, ANY = Consuming.STRICT, Consuming.SKIP_TILL_NEXT, Consuming.SKIP_TILL_ANY


def negated(kind, consuming):
    return Element(f"not_{kind}", is_kind(kind), consuming=consuming, negated=True)


def reference(positives, negation, kinds, times, within):
    """positives: [(kind, consuming)]; negation: None or (slot, kind, consuming) where slot is the
    index of the positive it precedes, or len(positives) for the end."""
    out = []
    n = len(kinds)
    for pos in combinations(range(n), len(positives)):
        if any(kinds[p] != k for p, (k, _) in zip(pos, positives)):
            continue
        ok = True
        for j in range(1, len(positives)):
            kind, consuming = positives[j]
            prev, cur = pos[j - 1], pos[j]
            if consuming is STRICT and cur != prev + 1:
                ok = False
            elif consuming is RELAXED and any(kinds[k] == kind for k in range(prev + 1, cur)):
                ok = False
        if not ok:
            continue
        start, last = pos[0], pos[-1]
        if within is not None and times[last] - times[start] >= within:
            continue
        if negation is not None:
            slot, c, how = negation
            if slot < len(positives):  # between pos[slot-1] and pos[slot]
                a, b = pos[slot - 1], pos[slot]
                if how is STRICT and kinds[a + 1] == c:
                    continue
                if how is RELAXED and any(kinds[k] == c for k in range(a + 1, b)):
                    continue
            elif how is STRICT:  # `next not c` at the end: completed by the next event, in time
                if last + 1 >= n or kinds[last + 1] == c or times[last + 1] - times[start] >= within:
                    continue
            else:  # absence: no c after the last positive before the deadline
                deadline = times[start] + within
                if any(kinds[k] == c and times[k] < deadline for k in range(last + 1, n)):
                    continue
        out.append(tuple(f"e{i}" for i in pos))
    return out


@st.composite
def shapes(draw):
    count = draw(st.integers(2, 3))
    kinds = draw(st.lists(st.sampled_from("ab"), min_size=count, max_size=count))
    joins = [RELAXED] + [draw(st.sampled_from([STRICT, RELAXED, ANY])) for _ in range(count - 1)]
    positives = list(zip(kinds, joins))
    negation = None
    if draw(st.booleans()):
        slot = draw(st.integers(1, count))
        how = draw(st.sampled_from([STRICT, RELAXED]))
        if slot < count and how is STRICT and positives[slot][1] is not STRICT:
            positives[slot] = (positives[slot][0], RELAXED)  # `next not c then b`
        if slot < count and positives[slot][1] is ANY:
            positives[slot] = (positives[slot][0], RELAXED)  # keep the reference simple
        negation = (slot, "c", how)
    return positives, negation


# Biased towards the shapes' letters, so that most examples match and the negation matters.
streams = st.lists(st.tuples(st.sampled_from("aabbccx"), st.integers(0, 2)), min_size=3, max_size=11)


@settings(max_examples=400, deadline=None)
@given(shape=shapes(), stream=streams, within=st.integers(2, 20))
def test_negation_agrees_with_brute_force(shape, stream, within):
    positives, negation = shape
    kinds = [k for k, _ in stream]
    times, t = [], 0
    for _, gap in stream:
        t += gap
        times.append(t)
    elements = [el(f"v{j}", kind, consuming=consuming) for j, (kind, consuming) in enumerate(positives)]
    if negation is not None:
        slot, c, how = negation
        elements.insert(slot, negated(c, how))
    events = [(kind, f"e{i}", times[i]) for i, kind in enumerate(kinds)]
    got = run_matcher(elements, events, within=within)
    assert Counter(got) == Counter(reference(positives, negation, kinds, times, within))
