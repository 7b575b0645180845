"""From pattern text or files to compiled patterns: parse → check → compile, all problems at once."""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

from cep.errors import CepError, Diagnostic, PatternError
from cep.lang.checks import check_source
from cep.lang.compiler import CompiledPattern, compile_file


def compile_source(text: str, path: str = "<string>") -> list[CompiledPattern]:
    """Compile pattern text; raises PatternError (or PatternSyntaxError) listing every problem."""
    return compile_file(check_source(text, path))


def load_files(paths: Iterable[str | Path]) -> list[CompiledPattern]:
    """Compile several files; problems of every file are reported together."""
    compiled: list[CompiledPattern] = []
    diagnostics: list[Diagnostic] = []
    for path in paths:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise CepError(f"cannot read pattern file {path}: {exc.strerror or exc}") from exc
        except UnicodeDecodeError as exc:
            raise CepError(f"pattern file {path} is not UTF-8 text: {exc}") from exc
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
