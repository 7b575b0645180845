"""Keep a file's comments when ``cep fmt`` reprints it from the AST.

The grammar ignores comments, so the AST has none and the printer cannot give them back. This
module re-attaches them by position, in four steps:

1. Scan the source for comments (a ``#`` outside a string literal, to the end of its line). A
   comment alone on its line is *leading*; one after code on the same line is *trailing*.
2. List the file's *anchors*: the places a canonical layout starts a line (a pattern, each of
   its clauses, each ``define`` entry, a test, each test step, each JSON record of a step), each
   with a structural key such as ``("pattern", 0, "define", 1)`` that does not depend on layout.
3. A leading comment belongs to the first anchor after it, unless it sits inside a clause that
   spans lines, past that clause's last inner anchor (then it goes above that clause); a trailing
   comment belongs to the last anchor that starts before it. Comments after every anchor stay
   at the end of the file.
4. Print the file, parse the result to find where each anchor landed, and put the comments
   back: leading comments on their own lines above the anchor (indented like it), a trailing
   comment at the end of the anchor's first line. An anchor with several trailing comments
   gets them as leading comments instead (in source order), so none is merged into another.

Clauses may move (the printer has a fixed clause order); their comments move with them. A comment
inside a multi-line expression moves to the expression's clause. Running the result through
:func:`format_with_comments` again gives the same text (the layout it makes is its own fixpoint),
and :func:`format_with_comments` checks that the comments and the AST survived before returning.
"""

from __future__ import annotations

import bisect
import re
from collections import Counter
from dataclasses import dataclass, field

from cep.errors import CepError
from cep.lang import ast
from cep.lang.parser import parse
from cep.lang.printer import format_file

__all__ = ["Comment", "scan_comments", "format_with_comments"]

# Strings first so a `#` or a quote inside a string literal is never mistaken for anything else.
_TOKEN = re.compile(
    r"""(?P<str>"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')|(?P<comment>\#[^\n]*)|(?P<word>\w+)|(?P<other>\S)"""
)

Key = tuple[object, ...]


@dataclass(frozen=True, slots=True)
class Comment:
    """One comment: its text (from ``#``, trailing spaces removed) and where it was."""

    text: str
    offset: int
    line: int
    trailing: bool
    blank_before: bool  # a blank line separates it from whatever came before


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str
    text: str
    start: int


@dataclass(slots=True)
class _Attached:
    leading: list[Comment] = field(default_factory=list)
    trailing: list[Comment] = field(default_factory=list)
    blank_before_anchor: bool = False


def _tokens(text: str) -> list[_Token]:
    return [_Token(m.lastgroup or "other", m.group(), m.start()) for m in _TOKEN.finditer(text)]


def scan_comments(text: str) -> list[Comment]:
    """Every comment of ``text`` in order (the text must lex; strings may hold ``#``)."""
    found: list[Comment] = []
    previous_end_line = 0  # the line of the last token (comment or code) seen
    for token in _tokens(text):
        line = text.count("\n", 0, token.start) + 1
        if token.kind == "comment":
            line_start = text.rfind("\n", 0, token.start) + 1
            trailing = bool(text[line_start : token.start].strip())
            blank = previous_end_line > 0 and line - previous_end_line > 1 and not trailing
            found.append(Comment(token.text.rstrip(), token.start, line, trailing, blank))
        previous_end_line = line + token.text.count("\n")
    return found


# --------------------------------------------------------------------------- anchors


def _keyword_start(tokens: list[_Token], starts: list[int], pos: int, phrase: tuple[str, ...]) -> int:
    """Where the clause keyword(s) ``phrase`` right before ``pos`` start (skipping comments and ``(``)."""
    index = bisect.bisect_left(starts, pos) - 1
    wanted = list(phrase)
    found = pos
    while index >= 0 and wanted:
        token = tokens[index]
        index -= 1
        if token.kind == "comment" or (token.text == "(" and len(wanted) == len(phrase)):
            continue
        if token.text != wanted[-1]:
            return pos
        wanted.pop()
        found = token.start
    return found if not wanted else pos


def _records(tokens: list[_Token], starts: list[int], span: ast.Span) -> list[tuple[int, int]]:
    """(start, end) offsets of the top-level JSON objects inside a ``given`` / ``expect`` step."""
    out: list[tuple[int, int]] = []
    depth = 0
    opened = 0
    for token in tokens[bisect.bisect_left(starts, span.start) : bisect.bisect_left(starts, span.end)]:
        if token.kind != "other":
            continue
        if token.text in "{[":
            if depth == 0:
                opened = token.start
            depth += 1
        elif token.text in "}]":
            depth -= 1
            if depth == 0 and token.text == "}":
                out.append((opened, token.start + 1))
    return out


def _anchors(file: ast.File) -> list[tuple[Key, int, int]]:
    """Every anchor of ``file``: (structural key, offset its line starts at, end offset), in source order."""
    tokens = _tokens(file.source)
    starts = [t.start for t in tokens]
    out: list[tuple[Key, int, int]] = []

    def add(key: Key, start: int, end: int) -> None:
        out.append((key, start, end))

    def kw(pos: int, *phrase: str) -> int:
        return _keyword_start(tokens, starts, pos, phrase)

    for i, p in enumerate(file.patterns):
        base: Key = ("pattern", i)
        add(base, p.span.start, p.span.end)
        add(base + ("from",), p.source.span.start, p.source.span.end)
        if p.key:
            add(base + ("key",), kw(p.key[0].span.start, "key"), p.key[-1].span.end)
        if p.time is not None:
            add(base + ("time",), p.time.span.start, p.time.span.end)
        if p.match is not None:
            add(base + ("match",), p.match.span.start, p.match.span.end)
        if p.defines:
            add(base + ("define",), kw(p.defines[0].span.start, "define"), p.defines[-1].span.end)
            for j, d in enumerate(p.defines):
                add(base + ("define", j), d.span.start, d.span.end)
        if p.window is not None:
            add(base + ("window",), p.window.span.start, p.window.span.end)
        if p.having is not None:
            add(base + ("having",), kw(p.having.span.start, "having"), p.having.span.end)
        if p.skip is not None:
            add(base + ("skip",), p.skip.span.start, p.skip.span.end)
        if p.emit:
            add(base + ("emit",), kw(p.emit[0].span.start, "emit"), p.emit[-1].span.end)
        if p.timeout_emit:
            start = kw(p.timeout_emit[0].span.start, "on", "timeout", "emit")
            add(base + ("timeout",), start, p.timeout_emit[-1].span.end)
    for k, t in enumerate(file.tests):
        base = ("test", k)
        add(base, t.span.start, t.span.end)
        for j, step in enumerate(t.steps):
            add(base + (j,), step.span.start, step.span.end)
            if isinstance(step, (ast.Given, ast.Expect)):
                for m, (start, end) in enumerate(_records(tokens, starts, step.span)):
                    add(base + (j, m), start, end)
    out.sort(key=lambda item: item[1])  # stable: an outer anchor stays before an inner one
    return out


# --------------------------------------------------------------------------- re-attaching


def _attach(
    comments: list[Comment], anchors: list[tuple[Key, int, int]], source: str
) -> tuple[dict[Key, _Attached], list[Comment]]:
    attached: dict[Key, _Attached] = {}
    at_end: list[Comment] = []
    positions = [start for _, start, _ in anchors]
    for comment in comments:
        before = bisect.bisect_left(positions, comment.offset)
        if comment.trailing and before > 0:
            attached.setdefault(anchors[before - 1][0], _Attached()).trailing.append(comment)
            continue
        inside = [a for a in anchors[:before] if a[1] < comment.offset < a[2]]
        after = anchors[before] if before < len(anchors) else None
        if inside and (after is None or after[1] >= inside[-1][2]):
            target = inside[-1]  # inside a clause that spans lines, after its last inner anchor
        elif after is not None:
            target = after
        else:
            at_end.append(comment)
            continue
        slot = attached.setdefault(target[0], _Attached())
        slot.leading.append(comment)
        if target is after:
            slot.blank_before_anchor = source.count("\n", 0, target[1]) + 1 - comment.line > 1
    return attached, at_end


def _offset(comment: Comment) -> int:
    return comment.offset


def _place(text: str, attached: dict[Key, _Attached], at_end: list[Comment]) -> str:
    printed = parse(text)
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    before: dict[int, list[str]] = {}
    after: dict[int, str] = {}
    for key, pos, _ in _anchors(printed):
        slot = attached.get(key)
        if slot is None:
            continue
        index = text.count("\n", 0, pos)
        indent = " " * (len(lines[index]) - len(lines[index].lstrip(" ")))
        block = len(key) == 2  # a pattern or a test: blank lines around its comments are kept
        leading = slot.leading if len(slot.trailing) <= 1 else sorted(slot.leading + slot.trailing, key=_offset)
        out = before.setdefault(index, [])
        for n, comment in enumerate(leading):
            if block and n > 0 and comment.blank_before:
                out.append("")
            out.append(indent + comment.text)
        if block and slot.leading and slot.blank_before_anchor and len(slot.trailing) <= 1:
            out.append("")
        if len(slot.trailing) == 1:
            after[index] = slot.trailing[0].text
    result: list[str] = []
    for index, line in enumerate(lines):
        result.extend(before.get(index, ()))
        result.append(line + ("  " + after[index] if index in after else ""))
    if at_end:
        if result and at_end[0].blank_before:
            result.append("")
        for n, comment in enumerate(at_end):
            if n > 0 and comment.blank_before:
                result.append("")
            result.append(comment.text)
    return "\n".join(result) + ("\n" if result else "")


def format_with_comments(text: str, path: str = "<string>") -> str:
    """``text`` in canonical layout with its comments kept; raises PatternSyntaxError on bad text.

    Raises :class:`CepError` (never returns a lossy result) if the comments or the meaning of
    the file would not survive.
    """
    file = parse(text, path)
    comments = scan_comments(text)
    printed = format_file(file)
    if not comments:
        return printed
    attached, at_end = _attach(comments, _anchors(file), text)
    result = _place(printed, attached, at_end)
    kept = Counter(c.text for c in scan_comments(result)) == Counter(c.text for c in comments)
    if not kept or parse(result, path) != file:
        raise CepError(f"{path}: cannot reformat this file without losing a comment; it was left as it is")
    return result
