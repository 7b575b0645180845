"""Turn the parse tree into the frozen AST.

The parser module hands every grammar rule here by name (``builder.<rule>(children, meta)``),
bottom-up, so this module never imports lark: tokens are read as strings with ``line``/``column``
attributes and ``meta`` as any object with lark's position fields.

Some rules are easier to state here than in an LALR grammar: each clause at most once per pattern,
``from`` required, whole numbers in quantifiers, no clashing loop modifiers, valid string escapes.
Those problems are collected (all of them, not just the first) and the parser raises them as one
:class:`~cep.errors.PatternSyntaxError`.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from cep.lang import ast
from cep.lang.build_values import ValueRules, span_of

__all__ = ["AstBuilder"]

_CLAUSE_WORDS = {
    "from": "from", "key": "key", "time": "time", "match": "match", "define": "define",
    "window": "window", "having": "having", "skip": "skip", "emit": "emit",
    "timeout_emit": "on timeout emit",
}


class AstBuilder(ValueRules):
    """One per parse: builds AST nodes bottom-up and collects the problems found on the way."""

    # ------------------------------------------------------------------ file and patterns

    def start(self, children: list[Any], meta: Any) -> ast.File:
        patterns = tuple(c for c in children if isinstance(c, ast.Pattern))
        tests = tuple(c for c in children if isinstance(c, ast.PatternTest))
        return ast.File(patterns=patterns, tests=tests, path=self._file, source=self._text)

    def pattern_head(self, children: list[Any], meta: Any) -> tuple[str, str | None]:
        name, desc = children
        return str(name), (self._string(desc) if desc is not None else None)

    def pattern(self, children: list[Any], meta: Any) -> ast.Pattern | None:
        (name, description), clauses = children[0], children[1:]
        seen: dict[str, Any] = {}
        for kind, value, span in clauses:
            if kind in seen:
                word = _CLAUSE_WORDS[kind]
                self._problem(span, f"pattern `{name}` has more than one `{word}` clause",
                              f"each clause may appear once in a pattern; merge the two `{word}` clauses")
                continue
            seen[kind] = value
        span = span_of(meta)
        if "from" not in seen:
            self._problem(span, f"pattern `{name}` has no `from` clause",
                          "say which stream it reads: `from STREAM` right after the pattern name")
            return None
        return ast.Pattern(
            name=name, source=seen["from"], description=description,
            key=seen.get("key", ()), time=seen.get("time"), match=seen.get("match"),
            defines=seen.get("define", ()), window=seen.get("window"), having=seen.get("having"),
            skip=seen.get("skip"), emit=seen.get("emit", ()), timeout_emit=seen.get("timeout_emit"),
            span=span,
        )

    # ------------------------------------------------------------------ clauses
    # Each returns (kind, value, span) so `pattern` can spot a clause given twice.

    def from_clause(self, children: list[Any], meta: Any) -> tuple[str, ast.From, ast.Span]:
        stream, where = children
        span = span_of(meta)
        return "from", ast.From(str(stream), where, span), span

    def key_clause(self, children: list[Any], meta: Any) -> tuple[str, tuple[ast.Path, ...], ast.Span]:
        return "key", tuple(children), span_of(meta)

    def time_clause(self, children: list[Any], meta: Any) -> tuple[str, ast.Time, ast.Span]:
        field, unit, lateness = children
        lateness_value = self._duration(lateness) if lateness is not None else None
        span = span_of(meta)
        return "time", ast.Time(field, unit or "auto", lateness_value, span), span

    def time_unit(self, children: list[Any], meta: Any) -> str:
        return str(children[0])

    def match_clause(self, children: list[Any], meta: Any) -> tuple[str, ast.Match, ast.Span]:
        sequence, within = children
        duration, between = within if within is not None else (None, False)
        span = span_of(meta)
        return "match", ast.Match(sequence, duration, between, span), span

    def within(self, children: list[Any], meta: Any) -> tuple[ast.Duration, bool]:
        return self._duration(children[0]), children[1] is not None

    def between_events(self, children: list[Any], meta: Any) -> bool:
        return True

    def define_clause(self, children: list[Any], meta: Any) -> tuple[str, tuple[ast.Define, ...], ast.Span]:
        return "define", tuple(children), span_of(meta)

    def define_entry(self, children: list[Any], meta: Any) -> ast.Define:
        return ast.Define(str(children[0]), children[1], span_of(meta))

    def window_clause(self, children: list[Any], meta: Any) -> tuple[str, ast.Window, ast.Span]:
        span = span_of(meta)
        return "window", replace(children[0], span=span), span

    def tumbling(self, children: list[Any], meta: Any) -> ast.Window:
        return ast.Window("tumbling", size=self._duration(children[0]))

    def sliding(self, children: list[Any], meta: Any) -> ast.Window:
        return ast.Window("sliding", size=self._duration(children[0]), every=self._duration(children[1]))

    def session(self, children: list[Any], meta: Any) -> ast.Window:
        return ast.Window("session", size=self._duration(children[0]))

    def rolling(self, children: list[Any], meta: Any) -> ast.Window:
        return ast.Window("rolling", size=self._duration(children[0]))

    def count_window(self, children: list[Any], meta: Any) -> ast.Window:
        count, every = children
        return ast.Window("count", count=self._whole(count),
                          count_every=self._whole(every) if every is not None else None)

    def having_clause(self, children: list[Any], meta: Any) -> tuple[str, Any, ast.Span]:
        return "having", children[0], span_of(meta)

    def skip_clause(self, children: list[Any], meta: Any) -> tuple[str, ast.Skip, ast.Span]:
        kind, var = children[0]
        span = span_of(meta)
        return "skip", ast.Skip(kind, var, span), span

    def skip_none(self, children: list[Any], meta: Any) -> tuple[ast.SkipKind, None]:
        return ast.SkipKind.NONE, None

    def skip_to_next(self, children: list[Any], meta: Any) -> tuple[ast.SkipKind, None]:
        return ast.SkipKind.TO_NEXT, None

    def skip_past_last(self, children: list[Any], meta: Any) -> tuple[ast.SkipKind, None]:
        return ast.SkipKind.PAST_LAST, None

    def skip_to_first(self, children: list[Any], meta: Any) -> tuple[ast.SkipKind, str]:
        return ast.SkipKind.TO_FIRST, str(children[0])

    def skip_to_last(self, children: list[Any], meta: Any) -> tuple[ast.SkipKind, str]:
        return ast.SkipKind.TO_LAST, str(children[0])

    def emit_clause(self, children: list[Any], meta: Any) -> tuple[str, tuple[ast.EmitItem, ...], ast.Span]:
        return "emit", children[0], span_of(meta)

    def timeout_clause(self, children: list[Any], meta: Any) -> tuple[str, tuple[ast.EmitItem, ...], ast.Span]:
        return "timeout_emit", children[0], span_of(meta)

    def emit_items(self, children: list[Any], meta: Any) -> tuple[ast.EmitItem, ...]:
        return tuple(children)

    def emit_item(self, children: list[Any], meta: Any) -> ast.EmitItem:
        expr, alias = children
        return ast.EmitItem(expr, str(alias) if alias is not None else None, span_of(meta))

    # ------------------------------------------------------------------ sequences

    def alternation(self, children: list[Any], meta: Any) -> ast.SeqExpr:
        if len(children) == 1:
            return children[0]
        return ast.Alternation(tuple(children), span_of(meta))

    def chain(self, children: list[Any], meta: Any) -> ast.SeqExpr:
        first, parts = children[0], children[1:]
        if not parts:
            return first
        head = ast.SeqPart(first, None, False, first.span)
        return ast.Sequence((head, *parts), span_of(meta))

    def next_part(self, children: list[Any], meta: Any) -> ast.SeqPart:
        return ast.SeqPart(children[0], ast.Contiguity.STRICT, False, span_of(meta))

    def next_not_part(self, children: list[Any], meta: Any) -> ast.SeqPart:
        return ast.SeqPart(children[0], ast.Contiguity.STRICT, True, span_of(meta))

    def then_part(self, children: list[Any], meta: Any) -> ast.SeqPart:
        return ast.SeqPart(children[0], ast.Contiguity.RELAXED, False, span_of(meta))

    def then_any_part(self, children: list[Any], meta: Any) -> ast.SeqPart:
        return ast.SeqPart(children[0], ast.Contiguity.ANY, False, span_of(meta))

    def then_not_part(self, children: list[Any], meta: Any) -> ast.SeqPart:
        return ast.SeqPart(children[0], ast.Contiguity.RELAXED, True, span_of(meta))

    def step(self, children: list[Any], meta: Any) -> ast.Step:
        return ast.Step(str(children[0]), children[1], span_of(meta))

    def group(self, children: list[Any], meta: Any) -> ast.Group:
        return ast.Group(children[0], children[1], span_of(meta))

    def quantifier(self, children: list[Any], meta: Any) -> ast.Quantifier:
        (low, high, reluctant), modifiers = children[0], children[1:]
        fields: dict[str, Any] = {}
        for name, value, span in modifiers:
            if name in fields:
                self._problem(span, "this loop modifier clashes with an earlier one",
                              "give each of `consecutive`/`any`, `greedy` and `until` at most once, "
                              "and not both `consecutive` and `any`")
                continue
            fields[name] = value
        if reluctant and fields.get("greedy"):
            self._problem(span_of(meta), "a loop cannot be both reluctant (`+?`, `*?`) and `greedy`",
                          "drop the `?` or the `greedy`")
        return ast.Quantifier(low, high, reluctant=reluctant, span=span_of(meta), **fields)

    def q_plus(self, children: list[Any], meta: Any) -> tuple[int, None, bool]:
        return 1, None, False

    def q_star(self, children: list[Any], meta: Any) -> tuple[int, None, bool]:
        return 0, None, False

    def q_optional(self, children: list[Any], meta: Any) -> tuple[int, int, bool]:
        return 0, 1, False

    def q_plus_reluctant(self, children: list[Any], meta: Any) -> tuple[int, None, bool]:
        return 1, None, True

    def q_star_reluctant(self, children: list[Any], meta: Any) -> tuple[int, None, bool]:
        return 0, None, True

    def q_exact(self, children: list[Any], meta: Any) -> tuple[int, int, bool]:
        n = self._whole(children[0])
        return n, n, False

    def q_range(self, children: list[Any], meta: Any) -> tuple[int, int, bool]:
        return self._whole(children[0]), self._whole(children[1]), False

    def q_at_least(self, children: list[Any], meta: Any) -> tuple[int, None, bool]:
        return self._whole(children[0]), None, False

    # Modifiers share one slot per Quantifier field, so a clash is a repeated slot name.
    def m_consecutive(self, children: list[Any], meta: Any) -> tuple[str, Any, ast.Span]:
        return "inner", ast.Contiguity.STRICT, span_of(meta)

    def m_any(self, children: list[Any], meta: Any) -> tuple[str, Any, ast.Span]:
        return "inner", ast.Contiguity.ANY, span_of(meta)

    def m_greedy(self, children: list[Any], meta: Any) -> tuple[str, Any, ast.Span]:
        return "greedy", True, span_of(meta)

    def m_until(self, children: list[Any], meta: Any) -> tuple[str, Any, ast.Span]:
        return "until", children[0], span_of(meta)

