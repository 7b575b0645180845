"""Quantified elements agree with a brute-force reference on random streams and shapes.

Shapes: two or three elements, each with a join (strict / relaxed / any), a quantifier
(`{1}`, `?`, `+`, `*`, `{2}`, `{1,2}`, `{2,}`) and a loop contiguity (consecutive / relaxed /
any). The reference enumerates, for every choice of how many events each element takes, every
tuple of positions, and checks the definitions directly (Flink's semantics, no skip):

* an element's first event relates to the previous element's last event by the element's join:
  strict — the very next event; relaxed — the first event of that kind after it; any — any later;
* its later events relate to each other by the loop contiguity, in the same three ways;
* an element that takes no event (`?`, `*`) is transparent: the next element relates to the
  last event before it;
* `within`: last event time − first event time < W.
"""

from __future__ import annotations

from collections import Counter
from itertools import combinations, product

from hypothesis import given, settings
from hypothesis import strategies as st

from cep.nfa.spec import Consuming, Times

from .helpers import el, run_matcher

STRICT, RELAXED, ANY = Consuming.STRICT, Consuming.SKIP_TILL_NEXT, Consuming.SKIP_TILL_ANY
QUANTIFIERS = [Times(1, 1), Times(0, 1), Times(1, None), Times(0, None), Times(2, 2), Times(1, 2), Times(2, None)]


def related(how, kind, kinds, prev, cur):
    if how is STRICT:
        return cur == prev + 1
    if how is RELAXED:
        return not any(kinds[k] == kind for k in range(prev + 1, cur))
    return True


def reference(shape, kinds, times, within):
    n = len(kinds)
    out = []
    ranges = [range(t.min, (t.max if t.max is not None else n) + 1) for _, _, t, _ in shape]
    for counts in product(*ranges):
        if sum(counts) == 0 or sum(counts) > n:
            continue
        for positions in combinations(range(n), sum(counts)):
            ok, prev, index = True, None, 0
            for (kind, join, _, inner), count in zip(shape, counts):
                mine = positions[index:index + count]
                index += count
                if any(kinds[p] != kind for p in mine):
                    ok = False
                    break
                if mine and prev is not None and not related(join, kind, kinds, prev, mine[0]):
                    ok = False
                    break
                if any(not related(inner, kind, kinds, a, b) for a, b in zip(mine, mine[1:])):
                    ok = False
                    break
                if mine:
                    prev = mine[-1]
            if ok and within is not None and times[positions[-1]] - times[positions[0]] >= within:
                ok = False
            if ok:
                out.append(tuple(f"e{p}" for p in positions))
    return out


@st.composite
def shapes(draw):
    count = draw(st.integers(2, 3))
    kinds = draw(st.permutations("abc"))[:count]  # distinct kinds per element
    shape = []
    for index, kind in enumerate(kinds):
        join = RELAXED if index == 0 else draw(st.sampled_from([STRICT, RELAXED, ANY]))
        times = draw(st.sampled_from(QUANTIFIERS))
        inner = draw(st.sampled_from([STRICT, RELAXED, ANY]))
        shape.append((kind, join, times, inner))
    return shape


streams = st.lists(st.tuples(st.sampled_from("aaabbbccx"), st.integers(0, 2)), min_size=3, max_size=9)


@settings(max_examples=500, deadline=None)
@given(shape=shapes(), stream=streams, within=st.one_of(st.none(), st.integers(2, 12)))
def test_quantifiers_agree_with_brute_force(shape, stream, within):
    kinds = [k for k, _ in stream]
    times, t = [], 0
    for _, gap in stream:
        t += gap
        times.append(t)
    elements = [el(f"v{i}", kind, times=q, consuming=join, inner=inner) for i, (kind, join, q, inner) in enumerate(shape)]
    events = [(kind, f"e{i}", times[i]) for i, kind in enumerate(kinds)]
    got = run_matcher(elements, events, within=within)
    assert Counter(got) == Counter(reference(shape, kinds, times, within))
