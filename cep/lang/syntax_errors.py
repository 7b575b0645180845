"""Known syntax mistakes, each with a message and a hint, found by example.

An LALR parser knows *where* it got stuck (its state) but not *why*. Following lark's
``match_examples`` idea, each entry below lists small inputs that make the same mistake; when
a user's input fails in the same parser state as one of them, the user gets that entry's message
and hint instead of a bare "unexpected token". The table is under test: every example must fail
and be labelled with its own entry (tests/lang/test_syntax_errors.py).

Mistakes the lexer catches (a character no token starts with) do not depend on parser state, so
they are labelled from the character itself by :func:`character_error`. This module is pure data
and string logic; the parser module applies it.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import Iterable

__all__ = [
    "KnownError", "KNOWN_ERRORS", "BY_LABEL", "state_examples", "character_error",
    "describe_token", "describe_expected", "did_you_mean", "is_misread_keyword", "CLAUSE_KEYWORDS",
]

CLAUSE_KEYWORDS = frozenset(
    {"pattern", "test", "from", "key", "time", "match", "define", "window", "having", "skip", "emit", "on"}
)
_MISREAD_KEYWORDS = CLAUSE_KEYWORDS | {"next", "then", "within"}


@dataclass(frozen=True, slots=True)
class KnownError:
    """One labelled mistake: ``examples`` are whole inputs that fail the way users do."""

    label: str
    message: str
    hint: str
    examples: tuple[str, ...]
    # How a failure is matched to this entry: "state" (parser state and token kind, through
    # match_examples), "character" (the character the lexer stopped at) or "keyword" (a keyword
    # read as a name just before the failure).
    found_by: str = "state"


_P = "pattern p from s "  # most examples start inside a pattern

KNOWN_ERRORS: tuple[KnownError, ...] = (
    # ------------------------------------------------------------------ lexical
    KnownError(
        "unterminated-string", "this string is never closed",
        "end it with the same quote it starts with, on the same line; strings cannot span lines",
        ('pattern p "flag cards', _P + "where name == 'bob", 'test "t" given s {"a: 1}'),
        found_by="character",
    ),
    KnownError(
        "single-equals", "`=` is not an operator",
        "use `==` to compare (`x == 1`); a `define` entry names its condition with `as` (`define a as x == 1`)",
        (_P + "match a define a as x = 1", _P + "where x = 1", _P + "match a define a = x > 1"),
        found_by="character",
    ),
    KnownError(
        "symbol-logic", "`&&`, `||` and `!` are not operators here",
        "use the words `and`, `or` and `not` (and `!=` for not-equal)",
        (_P + "where a > 1 && b > 2", _P + "where !a", _P + "where a > 1 || b > 2", _P + "where a || b",
         _P + "where f(a) || b", _P + "where 'x' || b"),
    ),
    KnownError(
        "bad-number", "this is neither a number nor a duration",
        "a duration is a whole number glued to ms, s, m, h or d (`60s`, `1500ms` rather than `1.5s`); "
        "names cannot start with a digit",
        (_P + "match a within 60sec", _P + "match a within 1.5s", _P + "where 2x > 1"),
        found_by="character",
    ),
    KnownError(
        "unknown-character", "this character is not part of the pattern language",
        "remove it; operators are + - * / % == != < <= > >=, and names are letters, digits and _",
        (_P + "where a > 1;", _P + "emit a @ b", "$pattern p from s"),
        found_by="character",
    ),
    # ------------------------------------------------------------------ by parser state
    KnownError(
        "define-missing-as", "a `define` entry needs `as` between the variable and its condition",
        "write `define small as amount < 0.10`",
        (_P + "match small define small amount < 0.10", _P + "match a define a: x > 1",
         _P + "match a next b define a as x > 1 b x < 2", _P + "match a define a\n"),
    ),
    KnownError(
        "define-comma", "`define` entries are not separated by commas",
        "start each entry on its own line (or after a space): `define a as x > 0` then `b as x < 0` below it",
        (_P + "match a next b define a as x > 0, b as x < 0", _P + "match a define a as x > 0,",
         _P + "match a then b define a as f(x) > 0, b as y"),
    ),
    KnownError(
        "duration-without-unit", "a duration needs a unit",
        "write the unit right after the number: 250ms, 10s, 1m, 2h or 1d",
        (_P + "match a within 60", _P + "time ts lateness 5", _P + "window tumbling 60",
         _P + "window sliding 1m every 10", _P + "window session 30", _P + "window rolling 5",
         'test "t" advance 5'),
    ),
    KnownError(
        "emit-missing-comma", "`emit` items are separated by commas",
        "write `emit card_id, small.amount as small_amount`; name an item with `as`",
        (_P + "emit a b", _P + "emit a as x b", _P + "emit a as x y as z", _P + "emit f(a) b",
         _P + "emit 'x' b"),
    ),
    KnownError(
        "match-without-sequence", "`match` needs a sequence of variables",
        "for example `match small next big within 1m`",
        (_P + "match", _P + "match(", _P + "match )"),
    ),
    KnownError(
        "sequence-unfinished", "the sequence stops right after a join",
        "`next`, `then`, `then any` and `then not` need a variable or a group after them",
        (_P + "match a next", _P + "match a then", _P + "match a then any", _P + "match a next not",
         _P + "match a then not"),
    ),
    KnownError(
        "keyword-as-name", "a keyword is read as a name here",
        "the text before it is unfinished, so the keyword is taken as a name: "
        "`match` needs a sequence, `emit` an item, `from` a stream, a join a variable",
        (_P + "match\n  define a as x > 1", _P + "match a next\n  define b as y > 1",
         _P + "emit\n  skip past last", "pattern from s", _P + "key time ts"),
        found_by="keyword",
    ),
    KnownError(
        "trailing-comma", "this list ends with a comma",
        "remove the last comma, or add the missing item after it",
        (_P + "emit a,", _P + "emit a, b,\n  skip past last", _P + "emit a,\npattern q from s",
         _P + "on timeout emit a,", _P + "key a,\n  time ts", _P + "key a,", _P + "where f(a,)",
         _P + "where x in [1,]"),
    ),
    KnownError(
        "missing-join", "sequence elements are joined with `next` or `then`",
        "`a next b`: b straight after a; `a then b`: b any time later (Flink's followedBy); "
        "`followedBy`, `->` and commas are not part of this language",
        (_P + "match a b", _P + "match a followedBy b", _P + "match a -> b", _P + "match a, b",
         _P + "match a+ b", _P + "match a+ -> b", _P + "match (a next b) c", _P + "match a{2} followedBy b",
         _P + "match (a b)"),
    ),
    KnownError(
        "modifier-without-quantifier", "loop modifiers only follow a quantifier",
        "`consecutive`, `any`, `greedy` and `until` apply to a loop: write `b+ consecutive`; "
        "for the join use `a then any b`",
        (_P + "match a consecutive", _P + "match a then b any", _P + "match a until x > 1",
         _P + "match a greedy", _P + "match (a then b) consecutive"),
    ),
    KnownError(
        "quantifier-syntax", "a quantifier is `+`, `*`, `?`, `{n}`, `{n,m}` or `{n,}`",
        "for example `a{2,4}` for two to four events; `{,m}` is written `{0,m}`",
        (_P + "match a{,3}", _P + "match a{2", _P + "match a{}", _P + "match a{x}", _P + "match a{2,4",
         _P + "match a{2 4}"),
    ),
    KnownError(
        "within-placement", "`within` goes at the end of the `match` sequence",
        "write `match a then b within 5m`; put a limit on part of a sequence with a separate pattern",
        (_P + "match a within 1m then b", _P + "match a within 1m next b", _P + "match a within 1m | b"),
    ),
    KnownError(
        "comparison-chain", "comparisons do not chain",
        "write `x between 1 and 5`, or `1 < x and x < 5`",
        (_P + "where 1 < x < 5", _P + "where 1 <= x < 5", _P + "where 1 > x > 5", _P + "where 1 >= x > 0",
         _P + "where a == b == c", _P + "where a != b != c"),
    ),
    KnownError(
        "in-needs-list", "`in` takes a list in square brackets",
        "write `x in ['a', 'b']` or `x not in [1, 2]`",
        (_P + "where x in 1", _P + "where x in (1, 2)", _P + "where x not in (1, 2)", _P + "where x in y"),
    ),
    KnownError(
        "window-kind", "`window` needs a kind",
        "one of `tumbling D`, `sliding D every D2`, `session D`, `rolling D`, `count N [every M]`",
        (_P + "window 1m", _P + "window hopping 1m", _P + "window"),
    ),
    KnownError(
        "skip-kind", "`skip` takes `none`, `to next`, `past last`, `to first VAR` or `to last VAR`",
        "the default is `skip past last`",
        (_P + "skip", _P + "skip next", _P + "skip past", _P + "skip to", _P + "skip to first",
         _P + "skip past first"),
    ),
    KnownError(
        "pattern-name", "`pattern` needs a name",
        "write `pattern NAME`, for example `pattern small_then_big`; the name is also the output stream",
        ("pattern", 'pattern "flag small charges"', "pattern 12"),
    ),
    KnownError(
        "json-event", "this is not a JSON object",
        'events and expected records are JSON: keys in double quotes, no trailing commas, '
        'for example {"card_id": "c1", "amount": 5}',
        ('test "t" given s {a: 1}', 'test "t" given s {"a": 1,}', 'test "t" given s {"a" 1}',
         'test "t" given s {"a": 1 "b": 2}', 'test "t" given s {"a": }', 'test "t" given s {"a": [1,]}'),
    ),
    KnownError(
        "test-name", "`test` needs a name in quotes",
        'write `test "a tiny charge then a big one is flagged"`',
        ("test small_then_big", "test", "test given s"),
    ),
)

BY_LABEL: dict[str, KnownError] = {k.label: k for k in KNOWN_ERRORS}


def state_examples() -> dict[str, tuple[str, ...]]:
    """The examples to hand to ``UnexpectedInput.match_examples`` (label -> inputs)."""
    return {k.label: k.examples for k in KNOWN_ERRORS if k.found_by == "state"}


_BAD_NUMBER = re.compile(r"[0-9][0-9.]*[A-Za-z_0-9.]")


def character_error(text: str, pos: int) -> KnownError | None:
    """Label a lexer error from the character at ``pos`` (no token can start there)."""
    ch = text[pos : pos + 1]
    if ch in ("'", '"'):
        return BY_LABEL["unterminated-string"]
    if ch == "=":
        return BY_LABEL["single-equals"]
    if ch in ("&", "!"):
        return BY_LABEL["symbol-logic"]
    if ch.isdigit() and _BAD_NUMBER.match(text, pos):
        return BY_LABEL["bad-number"]
    if ch:
        return BY_LABEL["unknown-character"]
    return None


def is_misread_keyword(word: str) -> bool:
    """Whether a word lexed as a *name* right before a failure is a keyword the user meant.

    Keywords are soft (see grammar.lark), so ``match`` followed straight by ``define`` reads
    ``define`` as a variable and only fails one word later. When the name before a failure is
    spelt like a clause keyword or a sequence join, that is almost always what happened.
    """
    return word in _MISREAD_KEYWORDS


_TOKEN_WORDS = {
    "NAME": "a name", "NUMBER": "a number", "STRING": "a string", "DURATION": "a duration (like 10s)",
    "$END": "the end of the file",
}


def describe_token(type_: str, value: str) -> str:
    """How an offending token is named in a message: ``name `foo```, ``the end of the file``."""
    if type_ == "$END":
        return "the end of the file"
    if type_ == "NAME":
        return f"name `{value}`"
    if type_ in _TOKEN_WORDS:
        return f"{_TOKEN_WORDS[type_][2:] if type_ != 'DURATION' else 'duration'} `{value}`"
    return f"`{value}`"


def describe_expected(spellings: Iterable[str], limit: int = 10) -> str:
    """A readable list of what the parser wanted, keywords first, capped at ``limit``."""
    items = sorted(set(spellings), key=lambda s: (s.startswith(("a ", "an ", "the ")), s))
    shown = items[:limit]
    text = ", ".join(shown)
    if len(items) > limit:
        text += ", ..."
    return text


def did_you_mean(word: str, candidates: Iterable[str]) -> str | None:
    """The keyword a misspelt word most likely meant, if one is close enough."""
    found = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.75)
    return found[0] if found else None
