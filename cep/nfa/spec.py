"""What the NFA compiler takes as input: a pattern as plain, frozen data.

This is the NFA's own vocabulary, close to Flink's Pattern API (elements with a condition, a
quantifier and a consuming strategy; groups of elements), so that ``cep.nfa`` depends on nothing
above it. The language front end (``cep.lang``) translates its AST into these objects.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Callable, Union


class Consuming(str, Enum):
    """How an element's events may be separated from what came before (Flink's strategies)."""

    STRICT = "strict"  # `next`: the very next event
    SKIP_TILL_NEXT = "skip_till_next"  # `then`: skip events until the next one that matches
    SKIP_TILL_ANY = "skip_till_any"  # `then any`: every matching event may start a branch


@dataclass(frozen=True, slots=True)
class Condition:
    """A compiled predicate on an event.

    ``fn(event)`` when ``iterative`` is false. When it is true the condition also reads the
    partial match (``VAR.field`` of other variables) and is called ``fn(event, node)`` where
    ``node`` is the partial match's last shared-buffer node (see ``cep.nfa.buffer``).
    ``text`` is the source text, shown by ``cep explain`` and in error messages.
    """

    fn: Callable[..., bool]
    iterative: bool = False
    text: str = ""


@dataclass(frozen=True, slots=True)
class Times:
    """How many times an element occurs: ``max`` None means unbounded."""

    min: int = 1
    max: int | None = 1

    @property
    def optional(self) -> bool:
        return self.min == 0

    @property
    def looping(self) -> bool:
        return self.max is None


ONCE = Times(1, 1)


@dataclass(frozen=True, slots=True)
class Element:
    """One pattern variable: a condition, how often it occurs and how it is joined.

    ``consuming`` relates the element's first event to what precedes it; ``inner`` relates the
    iterations of a quantified element to one another (relaxed by default, as in Flink).
    A ``condition`` of None accepts every event.
    """

    name: str
    condition: Condition | None = None
    times: Times = ONCE
    consuming: Consuming = Consuming.SKIP_TILL_NEXT
    inner: Consuming = Consuming.SKIP_TILL_NEXT
    # A negated element must NOT occur: `next not c` (STRICT: not the very next event) or
    # `then not c` (SKIP_TILL_NEXT: not before the next element; at the end of the pattern: not
    # before `within` runs out, which is then what completes the match).
    negated: bool = False
    # Loop modifiers: `until` stops the loop at the first event meeting it; `greedy` takes as
    # many as possible (the next element may not take what the loop can); `reluctant` as few.
    until: Condition | None = None
    greedy: bool = False
    reluctant: bool = False


@dataclass(frozen=True, slots=True)
class GroupElement:
    """A parenthesised sub-sequence, itself quantifiable: ``(a then b)+``."""

    body: tuple["Node", ...]
    times: Times = ONCE
    consuming: Consuming = Consuming.SKIP_TILL_NEXT
    inner: Consuming = Consuming.SKIP_TILL_NEXT
    name: str = field(default="", compare=False)


@dataclass(frozen=True, slots=True)
class AlternationElement:
    """``a | (b then c)``: exactly one option matches. With relaxed contiguity the alternation
    takes the next event that fits *any* option (skip till next match of the whole), not each
    option on its own."""

    options: tuple[tuple["Node", ...], ...]
    consuming: Consuming = Consuming.SKIP_TILL_NEXT
    times: Times = ONCE
    inner: Consuming = Consuming.SKIP_TILL_NEXT
    name: str = field(default="", compare=False)


Node = Union[Element, GroupElement, AlternationElement]


class SkipKind(str, Enum):
    NONE = "none"
    TO_NEXT = "to next"
    PAST_LAST = "past last"
    TO_FIRST = "to first"
    TO_LAST = "to last"


@dataclass(frozen=True, slots=True)
class SkipStrategy:
    """After-match skip strategy (Flink's AfterMatchSkipStrategy; SQL's AFTER MATCH SKIP)."""

    kind: SkipKind = SkipKind.PAST_LAST
    var: str | None = None


@dataclass(frozen=True, slots=True)
class PatternSpec:
    """A whole sequence pattern: its elements in order, the time bound and the skip strategy."""

    elements: tuple[Node, ...]
    within_ms: int | None = None
    skip: SkipStrategy = SkipStrategy()
    name: str = ""
    # `within D between events`: every two consecutive matched events at most D apart
    # (Flink's WithinType.PREVIOUS_AND_CURRENT) instead of first-to-last.
    within_between_events: bool = False
