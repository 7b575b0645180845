"""pytest plugin: the ``test`` blocks of ``*.cep`` files become pytest tests.

Installed with cep (entry point ``cep`` in the ``pytest11`` group), so ``pytest`` in a project
collects every ``*.cep`` file it walks (its testpaths, or the paths given on the command line)
that holds at least one ``test`` block: one test item per block, named by the test's name and
run on the real engine exactly as ``cep test`` runs it. A failing block shows the same diff as
``cep test``; a file with pattern errors is a collection error showing the diagnostics.

Files without ``test`` blocks are not collected (checking patterns is ``cep check``'s job).
Leave files out with pytest's usual means (``--ignore``, ``--ignore-glob``,
``collect_ignore_glob`` in a conftest.py), or switch the plugin off with ``-p no:cep``.
Without the entry point (a source checkout not installed), load it with
``-p cep.testing.pytest_plugin``.

This module imports nothing of cep until a ``.cep`` file is collected, so having cep installed
costs other projects' test runs nothing.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

import pytest

if TYPE_CHECKING:
    from cep.lang.ast import PatternTest
    from cep.testing.blocks import TestFile, TestResult

_HAS_TEST_BLOCK = re.compile(rb"^[ \t]*test[ \t]+[\"']", re.MULTILINE)


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> "CepFile | None":
    if file_path.suffix != ".cep":
        return None
    try:
        text = file_path.read_bytes()
    except OSError:
        return None
    if not _HAS_TEST_BLOCK.search(text):
        return None
    return CepFile.from_parent(parent, path=file_path)


class CepTestFailed(Exception):
    """A test block's expectations were not met; carries the result to show."""

    def __init__(self, result: "TestResult") -> None:
        super().__init__(result.report)
        self.result = result


class CepFile(pytest.File):
    """A pattern file: compiled once, one :class:`CepItem` per ``test`` block."""

    def collect(self) -> Iterator["CepItem"]:
        from cep.errors import CepError, PatternError
        from cep.lang.load import read_pattern_file
        from cep.testing.blocks import TestFile

        shown = _relative(self.path, self.config.rootpath)
        try:
            test_file = TestFile.from_source(read_pattern_file(self.path), shown)
        except PatternError as exc:
            count = len(exc.diagnostics)
            raise self.CollectError(f"{exc}\n\n{count} problem{'s' if count != 1 else ''} in {shown}") from exc
        except (CepError, OSError, UnicodeDecodeError) as exc:
            raise self.CollectError(f"cannot load {shown}: {exc}") from exc
        for test in test_file.tests:
            yield CepItem.from_parent(self, name=test.name, test_file=test_file, test=test)


class CepItem(pytest.Item):
    """One ``test`` block."""

    def __init__(self, *, test_file: "TestFile", test: "PatternTest", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.test_file = test_file
        self.test = test

    def runtest(self) -> None:
        result = self.test_file.run(self.test)
        if not result.passed:
            raise CepTestFailed(result)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        if isinstance(excinfo.value, CepTestFailed):
            return excinfo.value.result.report
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, self.test.span.line - 1, f'cep test "{self.name}"'


def _relative(path: Path, root: Path) -> str:
    try:
        return os.path.relpath(path, root)
    except ValueError:  # another drive on Windows
        return str(path)
