"""Hypothesis strategies for ASTs shaped the way the parser builds them.

Only parser-shaped trees are generated: no negative number literals (``-5`` is unary minus on 5),
``in`` takes a list, sequences are flattened, names avoid keywords, and a loop is never both
reluctant and greedy. Within those limits anything goes, so the printer's parenthesisation and
quoting are exercised by the round-trip property.
"""

from __future__ import annotations

from hypothesis import strategies as st

from cep.lang import ast
from cep.lang.parser import keywords

names = st.from_regex(r"[a-z_][a-z0-9_]{0,7}", fullmatch=True).filter(lambda s: s not in keywords())
durations = st.builds(ast.Duration, st.integers(min_value=0, max_value=10**10))
paths = st.builds(ast.Path, st.lists(names, min_size=1, max_size=3).map(tuple))

literals = st.builds(
    ast.Literal,
    st.one_of(
        st.integers(min_value=0),
        st.floats(min_value=0, allow_nan=False, allow_infinity=False),
        st.text(max_size=12),
        st.booleans(),
        st.none(),
    ),
)

_BINARY_OPS = ["or", "and", "==", "!=", "<", "<=", ">", ">=", "+", "-", "*", "/", "%"]


def _compound(inner: st.SearchStrategy[ast.Expr]) -> st.SearchStrategy[ast.Expr]:
    lists = st.builds(ast.ListExpr, st.lists(inner, max_size=3).map(tuple))
    return st.one_of(
        st.builds(ast.Unary, st.sampled_from(["not", "-"]), inner),
        st.builds(ast.Binary, st.sampled_from(_BINARY_OPS), inner, inner),
        st.builds(ast.InExpr, inner, lists, st.booleans()),
        st.builds(ast.Between, inner, inner, inner, st.booleans()),
        st.builds(ast.IsNull, inner, st.booleans()),
        st.builds(ast.Call, names, st.lists(inner, max_size=3).map(tuple)),
    )


exprs: st.SearchStrategy[ast.Expr] = st.recursive(
    st.one_of(literals, durations, paths), _compound, max_leaves=12
)


@st.composite
def quantifiers(draw: st.DrawFn) -> ast.Quantifier:
    low = draw(st.integers(min_value=0, max_value=20))
    high = draw(st.one_of(st.none(), st.integers(min_value=0, max_value=20)))
    reluctant = high is None and low in (0, 1) and draw(st.booleans())
    greedy = not reluctant and draw(st.booleans())
    inner = draw(st.sampled_from(list(ast.Contiguity)))
    until = draw(st.one_of(st.none(), exprs))
    return ast.Quantifier(low, high, greedy=greedy, reluctant=reluctant, inner=inner, until=until)


def _sequences(inner: st.SearchStrategy[ast.SeqExpr] | None) -> st.SearchStrategy[ast.SeqExpr]:
    quant = st.one_of(st.none(), st.none(), quantifiers())
    element: st.SearchStrategy[ast.SeqExpr] = st.builds(ast.Step, names, quant)
    if inner is not None:
        element = st.one_of(element, st.builds(ast.Group, inner, quant))
    joins = st.sampled_from([
        (ast.Contiguity.STRICT, False), (ast.Contiguity.STRICT, True), (ast.Contiguity.RELAXED, False),
        (ast.Contiguity.RELAXED, True), (ast.Contiguity.ANY, False),
    ])

    @st.composite
    def chain(draw: st.DrawFn) -> ast.SeqExpr:
        first = draw(element)
        rest = draw(st.lists(st.tuples(joins, element), max_size=3))
        if not rest:
            return first
        parts = [ast.SeqPart(first)] + [ast.SeqPart(e, c, n) for (c, n), e in rest]
        return ast.Sequence(tuple(parts))

    alternation = st.lists(chain(), min_size=2, max_size=3).map(lambda o: ast.Alternation(tuple(o)))
    return st.one_of(chain(), alternation)


sequences = _sequences(_sequences(_sequences(None)))

windows = st.one_of(
    st.builds(ast.Window, st.sampled_from(["tumbling", "session", "rolling"]), durations),
    st.builds(ast.Window, st.just("sliding"), durations, durations),
    st.builds(ast.Window, st.just("count"), count=st.integers(min_value=0, max_value=999),
              count_every=st.one_of(st.none(), st.integers(min_value=0, max_value=999))),
)


@st.composite
def skips(draw: st.DrawFn) -> ast.Skip:
    kind = draw(st.sampled_from(list(ast.SkipKind)))
    var = draw(names) if kind in (ast.SkipKind.TO_FIRST, ast.SkipKind.TO_LAST) else None
    return ast.Skip(kind, var)


emit_items = st.lists(st.builds(ast.EmitItem, exprs, st.one_of(st.none(), names)), min_size=1, max_size=4).map(tuple)

patterns = st.builds(
    ast.Pattern,
    name=names,
    source=st.builds(ast.From, names, st.one_of(st.none(), exprs)),
    description=st.one_of(st.none(), st.text(max_size=20)),
    key=st.lists(paths, max_size=2).map(tuple),
    time=st.one_of(st.none(), st.builds(ast.Time, paths, st.sampled_from(["auto", "seconds", "millis"]),
                                        st.one_of(st.none(), durations))),
    match=st.one_of(st.none(), st.builds(ast.Match, sequences, st.one_of(st.none(), durations), st.booleans())
                    .map(lambda m: m if m.within is not None else ast.Match(m.sequence))),
    defines=st.lists(st.builds(ast.Define, names, exprs), max_size=3).map(tuple),
    window=st.one_of(st.none(), windows),
    having=st.one_of(st.none(), exprs),
    skip=st.one_of(st.none(), skips()),
    emit=st.one_of(st.just(()), emit_items),
    timeout_emit=st.one_of(st.none(), emit_items),
)

json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False, allow_infinity=False),
              st.text(max_size=8)),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=5), inner, max_size=3)),
    max_leaves=8,
)
json_objects = st.dictionaries(st.text(max_size=6), json_values, max_size=4)

test_steps = st.one_of(
    st.builds(ast.Given, names, st.lists(json_objects, max_size=3).map(tuple)),
    st.builds(ast.Advance, durations),
    st.builds(ast.Expect, names, st.lists(json_objects, max_size=2).map(tuple)),
    st.builds(ast.Expect, names, st.just(()), none=st.just(True)),
    st.builds(ast.Expect, names, st.lists(json_objects, max_size=2).map(tuple), timeout=st.just(True)),
)
pattern_tests = st.builds(ast.PatternTest, st.text(max_size=20), st.lists(test_steps, max_size=4).map(tuple))

files = st.builds(
    ast.File,
    patterns=st.lists(patterns, max_size=2).map(tuple),
    tests=st.lists(pattern_tests, max_size=2).map(tuple),
)
