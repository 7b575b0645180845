"""Comparing emitted records with expected ones, and saying how they differ.

Pure functions on plain JSON-like values; the test-block runner, ``cep test`` and the pytest
plugin all show the same text.

* An expected record names the fields that matter; the emitted record is *projected* onto
  them and every other field is ignored. A field the emitted record lacks shows as
  ``<missing>`` and never equals anything (not even ``null``).
* Values compare as JSON values: numbers (ints and floats alike, but never booleans) equal when
  within a relative tolerance of 1e-9; strings, booleans and ``null`` exactly; objects and lists
  whole and recursively (with the same number rule), not projected.
* Order matters. The diff aligns the two lists on their longest common subsequence, so one
  extra or missing record shows as one line, not as everything after it shifted.
"""

from __future__ import annotations

import json
import math
from typing import Any, Sequence

__all__ = ["MISSING", "values_equal", "project", "records_equal", "diff_records", "show"]

REL_TOL = 1e-9
_LCS_LIMIT = 250_000  # cells; beyond this the diff aligns records by position


class _Missing:
    def __repr__(self) -> str:
        return "<missing>"


MISSING: Any = _Missing()


def values_equal(expected: Any, actual: Any) -> bool:
    """JSON equality with a 1e-9 relative tolerance on numbers; booleans are not numbers."""
    if actual is MISSING or expected is MISSING:
        return False
    e_num = isinstance(expected, (int, float)) and not isinstance(expected, bool)
    a_num = isinstance(actual, (int, float)) and not isinstance(actual, bool)
    if e_num or a_num:
        if not (e_num and a_num):
            return False
        if isinstance(expected, int) and isinstance(actual, int):
            return expected == actual
        return math.isclose(expected, actual, rel_tol=REL_TOL, abs_tol=0.0) or expected == actual
    if isinstance(expected, dict) or isinstance(actual, dict):
        return (isinstance(expected, dict) and isinstance(actual, dict) and expected.keys() == actual.keys()
                and all(values_equal(v, actual[k]) for k, v in expected.items()))
    if isinstance(expected, (list, tuple)) or isinstance(actual, (list, tuple)):
        return (isinstance(expected, (list, tuple)) and isinstance(actual, (list, tuple))
                and len(expected) == len(actual) and all(map(values_equal, expected, actual)))
    return type(expected) is type(actual) and expected == actual


def project(actual: dict[str, Any], expected: dict[str, Any]) -> dict[str, Any]:
    """``actual`` limited to the fields ``expected`` names, in ``expected``'s order."""
    return {name: actual.get(name, MISSING) for name in expected}


def records_equal(expected: dict[str, Any], actual: dict[str, Any]) -> bool:
    return all(values_equal(v, actual.get(k, MISSING)) for k, v in expected.items())


def show(value: Any) -> str:
    """One-line JSON text for a value; ``<missing>`` for a field that is not there."""
    if value is MISSING:
        return "<missing>"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(k)}: {show(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(show(v) for v in value) + "]"
    try:
        return json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        return repr(value)


def _align(expected: Sequence[dict[str, Any]], actual: Sequence[dict[str, Any]]) -> list[tuple[int | None, int | None]]:
    """Pairs (i, j) of an alignment: both set = equal records, one None = only on that side."""
    n, m = len(expected), len(actual)
    if n * m > _LCS_LIMIT:
        pairs: list[tuple[int | None, int | None]] = []
        for k in range(max(n, m)):
            i, j = (k if k < n else None), (k if k < m else None)
            if i is not None and j is not None and not records_equal(expected[i], actual[j]):
                pairs += [(i, None), (None, j)]
            else:
                pairs.append((i, j))
        return pairs
    # lcs[i][j]: length of the longest common subsequence of expected[i:] and actual[j:]
    lcs = [[0] * (m + 1) for _ in range(n + 1)]
    for i in range(n - 1, -1, -1):
        for j in range(m - 1, -1, -1):
            if records_equal(expected[i], actual[j]):
                lcs[i][j] = lcs[i + 1][j + 1] + 1
            else:
                lcs[i][j] = max(lcs[i + 1][j], lcs[i][j + 1])
    pairs = []
    i = j = 0
    while i < n or j < m:
        if i < n and j < m and records_equal(expected[i], actual[j]):
            pairs.append((i, j))
            i, j = i + 1, j + 1
        elif i < n and (j == m or lcs[i + 1][j] >= lcs[i][j + 1]):
            pairs.append((i, None))
            i += 1
        else:
            pairs.append((None, j))
            j += 1
    return pairs


def diff_records(expected: Sequence[dict[str, Any]], actual: Sequence[dict[str, Any]]) -> list[str]:
    """Lines showing expected against emitted records, each projected onto the fields of the
    expectation it is shown against. ``  `` as expected, ``- `` expected but not emitted,
    ``+ `` emitted but not expected; a ``-``/``+`` pair at the same place also says which
    fields differ."""
    fields = list(dict.fromkeys(k for record in expected for k in record))
    lines: list[str] = []
    pending_minus: list[int] = []
    for i, j in _align(expected, actual):
        if i is not None and j is not None:
            pending_minus.clear()
            lines.append("  " + show(project(actual[j], expected[i])))
        elif i is not None:
            pending_minus.append(i)
            lines.append("- " + show(expected[i]))
        else:
            assert j is not None
            if pending_minus:
                # A replaced record: compare it with the first expected one it stands in for.
                exp = expected[pending_minus.pop(0)]
                lines.append("+ " + show(project(actual[j], exp)))
                wrong = [k for k, v in exp.items() if not values_equal(v, actual[j].get(k, MISSING))]
                lines.append("      " + "; ".join(
                    f"{k}: expected {show(exp[k])}, emitted {show(actual[j].get(k, MISSING))}" for k in wrong))
            else:
                shown = {k: actual[j].get(k, MISSING) for k in fields} if fields else actual[j]
                lines.append("+ " + show(shown))
    return lines
