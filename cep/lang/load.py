"""From pattern text or files to compiled patterns: parse → check → compile, all problems at once."""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

from cep.errors import CepError, Diagnostic, PatternError
from cep.lang.checks import check_source
from cep.lang.compiler import CompiledPattern, compile_file


def read_pattern_file(path: str | Path) -> str:
    """The text of a pattern file; raises CepError with a readable reason."""
    try:
        return Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise CepError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    except OSError as exc:
        raise CepError(f"{path}: cannot read it: {exc.strerror or exc}") from exc


def compile_source(text: str, path: str = "<string>") -> list[CompiledPattern]:
    """Compile pattern text; raises PatternError (or PatternSyntaxError) listing every problem."""
    return compile_file(check_source(text, path))


def load_files(paths: Iterable[str | Path]) -> list[CompiledPattern]:
    """Compile several files; problems of every file are reported together."""
    compiled: list[CompiledPattern] = []
    diagnostics: list[Diagnostic] = []
    for path in paths:
        text = read_pattern_file(path)
        try:
            compiled.extend(compile_source(text, str(path)))
        except PatternError as exc:
            diagnostics.extend(exc.diagnostics)
    if diagnostics:
        raise PatternError(diagnostics)
    names = [p.name for p in compiled]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise CepError(f"pattern name(s) defined in more than one file: {', '.join(duplicates)}")
    return compiled
