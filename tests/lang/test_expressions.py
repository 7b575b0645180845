"""Compiled expressions: null rules, types, time arithmetic, functions, aggregates, safety."""

from __future__ import annotations

import pytest

import cep
from cep.detector import Detector
from cep.lang.expressions import ExpressionCompiler, Scope
from cep.lang.parser import parse


def condition(text: str, **scope):
    """Compile the condition of `define a as TEXT` in a one-variable pattern."""
    file = parse(f"pattern p\n  from s\n  match a\n  define a as {text}\n")
    compiler = ExpressionCompiler()
    compiled = compiler.condition(file.patterns[0].defines[0].condition, Scope(**scope))
    assert not compiler.diagnostics, compiler.diagnostics
    return compiled.fn


@pytest.mark.parametrize(
    ("text", "event", "expected"),
    [
        ("x > 1", {"x": 2}, True),
        ("x > 1", {}, False),  # missing is null; comparisons with null are false
        ("x != 1", {}, False),
        ("x != 1", {"x": 2}, True),
        ("not (x > 1)", {}, True),  # two-valued logic on the comparison's result
        ("x is null", {}, True),
        ("x is not null", {"x": 0}, True),
        ("x > 1", {"x": "abc"}, False),  # different kinds compare false, never raise
        ("x < 'b'", {"x": "a"}, True),
        ("b == 1", {"b": True}, False),  # a boolean is not a number
        ("1 == b", {"b": True}, False),
        ("b == true", {"b": True}, True),
        ("x + 1 > 2", {"x": None}, False),  # arithmetic with null is null
        ("x / 0 is null", {"x": 5}, True),
        ("x % 2 == 1", {"x": 7}, True),
        ("-x < 0", {"x": 3}, True),
        ("x in [1, 2, 3]", {"x": 2}, True),
        ("x in [1, 2, 3]", {}, False),
        ("x not in [1, 2]", {"x": 3}, True),
        ("x not in [1, 2]", {}, False),
        ("x between 1 and 3", {"x": 3}, True),
        ("x not between 1 and 3", {"x": 4}, True),
        ("x not between 1 and 3", {}, False),
        ("a.b.c == 'deep'", {"a": {"b": {"c": "deep"}}}, True),
        ("a.b.c == 'deep'", {"a": {"b": 5}}, False),
        ("lower(name) == 'ann'", {"name": "ANN"}, True),
        ("len(tags) == 2", {"tags": ["a", "b"]}, True),
        ("contains(name, 'nn')", {"name": "Ann"}, True),
        ("startswith(name, 'A') and endswith(name, 'n')", {"name": "Ann"}, True),
        ("matches(code, '^[A-Z]{3}[0-9]+$')", {"code": "ABC123"}, True),
        ("coalesce(x, y, 0) == 7", {"y": 7}, True),
        ("abs(x) == 2 and round(y, 1) == 1.2", {"x": -2, "y": 1.23}, True),
        ("flag", {"flag": True}, True),
        ("flag", {}, False),
    ],
)
def test_conditions(text, event, expected):
    assert condition(text)(event) is expected


def test_time_arithmetic_uses_epoch_ms_for_iso_and_numbers():
    fn = condition("ts - 30s > 0", time_field=("ts",))
    assert fn({"ts": "1970-01-01T00:00:31Z"}) is True
    assert fn({"ts": 29_000}) is False
    # Comparing the time field with a string stays a string comparison.
    fn = condition("ts > '2024-01-01'", time_field=("ts",))
    assert fn({"ts": "2024-06-01T00:00:00Z"}) is True


def test_user_text_is_data_never_code():
    hostile = "__import__('os').system('echo pwned')"
    source = f"pattern p\n  from s\n  match a\n  define a as name == \"{hostile}\"\n  emit name\n"
    file = parse(source)
    compiler = ExpressionCompiler()
    compiled = compiler.condition(file.patterns[0].defines[0].condition, Scope())
    assert hostile not in compiled.source  # the string went through the constants table
    assert compiled.fn({"name": hostile}) is True
    assert compiled.fn({}) is False


def test_field_names_that_look_like_python_are_plain_fields():
    fn = condition("__class__ == 1 and __builtins__ is null")
    assert fn({"__class__": 1}) is True


RUNNING = """
pattern rising
  from s
  key k
  match a+ next b
  define
    a as x > 0
    b as x > avg(a.x) * 2 and count(a) >= 2
  skip past last
  emit k, count(a) as n, avg(a.x) as mean, b.x as peak, stddev(a.x) as sd, distinct_count(a.x) as kinds,
       count() as events
"""


def test_running_aggregates_in_define_and_aggregates_in_emit():
    out: list[cep.Match] = []
    detector = Detector(cep.compile_patterns(RUNNING), out.append)
    for i, x in enumerate([1, 3, 3, 50]):
        detector.feed("s", {"k": "a", "x": x, "n": i})
    detector.finish()
    fields = [m.fields for m in out]
    assert fields[0]["peak"] == 50 and fields[0]["n"] == 3 and fields[0]["mean"] == pytest.approx(7 / 3)
    assert fields[0]["kinds"] == 2 and fields[0]["events"] == 4
    assert fields[0]["sd"] == pytest.approx(1.1547005)
    assert [e["x"] for e in out[0].events["a"]] == [1, 3, 3]


def test_unknown_function_is_a_diagnostic_with_a_suggestion():
    with pytest.raises(cep.PatternError) as info:
        cep.compile_patterns("pattern p\n  from s\n  match a\n  define a as lowr(x) == 'a'\n")
    message = str(info.value)
    assert "unknown function" in message and "lower" in message
    assert ":4:" in message  # file:line:col of the call
