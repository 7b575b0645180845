"""Compile expression ASTs into Python functions by generating code from our own AST.

Why generated code rather than nested closures: a condition such as ``amount < 0.10`` runs for
nearly every event, and one flat function is several times faster than a tree of closures.
Why it is safe: the generator emits only a fixed set of operators and calls to the helpers in
:mod:`cep.lang.functions`; every value that came from the user's text (field names, strings,
numbers, regexes) is passed in through a constants table (``K0``, ``K1``, ...) and never
spliced into the source. The code runs with no builtins. A pattern file is data, never Python.

Three shapes of function are produced:

* ``fn(e)``: a condition on the current event (``where``; ``define`` without references to
  other variables);
* ``fn(e, n)``: an *iterative* condition that also reads the partial match through its newest
  shared-buffer node ``n`` (``define big as amount > small.amount * 10``);
* ``fn(m, L)``: a value over a completed match, ``m`` mapping each variable to its events and
  ``L`` the match's last event (``emit``).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any, Callable

from cep.errors import Diagnostic
from cep.lang import ast
from cep.lang import functions as F
from cep.lang.diagnostics import at_span
from cep.nfa.buffer import BufferNode, iter_back, last_event_of

EVENT = "event"
MATCH = "match"
WINDOW = "window"

_COMPARE = {"<": "lt", "<=": "le", ">": "gt", ">=": "ge", "==": "eq", "!=": "ne"}
_ARITH = {"+": "add", "-": "sub", "*": "mul", "/": "div", "%": "mod"}
_BOOL_NODES = (ast.InExpr, ast.Between, ast.IsNull)


@dataclass(frozen=True, slots=True)
class Scope:
    """What names mean where an expression is compiled."""

    variables: frozenset[str] = frozenset()
    current: str | None = None  # the variable being defined: VAR.field reads the current event
    mode: str = EVENT
    time_field: tuple[str, ...] | None = None
    time_unit: str = "auto"
    aggregates: "AggregateRegistry | None" = None  # WINDOW mode: where aggregate calls go
    history: "F.PrevHistory | None" = None  # `define`: the key's recent events for prev()


class AggregateRegistry:
    """The distinct aggregate calls of a window pattern, each one accumulator.

    ``avg(temperature)`` in ``having`` and in ``emit`` is one accumulator, not two (AST equality
    ignores positions). Each entry is (accumulator kind, per-event value function or None).
    """

    def __init__(self) -> None:
        self.entries: list[tuple[str, Callable[[Any], Any] | None, str | None]] = []
        self._index: dict[Any, int] = {}

    def index_of(self, call: ast.Call, kind: str, value: Callable[[Any], Any] | None, field: str | None = None) -> int:
        """The slot of this aggregate; ``field`` names a plain top-level field argument."""
        key = (call.name, call.args)
        found = self._index.get(key)
        if found is None:
            found = self._index[key] = len(self.entries)
            self.entries.append((kind, value, field))
        return found


@dataclass(slots=True)
class Compiled:
    fn: Callable[..., Any]
    iterative: bool
    source: str = field(repr=False, default="")


def _events_of(node: BufferNode | None, var: str, current: Any) -> list[Any]:
    """Events taken into ``var`` so far, oldest first, plus the current one when defining it."""
    found = [n.event for n in iter_back(node) if n.var == var]
    found.reverse()
    if current is not None:
        found.append(current)
    return found


def _last_of_match(m: dict[str, list[Any]], var: str) -> Any:
    events = m.get(var)
    return events[-1] if events else None


def _match_events(m: dict[str, list[Any]], var: str | None) -> list[Any]:
    if var is None:
        return [e for events in m.values() for e in events]
    return m.get(var, [])


def _fields(events: list[Any], parts: tuple[str, ...]) -> list[Any]:
    if not parts:
        return events
    return [F.get_path(e, parts) for e in events]


_HELPERS: dict[str, Any] = {
    "_path": F.get_path,
    "_prev": F.prev,
    "_tms": F.time_ms,
    "_truthy": F.truthy,
    "_neg": F.neg,
    "_in": F.in_list,
    "_between": F.between,
    "_last": last_event_of,
    "_events": _events_of,
    "_lastm": _last_of_match,
    "_mevents": _match_events,
    "_fields": _fields,
    "_NUM": frozenset((int, float)),
    **{f"_{name}": getattr(F, name) for name in (*_COMPARE.values(), *_ARITH.values())},
    **{f"_agg_{name}": fn for name, fn in F.AGGREGATES.items()},
}


class ExpressionCompiler:
    """Generates one function per expression; collects diagnostics instead of stopping early."""

    def __init__(self, file: str = "<string>", source: str = "") -> None:
        self.file = file
        self.source = source
        self.diagnostics: list[Diagnostic] = []

    # -- public -------------------------------------------------------------------------------

    def condition(self, expr: ast.Expr, scope: Scope) -> Compiled:
        """A boolean function of the current event (and the partial match when iterative)."""
        return self._build(expr, scope, as_bool=True)

    def value(self, expr: ast.Expr, scope: Scope) -> Compiled:
        """A value function (``emit`` items over a match)."""
        return self._build(expr, scope, as_bool=False)

    # -- generation ---------------------------------------------------------------------------

    def _build(self, expr: ast.Expr, scope: Scope, as_bool: bool) -> Compiled:
        gen = _Generator(self, scope)
        body = gen.boolean(expr) if as_bool else gen.expr(expr)
        if scope.mode == MATCH:
            params = "m, L"
        elif scope.mode == WINDOW:
            params = "A, S, E, L"
        else:
            params = "e, n" if gen.iterative else "e"
        source = f"def _compiled({params}):\n    return {body}\n"
        namespace: dict[str, Any] = {"__builtins__": {}}
        namespace.update(_HELPERS)
        namespace.update({f"K{i}": value for i, value in enumerate(gen.constants)})
        exec(compile(source, f"<cep {self.file}>", "exec"), namespace)  # noqa: S102 - our own AST only
        return Compiled(namespace["_compiled"], gen.iterative and scope.mode == EVENT, source)

    def error(self, node: Any, message: str, hint: str | None = None) -> None:
        span = getattr(node, "span", None) or ast.NO_SPAN
        self.diagnostics.append(at_span(self.source, self.file, span, message, hint))


class _Generator:
    def __init__(self, owner: ExpressionCompiler, scope: Scope) -> None:
        self.owner = owner
        self.scope = scope
        self.constants: list[Any] = []
        self.iterative = False
        self._temps = 0

    def const(self, value: Any) -> str:
        for i, existing in enumerate(self.constants):
            if existing is value or (type(existing) is type(value) and existing == value):
                return f"K{i}"
        self.constants.append(value)
        return f"K{len(self.constants) - 1}"

    def temp(self) -> str:
        self._temps += 1
        return f"_t{self._temps}"

    # -- booleans ---------------------------------------------------------------------------

    def is_boolean(self, node: ast.Expr) -> bool:
        if isinstance(node, _BOOL_NODES):
            return True
        if isinstance(node, ast.Binary):
            return node.op in _COMPARE or node.op in ("and", "or")
        if isinstance(node, ast.Unary):
            return node.op == "not"
        if isinstance(node, ast.Literal):
            return isinstance(node.value, bool)
        return False

    def boolean(self, node: ast.Expr) -> str:
        code = self.expr(node)
        return code if self.is_boolean(node) else f"_truthy({code})"

    # -- expressions ------------------------------------------------------------------------

    def expr(self, node: ast.Expr) -> str:
        method = getattr(self, f"_{type(node).__name__.lower()}")
        return method(node)

    def _literal(self, node: ast.Literal) -> str:
        if node.value is None or isinstance(node.value, bool):
            return repr(node.value)  # None/True/False: Python keywords, not user text
        return self.const(node.value)

    def _duration(self, node: ast.Duration) -> str:
        return self.const(int(node.millis))

    def _listexpr(self, node: ast.ListExpr) -> str:
        if all(isinstance(i, ast.Literal) for i in node.items):
            values = [i.value for i in node.items]  # type: ignore[union-attr]
            try:
                return self.const(frozenset(values))
            except TypeError:
                return self.const(tuple(values))
        return "(" + ", ".join(self.expr(i) for i in node.items) + ",)"

    def _unary(self, node: ast.Unary) -> str:
        if node.op == "not":
            return f"(not {self.boolean(node.operand)})"
        return f"_neg({self.expr(node.operand)})"

    def _binary(self, node: ast.Binary) -> str:
        op = node.op
        if op in ("and", "or"):
            return f"({self.boolean(node.left)} {op} {self.boolean(node.right)})"
        # The time field is read as epoch ms next to time arithmetic: `+`/`-`, or a comparison
        # whose other side is not a string (comparing with an ISO string stays a string compare).
        timed = op in ("+", "-") or (op in _COMPARE and not _is_string(node.left) and not _is_string(node.right))
        left, right = self.operand(node.left, timed), self.operand(node.right, timed)
        if op in _COMPARE:
            return self.compare(op, node, left, right)
        return f"_{_ARITH[op]}({left}, {right})"

    def operand(self, node: ast.Expr, timed: bool) -> str:
        """An operand; a reference to the time field becomes epoch ms next to time arithmetic."""
        code = self.expr(node)
        if timed and self.is_time_path(node):
            return f"_tms({code}, {self.const(self.scope.time_unit)})"
        return code

    def is_time_path(self, node: ast.Expr) -> bool:
        if not isinstance(node, ast.Path) or self.scope.time_field is None:
            return False
        parts = node.parts[1:] if node.parts[0] in self.scope.variables else node.parts
        return parts == self.scope.time_field

    def compare(self, op: str, node: ast.Binary, left: str, right: str) -> str:
        lit = node.right
        if (
            isinstance(lit, (ast.Literal, ast.Duration))
            and not isinstance(getattr(lit, "value", 0), bool)
            and isinstance(getattr(lit, "value", getattr(lit, "millis", None)), (int, float))
        ):
            t = self.temp()
            return f"(({t} := {left}).__class__ in _NUM and {t} {op} {right})"
        if op == "==" and isinstance(lit, ast.Literal) and isinstance(lit.value, str):
            return f"({left} == {right})"
        return f"_{_COMPARE[op]}({left}, {right})"

    def _inexpr(self, node: ast.InExpr) -> str:
        test = f"_in({self.expr(node.operand)}, {self.expr(node.options)})"
        if node.negated:
            t = self.temp()
            return f"(({t} := {self.expr(node.operand)}) is not None and not _in({t}, {self.expr(node.options)}))"
        return test

    def _between(self, node: ast.Between) -> str:
        args = f"{self.expr(node.operand)}, {self.expr(node.low)}, {self.expr(node.high)}"
        if node.negated:
            t = self.temp()
            return (
                f"(({t} := {self.expr(node.operand)}) is not None and "
                f"not _between({t}, {self.expr(node.low)}, {self.expr(node.high)}))"
            )
        return f"_between({args})"

    def _isnull(self, node: ast.IsNull) -> str:
        return f"({self.expr(node.operand)} is {'not ' if node.negated else ''}None)"

    # -- names ------------------------------------------------------------------------------

    def _path(self, node: ast.Path) -> str:
        parts = node.parts
        scope = self.scope
        if parts[0] in scope.variables:
            var, rest = parts[0], parts[1:]
            if not rest:
                self.owner.error(
                    node,
                    f"'{var}' is a pattern variable, not a value",
                    hint=f"read one of its fields, e.g. {var}.amount",
                )
                return "None"
            return self.field_of(self.var_event(var), rest)
        if scope.mode == WINDOW and parts[0] == "window":
            if parts[1:] in (("start",), ("end",)):
                return "S" if parts[1] == "start" else "E"
            self.owner.error(node, f"unknown window field '{'.'.join(parts)}'", hint="use window.start or window.end")
            return "None"
        base = "e" if scope.mode == EVENT else "L"
        return self.field_of(base, parts)

    def var_event(self, var: str) -> str:
        scope = self.scope
        if scope.mode == MATCH:
            return f"_lastm(m, {self.const(var)})"
        if var == scope.current:
            return "e"
        self.iterative = True
        return f"_last(n, {self.const(var)})"

    def field_of(self, base: str, parts: tuple[str, ...]) -> str:
        if base in ("e", "L") and len(parts) == 1:
            return f"{base}.get({self.const(parts[0])})"
        return f"_path({base}, {self.const(tuple(parts))})"

    # -- calls ------------------------------------------------------------------------------

    def _call(self, node: ast.Call) -> str:
        name = node.name
        if name in F.AGGREGATES:
            return self.aggregate(node)
        if name == "prev":
            return self.prev(node)
        spec = F.FUNCTIONS.get(name)
        if spec is None:
            known = sorted((*F.FUNCTIONS, *F.AGGREGATES))
            close = difflib.get_close_matches(name, known, n=1)
            hint = f"did you mean {close[0]}()?" if close else "known functions: " + ", ".join(known)
            self.owner.error(node, f"unknown function '{name}'", hint=hint)
            return "None"
        impl, low, high = spec
        if len(node.args) < low or (high is not None and len(node.args) > high):
            expected = str(low) if low == high else f"{low}..{high if high is not None else 'n'}"
            self.owner.error(node, f"{name}() takes {expected} argument(s), got {len(node.args)}")
            return "None"
        args = ", ".join(self.expr(a) for a in node.args)
        return f"{self.const(impl)}({args})"

    def prev(self, node: ast.Call) -> str:
        """``prev(field[, n])``: the field of the key's event n events before the current one."""
        history = self.scope.history
        if history is None:
            self.owner.error(node, "prev() can only be used in `define`",
                             hint="it reads the key's earlier events while a match is being found")
            return "None"
        args = node.args
        if not args or len(args) > 2 or not isinstance(args[0], ast.Path) or args[0].parts[0] in self.scope.variables:
            self.owner.error(node, "prev() takes a field of the event and an optional count: prev(price) or prev(price, 2)")
            return "None"
        n = 1
        if len(args) == 2:
            count = args[1]
            if not (isinstance(count, ast.Literal) and isinstance(count.value, int) and not isinstance(count.value, bool)
                    and count.value >= 1):
                self.owner.error(count, "prev()'s count must be a whole number of at least 1")
                return "None"
            n = count.value
        history.depth = max(history.depth, n)
        return f"_prev({self.const(history)}, {self.const(tuple(args[0].parts))}, {n})"

    def window_aggregate(self, node: ast.Call) -> str:
        """``avg(temperature)``, ``count()``: a slot in the window's aggregate results ``A``."""
        registry = self.scope.aggregates
        assert registry is not None
        name = node.name
        if not node.args:
            if name != "count":
                self.owner.error(node, f"{name}() needs a field, e.g. {name}(temperature)")
                return "None"
            return f"A[{registry.index_of(node, 'count()', None)}]"
        if len(node.args) != 1:
            self.owner.error(node, f"{name}() takes one argument, got {len(node.args)}")
            return "None"
        event_scope = Scope(time_field=self.scope.time_field, time_unit=self.scope.time_unit)
        arg = node.args[0]
        value = self.owner.value(arg, event_scope).fn
        field = arg.parts[0] if isinstance(arg, ast.Path) and len(arg.parts) == 1 else None
        return f"A[{registry.index_of(node, name, value, field)}]"

    def aggregate(self, node: ast.Call) -> str:
        """``count(VAR)``, ``count()``, ``sum(VAR.f)``... over the variable's events."""
        name = node.name
        scope = self.scope
        if scope.mode == WINDOW:
            return self.window_aggregate(node)
        var: str | None
        parts: tuple[str, ...] = ()
        if not node.args:
            if name != "count":
                self.owner.error(node, f"{name}() needs a field, e.g. {name}(VAR.amount)")
                return "None"
            var = None
        elif len(node.args) == 1 and isinstance(node.args[0], ast.Path) and node.args[0].parts[0] in scope.variables:
            var, parts = node.args[0].parts[0], node.args[0].parts[1:]
            if not parts and name != "count":
                self.owner.error(node, f"{name}() needs a field of {var}, e.g. {name}({var}.amount)")
                return "None"
        else:
            self.owner.error(
                node,
                f"{name}() in a sequence pattern takes a variable's field",
                hint=f"write {name}(VAR.field) with VAR one of: {', '.join(sorted(scope.variables)) or '(none)'}",
            )
            return "None"
        if scope.mode == MATCH:
            events = f"_mevents(m, {self.const(var)})"
        elif var is None:
            self.owner.error(node, "count() without a variable is only allowed in emit")
            return "None"
        else:
            self.iterative = True
            current = "e" if var == scope.current else "None"
            events = f"_events(n, {self.const(var)}, {current})"
        return f"_agg_{name}(_fields({events}, {self.const(parts)}))"


def _is_string(node: ast.Expr) -> bool:
    return isinstance(node, ast.Literal) and isinstance(node.value, str)


def output_name(item: ast.EmitItem) -> str:
    """The field name an emit item gets: its alias, else the path or the call as written."""
    if item.alias:
        return item.alias
    expr = item.expr
    if isinstance(expr, ast.Path):
        return ".".join(expr.parts)
    if isinstance(expr, ast.Call) and all(isinstance(a, ast.Path) for a in expr.args):
        return f"{expr.name}(" + ", ".join(".".join(a.parts) for a in expr.args) + ")"  # type: ignore[union-attr]
    return "value"
