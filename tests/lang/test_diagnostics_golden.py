"""Bad inputs and the exact diagnostics a user sees: ``bad/*.cep`` -> ``bad/*.expected``.

Covers syntax errors (one per file, parsing stops there) and semantic problems (all listed at
once). ``CEP_UPDATE_GOLDEN=1`` rewrites the expected files.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from cep.errors import PatternError
from cep.lang import check_source

BAD = Path(__file__).parent / "bad"
CASES = sorted(BAD.glob("*.cep"), key=lambda p: p.name)
UPDATE = os.environ.get("CEP_UPDATE_GOLDEN") == "1"


def test_there_are_bad_cases() -> None:
    assert len(CASES) >= 8


@pytest.mark.parametrize("case", CASES, ids=lambda p: p.stem)
def test_diagnostics_as_expected(case: Path) -> None:
    with pytest.raises(PatternError) as caught:
        check_source(case.read_text(encoding="utf-8"), case.name)
    rendered = "\n\n".join(d.format() for d in caught.value.diagnostics) + "\n"
    expected = case.with_suffix(".expected")
    if UPDATE:
        expected.write_text(rendered, encoding="utf-8")
    assert rendered == expected.read_text(encoding="utf-8")
