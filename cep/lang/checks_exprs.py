"""Expression rules for the semantic checks: known functions, arity, and where aggregates may go.

Kept apart from :mod:`cep.lang.checks` because these rules depend only on an expression and the
clause it sits in (``where``, ``define``, ``having``, ``emit``), not on the rest of the pattern.
"""

from __future__ import annotations

from difflib import get_close_matches
from typing import Callable, Iterator

from cep.lang import ast

__all__ = ["NOT_YET", "FUNCTIONS", "AGGREGATES", "ExprChecker", "walk"]

NOT_YET = "not yet supported: "

# name -> (least, most) arguments; most None = any number.
FUNCTIONS: dict[str, tuple[int, int | None]] = {
    "abs": (1, 1), "round": (1, 2), "lower": (1, 1), "upper": (1, 1), "len": (1, 1),
    "contains": (2, 2), "startswith": (2, 2), "endswith": (2, 2), "matches": (2, 2),
    "coalesce": (1, None),
}
AGGREGATES: dict[str, tuple[int, int | None]] = {
    "count": (0, 1), "sum": (1, 1), "avg": (1, 1), "min": (1, 1), "max": (1, 1),
    "first": (1, 1), "last": (1, 1), "stddev": (1, 1), "distinct_count": (1, 1),
}
_PREV = (1, 2)
_SIGNATURES = {
    "abs": "abs(x)", "round": "round(x[, digits])", "lower": "lower(text)", "upper": "upper(text)",
    "len": "len(text)", "contains": "contains(text, part)", "startswith": "startswith(text, prefix)",
    "endswith": "endswith(text, suffix)", "matches": "matches(text, regex)",
    "coalesce": "coalesce(a, b, ...)", "count": "count(VAR) or count()", "prev": "prev(field[, n])",
}

Report = Callable[..., None]


def walk(expr: ast.Expr) -> Iterator[ast.Expr]:
    """Every node of an expression, parents before children."""
    yield expr
    if isinstance(expr, ast.Call):
        for arg in expr.args:
            yield from walk(arg)
    elif isinstance(expr, ast.Binary):
        yield from walk(expr.left)
        yield from walk(expr.right)
    elif isinstance(expr, (ast.Unary, ast.IsNull)):
        yield from walk(expr.operand)
    elif isinstance(expr, ast.InExpr):
        yield from walk(expr.operand)
        yield from walk(expr.options)
    elif isinstance(expr, ast.Between):
        yield from walk(expr.operand)
        yield from walk(expr.low)
        yield from walk(expr.high)
    elif isinstance(expr, ast.ListExpr):
        for item in expr.items:
            yield from walk(item)


class ExprChecker:
    """Checks the expressions of one pattern; ``vars`` are its match variables."""

    def __init__(self, error: Report, not_yet: Report, vars: set[str], window: bool) -> None:
        self.error = error
        self.not_yet = not_yet
        self.vars = vars
        self.window = window

    def check(self, expr: ast.Expr, clause: str) -> None:
        for node in walk(expr):
            if isinstance(node, ast.Call):
                self._call(node, clause)

    def _refers_to_var(self, call: ast.Call) -> bool:
        return any(isinstance(n, ast.Path) and n.parts[0] in self.vars for a in call.args for n in walk(a))

    def _call(self, call: ast.Call, clause: str) -> None:
        if call.name == "prev":
            self._arity(call, _PREV)
            if clause != "define":
                self.error(call.span, "`prev(...)` can only be used in `define`",
                           "it reads the key's earlier events while a match is being found")
            return
        if call.name in FUNCTIONS:
            self._arity(call, FUNCTIONS[call.name])
            return
        if call.name not in AGGREGATES:
            known = sorted([*FUNCTIONS, *AGGREGATES, "prev"])
            close = get_close_matches(call.name, known, n=1, cutoff=0.6)
            hint = f"did you mean `{close[0]}`? " if close else ""
            self.error(call.span, f"unknown function `{call.name}`", hint + "functions: " + ", ".join(known))
            return
        self._arity(call, AGGREGATES[call.name])
        self._aggregate_place(call, clause)

    def _aggregate_place(self, call: ast.Call, clause: str) -> None:
        if clause == "where":
            self.error(call.span, f"aggregate `{call.name}` cannot be used in `from ... where`",
                       "`where` looks at one input event; aggregate in `emit` or `having`")
        elif clause == "define":
            if not self._refers_to_var(call):
                self.error(call.span, f"aggregate `{call.name}` in `define` must run over a variable",
                           f"write `{call.name}(VAR.field)` with a variable of the match")
        elif not self.window and not self._refers_to_var(call) and not (call.name == "count" and not call.args):
            self.error(call.span, f"aggregate `{call.name}` over a bare field needs a window pattern",
                       f"in a match pattern aggregate over a variable: `{call.name}(VAR.field)`"
                       + (" or `count(VAR)`" if call.name == "count" else ""))

    def _arity(self, call: ast.Call, bounds: tuple[int, int | None]) -> None:
        least, most = bounds
        n = len(call.args)
        if n < least or (most is not None and n > most):
            if most is None:
                wanted = f"at least {least}"
            elif least == most:
                wanted = str(least)
            else:
                wanted = f"{least} to {most}"
            plural = "" if (most if most is not None else least) == 1 else "s"
            usage = _SIGNATURES.get(call.name, f"{call.name}(VAR.field)")
            self.error(call.span, f"`{call.name}` takes {wanted} argument{plural}, not {n}", f"call it as {usage}")
