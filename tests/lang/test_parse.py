"""Parsing: the canonical examples, every construct's AST shape, spans, and soft keywords."""

from __future__ import annotations

import dataclasses
from pathlib import Path as FsPath
from typing import Any, Iterator

import pytest

from cep.errors import PatternSyntaxError
from cep.lang import ast, parse
from cep.lang.ast import Contiguity as C

CANONICAL = FsPath(__file__).parent / "golden"

SMALL_THEN_BIG = (CANONICAL / "canonical_small_then_big.cep").read_text()
OVERHEATING = (CANONICAL / "canonical_overheating.cep").read_text()
TESTS = (CANONICAL / "canonical_tests.cep").read_text()


def P(*parts: str) -> ast.Path:
    return ast.Path(parts)


def L(value: Any) -> ast.Literal:
    return ast.Literal(value)


def _pattern(clauses: str) -> ast.Pattern:
    return parse(f"pattern p from s {clauses}").patterns[0]


def test_small_then_big_as_written() -> None:
    (p,) = parse(SMALL_THEN_BIG).patterns
    assert p.name == "small_then_big"
    assert p.source == ast.From("transactions")
    assert p.key == (P("card_id"),)
    assert p.time == ast.Time(P("ts"), "auto", ast.Duration(5000))
    assert p.match == ast.Match(
        ast.Sequence((ast.SeqPart(ast.Step("small")), ast.SeqPart(ast.Step("big"), C.STRICT))),
        within=ast.Duration(60_000),
    )
    assert p.defines == (
        ast.Define("small", ast.Binary("<", P("amount"), L(0.10))),
        ast.Define("big", ast.Binary(">", P("amount"), L(500))),
    )
    assert p.skip == ast.Skip(ast.SkipKind.PAST_LAST)
    assert [(i.expr, i.alias) for i in p.emit] == [
        (P("card_id"), None), (P("small", "amount"), "small_amount"), (P("big", "amount"), "big_amount"),
        (P("small", "ts"), "small_ts"), (P("big", "ts"), "big_ts"),
    ]
    assert isinstance(p.defines[1].condition.right.value, int)  # type: ignore[union-attr]


def test_overheating_as_written() -> None:
    (p,) = parse(OVERHEATING).patterns
    assert p.window == ast.Window("tumbling", size=ast.Duration(60_000))
    assert p.match is None
    assert p.having == ast.Binary(">", ast.Call("avg", (P("temperature"),)), L(40))
    assert [(i.expr, i.alias) for i in p.emit] == [
        (P("sensor_id"), None), (ast.Call("avg", (P("temperature"),)), "avg_temp"),
        (ast.Call("count", ()), "readings"), (P("window", "start"), "window_start"),
        (P("window", "end"), "window_end"),
    ]


def test_test_blocks_as_written() -> None:
    first, second = parse(TESTS).tests
    assert first.name == "a tiny charge then a big one is flagged"
    given, expect = first.steps
    assert given == ast.Given("transactions", (
        {"card_id": "c1", "amount": 0.05, "ts": "2024-01-01T00:00:00Z"},
        {"card_id": "c1", "amount": 900, "ts": "2024-01-01T00:00:20Z"},
    ))
    assert expect == ast.Expect("small_then_big", ({"card_id": "c1", "small_amount": 0.05, "big_amount": 900},))
    assert second.steps[-1] == ast.Expect("small_then_big", none=True)


def test_other_test_steps_and_full_json() -> None:
    (t,) = parse('test "t"\n advance 90s\n expect timeout p {"a": [1, -2.5, {"b": null}], "c": true, "d": "\\u00e9"}').tests
    assert t.steps == (
        ast.Advance(ast.Duration(90_000)),
        ast.Expect("p", ({"a": [1, -2.5, {"b": None}], "c": True, "d": "é"},), timeout=True),
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a", ast.Step("a")),
        ("a then b", ast.Sequence((ast.SeqPart(ast.Step("a")), ast.SeqPart(ast.Step("b"), C.RELAXED)))),
        ("a then any b", ast.Sequence((ast.SeqPart(ast.Step("a")), ast.SeqPart(ast.Step("b"), C.ANY)))),
        ("a next not c", ast.Sequence((ast.SeqPart(ast.Step("a")), ast.SeqPart(ast.Step("c"), C.STRICT, True)))),
        ("a then not c", ast.Sequence((ast.SeqPart(ast.Step("a")), ast.SeqPart(ast.Step("c"), C.RELAXED, True)))),
        ("a+", ast.Step("a", ast.Quantifier(1, None))),
        ("a*", ast.Step("a", ast.Quantifier(0, None))),
        ("a?", ast.Step("a", ast.Quantifier(0, 1))),
        ("a{3}", ast.Step("a", ast.Quantifier(3, 3))),
        ("a{2,4}", ast.Step("a", ast.Quantifier(2, 4))),
        ("a{2,}", ast.Step("a", ast.Quantifier(2, None))),
        ("a+?", ast.Step("a", ast.Quantifier(1, None, reluctant=True))),
        ("a*?", ast.Step("a", ast.Quantifier(0, None, reluctant=True))),
        ("a+ consecutive", ast.Step("a", ast.Quantifier(1, None, inner=C.STRICT))),
        ("a+ any", ast.Step("a", ast.Quantifier(1, None, inner=C.ANY))),
        ("a+ greedy", ast.Step("a", ast.Quantifier(1, None, greedy=True))),
        ("a+ until x > 5", ast.Step("a", ast.Quantifier(1, None, until=ast.Binary(">", P("x"), L(5))))),
        ("(a then b)+", ast.Group(ast.Sequence((ast.SeqPart(ast.Step("a")), ast.SeqPart(ast.Step("b"), C.RELAXED))),
                                  ast.Quantifier(1, None))),
        ("a | b | c", ast.Alternation((ast.Step("a"), ast.Step("b"), ast.Step("c")))),
        ("(a then b) | c", ast.Alternation((ast.Group(ast.Sequence((ast.SeqPart(ast.Step("a")),
                                                                     ast.SeqPart(ast.Step("b"), C.RELAXED)))),
                                            ast.Step("c")))),
    ],
)
def test_sequence_shapes(text: str, expected: ast.SeqExpr) -> None:
    match = _pattern(f"match {text}").match
    assert match is not None and match.sequence == expected


def test_then_any_join_versus_any_loop_modifier() -> None:
    seq = _pattern("match a+ any then any b").match.sequence  # type: ignore[union-attr]
    assert seq == ast.Sequence((
        ast.SeqPart(ast.Step("a", ast.Quantifier(1, None, inner=C.ANY))),
        ast.SeqPart(ast.Step("b"), C.ANY),
    ))


def test_until_expression_ends_at_the_next_sequence_keyword() -> None:
    m = _pattern("match a+ until x > 1 and y < 2 greedy next b within 1m between events").match
    assert m is not None and m.within == ast.Duration(60_000) and m.within_between_events
    first, second = m.sequence.parts  # type: ignore[union-attr]
    q = first.element.quantifier
    assert q.until == ast.Binary("and", ast.Binary(">", P("x"), L(1)), ast.Binary("<", P("y"), L(2)))
    assert q.greedy and second == ast.SeqPart(ast.Step("b"), C.STRICT)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a or b and c", ast.Binary("or", P("a"), ast.Binary("and", P("b"), P("c")))),
        ("not a == 1", ast.Unary("not", ast.Binary("==", P("a"), L(1)))),
        ("a + b * c", ast.Binary("+", P("a"), ast.Binary("*", P("b"), P("c")))),
        ("a - b - c", ast.Binary("-", ast.Binary("-", P("a"), P("b")), P("c"))),
        ("-a.b % 2", ast.Binary("%", ast.Unary("-", P("a", "b")), L(2))),
        ("x between 1 and 2 and y", ast.Binary("and", ast.Between(P("x"), L(1), L(2)), P("y"))),
        ("x not between 1 + 1 and 3", ast.Between(P("x"), ast.Binary("+", L(1), L(1)), L(3), True)),
        ("x in ['a', \"b\"]", ast.InExpr(P("x"), ast.ListExpr((L("a"), L("b"))))),
        ("x not in []", ast.InExpr(P("x"), ast.ListExpr(()), True)),
        ("x is null or y is not null", ast.Binary("or", ast.IsNull(P("x")), ast.IsNull(P("y"), True))),
        ("big.ts - small.ts < 30s", ast.Binary("<", ast.Binary("-", P("big", "ts"), P("small", "ts")),
                                               ast.Duration(30_000))),
        ("coalesce(a, 'x\\n') != true", ast.Binary("!=", ast.Call("coalesce", (P("a"), L("x\n"))), L(True))),
        ("(a or b) and false", ast.Binary("and", ast.Binary("or", P("a"), P("b")), L(False))),
        ("1.5e3 >= 1e-2", ast.Binary(">=", L(1500.0), L(0.01))),
    ],
)
def test_expression_precedence(text: str, expected: ast.Expr) -> None:
    assert _pattern(f"where {text}").source.where == expected


@pytest.mark.parametrize(("text", "millis"), [("250ms", 250), ("10s", 10_000), ("1m", 60_000),
                                              ("2h", 7_200_000), ("1d", 86_400_000)])
def test_durations(text: str, millis: int) -> None:
    d = _pattern(f"match a within {text}").match.within  # type: ignore[union-attr]
    assert d == ast.Duration(millis) and d.text == text


def test_clauses_in_any_order_and_layout_free() -> None:
    p = parse("pattern p 'desc' emit x skip to first a define a as true match a time t millis from s # c\n key k.v, w")
    assert p.patterns[0] == ast.Pattern(
        "p", ast.From("s"), "desc", key=(P("k", "v"), P("w")), time=ast.Time(P("t"), "millis"),
        match=ast.Match(ast.Step("a")), defines=(ast.Define("a", L(True)),),
        skip=ast.Skip(ast.SkipKind.TO_FIRST, "a"), emit=(ast.EmitItem(P("x")),),
    )


@pytest.mark.parametrize(
    ("clause", "expected"),
    [
        ("window sliding 1m every 10s", ast.Window("sliding", ast.Duration(60_000), ast.Duration(10_000))),
        ("window session 5m", ast.Window("session", ast.Duration(300_000))),
        ("window rolling 1h", ast.Window("rolling", ast.Duration(3_600_000))),
        ("window count 10 every 2", ast.Window("count", count=10, count_every=2)),
        ("window count 10", ast.Window("count", count=10)),
    ],
)
def test_windows(clause: str, expected: ast.Window) -> None:
    assert _pattern(clause).window == expected


def test_skip_and_timeout_emit() -> None:
    p = _pattern("skip to last b on timeout emit a.x as ax")
    assert p.skip == ast.Skip(ast.SkipKind.TO_LAST, "b")
    assert p.timeout_emit == (ast.EmitItem(P("a", "x"), "ax"),)
    assert _pattern("skip none").skip == ast.Skip(ast.SkipKind.NONE)
    assert _pattern("skip to next").skip == ast.Skip(ast.SkipKind.TO_NEXT)


def test_keywords_are_names_where_a_keyword_cannot_go() -> None:
    p = _pattern("where time > 1 and key == 'x' time time key first.last emit window.start as window, count() as count")
    assert p.source.where == ast.Binary("and", ast.Binary(">", P("time"), L(1)), ast.Binary("==", P("key"), L("x")))
    assert p.time == ast.Time(P("time"))
    assert p.key == (P("first", "last"),)
    assert p.emit == (ast.EmitItem(P("window", "start"), "window"), ast.EmitItem(ast.Call("count", ()), "count"))


def test_strings_escape_and_numbers_keep_their_kind() -> None:
    where = _pattern(r"""where a == 'it\'s' and b == "q\"\\\t\u00e9\ud83d\ude00" and c == 7 and d == 7.0""").source.where
    a, b, c, d = (n.right for n in _conjuncts(where))  # type: ignore[union-attr]
    assert (a.value, b.value) == ("it's", 'q"\\\té😀')
    assert type(c.value) is int and type(d.value) is float


def _conjuncts(e: ast.Expr) -> list[ast.Expr]:
    if isinstance(e, ast.Binary) and e.op == "and":
        return _conjuncts(e.left) + _conjuncts(e.right)
    return [e]


def _nodes(value: Any) -> Iterator[Any]:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        yield value
        for f in dataclasses.fields(value):
            yield from _nodes(getattr(value, f.name))
    elif isinstance(value, tuple):
        for item in value:
            yield from _nodes(item)


def test_every_node_has_a_span() -> None:
    src = SMALL_THEN_BIG + OVERHEATING + TESTS + (
        "pattern q from s where x in [1] and y between 1 and 2 and z is null\n"
        "  match (a then b)+ consecutive next not c | d{2,} until -e > 1s on timeout emit f(a)\n"
    )
    file = parse(src)
    missing = [n for n in _nodes(file) if hasattr(n, "span") and n.span == ast.NO_SPAN]
    assert missing == []
    for node in _nodes(file):
        if isinstance(node, ast.Path):
            assert src[node.span.start:node.span.end] == ".".join(node.parts)


def test_spans_point_at_the_text() -> None:
    p = parse(SMALL_THEN_BIG).patterns[0]
    big = p.defines[1]
    assert (big.span.line, big.span.column) == (9, 5)
    assert SMALL_THEN_BIG[big.span.start:big.span.end] == "big as amount > 500"
    assert (p.span.line, p.span.column) == (2, 1)


def test_syntax_errors_are_pattern_syntax_errors_and_syntax_errors() -> None:
    with pytest.raises(PatternSyntaxError) as caught:
        parse("pattern p from s match a b", "f.cep")
    assert isinstance(caught.value, SyntaxError)
    assert caught.value.lineno == 1 and caught.value.offset == 26 and caught.value.filename == "f.cep"


def test_empty_text_is_an_empty_file() -> None:
    assert parse("  # nothing\n") == ast.File()
