"""``cep test``: run the test blocks of pattern files like a test runner.

One line per test (``PASS``/``FAIL``, ``file:line``, the test's name); a failing test shows
which ``expect`` failed and a diff of expected against emitted records; a summary line
``N passed, M failed`` ends the report. Folders are searched recursively for ``*.cep`` files.

Exit codes: 0 every test passed; 1 a test failed; 2 a file has pattern errors (its diagnostics
are printed and the other files' tests still run) or a path does not exist.
"""

from __future__ import annotations

import argparse
import traceback

from cep.cli import render, render_tests
from cep.cli.replay import UsageError
from cep.errors import CepError, PatternError
from cep.testing.blocks import TestFile, find_files

HELP = "run the test blocks of pattern files"

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_PATTERN_ERRORS = 2


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="+", metavar="PATH", help="pattern files (.cep) or folders to search")
    parser.add_argument("-k", dest="select", metavar="TEXT",
                        help="run only the tests whose name contains TEXT (case-insensitive)")
    parser.add_argument("--quiet", "-q", action="store_true", help="show only failing tests and the summary")


def run(args: argparse.Namespace) -> int:
    try:
        files = list(find_files(args.paths))
    except FileNotFoundError as exc:
        raise UsageError(f"{exc.filename}: no such file or folder") from exc
    select = args.select.lower() if args.select else None
    passed = failed = broken = 0
    for path in files:
        try:
            test_file = TestFile.load(path)
        except PatternError as exc:
            render.print_pattern_error(exc)
            broken += 1
            continue
        except CepError as exc:
            render.print_error(str(exc))
            broken += 1
            continue
        for test in test_file.tests:
            if select is not None and select not in test.name.lower():
                continue
            try:
                result = test_file.run(test)
            except Exception:  # an engine bug must not hide the other tests' results
                failed += 1
                render_tests.print_crash(f"{test_file.path}:{test.span.line}", test.name, traceback.format_exc())
                continue
            if result.passed:
                passed += 1
            else:
                failed += 1
            render_tests.print_result(result, quiet=args.quiet)
    render_tests.print_summary(passed, failed, broken)
    if broken:
        return EXIT_PATTERN_ERRORS
    return EXIT_FAILED if failed else EXIT_OK
