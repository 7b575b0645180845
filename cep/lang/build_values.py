"""Expression, literal and test-block rules of the tree builder, and the token helpers.

Split from :mod:`cep.lang.build` to keep each file about one idea: this half turns tokens into
values (numbers, strings with escapes, durations, JSON events) and builds expression nodes; the
other half assembles sequences, clauses and patterns. Neither imports lark.
"""

from __future__ import annotations

from typing import Any

from cep.errors import Diagnostic
from cep.lang import ast
from cep.lang.diagnostics import at_span

__all__ = ["ValueRules", "DURATION_UNITS", "unescape", "span_of", "token_span"]

DURATION_UNITS: dict[str, int] = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}

_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", "/": "/", "\\": "\\", "'": "'", '"': '"'}

def unescape(body: str) -> str:
    """Decode the backslash escapes of a string body (JSON's set plus ``\\'``).

    Raises ``ValueError`` naming the bad escape. Written by hand so no user text is ever given to
    ``eval`` or ``ast.literal_eval``.
    """
    out: list[str] = []
    i = 0
    while i < len(body):
        ch = body[i]
        if ch != "\\":
            out.append(ch)
            i += 1
            continue
        nxt = body[i + 1]  # the STRING token never ends on a lone backslash
        if nxt in _ESCAPES:
            out.append(_ESCAPES[nxt])
            i += 2
        elif nxt == "u" and _is_hex(body[i + 2 : i + 6]):
            code = int(body[i + 2 : i + 6], 16)
            i += 6
            low = body[i + 2 : i + 6]
            if 0xD800 <= code < 0xDC00 and body[i : i + 2] == "\\u" and _is_hex(low) and 0xDC00 <= int(low, 16) < 0xE000:
                code = 0x10000 + ((code - 0xD800) << 10) + (int(low, 16) - 0xDC00)
                i += 6
            out.append(chr(code))
        else:
            raise ValueError(body[i : i + 2])
    return "".join(out)


def _is_hex(text: str) -> bool:
    return len(text) == 4 and all(c in "0123456789abcdefABCDEF" for c in text)


def span_of(meta: Any) -> ast.Span:
    """The span of a rule from lark's propagated positions (NO_SPAN for an empty match)."""
    if getattr(meta, "empty", True):
        return ast.NO_SPAN
    return ast.Span(meta.line, meta.column, meta.end_line, meta.end_column, meta.start_pos, meta.end_pos)


def token_span(tok: Any) -> ast.Span:
    """The span of one token."""
    return ast.Span(tok.line, tok.column, tok.end_line, tok.end_column, tok.start_pos, tok.end_pos)


class ValueRules:
    """Base of the tree builder: holds the text, collects problems, builds values and expressions."""

    def __init__(self, text: str, path: str) -> None:
        self._text = text
        self._file = path
        self.problems: list[Diagnostic] = []

    def _problem(self, span: ast.Span, message: str, hint: str | None = None) -> None:
        self.problems.append(at_span(self._text, self._file, span, message, hint))

    # ------------------------------------------------------------------ shared token helpers

    def _duration(self, tok: Any) -> ast.Duration:
        text = str(tok)
        digits = text.rstrip("smhd")
        unit = text[len(digits):]
        return ast.Duration(int(digits) * DURATION_UNITS[unit], text, token_span(tok))

    def _whole(self, tok: Any) -> int:
        text = str(tok)
        if not text.isdigit():
            self._problem(token_span(tok), f"`{text}` is not a whole number", "counts are whole numbers such as 3")
            return 0
        return int(text)

    def _string(self, tok: Any) -> str:
        try:
            return unescape(str(tok)[1:-1])
        except ValueError as bad:
            self._problem(token_span(tok), f"unknown escape `{bad}` in a string",
                          "known escapes: \\n \\t \\r \\b \\f \\/ \\\\ \\' \\\" and \\uXXXX")
            return str(tok)[1:-1]

    # ------------------------------------------------------------------ expressions

    def or_(self, c: list[Any], meta: Any) -> ast.Binary:
        return ast.Binary("or", c[0], c[1], span_of(meta))

    def and_(self, c: list[Any], meta: Any) -> ast.Binary:
        return ast.Binary("and", c[0], c[1], span_of(meta))

    def add(self, c: list[Any], meta: Any) -> ast.Binary:
        return ast.Binary("+", c[0], c[1], span_of(meta))

    def sub(self, c: list[Any], meta: Any) -> ast.Binary:
        return ast.Binary("-", c[0], c[1], span_of(meta))

    def mul(self, c: list[Any], meta: Any) -> ast.Binary:
        return ast.Binary("*", c[0], c[1], span_of(meta))

    def div(self, c: list[Any], meta: Any) -> ast.Binary:
        return ast.Binary("/", c[0], c[1], span_of(meta))

    def mod(self, c: list[Any], meta: Any) -> ast.Binary:
        return ast.Binary("%", c[0], c[1], span_of(meta))

    def eq(self, c: list[Any], meta: Any) -> ast.Binary:
        return ast.Binary("==", c[0], c[1], span_of(meta))

    def ne(self, c: list[Any], meta: Any) -> ast.Binary:
        return ast.Binary("!=", c[0], c[1], span_of(meta))

    def lt(self, c: list[Any], meta: Any) -> ast.Binary:
        return ast.Binary("<", c[0], c[1], span_of(meta))

    def le(self, c: list[Any], meta: Any) -> ast.Binary:
        return ast.Binary("<=", c[0], c[1], span_of(meta))

    def gt(self, c: list[Any], meta: Any) -> ast.Binary:
        return ast.Binary(">", c[0], c[1], span_of(meta))

    def ge(self, c: list[Any], meta: Any) -> ast.Binary:
        return ast.Binary(">=", c[0], c[1], span_of(meta))

    def not_(self, c: list[Any], meta: Any) -> ast.Unary:
        return ast.Unary("not", c[0], span_of(meta))

    def neg(self, c: list[Any], meta: Any) -> ast.Unary:
        return ast.Unary("-", c[0], span_of(meta))

    def in_(self, c: list[Any], meta: Any) -> ast.InExpr:
        return ast.InExpr(c[0], c[1], False, span_of(meta))

    def not_in(self, c: list[Any], meta: Any) -> ast.InExpr:
        return ast.InExpr(c[0], c[1], True, span_of(meta))

    def between(self, c: list[Any], meta: Any) -> ast.Between:
        return ast.Between(c[0], c[1], c[2], False, span_of(meta))

    def not_between(self, c: list[Any], meta: Any) -> ast.Between:
        return ast.Between(c[0], c[1], c[2], True, span_of(meta))

    def is_null(self, c: list[Any], meta: Any) -> ast.IsNull:
        return ast.IsNull(c[0], False, span_of(meta))

    def is_not_null(self, c: list[Any], meta: Any) -> ast.IsNull:
        return ast.IsNull(c[0], True, span_of(meta))

    def number(self, c: list[Any], meta: Any) -> ast.Literal:
        return ast.Literal(_number(str(c[0])), span_of(meta), text=str(c[0]))

    def string(self, c: list[Any], meta: Any) -> ast.Literal:
        return ast.Literal(self._string(c[0]), span_of(meta))

    def duration(self, c: list[Any], meta: Any) -> ast.Duration:
        return self._duration(c[0])

    def true(self, c: list[Any], meta: Any) -> ast.Literal:
        return ast.Literal(True, span_of(meta))

    def false(self, c: list[Any], meta: Any) -> ast.Literal:
        return ast.Literal(False, span_of(meta))

    def null(self, c: list[Any], meta: Any) -> ast.Literal:
        return ast.Literal(None, span_of(meta))

    def path(self, c: list[Any], meta: Any) -> ast.Path:
        return ast.Path(tuple(str(t) for t in c), span_of(meta))

    def call(self, c: list[Any], meta: Any) -> ast.Call:
        return ast.Call(str(c[0]), tuple(c[1:]), span_of(meta))

    def list_expr(self, c: list[Any], meta: Any) -> ast.ListExpr:
        return ast.ListExpr(tuple(c), span_of(meta))

    # ------------------------------------------------------------------ test blocks

    def test(self, c: list[Any], meta: Any) -> ast.PatternTest:
        return ast.PatternTest(self._string(c[0]), tuple(c[1:]), span_of(meta))

    def given(self, c: list[Any], meta: Any) -> ast.Given:
        return ast.Given(str(c[0]), tuple(c[1:]), span_of(meta))

    def advance(self, c: list[Any], meta: Any) -> ast.Advance:
        return ast.Advance(self._duration(c[0]), span_of(meta))

    def expect(self, c: list[Any], meta: Any) -> ast.Expect:
        return ast.Expect(str(c[0]), tuple(c[1:]), span=span_of(meta))

    def expect_no(self, c: list[Any], meta: Any) -> ast.Expect:
        return ast.Expect(str(c[0]), (), none=True, span=span_of(meta))

    def expect_timeout(self, c: list[Any], meta: Any) -> ast.Expect:
        return ast.Expect(str(c[0]), tuple(c[1:]), timeout=True, span=span_of(meta))

    def json_object(self, c: list[Any], meta: Any) -> dict[str, Any]:
        return dict(c)

    def json_pair(self, c: list[Any], meta: Any) -> tuple[str, Any]:
        return self._string(c[0]), c[1]

    def json_array(self, c: list[Any], meta: Any) -> list[Any]:
        return list(c)

    def json_string(self, c: list[Any], meta: Any) -> str:
        return self._string(c[0])

    def json_number(self, c: list[Any], meta: Any) -> int | float:
        return _number(str(c[0]))

    def json_negative(self, c: list[Any], meta: Any) -> int | float:
        return -_number(str(c[0]))

    def json_true(self, c: list[Any], meta: Any) -> bool:
        return True

    def json_false(self, c: list[Any], meta: Any) -> bool:
        return False

    def json_null(self, c: list[Any], meta: Any) -> None:
        return None


def _number(text: str) -> int | float:
    """Whole numbers stay ``int`` (ids, counts); anything with a point or exponent is ``float``."""
    if text.isdigit():
        return int(text)
    return float(text)
