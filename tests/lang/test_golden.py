"""Golden files: each ``golden/*.cep`` prints to its ``*.expected`` and round-trips.

Run with ``CEP_UPDATE_GOLDEN=1`` to rewrite the expected files after an intended change, then
review the diff.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from cep.lang import format_file, parse

GOLDEN = Path(__file__).parent / "golden"
CASES = sorted(GOLDEN.glob("*.cep"), key=lambda p: p.name)
UPDATE = os.environ.get("CEP_UPDATE_GOLDEN") == "1"


def test_there_are_golden_cases() -> None:
    assert len(CASES) >= 5


@pytest.mark.parametrize("case", CASES, ids=lambda p: p.stem)
def test_prints_as_expected(case: Path) -> None:
    printed = format_file(parse(case.read_text(encoding="utf-8"), case.name))
    expected = case.with_suffix(".expected")
    if UPDATE:
        expected.write_text(printed, encoding="utf-8")
    assert printed == expected.read_text(encoding="utf-8")


@pytest.mark.parametrize("case", CASES, ids=lambda p: p.stem)
def test_round_trips(case: Path) -> None:
    file = parse(case.read_text(encoding="utf-8"), case.name)
    printed = format_file(file)
    assert parse(printed) == file
    assert format_file(parse(printed)) == printed
