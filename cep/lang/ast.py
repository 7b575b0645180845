"""The pattern language's abstract syntax tree.

Frozen, slotted dataclasses: an AST is a value. Passes (checks, the expression compiler, the NFA
compiler front, the printer) read it and build new things; nothing mutates it. Every node carries
a :class:`Span` so any later pass can point a diagnostic at the exact text.

Equality ignores spans (``compare=False``) so that ``parse(print(ast)) == ast`` can hold even
though the printed layout differs from the original.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Union


@dataclass(frozen=True, slots=True)
class Span:
    """Where a node sits in its file: 1-based line/column, end exclusive; offsets into the text."""

    line: int = 0
    column: int = 0
    end_line: int = 0
    end_column: int = 0
    start: int = 0
    end: int = 0


NO_SPAN = Span()


def _span() -> Any:
    return field(default=NO_SPAN, compare=False, repr=False)


# --------------------------------------------------------------------------- expressions


@dataclass(frozen=True, slots=True)
class Literal:
    """A number, string, ``true``/``false`` or ``null``.

    ``text`` keeps a number's spelling (``0.10``) so the printer can give it back as written.
    """

    value: int | float | str | bool | None
    span: Span = _span()
    text: str = field(default="", compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Duration:
    """A duration literal such as ``250ms`` or ``1m``; ``millis`` is the value in milliseconds.

    ``text`` keeps the spelling the user wrote so the printer can give it back.
    """

    millis: int
    text: str = field(default="", compare=False)
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Path:
    """A dotted name: ``amount``, ``user.address.city`` or ``small.amount``.

    The parser cannot tell a nested field from ``VAR.field``; the compiler resolves the first
    part against the pattern's variables (and ``window``), so the AST keeps the plain path.
    """

    parts: tuple[str, ...]
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class ListExpr:
    """``[a, b, c]``, the right-hand side of ``in``."""

    items: tuple["Expr", ...]
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Unary:
    """``-x`` or ``not x``; ``op`` is ``"-"`` or ``"not"``."""

    op: str
    operand: "Expr"
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Binary:
    """Arithmetic (``+ - * / %``), comparison (``== != < <= > >=``) or logic (``and or``)."""

    op: str
    left: "Expr"
    right: "Expr"
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class InExpr:
    """``x in [..]`` / ``x not in [..]``."""

    operand: "Expr"
    options: "Expr"
    negated: bool = False
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Between:
    """``x between lo and hi`` (inclusive both ends) / ``x not between lo and hi``."""

    operand: "Expr"
    low: "Expr"
    high: "Expr"
    negated: bool = False
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class IsNull:
    """``x is null`` / ``x is not null``."""

    operand: "Expr"
    negated: bool = False
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Call:
    """A function or aggregate call: ``abs(x)``, ``avg(small.amount)``, ``count()``, ``prev(x, 2)``."""

    name: str
    args: tuple["Expr", ...]
    span: Span = _span()


Expr = Union[Literal, Duration, Path, ListExpr, Unary, Binary, InExpr, Between, IsNull, Call]


# --------------------------------------------------------------------------- sequences


class Contiguity(str, Enum):
    """How an element relates to the one before it (Flink's consuming strategies)."""

    STRICT = "next"  # the very next event of the key
    RELAXED = "then"  # later; non-matching events in between are skipped (skip till next match)
    ANY = "then any"  # later; every matching event starts its own branch (skip till any match)


@dataclass(frozen=True, slots=True)
class Quantifier:
    """``+ * ? {n} {n,m} {n,}`` with loop modifiers.

    ``max`` is ``None`` for unbounded. ``inner`` is the contiguity between loop iterations
    (``consecutive`` → STRICT, ``any`` → ANY, default RELAXED). ``until`` stops the loop at the
    first event meeting the expression.
    """

    min: int
    max: int | None
    greedy: bool = False
    reluctant: bool = False
    inner: Contiguity = Contiguity.RELAXED
    until: Expr | None = None
    span: Span = _span()

    @property
    def optional(self) -> bool:
        return self.min == 0

    @property
    def looping(self) -> bool:
        return self.max is None


@dataclass(frozen=True, slots=True)
class Step:
    """A variable in the sequence, possibly quantified: ``small``, ``b+``, ``c{2,4}``."""

    var: str
    quantifier: Quantifier | None = None
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Group:
    """A parenthesised sub-sequence, possibly quantified: ``(a then b)+``."""

    body: "SeqExpr"
    quantifier: Quantifier | None = None
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class SeqPart:
    """One element of a sequence with how it joins the element before it.

    ``contiguity`` is ``None`` for the first element. ``negated`` marks ``next not c`` /
    ``then not c``: the element must *not* occur there.
    """

    element: "SeqExpr"
    contiguity: Contiguity | None = None
    negated: bool = False
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Sequence:
    """``a next b then c``: two or more parts."""

    parts: tuple[SeqPart, ...]
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Alternation:
    """``a | b | (c then d)``."""

    options: tuple["SeqExpr", ...]
    span: Span = _span()


SeqExpr = Union[Step, Group, Sequence, Alternation]


# --------------------------------------------------------------------------- clauses


@dataclass(frozen=True, slots=True)
class From:
    stream: str
    where: Expr | None = None
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Time:
    """``time FIELD [seconds|millis] [lateness D]``; ``unit`` is ``"auto"`` unless given."""

    field: Path
    unit: str = "auto"
    lateness: Duration | None = None
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Match:
    """``match SEQ [within D [between events]]``."""

    sequence: SeqExpr
    within: Duration | None = None
    within_between_events: bool = False
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Define:
    var: str
    condition: Expr
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Window:
    """``window tumbling D`` | ``sliding D every D2`` | ``session D`` | ``rolling D`` | ``count N [every M]``."""

    kind: str
    size: Duration | None = None
    every: Duration | None = None
    count: int | None = None
    count_every: int | None = None
    span: Span = _span()


class SkipKind(str, Enum):
    NONE = "none"
    TO_NEXT = "to next"
    PAST_LAST = "past last"
    TO_FIRST = "to first"
    TO_LAST = "to last"


@dataclass(frozen=True, slots=True)
class Skip:
    kind: SkipKind
    var: str | None = None
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class EmitItem:
    """``expr [as name]``; ``alias`` is ``None`` when the user gave none."""

    expr: Expr
    alias: str | None = None
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Pattern:
    name: str
    source: From
    description: str | None = None
    key: tuple[Path, ...] = ()
    time: Time | None = None
    match: Match | None = None
    defines: tuple[Define, ...] = ()
    window: Window | None = None
    having: Expr | None = None
    skip: Skip | None = None
    emit: tuple[EmitItem, ...] = ()
    timeout_emit: tuple[EmitItem, ...] | None = None
    span: Span = _span()


# --------------------------------------------------------------------------- test blocks


@dataclass(frozen=True, slots=True)
class Given:
    """``given STREAM`` followed by JSON-object events (kept as parsed values)."""

    stream: str
    events: tuple[Any, ...]
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Advance:
    """``advance D``: move event time on by D so timers fire."""

    by: Duration
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Expect:
    """``expect NAME`` with records, ``expect no NAME``, or ``expect timeout NAME`` with records."""

    output: str
    records: tuple[Any, ...] = ()
    none: bool = False
    timeout: bool = False
    span: Span = _span()


TestStep = Union[Given, Advance, Expect]


@dataclass(frozen=True, slots=True)
class PatternTest:
    name: str
    steps: tuple[TestStep, ...]
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class File:
    """A parsed pattern file: its patterns and test blocks in source order."""

    patterns: tuple[Pattern, ...] = ()
    tests: tuple[PatternTest, ...] = ()
    path: str = field(default="<string>", compare=False)
    source: str = field(default="", compare=False, repr=False)
