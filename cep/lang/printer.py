"""Print an AST back as pattern-file text in one canonical layout.

Used by ``cep fmt`` and by the round-trip property ``parse(format_file(f)) == f``. The layout:
``pattern`` at column 0, clauses indented 2 in a fixed order, ``define`` entries each on their own
line indented 4, long ``emit`` lists wrapped under their first item, test steps indented 2 and
their JSON records 4, one blank line between blocks.

Expressions get only the parentheses their structure needs, computed from the grammar's
precedence table (lowest to highest): or, and, not, comparisons, + -, * / %, unary -, atoms.
The AST has no negative number literals (``-5`` parses as unary minus applied to 5), so a
``Literal`` holding a negative number cannot be printed faithfully; the parser never makes one.
"""

from __future__ import annotations

import json
import re

from cep.lang import ast

__all__ = ["format_file", "format_pattern", "format_expr", "format_sequence", "quote"]

_WIDTH = 100
_UNITS = (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000), ("ms", 1))
_DURATION_TEXT = re.compile(r"([0-9]+)(ms|s|m|h|d)")
_LEVEL = {"or": 1, "and": 2, "==": 4, "!=": 4, "<": 4, "<=": 4, ">": 4, ">=": 4,
          "+": 5, "-": 5, "*": 6, "/": 6, "%": 6}
_ATOM = 8


def format_file(file: ast.File) -> str:
    """The whole file: patterns, then tests, separated by blank lines, ending in a newline."""
    blocks = [format_pattern(p) for p in file.patterns] + [_format_test(t) for t in file.tests]
    return "\n\n".join(blocks) + ("\n" if blocks else "")


def quote(text: str) -> str:
    """A double-quoted string literal the lexer reads back as ``text``."""
    out = ['"']
    for ch in text:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ord(ch) < 0x20 or ch == "\x7f" or 0xD800 <= ord(ch) < 0xE000:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _duration(d: ast.Duration) -> str:
    found = _DURATION_TEXT.fullmatch(d.text)
    if found and int(found.group(1)) * dict(_UNITS)[found.group(2)] == d.millis:
        return d.text
    for unit, size in _UNITS:
        if d.millis % size == 0 and (d.millis or unit == "ms"):
            return f"{d.millis // size}{unit}"
    return f"{d.millis}ms"


# --------------------------------------------------------------------------- expressions


def _level(e: ast.Expr) -> int:
    if isinstance(e, ast.Binary):
        return _LEVEL[e.op]
    if isinstance(e, ast.Unary):
        return 3 if e.op == "not" else 7
    if isinstance(e, (ast.InExpr, ast.Between, ast.IsNull)):
        return 4
    return _ATOM


def format_expr(e: ast.Expr, min_level: int = 0) -> str:
    """``e`` as text, in parentheses if it binds looser than ``min_level`` requires."""
    text = _expr(e)
    return f"({text})" if _level(e) < min_level else text


def _expr(e: ast.Expr) -> str:
    if isinstance(e, ast.Literal):
        if e.text and isinstance(e.value, (int, float)) and not isinstance(e.value, bool):
            return e.text  # the number as the user wrote it (0.10 stays 0.10)
        return _literal(e.value)
    if isinstance(e, ast.Duration):
        return _duration(e)
    if isinstance(e, ast.Path):
        return ".".join(e.parts)
    if isinstance(e, ast.ListExpr):
        return "[" + ", ".join(format_expr(i) for i in e.items) + "]"
    if isinstance(e, ast.Call):
        return f"{e.name}(" + ", ".join(format_expr(a) for a in e.args) + ")"
    if isinstance(e, ast.Unary):
        if e.op == "not":
            return "not " + format_expr(e.operand, 3)
        return "-" + format_expr(e.operand, 7)
    if isinstance(e, ast.Binary):
        level = _LEVEL[e.op]
        if level == 4:  # comparisons do not chain: both sides are sums
            return f"{format_expr(e.left, 5)} {e.op} {format_expr(e.right, 5)}"
        return f"{format_expr(e.left, level)} {e.op} {format_expr(e.right, level + 1)}"
    if isinstance(e, ast.InExpr):
        op = "not in" if e.negated else "in"
        return f"{format_expr(e.operand, 5)} {op} {format_expr(e.options, _ATOM)}"
    if isinstance(e, ast.Between):
        op = "not between" if e.negated else "between"
        return f"{format_expr(e.operand, 5)} {op} {format_expr(e.low, 5)} and {format_expr(e.high, 5)}"
    if isinstance(e, ast.IsNull):
        return f"{format_expr(e.operand, 5)} is {'not null' if e.negated else 'null'}"
    raise TypeError(f"not an expression: {e!r}")


def _literal(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return quote(value)
    return repr(value)


# --------------------------------------------------------------------------- sequences

_JOINS = {
    (ast.Contiguity.STRICT, False): "next", (ast.Contiguity.STRICT, True): "next not",
    (ast.Contiguity.RELAXED, False): "then", (ast.Contiguity.RELAXED, True): "then not",
    (ast.Contiguity.ANY, False): "then any",
}


def format_sequence(seq: ast.SeqExpr) -> str:
    """A ``match`` sequence as text."""
    if isinstance(seq, ast.Step):
        return seq.var + _quantifier(seq.quantifier)
    if isinstance(seq, ast.Group):
        return f"({format_sequence(seq.body)})" + _quantifier(seq.quantifier)
    if isinstance(seq, ast.Sequence):
        words = [format_sequence(seq.parts[0].element)]
        for part in seq.parts[1:]:
            contiguity = part.contiguity or ast.Contiguity.RELAXED
            words.append(f"{_JOINS[(contiguity, part.negated)]} {format_sequence(part.element)}")
        return " ".join(words)
    return " | ".join(format_sequence(option) for option in seq.options)


def _quantifier(q: ast.Quantifier | None) -> str:
    if q is None:
        return ""
    if (q.min, q.max) == (1, None):
        text = "+?" if q.reluctant else "+"
    elif (q.min, q.max) == (0, None):
        text = "*?" if q.reluctant else "*"
    elif (q.min, q.max) == (0, 1):
        text = "?"
    elif q.max is None:
        text = f"{{{q.min},}}"
    elif q.min == q.max:
        text = f"{{{q.min}}}"
    else:
        text = f"{{{q.min},{q.max}}}"
    if q.inner is ast.Contiguity.STRICT:
        text += " consecutive"
    elif q.inner is ast.Contiguity.ANY:
        text += " any"
    if q.greedy:
        text += " greedy"
    if q.until is not None:
        text += " until " + format_expr(q.until)
    return text


# --------------------------------------------------------------------------- blocks


def format_pattern(p: ast.Pattern) -> str:
    """One pattern block, clauses in canonical order."""
    lines = [f"pattern {p.name}" + (f" {quote(p.description)}" if p.description is not None else "")]
    where = f" where {format_expr(p.source.where)}" if p.source.where is not None else ""
    lines.append(f"  from {p.source.stream}{where}")
    if p.key:
        lines.append("  key " + ", ".join(format_expr(k) for k in p.key))
    if p.time is not None:
        t = p.time
        unit = f" {t.unit}" if t.unit != "auto" else ""
        lateness = f" lateness {_duration(t.lateness)}" if t.lateness is not None else ""
        lines.append(f"  time {format_expr(t.field)}{unit}{lateness}")
    if p.match is not None:
        m = p.match
        within = f" within {_duration(m.within)}" if m.within is not None else ""
        within += " between events" if m.within is not None and m.within_between_events else ""
        lines.append(f"  match {format_sequence(m.sequence)}{within}")
    if p.defines:
        lines.append("  define")
        lines.extend(f"    {d.var} as {format_expr(d.condition)}" for d in p.defines)
    if p.window is not None:
        lines.append("  window " + _window(p.window))
    if p.having is not None:
        lines.append(f"  having {format_expr(p.having)}")
    if p.skip is not None:
        lines.append(f"  skip {p.skip.kind.value}" + (f" {p.skip.var}" if p.skip.var else ""))
    if p.emit:
        lines.extend(_items("  emit ", p.emit))
    if p.timeout_emit:
        lines.extend(_items("  on timeout emit ", p.timeout_emit))
    return "\n".join(lines)


def _window(w: ast.Window) -> str:
    if w.kind == "count":
        return f"count {w.count}" + (f" every {w.count_every}" if w.count_every is not None else "")
    size = _duration(w.size) if w.size is not None else "0ms"
    if w.kind == "sliding":
        every = _duration(w.every) if w.every is not None else size
        return f"sliding {size} every {every}"
    return f"{w.kind} {size}"


def _items(head: str, items: tuple[ast.EmitItem, ...]) -> list[str]:
    """``emit`` items, wrapped under the first one when a line would pass the width."""
    texts = [format_expr(i.expr) + (f" as {i.alias}" if i.alias is not None else "") for i in items]
    lines, current = [], head + texts[0]
    for text in texts[1:]:
        if len(current) + 2 + len(text) > _WIDTH:
            lines.append(current + ",")
            current = " " * len(head) + text
        else:
            current += ", " + text
    lines.append(current)
    return lines


def _format_test(t: ast.PatternTest) -> str:
    lines = [f"test {quote(t.name)}"]
    for step in t.steps:
        if isinstance(step, ast.Given):
            lines.append(f"  given {step.stream}")
            lines.extend("    " + _json(e) for e in step.events)
        elif isinstance(step, ast.Advance):
            lines.append(f"  advance {_duration(step.by)}")
        elif step.none:
            lines.append(f"  expect no {step.output}")
        else:
            lines.append(f"  expect {'timeout ' if step.timeout else ''}{step.output}")
            lines.extend("    " + _json(r) for r in step.records)
    return "\n".join(lines)


def _json(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, allow_nan=False)
