"""``cep check``: list every problem of every pattern file at once.

Each file goes through the three stages a run would: parse (a syntax error stops the file, so at
most one per file), the semantic checks (all of them), and the compiler, which still finds a few
things the checks do not (a loop that unrolls into too many states, ...). The compiler only sees
the patterns the checks passed, so a problem is never reported twice.

Problems go to stdout as ``file:line:col: error: message``, the line, a caret and a hint.
Exit code 0 when every file is clean, 2 otherwise.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, replace
from pathlib import Path

from cep.errors import CepError, Diagnostic, PatternError
from cep.lang import ast
from cep.lang.checks import NOT_YET, check
from cep.lang.compiler import compile_file
from cep.lang.load import read_pattern_file
from cep.lang.parser import parse

HELP = "check pattern files and list every problem"

EXIT_OK = 0
EXIT_PROBLEMS = 2


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="+", metavar="PATH", help="pattern files, or folders to search for *.cep")
    parser.add_argument("--quiet", "-q", action="store_true", help="print only the problems")


@dataclass(frozen=True, slots=True)
class FileReport:
    path: str
    diagnostics: tuple[Diagnostic, ...] = ()
    error: str | None = None  # the file could not be read at all
    patterns: int = 0
    tests: int = 0

    @property
    def ok(self) -> bool:
        """No errors (warnings allowed: the file runs)."""
        return self.error is None and all(d.severity == "warning" for d in self.diagnostics)


def collect_files(paths: list[str]) -> tuple[list[Path], list[str]]:
    """The files named, and every ``*.cep`` under the folders named (sorted); plus problems."""
    files: list[Path] = []
    problems: list[str] = []
    for name in paths:
        path = Path(name)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*.cep") if p.is_file())
            if not found:
                problems.append(f"{name}: no .cep files in this folder")
            files.extend(found)
        elif path.exists():
            files.append(path)
        else:
            problems.append(f"{name}: no such file or folder")
    unique = list(dict.fromkeys(files))
    return unique, problems


def check_text(text: str, path: str) -> FileReport:
    """Every problem of one file's text: syntax, semantic and compile stage."""
    try:
        file = parse(text, path)
    except PatternError as exc:
        return FileReport(path, exc.diagnostics)
    found = check(file)
    everything = sorted([*found, *_compile_problems(file, found)], key=lambda d: (d.line, d.column))
    return FileReport(path, tuple(everything), None, len(file.patterns), len(file.tests))


def _compile_problems(file: ast.File, found: list[Diagnostic]) -> list[Diagnostic]:
    """What only the compiler finds, without repeating what the checks said.

    Patterns the checks passed are compiled together and all their problems kept. A pattern
    with check errors is compiled on its own and keeps only problems on lines the checks did not
    flag, and no "not yet supported" (the checks name every such construct, in their own words).
    """
    errors = [d for d in found if d.severity == "error"]
    lines = {d.line for d in errors}
    seen = {(d.line, d.column, d.message) for d in found}
    clean = tuple(p for p in file.patterns if not any(_inside(d, p.span) for d in errors))
    out = [d for d in _compile(file, clean) if (d.line, d.column, d.message) not in seen]
    for pattern in file.patterns:
        if pattern in clean:
            continue
        try:
            extra = _compile(file, (pattern,))
        except Exception:  # noqa: BLE001 - a broken pattern may trip the compiler; already reported
            continue
        out.extend(d for d in extra if d.line not in lines and not d.message.startswith(NOT_YET))
    return out


def _compile(file: ast.File, patterns: tuple[ast.Pattern, ...]) -> tuple[Diagnostic, ...]:
    if not patterns:
        return ()
    try:
        compile_file(replace(file, patterns=patterns, tests=()))
    except PatternError as exc:
        return exc.diagnostics
    return ()


def _inside(d: Diagnostic, span: ast.Span) -> bool:
    return (span.line, span.column) <= (d.line, d.column) <= (span.end_line, span.end_column)


def check_path(path: Path) -> FileReport:
    try:
        text = read_pattern_file(path)
    except CepError as exc:
        return FileReport(str(path), error=str(exc))
    return check_text(text, str(path))


def run(args: argparse.Namespace) -> int:
    files, missing = collect_files(args.paths)
    out = sys.stdout
    for message in missing:
        print(f"error: {message}", file=sys.stderr)
    reports = [check_path(p) for p in files]
    problems = 0
    warnings = 0
    for report in reports:
        if report.error is not None:
            print(f"error: {report.error}", file=out)
            problems += 1
        for diagnostic in report.diagnostics:
            print(diagnostic.format(), file=out)
            print(file=out)
        # Warnings are shown but do not fail the check: the file runs as it is.
        warnings += sum(1 for d in report.diagnostics if d.severity == "warning")
        problems += sum(1 for d in report.diagnostics if d.severity != "warning")
        if report.ok and not args.quiet:
            counts = f"{_count(report.patterns, 'pattern')}, {_count(report.tests, 'test')}"
            print(f"ok  {report.path} ({counts})", file=out)
    bad = sum(1 for r in reports if not r.ok)
    if not args.quiet or problems or missing:
        summary = f"{_count(len(reports), 'file')} checked: "
        if problems:
            summary += f"{_count(problems, 'problem')} in {_count(bad, 'file')}"
        else:
            summary += "no problems"
        if warnings:
            summary += f", {_count(warnings, 'warning')}"
        if missing:
            summary += f"; {_count(len(missing), 'path')} not usable"
        print(summary, file=out)
    return EXIT_PROBLEMS if problems or missing else EXIT_OK


def _count(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"
