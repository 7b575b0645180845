"""Semantic checks: the canonical examples, each rule, and check_source."""

from __future__ import annotations

import pytest

from cep.errors import PatternError, PatternSyntaxError
from cep.lang import check, check_source, parse

from .test_parse import OVERHEATING, SMALL_THEN_BIG, TESTS


def _messages(text: str) -> list[str]:
    return [d.message for d in check(parse(text, "t.cep"))]


def test_small_then_big_is_clean() -> None:
    assert check(parse(SMALL_THEN_BIG)) == []
    assert check(parse(TESTS)) == []
    assert check_source(SMALL_THEN_BIG, "x.cep") == parse(SMALL_THEN_BIG)


def test_overheating_checks_clean() -> None:
    assert check(parse(OVERHEATING, "o.cep")) == []


def test_check_source_raises_every_problem_at_once() -> None:
    with pytest.raises(PatternError) as caught:
        check_source("pattern p from s match a then a define b as true\npattern p from s match c", "f.cep")
    assert not isinstance(caught.value, PatternSyntaxError)
    assert [d.message for d in caught.value.diagnostics] == [
        "variable `a` appears twice in the sequence",
        "`b` is defined but not used in `match`",
        "there is already a pattern named `p`",
    ]


def test_check_source_passes_syntax_errors_through() -> None:
    with pytest.raises(PatternSyntaxError):
        check_source("pattern p from s match a b")


def test_check_is_pure() -> None:
    file = parse("pattern p from s match a define b as true")
    assert check(file) == check(file)


def test_did_you_mean_for_define() -> None:
    (d,) = check(parse("pattern p from s match small next big define smal as x > 1 big as true"))
    assert d.message == "`smal` is defined but not used in `match`"
    assert d.hint is not None and d.hint.startswith("did you mean `small`?")


@pytest.mark.parametrize(
    ("clauses", "message"),
    [
        ("match a within 1m", "`within` needs event time"),
        ("match a a2 as x", None),
        ("window tumbling 1m match a", "a pattern has either `match` or `window`, not both"),
        ("emit x", "pattern `p` has neither `match` nor `window`"),
        ("match a having x > 1", "`having` only applies to window patterns"),
        ("match a{3,2}", "quantifier `{3,2}` has its bounds the wrong way round"),
        ("match a{0,0}", "a quantifier must allow at least one event"),
        ("match a then (b then a)", "variable `a` appears twice in the sequence"),
        ("match a key k, k", "key field `k` is listed twice"),
        ("match a skip to last z", "`skip to last z`: `z` is not in the match"),
        ("match a emit foo(a.x)", "unknown function `foo`"),
        ("match a emit round()", "`round` takes 1 to 2 arguments, not 0"),
        ("match a emit coalesce()", "`coalesce` takes at least 1 argument, not 0"),
        ("match a emit contains(a.x)", "`contains` takes 2 arguments, not 1"),
        ("match a emit avg(x)", "aggregate `avg` over a bare field needs a window pattern"),
        ("where sum(x) > 1 match a", "aggregate `sum` cannot be used in `from ... where`"),
        ("match a define a as avg(x) > 1", "aggregate `avg` in `define` must run over a variable"),
        ("window count 0", "a count window needs at least one event"),
        ("window tumbling 0s", "a window duration must be above zero"),
        ("window tumbling 1m define a as true", "`define` only applies to `match` patterns"),
        ("window tumbling 1m skip past last", "`skip` only applies to `match` patterns"),
    ],
)
def test_rules(clauses: str, message: str | None) -> None:
    text = f"pattern p from s {clauses}"
    if message is None:
        with pytest.raises(PatternSyntaxError):
            parse(text)
    else:
        assert message in _messages(text)


def test_supported_features_have_no_diagnostics() -> None:
    text = (
        "pattern p from s where x in [1, 2] time ts lateness 1s\n"
        "  match a then any (b next c)+ consecutive then d{2,4} any within 5m\n"
        "  define a as lower(name) == 'x' b as b.v > a.v and abs(v) < 3 d as coalesce(v, 0) > 1\n"
        "  skip to first b\n"
        "  emit a.x, count(d) as n, sum(d.v) as total, first(b.v), last(b.v)\n"
    )
    assert _messages(text) == []


def test_tests_refer_to_patterns_and_streams() -> None:
    messages = _messages(TESTS.replace("expect no small_then_big", "expect no small_then_bigg"))
    assert messages == ["no pattern in this file is named `small_then_bigg`"]
    assert _messages('test "t"\n  given x {}') == [
        "the file has no patterns", "no pattern in this file reads stream `x`"]
    assert _messages("") == ["the file has no patterns"]
