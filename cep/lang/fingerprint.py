"""A fingerprint of a set of compiled patterns, for checkpoints.

A checkpoint taken with one set of patterns must not be restored into another: state ids and
variables would mean other things. The fingerprint hashes the patterns' canonical text (the
printer's), so comments, layout and the order of patterns do not change it; any change to a
pattern does.
"""

from __future__ import annotations

from typing import Any, Sequence

from cep.lang.printer import format_pattern
from cep.state.checkpoint import fingerprint

__all__ = ["pattern_fingerprint"]


def pattern_fingerprint(patterns: Sequence[Any]) -> str:
    """The fingerprint of compiled patterns (``CompiledPattern`` objects)."""
    return fingerprint(format_pattern(p.source) if p.source is not None else p.name for p in patterns)
