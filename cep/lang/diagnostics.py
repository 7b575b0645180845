"""Build :class:`~cep.errors.Diagnostic` values from places in a pattern file.

The parser, the tree builder and the semantic checks all point at text the same way: a span (or a
line and column) plus the file's source, from which the offending line is cut for the caret
display. Keeping that in one place means every diagnostic renders alike.
"""

from __future__ import annotations

from cep.errors import Diagnostic
from cep.lang.ast import Span

__all__ = ["source_line", "at", "at_span"]


def source_line(text: str, line: int) -> str:
    """The 1-based ``line`` of ``text`` without its line break, or ``""`` past the end."""
    lines = text.splitlines()
    if 1 <= line <= len(lines):
        return lines[line - 1]
    return ""


def at(
    text: str,
    path: str,
    line: int,
    column: int,
    message: str,
    hint: str | None = None,
    end_column: int | None = None,
    severity: str = "error",
) -> Diagnostic:
    """A diagnostic at ``line``:``column`` of ``text`` (both 1-based)."""
    return Diagnostic(
        message=message,
        file=path,
        line=max(line, 1),
        column=max(column, 1),
        source_line=source_line(text, line),
        hint=hint,
        end_column=end_column,
        severity=severity,
    )


def at_span(
    text: str,
    path: str,
    span: Span,
    message: str,
    hint: str | None = None,
    severity: str = "error",
) -> Diagnostic:
    """A diagnostic underlining ``span``; a span over several lines is underlined to its line's end."""
    if span.end_line == span.line:
        end = span.end_column
    else:
        end = len(source_line(text, span.line)) + 1
    return at(text, path, span.line, span.column, message, hint, end, severity)
