"""Semantic checks on a parsed file: everything the grammar cannot say.

:func:`check` is a pure pass, AST in and diagnostics out, and it reports every problem in the file
at once, in source order. Problems fall in two groups that read differently on purpose:

* mistakes (a ``define`` for a variable the ``match`` never uses, ``{2,1}``, ``within`` without
  event time, an unknown function), each with a hint on how to fix it;
* constructs the language has but this release does not run yet (negation, alternation,
  ``until``, window patterns, ...). They are errors too, so a file never half-runs, but their
  message starts with :data:`NOT_YET` so users (and tests) can tell "wrong" from "not yet".

Expression-level rules (functions, arity, aggregates) live in :mod:`cep.lang.checks_exprs`.
"""

from __future__ import annotations

import difflib
import re

from cep.errors import Diagnostic, PatternError
from cep.lang import ast
from cep.lang.checks_exprs import NOT_YET, ExprChecker
from cep.lang.diagnostics import at, at_span
from cep.lang.parser import parse

__all__ = ["check", "check_source", "NOT_YET"]


def check(file: ast.File) -> list[Diagnostic]:
    """Every semantic problem in ``file``, sorted by place."""
    found = _FileChecker(file).run()
    return sorted(found, key=lambda d: (d.line, d.column))


def check_source(text: str, path: str = "<string>") -> ast.File:
    """Parse and check; raise :class:`PatternError` listing every problem (syntax errors first)."""
    file = parse(text, path)
    diagnostics = check(file)
    if any(d.severity == "error" for d in diagnostics):
        raise PatternError(diagnostics)
    return file


def _suggest(word: str, options: list[str] | set[str]) -> str:
    close = difflib.get_close_matches(word, sorted(options), n=1, cutoff=0.6)
    return f"did you mean `{close[0]}`? " if close else ""


class _FileChecker:
    def __init__(self, file: ast.File) -> None:
        self.file = file
        self.out: list[Diagnostic] = []

    def error(self, span: ast.Span, message: str, hint: str | None = None) -> None:
        self.out.append(at_span(self.file.source, self.file.path, span, message, hint))

    def warning(self, span: ast.Span, message: str, hint: str | None = None) -> None:
        """Shown by `cep check`; does not stop a file from running."""
        self.out.append(at_span(self.file.source, self.file.path, span, message, hint, severity="warning"))

    def run(self) -> list[Diagnostic]:
        if not self.file.patterns:
            self.out.append(at(self.file.source, self.file.path, 1, 1, "the file has no patterns",
                               "start one with `pattern NAME` followed by `from STREAM`"))
        seen: set[str] = set()
        for pattern in self.file.patterns:
            if pattern.name in seen:
                self.error(self._name_span(pattern), f"there is already a pattern named `{pattern.name}`",
                           "pattern names are output stream names, so each must be unique")
            seen.add(pattern.name)
            _PatternChecker(self, pattern).run()
        self._check_tests()
        return self.out

    def _name_span(self, pattern: ast.Pattern) -> ast.Span:
        """The span of the name after `pattern` (the AST keeps only the whole block's span)."""
        found = re.compile(r"pattern\s+(\w+)").match(self.file.source, pattern.span.start)
        if not found or pattern.span == ast.NO_SPAN:
            return pattern.span
        start = found.start(1)
        line = self.file.source.count("\n", 0, start) + 1
        column = start - (self.file.source.rfind("\n", 0, start) + 1) + 1
        return ast.Span(line, column, line, column + len(pattern.name), start, start + len(pattern.name))

    def _check_tests(self) -> None:
        outputs = {p.name for p in self.file.patterns}
        streams = {p.source.stream for p in self.file.patterns}
        names: set[str] = set()
        for test in self.file.tests:
            if test.name in names:
                self.error(test.span, f"there is already a test named \"{test.name}\"", "give each test its own name")
            names.add(test.name)
            for step in test.steps:
                if isinstance(step, ast.Expect) and step.output not in outputs:
                    self.error(step.span, f"no pattern in this file is named `{step.output}`",
                               _suggest(step.output, outputs) + "`expect` names a pattern's output")
                elif isinstance(step, ast.Given) and step.stream not in streams:
                    self.error(step.span, f"no pattern in this file reads stream `{step.stream}`",
                               _suggest(step.stream, streams) + "`given` names a stream used in `from`")


class _PatternChecker:
    def __init__(self, parent: _FileChecker, pattern: ast.Pattern) -> None:
        self.parent = parent
        self.p = pattern
        self.error = parent.error
        self.vars: list[str] = []
        self.untils: list[ast.Expr] = []

    def not_yet(self, span: ast.Span, what: str, hint: str | None = None) -> None:
        self.error(span, NOT_YET + what, hint or "this release runs `match` patterns without it")

    def run(self) -> None:
        p = self.p
        name_span = self.parent._name_span(p)
        if p.match is None and p.window is None:
            self.error(name_span, f"pattern `{p.name}` has neither `match` nor `window`",
                       "add `match SEQUENCE` to find a sequence, or `window KIND` to aggregate")
        if p.match is not None and p.window is not None:
            self.error(p.window.span, "a pattern has either `match` or `window`, not both",
                       "split it into two patterns; one can read the other's output")
        if p.match is not None:
            self._check_match(p.match)
        if p.window is not None:
            self._check_window(p.window)
        if p.having is not None and p.window is None:
            self.error(p.having.span, "`having` only applies to window patterns",
                       "filter matches in `define`, or input events with `from ... where`")
        self._check_defines()
        self._check_skip()
        self._check_keys()
        if p.timeout_emit is not None:
            span = p.timeout_emit[0].span if p.timeout_emit else name_span
            if p.match is not None and p.match.within is None:
                self.error(span, "`on timeout emit` needs `within`",
                           "partial matches time out only when `within D` bounds the match")
        self._check_emit(p.emit)
        exprs = ExprChecker(self.error, self.not_yet, set(self.vars), window=p.window is not None)
        if p.source.where is not None:
            exprs.check(p.source.where, "where")
        for condition in (*(d.condition for d in p.defines), *self.untils):
            exprs.check(condition, "define")
        if p.having is not None:
            exprs.check(p.having, "having")
        for item in (*p.emit, *(p.timeout_emit or ())):
            exprs.check(item.expr, "emit")

    # ------------------------------------------------------------------ match and sequences

    def _check_match(self, match: ast.Match) -> None:
        self._walk_sequence(match.sequence)
        if match.within is None:
            self._check_unbounded(match.sequence, None)
        if match.within is not None:
            reads_a_pattern = any(q.name == self.p.source.stream for q in self.parent.file.patterns)
            if self.p.time is None and not reads_a_pattern:
                self.error(match.within.span, "`within` needs event time",
                           "add a `time FIELD` clause; without one, events only have arrival order")
            if match.within.millis <= 0:
                self.error(match.within.span, "`within` needs a duration above zero")

    def _walk_sequence(self, seq: ast.SeqExpr) -> None:
        if isinstance(seq, ast.Step):
            if seq.var in self.vars:
                self.error(seq.span, f"variable `{seq.var}` appears twice in the sequence",
                           "use a quantifier (`a{2}`, `a+`) or a second variable with its own `define`")
            else:
                self.vars.append(seq.var)
            self._check_quantifier(seq.quantifier)
        elif isinstance(seq, ast.Group):
            self._walk_sequence(seq.body)
            self._check_quantifier(seq.quantifier)
        elif isinstance(seq, ast.Sequence):
            for index, part in enumerate(seq.parts):
                if part.negated:
                    self._check_negation(part, last=index == len(seq.parts) - 1 and seq is self.p.match.sequence)
                self._walk_sequence(part.element)
        elif isinstance(seq, ast.Alternation):
            for option in seq.options:
                self._walk_sequence(option)

    def _check_unbounded(self, seq: ast.SeqExpr, joined: ast.Contiguity | None) -> None:
        """An unbounded loop whose iterations branch (`then any b+`, `b+ any`) with neither
        `within` nor `until` keeps partial matches alive forever: warn before it runs."""
        if isinstance(seq, ast.Step) and seq.quantifier is not None:
            q = seq.quantifier
            if q.max is None and q.until is None:
                if q.inner is ast.Contiguity.ANY:
                    # A warning, not an error: Flink accepts the shape (its own documentation
                    # shows one), and the per-key bound keeps memory in check meanwhile.
                    self.parent.warning(
                        q.span, f"`{seq.var}` loops over every combination of events without end",
                        "bound it: add `within D` to the match, or `until EXPR` to the loop; until then "
                        "each key keeps at most --max-partial-matches partial matches")
                elif joined is ast.Contiguity.ANY:
                    self.parent.warning(
                        q.span, f"`then any {seq.var}` loop with no `within`: partial matches pile up without end",
                        "add `within D`; until then each key keeps at most --max-partial-matches of them")
        elif isinstance(seq, ast.Group):
            self._check_unbounded(seq.body, joined)
        elif isinstance(seq, ast.Sequence):
            for part in seq.parts:
                self._check_unbounded(part.element, part.contiguity)
        elif isinstance(seq, ast.Alternation):
            for option in seq.options:
                self._check_unbounded(option, joined)

    def _check_negation(self, part: ast.SeqPart, last: bool) -> None:
        join = "next not" if part.contiguity is ast.Contiguity.STRICT else "then not"
        element = part.element
        if not isinstance(element, ast.Step):
            self.error(part.span, f"`{join}` takes a single variable, not a group",
                       "negate one variable, e.g. `then not refund`")
        elif element.quantifier is not None:
            self.error(element.quantifier.span, "a negated variable cannot be quantified",
                       f"`{join} {element.var}` already means no {element.var} at all")
        if (last and part.contiguity is not ast.Contiguity.STRICT and self.p.match is not None
                and self.p.match.within is None):
            self.error(part.span, "a pattern ending in `then not` needs `within`",
                       "absence is only known when time runs out: add `within D` to the match")

    def _check_quantifier(self, q: ast.Quantifier | None) -> None:
        if q is None:
            return
        if q.max is not None and q.max == 0:
            self.error(q.span, "a quantifier must allow at least one event", "`{0}` matches nothing; drop the element")
        elif q.max is not None and q.min > q.max:
            self.error(q.span, f"quantifier `{{{q.min},{q.max}}}` has its bounds the wrong way round",
                       f"write `{{{q.max},{q.min}}}`: the smaller number comes first")
        if q.until is not None:
            self.untils.append(q.until)
            if q.max is not None:
                self.error(q.span, "`until` ends a loop: it needs `+`, `*` or `{n,}`",
                           "a bounded quantifier already stops by itself")
        if (q.greedy or q.reluctant) and q.max is not None and q.min == q.max:
            self.error(q.span, "`greedy` and reluctant quantifiers need a loop or a range",
                       "an exact count `{n}` has only one way to match")

    # ------------------------------------------------------------------ other clauses

    def _check_window(self, window: ast.Window) -> None:
        for size in (window.size, window.every):
            if size is not None and size.millis <= 0:
                self.error(size.span, "a window duration must be above zero")
        if window.count is not None and window.count <= 0:
            self.error(window.span, "a count window needs at least one event")
        if window.count_every is not None and window.count_every <= 0:
            self.error(window.span, "`every` needs at least one event")

    def _check_defines(self) -> None:
        seen: set[str] = set()
        for define in self.p.defines:
            if define.var in seen:
                self.error(define.span, f"variable `{define.var}` is defined twice",
                           "combine the conditions with `and` in one entry")
            seen.add(define.var)
            if self.p.match is None:
                self.error(define.span, "`define` only applies to `match` patterns",
                           "filter window input with `from STREAM where ...`")
            elif define.var not in self.vars:
                self.error(define.span, f"`{define.var}` is defined but not used in `match`",
                           _suggest(define.var, set(self.vars)) + f"variables in the match: {', '.join(self.vars)}")

    def _check_skip(self) -> None:
        skip = self.p.skip
        if skip is None:
            return
        if self.p.match is None:
            self.error(skip.span, "`skip` only applies to `match` patterns")
        elif skip.var is not None and skip.var not in self.vars:
            self.error(skip.span, f"`skip {skip.kind.value} {skip.var}`: `{skip.var}` is not in the match",
                       _suggest(skip.var, set(self.vars)) + f"variables in the match: {', '.join(self.vars)}")

    def _check_keys(self) -> None:
        seen: set[tuple[str, ...]] = set()
        for key in self.p.key:
            if key.parts in seen:
                self.error(key.span, f"key field `{'.'.join(key.parts)}` is listed twice", "list each key field once")
            seen.add(key.parts)

    def _check_emit(self, items: tuple[ast.EmitItem, ...]) -> None:
        seen: set[str] = set()
        for item in items:
            name = item.alias
            if name is None and isinstance(item.expr, ast.Path) and len(item.expr.parts) == 1:
                name = item.expr.parts[0]
            if name is None:
                continue
            if name in seen:
                self.error(item.span, f"two emitted fields are named `{name}`", "rename one with `as NAME`")
            seen.add(name)
