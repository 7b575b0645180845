"""The printer gives back text that parses to the same AST: parse(format_file(f)) == f."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cep.lang import ast, format_file, parse
from cep.lang.printer import format_expr, format_sequence, quote

from . import strategies as s

_SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _pattern_with(**fields: object) -> ast.File:
    base = dict(name="p", source=ast.From("s"))
    base.update(fields)
    return ast.File(patterns=(ast.Pattern(**base),))  # type: ignore[arg-type]


@_SETTINGS
@given(s.files)
def test_file_round_trip(file: ast.File) -> None:
    assert parse(format_file(file)) == file


@_SETTINGS
@given(s.exprs)
def test_expression_round_trip(expr: ast.Expr) -> None:
    file = _pattern_with(source=ast.From("s", expr))
    assert parse(format_file(file)).patterns[0].source.where == expr


@_SETTINGS
@given(s.sequences)
def test_sequence_round_trip(seq: ast.SeqExpr) -> None:
    file = _pattern_with(match=ast.Match(seq))
    assert parse(format_file(file)).patterns[0].match.sequence == seq  # type: ignore[union-attr]


@_SETTINGS
@given(st.text())
def test_quoted_strings_read_back(text: str) -> None:
    expr = parse(f"pattern p from s where x == {quote(text)}").patterns[0].source.where
    assert isinstance(expr, ast.Binary) and expr.right == ast.Literal(text)


def test_printing_is_a_fixed_point() -> None:
    src = "pattern p from s where not (a or b) and -(x - 1) * 2 > 3 emit x"
    once = format_file(parse(src))
    assert format_file(parse(once)) == once
    assert "not (a or b) and -(x - 1) * 2 > 3" in once


def test_only_needed_parentheses() -> None:
    b = ast.Binary
    a, c, d = ast.Path(("a",)), ast.Path(("c",)), ast.Path(("d",))
    assert format_expr(b("-", a, b("-", c, d))) == "a - (c - d)"
    assert format_expr(b("-", b("-", a, c), d)) == "a - c - d"
    assert format_expr(b("<", b("<", a, c), d)) == "(a < c) < d"
    assert format_expr(ast.Unary("not", b("==", a, c))) == "not a == c"


def test_sequence_layout() -> None:
    seq = parse("pattern p from s match a+ consecutive then any (b next not c){2,} | d").patterns[0].match
    assert seq is not None
    assert format_sequence(seq.sequence) == "a+ consecutive then any (b next not c){2,} | d"


def test_long_emit_wraps_under_first_item() -> None:
    items = ", ".join(f"field_number_{i} as output_{i}" for i in range(6))
    text = format_file(parse(f"pattern p from s match a emit {items}"))
    emit_lines = [line for line in text.splitlines() if "field_number" in line]
    assert len(emit_lines) > 1
    assert emit_lines[1].startswith("       field_number")
    assert all(len(line) <= 100 for line in emit_lines)
