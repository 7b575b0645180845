"""``cep fmt``: rewrite pattern files in the canonical layout, keeping their comments.

The layout comes from the printer (:mod:`cep.lang.printer`); comments, which the AST does not
hold, are put back by :mod:`cep.lang.comments`, which refuses (leaving the file alone) rather
than lose one. A file is only replaced whole: the new text goes to a temporary file in the same
folder, which is then renamed over the old one.

``--check`` lists the files that would change and exits 1 without writing; ``--diff`` prints a
unified diff without writing. A file with a syntax error is reported and left alone (exit 2).
"""

from __future__ import annotations

import argparse
import difflib
import os
import sys
import tempfile
from pathlib import Path

from cep.cli.check import collect_files
from cep.errors import CepError, PatternError
from cep.lang.comments import format_with_comments

HELP = "rewrite pattern files in canonical layout"

EXIT_OK = 0
EXIT_WOULD_CHANGE = 1
EXIT_PROBLEMS = 2


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="+", metavar="PATH", help="pattern files, or folders to search for *.cep")
    parser.add_argument("--check", action="store_true",
                        help="write nothing; list the files that would change (exit 1 if any)")
    parser.add_argument("--diff", action="store_true", help="write nothing; print what would change as a diff")


def format_text(text: str, path: str) -> str:
    """The canonical text of a pattern file (line breaks normalised to ``\\n``)."""
    return format_with_comments(text.replace("\r\n", "\n"), path)


def write_atomically(path: Path, text: str) -> None:
    """Replace ``path`` by ``text`` in one rename, keeping its permissions."""
    mode = path.stat().st_mode & 0o7777
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temp, mode)
        os.replace(temp, path)
    except BaseException:
        try:
            os.unlink(temp)
        except OSError:
            pass
        raise


def unified_diff(old: str, new: str, path: str) -> str:
    """A unified diff of two texts; a last line without a line break is marked as such."""
    before, after = (path, path) if os.path.isabs(path) else (f"a/{path}", f"b/{path}")
    out = []
    for line in difflib.unified_diff(old.splitlines(True), new.splitlines(True), before, after):
        out.append(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n")
    return "".join(out)


def _read(path: Path) -> str:
    try:
        with open(path, encoding="utf-8", newline="") as f:  # keep \r\n visible: it is a change
            return f.read()
    except UnicodeDecodeError as exc:
        raise CepError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    except OSError as exc:
        raise CepError(f"{path}: cannot read it: {exc.strerror or exc}") from exc


def run(args: argparse.Namespace) -> int:
    files, missing = collect_files(args.paths)
    problems = len(missing)
    for message in missing:
        print(f"error: {message}", file=sys.stderr)
    changed: list[Path] = []
    for path in files:
        try:
            old = _read(path)
            new = format_text(old, str(path))
        except PatternError as exc:
            problems += 1
            for diagnostic in exc.diagnostics:
                print(diagnostic.format(), file=sys.stderr)
            print(f"error: {path}: not reformatted; fix the problem above first", file=sys.stderr)
            continue
        except CepError as exc:
            problems += 1
            print(f"error: {exc}", file=sys.stderr)
            continue
        if new == old:
            continue
        changed.append(path)
        if args.diff:
            sys.stdout.write(unified_diff(old, new, str(path)))
        if args.check:
            print(f"would reformat {path}")
        elif not args.diff:
            write_atomically(path, new)
            print(f"reformatted {path}")
    unchanged = len(files) - len(changed) - problems + len(missing)
    verb = "would be reformatted" if args.check or args.diff else "reformatted"
    print(f"{len(changed)} file{'s' if len(changed) != 1 else ''} {verb}, {unchanged} unchanged"
          + (f", {problems} with problems" if problems else ""), file=sys.stderr)
    if problems:
        return EXIT_PROBLEMS
    return EXIT_WOULD_CHANGE if args.check and changed else EXIT_OK
