"""docs/testing.md is real: its pattern file's tests pass and its Python examples run."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from cep.testing import TestFile

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "testing.md").read_text(encoding="utf-8")
BLOCKS = re.findall(r"^```(\w+)\n(.*?)^```$", DOC, re.MULTILINE | re.DOTALL)


def test_the_pattern_files_tests_pass():
    (text,) = [body for tag, body in BLOCKS if tag == "cep"]
    results = TestFile.from_source(text, "docs/testing.md").run_all()
    assert len(results) == 3
    assert all(r.passed for r in results), [r.report for r in results]


def test_the_middle_expect_example_passes():
    (pattern,) = [body for tag, body in BLOCKS if tag == "cep"]
    (example,) = [body for tag, body in BLOCKS if tag == "text" and body.startswith("test ")]
    (result,) = TestFile.from_source(pattern.split("\ntest ")[0] + "\n" + example).run_all()
    assert result.passed, result.report


@pytest.mark.parametrize("code", [body for tag, body in BLOCKS if tag == "python" and "import" in body])
def test_python_examples_run(code, monkeypatch):
    monkeypatch.chdir(ROOT)
    namespace: dict = {}
    exec(compile(code, "<docs/testing.md>", "exec"), namespace)
    for name, value in list(namespace.items()):
        if name.startswith("test_") and callable(value):
            value()
