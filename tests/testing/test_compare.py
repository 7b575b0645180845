"""Expected-vs-emitted comparison: projection, float tolerance, and the diff text."""

from __future__ import annotations

import pytest

from cep.testing.compare import MISSING, diff_records, records_equal, values_equal


@pytest.mark.parametrize(
    "expected, actual, equal",
    [
        (0.3, 0.1 + 0.2, True),  # within 1e-9 relative
        (900, 900.0, True),
        (1e12, 1e12 + 1e-3, True),
        (0.3, 0.3001, False),
        (1, True, False),  # booleans are not numbers
        (0, False, False),
        (None, None, True),
        (None, MISSING, False),  # an absent field is not null
        ("900", 900, False),
        ({"a": [1, 0.30000000000000004]}, {"a": [1, 0.3]}, True),
        ({"a": 1}, {"a": 1, "b": 2}, False),  # nested objects compare whole
        ([1, 2], [2, 1], False),
    ],
)
def test_values_equal(expected, actual, equal):
    assert values_equal(expected, actual) is equal


def test_records_are_projected_onto_the_expected_fields():
    emitted = {"pattern": "p", "key": "c1", "time": 5, "amount": 900, "other": "x"}
    assert records_equal({"key": "c1", "amount": 900.0}, emitted)
    assert not records_equal({"key": "c1", "missing": None}, emitted)


def test_diff_aligns_on_common_records_and_explains_replacements():
    expected = [{"k": "a", "v": 1}, {"k": "b", "v": 2}, {"k": "c", "v": 3}]
    emitted = [{"k": "a", "v": 1, "extra": 0}, {"k": "x", "v": 9, "extra": 0}, {"k": "b", "v": 2.0},
               {"k": "c", "v": 4}]
    assert diff_records(expected, emitted) == [
        '  {"k": "a", "v": 1}',
        '+ {"k": "x", "v": 9}',
        '  {"k": "b", "v": 2.0}',
        '- {"k": "c", "v": 3}',
        '+ {"k": "c", "v": 4}',
        "      v: expected 3, emitted 4",
    ]


def test_diff_of_unexpected_records_shows_them_whole():
    assert diff_records([], [{"pattern": "p", "v": 1}]) == ['+ {"pattern": "p", "v": 1}']
    assert diff_records([{"v": 1}], []) == ['- {"v": 1}']
    assert diff_records([{"v": 1}], [{"w": 2}]) == ['- {"v": 1}', "+ {\"v\": <missing>}",
                                                    "      v: expected 1, emitted <missing>"]
