"""What a pattern says about the events it reads, for generating test streams.

A pure pass over the parsed AST (never the compiled functions, never running user text): it
finds the key fields, the time field and unit, ``within`` and ``lateness``, and for every other
field the literals it is compared with in ``from … where``, ``define``, ``having`` and ``until``
(``amount < 0.10`` → 0.10; ``kind in ['a', 'b']`` → 'a', 'b'; ``x is null`` → may be null).
:mod:`cep.testing.strategies` turns this into hypothesis strategies; it has no hypothesis in
it so it can be tested and reused alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator, Sequence

from cep.errors import CepError
from cep.lang import ast
from cep.lang.compiler import CompiledPattern
from cep.lang.parser import parse

__all__ = ["FieldHint", "StreamShape", "infer"]

_COMPARISONS = frozenset({"==", "!=", "<", "<=", ">", ">="})
_STRING_TESTS = {"contains": "x{}y", "startswith": "{}x", "endswith": "x{}"}

FieldPath = tuple[str, ...]


@dataclass
class FieldHint:
    """What the pattern compares one field with."""

    path: FieldPath
    numbers: list[int | float] = field(default_factory=list)
    strings: list[str] = field(default_factory=list)
    booleans: bool = False
    nullable: bool = False

    def add(self, value: Any) -> None:
        if value is None:
            self.nullable = True
        elif isinstance(value, bool):
            self.booleans = True
        elif isinstance(value, (int, float)):
            if value not in self.numbers:
                self.numbers.append(value)
        elif isinstance(value, str) and value not in self.strings:
            self.strings.append(value)


@dataclass
class StreamShape:
    """The events of one stream as the patterns reading it see them."""

    stream: str
    keys: list[FieldPath] = field(default_factory=list)
    time: FieldPath | None = None
    time_unit: str = "auto"
    within_ms: int | None = None
    window_ms: int | None = None
    lateness_ms: int = 0
    fields: dict[FieldPath, FieldHint] = field(default_factory=dict)

    def hint(self, path: FieldPath) -> FieldHint:
        if path not in self.fields:
            self.fields[path] = FieldHint(path)
        return self.fields[path]


PatternSource = str | ast.File | ast.Pattern | CompiledPattern | Sequence[ast.Pattern | CompiledPattern]


def patterns_of(source: PatternSource) -> list[ast.Pattern]:
    """The parsed patterns of text (parsed only, never run), a file, or compiled patterns."""
    if isinstance(source, str):
        return list(parse(source, "<strategies>").patterns)
    if isinstance(source, ast.File):
        return list(source.patterns)
    if isinstance(source, ast.Pattern):
        return [source]
    if isinstance(source, CompiledPattern):
        return [source.source]
    out: list[ast.Pattern] = []
    for item in source:
        out.extend(patterns_of(item))
    return out


def infer(source: PatternSource, stream: str | None = None) -> StreamShape:
    """The shape of ``stream`` (default: the one stream the patterns read)."""
    patterns = patterns_of(source)
    streams = list(dict.fromkeys(p.source.stream for p in patterns))
    if not streams:
        raise CepError("no pattern to infer events from")
    if stream is None:
        if len(streams) > 1:
            raise CepError(f"the patterns read several streams ({', '.join(streams)}); pass stream=")
        stream = streams[0]
    elif stream not in streams:
        raise CepError(f"no pattern reads stream {stream!r} (they read: {', '.join(streams)})")
    shape = StreamShape(stream)
    mine = [p for p in patterns if p.source.stream == stream]
    for p in mine:
        for key in p.key:
            if tuple(key.parts) not in shape.keys:
                shape.keys.append(tuple(key.parts))
        if p.time is not None and shape.time is None:
            shape.time = tuple(p.time.field.parts)
            shape.time_unit = p.time.unit
        if p.time is not None and p.time.lateness is not None:
            shape.lateness_ms = max(shape.lateness_ms, p.time.lateness.millis)
        if p.match is not None and p.match.within is not None:
            shape.within_ms = max(shape.within_ms or 0, p.match.within.millis)
        if p.window is not None and p.window.size is not None:
            shape.window_ms = max(shape.window_ms or 0, p.window.size.millis)
    for p in mine:
        _PatternWalker(shape, p).walk()
    return shape


class _PatternWalker:
    def __init__(self, shape: StreamShape, pattern: ast.Pattern) -> None:
        self.shape = shape
        self.pattern = pattern
        self.variables = set(_variables(pattern.match.sequence)) if pattern.match else set()
        self.variables.update(d.var for d in pattern.defines)

    def walk(self) -> None:
        p = self.pattern
        if p.source.where is not None:
            self.expr(p.source.where)
        for define in p.defines:
            self.expr(define.condition)
        if p.match is not None:
            for q in _quantifiers(p.match.sequence):
                if q.until is not None:
                    self.expr(q.until)
        if p.having is not None:
            self.expr(p.having)
        for item in (*p.emit, *(p.timeout_emit or ())):
            self.expr(item.expr)

    def field(self, path: ast.Path) -> FieldPath | None:
        parts = tuple(path.parts)
        if parts[0] in self.variables:
            parts = parts[1:]
        elif parts[0] == "window" and self.pattern.window is not None:
            return None
        return parts or None

    def paths(self, expr: Any) -> Iterator[FieldPath]:
        """Every event field an expression reads."""
        if isinstance(expr, ast.Path):
            found = self.field(expr)
            if found is not None:
                yield found
            return
        for child in _children(expr):
            yield from self.paths(child)

    def expr(self, expr: Any) -> None:
        for path in self.paths(expr):
            self.shape.hint(path)
        self._literals(expr)

    def _note(self, side: Any, values: Iterable[Any]) -> None:
        values = list(values)
        for path in self.paths(side):
            if path == self.shape.time:
                continue  # time arithmetic (`b.ts - a.ts < 30s`) says nothing about values
            for value in values:
                self.shape.hint(path).add(value)

    def _literals(self, expr: Any) -> None:
        if isinstance(expr, ast.Binary) and expr.op in _COMPARISONS:
            left, right = _literal(expr.left), _literal(expr.right)
            if right is not _NO and left is _NO:
                self._note(expr.left, [right])
            elif left is not _NO and right is _NO:
                self._note(expr.right, [left])
        elif isinstance(expr, ast.Between):
            self._note(expr.operand, [v for v in (_literal(expr.low), _literal(expr.high)) if v is not _NO])
        elif isinstance(expr, ast.InExpr) and isinstance(expr.options, ast.ListExpr):
            self._note(expr.operand, [v for v in map(_literal, expr.options.items) if v is not _NO])
        elif isinstance(expr, ast.IsNull):
            self._note(expr.operand, [None])
        elif isinstance(expr, ast.Call) and expr.name in _STRING_TESTS and len(expr.args) == 2:
            text = _literal(expr.args[1])
            if isinstance(text, str):
                self._note(expr.args[0], [text, _STRING_TESTS[expr.name].format(text)])
        for child in _children(expr):
            self._literals(child)


class _No:
    pass


_NO: Any = _No()


def _literal(expr: Any) -> Any:
    """The value of a literal (``-5`` included), else ``_NO``."""
    if isinstance(expr, ast.Literal):
        return expr.value
    if (isinstance(expr, ast.Unary) and expr.op == "-" and isinstance(expr.operand, ast.Literal)
            and isinstance(expr.operand.value, (int, float)) and not isinstance(expr.operand.value, bool)):
        return -expr.operand.value
    return _NO


def _children(expr: Any) -> tuple[Any, ...]:
    if isinstance(expr, ast.Binary):
        return (expr.left, expr.right)
    if isinstance(expr, ast.Unary):
        return (expr.operand,)
    if isinstance(expr, ast.InExpr):
        return (expr.operand, expr.options)
    if isinstance(expr, ast.Between):
        return (expr.operand, expr.low, expr.high)
    if isinstance(expr, ast.IsNull):
        return (expr.operand,)
    if isinstance(expr, ast.Call):
        return expr.args
    if isinstance(expr, ast.ListExpr):
        return expr.items
    return ()


def _variables(seq: ast.SeqExpr) -> Iterator[str]:
    if isinstance(seq, ast.Step):
        yield seq.var
    elif isinstance(seq, ast.Group):
        yield from _variables(seq.body)
    elif isinstance(seq, ast.Sequence):
        for part in seq.parts:
            yield from _variables(part.element)
    elif isinstance(seq, ast.Alternation):
        for option in seq.options:
            yield from _variables(option)


def _quantifiers(seq: ast.SeqExpr) -> Iterator[ast.Quantifier]:
    if isinstance(seq, (ast.Step, ast.Group)) and seq.quantifier is not None:
        yield seq.quantifier
    if isinstance(seq, ast.Group):
        yield from _quantifiers(seq.body)
    elif isinstance(seq, ast.Sequence):
        for part in seq.parts:
            yield from _quantifiers(part.element)
    elif isinstance(seq, ast.Alternation):
        for option in seq.options:
            yield from _quantifiers(option)
