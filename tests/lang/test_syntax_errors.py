"""The table of known syntax mistakes is itself under test.

Every example must fail to parse and be labelled with its own entry; otherwise an edit to the
grammar has silently moved a parser state and users would get another entry's advice.
"""

from __future__ import annotations

import pytest

from cep.errors import PatternSyntaxError
from cep.lang import parse
from cep.lang.syntax_errors import BY_LABEL, KNOWN_ERRORS, KnownError, character_error, state_examples

EXAMPLES = [(k, ex) for k in KNOWN_ERRORS for ex in k.examples]


@pytest.mark.parametrize(("known", "example"), EXAMPLES, ids=lambda v: v.label if isinstance(v, KnownError) else repr(v))
def test_each_example_gets_its_label(known: KnownError, example: str) -> None:
    with pytest.raises(PatternSyntaxError) as caught:
        parse(example, "example.cep")
    (diagnostic,) = caught.value.diagnostics
    assert (diagnostic.message, diagnostic.hint) == (known.message, known.hint)
    assert diagnostic.source_line and diagnostic.file == "example.cep"


def test_table_is_well_formed() -> None:
    assert len(BY_LABEL) == len(KNOWN_ERRORS)
    for known in KNOWN_ERRORS:
        assert known.examples and known.message and known.hint
        assert known.found_by in ("state", "character", "keyword")
    assert set(state_examples()) == {k.label for k in KNOWN_ERRORS if k.found_by == "state"}


@pytest.mark.parametrize(
    ("text", "label"),
    [("'abc", "unterminated-string"), ("= 1", "single-equals"), ("&& b", "symbol-logic"),
     ("!x", "symbol-logic"), ("60sec", "bad-number"), ("@", "unknown-character")],
)
def test_character_rules(text: str, label: str) -> None:
    assert character_error(text, 0) is BY_LABEL[label]


@pytest.mark.parametrize(
    ("text", "message", "hint"),
    [
        ("pattern p from s wher x > 1", "unexpected name `wher`", "did you mean `where`?"),
        ("pattern p from s match a then b emitt x", "unexpected name `emitt`", "did you mean `emit`?"),
        ("pattern p from s where x > 1 )", "unexpected `)`", None),
        ("pattern p from s define x as", "the file ends too early", None),
    ],
)
def test_unlabelled_errors_still_say_what_and_where(text: str, message: str, hint: str | None) -> None:
    with pytest.raises(PatternSyntaxError) as caught:
        parse(text)
    diagnostic = caught.value.first
    assert diagnostic.message == message
    if hint is not None:
        assert diagnostic.hint == hint
    else:
        assert diagnostic.hint and diagnostic.hint.startswith("expected ")
