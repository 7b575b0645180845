"""The compiler front: a checked AST becomes runnable :class:`CompiledPattern` objects.

Pure translation: ``match`` and ``define`` become a :class:`~cep.nfa.spec.PatternSpec` (then an
immutable NFA), ``where``/``define``/``emit`` become generated functions
(:mod:`cep.lang.expressions`), ``key`` and ``time`` become getters. Problems found here are
collected as diagnostics and raised together.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Hashable

from cep.errors import CepError, Diagnostic, EventError, PatternError
from cep.lang import ast
from cep.lang.checks_exprs import walk
from cep.lang.expressions import MATCH, WINDOW, AggregateRegistry, Compiled, ExpressionCompiler, Scope, output_name
from cep.lang.functions import PrevHistory, get_path
from cep.lang.printer import format_expr
from cep.nfa.compiler import compile_nfa
from cep.nfa.spec import (
    AlternationElement,
    Condition,
    Consuming,
    Element,
    GroupElement,
    Node,
    PatternSpec,
    SkipKind,
    SkipStrategy,
    Times,
)
from cep.nfa.states import NFA
from cep.stream.timestamps import make_time_getter
from cep.stream.windows import AggregateSpec, WindowSpec

RESERVED_OUTPUT_NAMES = frozenset({"pattern", "key", "time", "timeout"})

_CONSUMING = {
    ast.Contiguity.STRICT: Consuming.STRICT,
    ast.Contiguity.RELAXED: Consuming.SKIP_TILL_NEXT,
    ast.Contiguity.ANY: Consuming.SKIP_TILL_ANY,
}


@dataclass(frozen=True, slots=True)
class CompiledPattern:
    """Everything needed to run one pattern; immutable and shared by all keys."""

    name: str
    stream: str
    nfa: NFA | None  # sequence patterns
    key_of: Callable[[Any], Hashable]
    time_of: Callable[[Any], int] | None
    time_path: tuple[str, ...] | None
    lateness_ms: int
    where: Callable[[Any], bool] | None
    emit: tuple[tuple[str, Callable[[dict[str, list[Any]], Any], Any]], ...]
    variables: tuple[str, ...]
    key_names: tuple[str, ...]
    source: ast.Pattern = field(repr=False, compare=False, default=None)  # type: ignore[assignment]
    # Window patterns: the window, its aggregates, and `having`; emit functions then take
    # (aggregate results, window start, window end, last event).
    window: WindowSpec | None = None
    aggregates: tuple[AggregateSpec, ...] = ()
    having: Callable[..., bool] | None = None
    # Whether `having` reads window.start/end: if not, the window operator may test it on the
    # raw aggregates before an alert is built (rolling windows evaluate it for every event).
    having_reads_bounds: bool = False
    # `on timeout emit`: fields of partial matches that expire by `within` (None: not wanted).
    timeout_emit: tuple[tuple[str, Callable[..., Any]], ...] | None = None
    # prev(): the cursor the conditions read the key's recent events through.
    history: PrevHistory | None = None

    def fields_of(self, by_var: dict[str, list[Any]], last_event: Any) -> dict[str, Any]:
        """The emitted fields of a match."""
        return {name: fn(by_var, last_event) for name, fn in self.emit}


def make_key_getter(paths: tuple[tuple[str, ...], ...]) -> Callable[[Any], Hashable]:
    """A key extractor; a missing key field is an error so the event is dead-lettered."""
    if not paths:
        return lambda event: None
    names = [".".join(p) for p in paths]

    def check(value: Any, name: str) -> Hashable:
        if value is None:
            raise EventError(f"missing key field '{name}'")
        if isinstance(value, (dict, list)):
            raise EventError(f"key field '{name}' is a {type(value).__name__}, not a scalar")
        return value

    if len(paths) == 1 and len(paths[0]) == 1:
        (field_name,) = paths[0]

        def single(event: Any) -> Hashable:
            value = event.get(field_name)
            if value is None or value.__class__ in (dict, list):
                return check(value, field_name)
            return value

        single.inline_field = field_name  # type: ignore[attr-defined]  # see cep.stream.fused
        return single

    def multi(event: Any) -> Hashable:
        values = tuple(check(get_path(event, p), n) for p, n in zip(paths, names))
        return values[0] if len(values) == 1 else values

    return multi


class _PatternCompiler:
    def __init__(self, pattern: ast.Pattern, exprs: ExpressionCompiler) -> None:
        self.pattern = pattern
        self.exprs = exprs
        self.defines = {d.var: d for d in pattern.defines}
        self.variables: list[str] = []
        time = pattern.time
        self.history = PrevHistory()
        self.time_path = tuple(time.field.parts) if time else None
        self.time_unit = time.unit if time else "auto"

    def error(self, node: Any, message: str, hint: str | None = None) -> None:
        self.exprs.error(node, message, hint)

    # -- sequence ---------------------------------------------------------------------------

    def collect_variables(self, seq: ast.SeqExpr) -> None:
        if isinstance(seq, ast.Step):
            self.variables.append(seq.var)
        elif isinstance(seq, ast.Group):
            self.collect_variables(seq.body)
        elif isinstance(seq, ast.Sequence):
            for part in seq.parts:
                self.collect_variables(part.element)
        elif isinstance(seq, ast.Alternation):
            for option in seq.options:
                self.collect_variables(option)

    def condition(self, var: str) -> Condition | None:
        define = self.defines.get(var)
        if define is None:
            return None
        scope = Scope(frozenset(self.variables), var, time_field=self.time_path, time_unit=self.time_unit,
                      history=self.history)
        compiled: Compiled = self.exprs.condition(define.condition, scope)
        return Condition(compiled.fn, compiled.iterative, format_expr(define.condition))

    def times(self, q: ast.Quantifier | None) -> tuple[Times, Consuming]:
        if q is None:
            return Times(1, 1), Consuming.SKIP_TILL_NEXT
        return Times(q.min, q.max), _CONSUMING[q.inner]

    def until(self, q: ast.Quantifier | None, var: str) -> Condition | None:
        if q is None or q.until is None:
            return None
        scope = Scope(frozenset(self.variables), var, time_field=self.time_path, time_unit=self.time_unit)
        compiled = self.exprs.condition(q.until, scope)
        return Condition(compiled.fn, compiled.iterative, format_expr(q.until))

    def element(self, seq: ast.SeqExpr, consuming: Consuming) -> list[Node]:
        if isinstance(seq, ast.Step):
            times, inner = self.times(seq.quantifier)
            q = seq.quantifier
            return [Element(seq.var, self.condition(seq.var), times, consuming, inner,
                            until=self.until(q, seq.var),
                            greedy=bool(q and q.greedy), reluctant=bool(q and q.reluctant))]
        if isinstance(seq, ast.Group):
            times, inner = self.times(seq.quantifier)
            body = tuple(self.sequence(seq.body))
            if times == Times(1, 1):
                # An unquantified group is just its body, joined as the group is joined.
                first = body[0]
                return [_with_consuming(first, consuming), *body[1:]]
            return [GroupElement(body, times, consuming, inner, name=f"group@{seq.span.line}:{seq.span.column}")]
        if isinstance(seq, ast.Sequence):
            return list(self.sequence(seq))
        options = tuple(tuple(self.sequence(option)) for option in seq.options)
        return [AlternationElement(options, consuming, name=f"alternation@{seq.span.line}:{seq.span.column}")]

    def sequence(self, seq: ast.SeqExpr) -> list[Node]:
        if not isinstance(seq, ast.Sequence):
            return self.element(seq, Consuming.SKIP_TILL_NEXT)
        nodes: list[Node] = []
        for part in seq.parts:
            consuming = _CONSUMING[part.contiguity] if part.contiguity else Consuming.SKIP_TILL_NEXT
            if part.negated and isinstance(part.element, ast.Step):
                var = part.element.var
                nodes.append(Element(var, self.condition(var), Times(1, 1), consuming, negated=True))
                continue
            nodes.extend(self.element(part.element, consuming))
        return nodes

    # -- the pattern ------------------------------------------------------------------------

    def common(self) -> dict[str, Any]:
        p = self.pattern
        time = p.time
        return dict(
            name=p.name,
            stream=p.source.stream,
            key_of=make_key_getter(tuple(tuple(k.parts) for k in p.key)),
            time_of=make_time_getter(self.time_path, self.time_unit) if self.time_path else None,
            time_path=self.time_path,
            lateness_ms=time.lateness.millis if time and time.lateness else 0,
            key_names=tuple(".".join(k.parts) for k in p.key),
            source=p,
        )

    def where(self) -> Callable[[Any], bool] | None:
        where = self.pattern.source.where
        if where is None:
            return None
        return self.exprs.condition(where, Scope(time_field=self.time_path, time_unit=self.time_unit)).fn

    def compile_window(self) -> CompiledPattern | None:
        p = self.pattern
        window = p.window
        assert window is not None
        spec = WindowSpec(
            kind=window.kind,
            size_ms=window.size.millis if window.size else None,
            slide_ms=window.every.millis if window.every else None,
            gap_ms=window.size.millis if window.kind == "session" and window.size else None,
            count=window.count,
            count_every=window.count_every,
        )
        if window.kind == "sliding" and spec.slide_ms and spec.size_ms and spec.slide_ms > spec.size_ms:
            self.error(window, "a sliding window's `every` is longer than the window: events would fall between windows",
                       hint="make `every` at most the window size, or use a tumbling window")
        registry = AggregateRegistry()
        scope = Scope(mode=WINDOW, time_field=self.time_path, time_unit=self.time_unit, aggregates=registry)
        having = self.exprs.condition(p.having, scope).fn if p.having is not None else None
        emit = self.emit_items(p.emit, scope)
        where = self.where()
        if self.exprs.diagnostics:
            return None
        return CompiledPattern(
            nfa=None,
            where=where,
            emit=emit,
            variables=(),
            window=spec,
            aggregates=tuple(AggregateSpec(kind, value, field) for kind, value, field in registry.entries),
            having=having,
            having_reads_bounds=p.having is not None and any(
                isinstance(node, ast.Path) and node.parts[0] == "window" for node in walk(p.having)),
            **self.common(),
        )

    def compile(self) -> CompiledPattern | None:
        p = self.pattern
        if p.window is not None:
            return self.compile_window()
        if p.match is None:
            self.error(p, f"pattern {p.name} has neither a match nor a window clause")
            return None
        self.collect_variables(p.match.sequence)
        elements = tuple(self.sequence(p.match.sequence))
        where = self.where()
        match_scope = Scope(frozenset(self.variables), None, MATCH, self.time_path, self.time_unit)
        emit = self.emit_items(p.emit, match_scope)
        timeout_emit = self.emit_items(p.timeout_emit, match_scope) if p.timeout_emit is not None else None
        skip = SkipStrategy()
        if p.skip is not None:
            skip = SkipStrategy(SkipKind(p.skip.kind.value), p.skip.var)
        if self.exprs.diagnostics or not elements:
            return None
        spec = PatternSpec(elements, p.match.within.millis if p.match.within else None, skip, p.name,
                           within_between_events=p.match.within_between_events)
        try:
            nfa = compile_nfa(spec)
        except CepError as exc:
            self.error(p.match, str(exc))
            return None
        return CompiledPattern(
            nfa=nfa,
            where=where,
            emit=emit,
            variables=tuple(dict.fromkeys(self.variables)),
            timeout_emit=timeout_emit,
            history=self.history if self.history.depth else None,
            **self.common(),
        )

    def emit_items(self, items: tuple[ast.EmitItem, ...], scope: Scope) -> tuple[tuple[str, Callable[..., Any]], ...]:
        out: list[tuple[str, Callable[..., Any]]] = []
        seen: set[str] = set()
        for item in items:
            name = output_name(item)
            if name in RESERVED_OUTPUT_NAMES:
                self.error(item, f"'{name}' is a reserved output field", hint=f"rename it: ... as {name}_value")
            elif name in seen:
                self.error(item, f"two emit items are both named '{name}'", hint="give one of them another name with `as`")
            seen.add(name)
            out.append((name, self.exprs.value(item.expr, scope).fn))
        return tuple(out)


def _with_consuming(node: Node, consuming: Consuming) -> Node:
    if isinstance(node, Element):
        return Element(node.name, node.condition, node.times, consuming, node.inner, node.negated,
                       node.until, node.greedy, node.reluctant)
    if isinstance(node, AlternationElement):
        return AlternationElement(node.options, consuming, node.times, node.inner, node.name)
    return GroupElement(node.body, node.times, consuming, node.inner, node.name)


def compile_file(file: ast.File) -> list[CompiledPattern]:
    """Compile every pattern of a parsed, checked file; raise PatternError with all problems."""
    exprs = ExpressionCompiler(file.path, file.source)
    compiled = []
    for pattern in file.patterns:
        result = _PatternCompiler(pattern, exprs).compile()
        if result is not None:
            compiled.append(result)
    if exprs.diagnostics:
        raise PatternError(_dedupe(exprs.diagnostics))
    return compiled


def _dedupe(diagnostics: list[Diagnostic]) -> list[Diagnostic]:
    seen, out = set(), []
    for d in diagnostics:
        key = (d.file, d.line, d.column, d.message)
        if key not in seen:
            seen.add(key)
            out.append(d)
    return out
