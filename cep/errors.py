"""One error hierarchy for the whole engine.

Every error a user can meet derives from :class:`CepError`. Errors that also have a natural
built-in counterpart inherit it too (``PatternSyntaxError`` is a ``SyntaxError``), so code that
catches the built-in keeps working.

Pattern-file problems are *diagnostics*: each one knows its file, line and column, can show the
offending source line with a caret under the problem, and carries a hint on how to fix it.
A :class:`PatternError` holds all the diagnostics of a file at once, because a user fixing a
file wants every problem listed, not just the first.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

__all__ = [
    "CepError",
    "Diagnostic",
    "PatternError",
    "PatternSyntaxError",
    "EventError",
    "EventTimeError",
    "StateError",
    "SnapshotError",
]


class CepError(Exception):
    """Root of every error raised by cep."""


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One problem in a pattern file, with its place and a hint.

    ``line`` and ``column`` are 1-based; ``end_column`` is exclusive and only used to draw a
    longer underline than a single caret when the problem spans a token.
    """

    message: str
    file: str
    line: int
    column: int
    source_line: str = ""
    hint: str | None = None
    end_column: int | None = None
    severity: str = "error"

    def format(self) -> str:
        """Render as ``file:line:col: error: message``, the source line, a caret and the hint."""
        head = f"{self.file}:{self.line}:{self.column}: {self.severity}: {self.message}"
        lines = [head]
        if self.source_line:
            gutter = f"{self.line:>5} | "
            lines.append(gutter + self.source_line.rstrip("\n"))
            width = 1
            if self.end_column is not None and self.end_column > self.column:
                width = self.end_column - self.column
            pad = " " * (len(gutter) - 2) + "| "
            lines.append(pad + " " * (self.column - 1) + "^" * width)
        if self.hint:
            lines.append(f"  hint: {self.hint}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.format()


class PatternError(CepError):
    """A pattern file has one or more problems; ``diagnostics`` lists them all."""

    def __init__(self, diagnostics: Iterable[Diagnostic]):
        self.diagnostics: tuple[Diagnostic, ...] = tuple(diagnostics)
        super().__init__("\n\n".join(d.format() for d in self.diagnostics) or "pattern error")

    @property
    def first(self) -> Diagnostic:
        return self.diagnostics[0]


class PatternSyntaxError(PatternError, SyntaxError):
    """The text does not follow the pattern grammar."""

    def __init__(self, diagnostics: Iterable[Diagnostic]):
        PatternError.__init__(self, diagnostics)
        first = self.diagnostics[0] if self.diagnostics else None
        if first is not None:
            # Fill SyntaxError's own fields so tracebacks point at the right place.
            self.filename = first.file
            self.lineno = first.line
            self.offset = first.column
            self.text = first.source_line
            self.msg = first.message


class EventError(CepError, ValueError):
    """An input event cannot be used (not an object, missing key, ...); it is dead-lettered."""


class EventTimeError(EventError):
    """An event's time field is missing or cannot be parsed as a timestamp."""


class StateError(CepError, RuntimeError):
    """Operator state is inconsistent or cannot be used."""


class SnapshotError(StateError):
    """A snapshot cannot be written, read or restored (wrong version, corrupt data)."""
