"""Parse pattern-file text into the AST. The only module that imports lark.

The grammar (``grammar.lark``, shipped as package data) is loaded once per process and parsed
with LALR(1) and lark's contextual lexer. Every failure leaves here as a
:class:`~cep.errors.PatternSyntaxError` carrying a :class:`~cep.errors.Diagnostic` (place, source
line, caret, hint); lark's own exceptions never escape.

Labelling a failure uses lark's ``UnexpectedInput.match_examples`` with the table in
:mod:`cep.lang.syntax_errors`, with one change to what "the same failure" means: lark compares the
parser state *and the parser stack depth*, which would tie every example to one nesting depth
(an error in a pattern's first clause would not match the same error in its third). We compare
the state together with the kind of offending token instead (see :class:`_Signature`).
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
import threading
from collections import deque
from importlib import resources
from typing import Any, Iterable, Iterator

import lark
from lark import Lark, Token, Transformer
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from cep.errors import Diagnostic, PatternSyntaxError
from cep.lang import ast, syntax_errors
from cep.lang.build import AstBuilder
from cep.lang.diagnostics import at, source_line

__all__ = ["parse", "keywords"]

_VALUE_TOKENS = ("NAME", "NUMBER", "STRING", "DURATION", "$END")


class _NamesEverywhere:
    """Post-lexer that makes NAME lexable in every parser state and remembers the last tokens.

    ``always_accept``: without it, a state that allows only keywords would cut ``asx`` into
    ``as`` + ``x``. With it, a word is a keyword only where that keyword may come next, and a name
    everywhere else. The short per-thread history lets a diagnosis see whether the word before a
    failure was a keyword read as a name (``match`` followed straight by ``define``).
    """

    always_accept = ("NAME",)

    def __init__(self) -> None:
        self._local = threading.local()

    def process(self, stream: Iterable[Token]) -> Iterator[Token]:
        history: deque[Token] = deque(maxlen=4)
        self._local.history = history
        for token in stream:
            history.append(token)
            yield token

    def tokens_before(self, start_pos: int) -> list[Token]:
        """The tokens lexed before offset ``start_pos`` in this thread's latest parse, nearest first."""
        history = getattr(self._local, "history", ())
        return [t for t in reversed(history) if t.start_pos is not None and t.start_pos < start_pos]


_POSTLEX = _NamesEverywhere()


@functools.cache
def _lark() -> Lark:
    grammar = resources.files("cep.lang").joinpath("grammar.lark").read_text(encoding="utf-8")
    options: dict[str, Any] = dict(
        parser="lalr",
        lexer="contextual",
        propagate_positions=True,
        maybe_placeholders=True,
        postlex=_POSTLEX,
    )
    cache = _cache_file(grammar)
    if cache is not None:
        try:
            return Lark(grammar, cache=cache, **options)
        except Exception:  # noqa: BLE001 - a bad cache must never stop parsing
            try:
                os.unlink(cache)
            except OSError:
                pass
    return Lark(grammar, **options)


def _cache_file(grammar: str) -> str | None:
    """Where to keep lark's compiled parse tables: building them costs ~0.2 s per start.

    In the user's own cache directory (never the shared temp directory: the cache is a
    pickle, and loading one somebody else planted would run their code), keyed by the grammar
    and lark version so a changed grammar never loads stale tables. None: do without.
    """
    if os.environ.get("CEP_NO_GRAMMAR_CACHE"):
        return None
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    folder = os.path.join(base, "cep")
    digest = hashlib.sha256(f"{lark.__version__}\n{grammar}".encode()).hexdigest()[:16]
    try:
        os.makedirs(folder, mode=0o700, exist_ok=True)
        if not os.access(folder, os.W_OK) or os.stat(folder).st_uid != os.getuid():
            return None
    except OSError:
        return None
    return os.path.join(folder, f"grammar-{digest}.lark")


@functools.cache
def keywords() -> frozenset[str]:
    """Every word the grammar uses as a keyword (all soft; see grammar.lark)."""
    return frozenset(
        t.pattern.value for t in _lark().terminals
        if t.pattern.type == "str" and t.pattern.value.isidentifier()
    )


class _ToAst(Transformer):  # type: ignore[type-arg]
    """Hands each rule to the lark-free :class:`AstBuilder` method of the same name."""

    def __init__(self, builder: AstBuilder) -> None:
        super().__init__(visit_tokens=False)
        self._builder = builder

    def __default__(self, data: str, children: list[Any], meta: Any) -> Any:
        return getattr(self._builder, data)(children, meta)


def parse(text: str, path: str = "<string>") -> ast.File:
    """Parse a pattern file; raise :class:`PatternSyntaxError` with a located diagnostic."""
    try:
        tree = _lark().parse(text)
    except UnexpectedInput as exc:
        raise PatternSyntaxError([_diagnose(exc, text, path)]) from exc
    builder = AstBuilder(text, path)
    result: ast.File = _ToAst(builder).transform(tree)
    if builder.problems:
        raise PatternSyntaxError(builder.problems)
    return result


# --------------------------------------------------------------------------- diagnosis


class _Signature:
    """What makes two failures "the same" for ``match_examples``: parser state and token kind."""

    __slots__ = ("position", "kind")

    def __init__(self, exc: UnexpectedInput) -> None:
        self.position = getattr(exc.state, "position", None)
        self.kind = _token_kind(exc)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, _Signature):
            return NotImplemented
        return (self.position, self.kind) == (other.position, other.kind)

    def __hash__(self) -> int:
        return hash((self.position, self.kind))


def _token_kind(exc: UnexpectedInput) -> str:
    if isinstance(exc, UnexpectedCharacters):
        return "CHAR"
    token = exc.token
    if token.type in _VALUE_TOKENS:
        return token.type
    return "KEYWORD" if str(token).isidentifier() else f"PUNCT {token}"


def _parse_example(text: str) -> None:
    try:
        _lark().parse(text)
    except UnexpectedInput as exc:
        exc.state = _Signature(exc)
        raise


def _diagnose(exc: UnexpectedInput, text: str, path: str) -> Diagnostic:
    if isinstance(exc, UnexpectedCharacters):
        return _diagnose_characters(exc, text, path)
    assert isinstance(exc, (UnexpectedToken, UnexpectedEOF))
    token = exc.token
    if token.type == "$END" and getattr(token, "end_line", None):
        line, column, end = token.end_line, token.end_column, None
    elif token.type == "$END" or isinstance(exc, UnexpectedEOF):
        line, column, end = _end_of_text(text)
    else:
        line, column = token.line, token.column
        end = token.end_column if token.end_line == token.line else None
    expected = _expected(exc)
    pos = token.start_pos if token.type != "$END" else len(text)
    misread = _misread_keyword(pos)
    if misread is not None:  # point at the keyword (or the comma), not one word later
        known_error, anchor = misread
        return at(text, path, anchor.line, anchor.column, known_error.message, known_error.hint,
                  anchor.end_column)
    known = _classify(exc, expected)
    found = syntax_errors.describe_token(token.type, str(token))
    message = "the file ends too early" if token.type == "$END" else f"unexpected {found}"
    if isinstance(known, str):  # a did-you-mean suggestion
        hint = f"did you mean `{known}`?"
    elif known is not None:
        message, hint = known.message, known.hint
    else:
        hint = f"expected {syntax_errors.describe_expected(_spell(t) for t in expected)}"
    return at(text, path, line, column, message, hint, end)


def _classify(exc: UnexpectedInput, expected: set[str]) -> syntax_errors.KnownError | str | None:
    """A labelled mistake, a keyword the user probably meant (str), or None."""
    token = exc.token
    if token.type == "NAME":
        words = [_spell(t).strip("`") for t in expected if _spell(t).strip("`").isidentifier()]
        suggestion = syntax_errors.did_you_mean(str(token), words)
        if suggestion and suggestion != str(token):
            return suggestion
    exc.state = _Signature(exc)
    label = exc.match_examples(_parse_example, syntax_errors.state_examples(), use_accepts=False)
    if label is not None:
        return syntax_errors.BY_LABEL[label]
    if token.type == "NUMBER" and "DURATION" in expected:
        return syntax_errors.BY_LABEL["duration-without-unit"]
    return None


def _misread_keyword(pos: int) -> tuple[syntax_errors.KnownError, Token] | None:
    """A keyword lexed as a name just before the failure (after a trailing comma, the comma)."""
    before = _POSTLEX.tokens_before(pos)
    if not before or before[0].type != "NAME" or not syntax_errors.is_misread_keyword(str(before[0])):
        return None
    if len(before) > 1 and before[1].type == "COMMA":
        return syntax_errors.BY_LABEL["trailing-comma"], before[1]
    return syntax_errors.BY_LABEL["keyword-as-name"], before[0]


def _diagnose_characters(exc: UnexpectedCharacters, text: str, path: str) -> Diagnostic:
    pos = exc.pos_in_stream
    known = syntax_errors.character_error(text, pos)
    line_text = source_line(text, exc.line)
    end = exc.column + 1
    if known is not None and known.label == "unterminated-string":
        end = len(line_text) + 1
    elif known is not None and known.label == "bad-number":
        word = re.match(r"[A-Za-z0-9_.]+", text[pos:])
        end = exc.column + (len(word.group()) if word else 1)
    if known is None:  # end of text inside a token; character_error covers every character
        return at(text, path, exc.line, exc.column, "unexpected end of the file", None)
    return at(text, path, exc.line, exc.column, known.message, known.hint, end)


def _expected(exc: UnexpectedInput) -> set[str]:
    """Terminals the parser could take here, from its table (the lexer's set includes NAME always)."""
    state = exc.state
    try:
        table = state.parse_conf.parse_table.states[state.position]
    except AttributeError:
        return set(getattr(exc, "expected", ()) or ())
    return {t for t in table if t.isupper()}


@functools.cache
def _spell(terminal: str) -> str:
    words = {"NAME": "a name", "NUMBER": "a number", "STRING": "a string", "DURATION": "a duration",
             "$END": "the end of the file"}
    if terminal in words:
        return words[terminal]
    for t in _lark().terminals:
        if t.name == terminal and t.pattern.type == "str":
            return f"`{t.pattern.value}`"
    return terminal.lower()


def _end_of_text(text: str) -> tuple[int, int, None]:
    body = text.rstrip()
    line = body.count("\n") + 1
    column = len(body) - (body.rfind("\n") + 1) + 1
    return line, column, None
