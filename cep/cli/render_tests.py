"""How ``cep test`` shows its results (rich, like :mod:`cep.cli.render`, and only here).

Results go to stdout, a test runner's report; pattern diagnostics go to stderr through
:func:`cep.cli.render.print_pattern_error`. User text (test names, records) is never read as
rich markup.
"""

from __future__ import annotations

from rich.console import Console
from rich.text import Text

from cep.testing.blocks import TestResult

stdout = Console(highlight=False, soft_wrap=True)


def print_result(result: TestResult, *, quiet: bool = False) -> None:
    """``PASS file:line  name``, or ``FAIL file:line  name`` followed by the indented report."""
    if result.passed:
        if not quiet:
            stdout.print(Text.assemble(("PASS", "bold green"), f" {result.location}  {result.name}"))
        return
    stdout.print(Text.assemble(("FAIL", "bold red"), f" {result.location}  {result.name}"))
    for line in result.report.splitlines():
        style = "red" if line.lstrip().startswith("- ") else "green" if line.lstrip().startswith("+ ") else ""
        stdout.print(Text("    " + line, style=style))


def print_crash(location: str, name: str, details: str) -> None:
    """A test whose run raised an unexpected exception (an engine bug, not a test failure)."""
    stdout.print(Text.assemble(("FAIL", "bold red"), f" {location}  {name}"))
    stdout.print(Text("    internal error while running the test:", style="bold red"))
    for line in details.rstrip().splitlines():
        stdout.print(Text("    " + line))


def print_summary(passed: int, failed: int, broken_files: int) -> None:
    """``N passed, M failed`` (plus files with pattern errors), coloured by the outcome."""
    text = f"{passed} passed, {failed} failed"
    if broken_files:
        text += f", {broken_files} file{'s' if broken_files != 1 else ''} with pattern errors"
    if passed + failed == 0 and not broken_files:
        text += " (no test blocks found)"
    style = "bold red" if failed or broken_files else "bold green"
    stdout.print(Text(text, style=style))
