"""cep: complex event processing in Python.

Write patterns in pattern files, compile them once, run them per key on an event-time stream::

    import cep
    patterns = cep.compile_patterns(open("patterns/small_then_big.cep").read())
    alerts = []
    detector = cep.Detector(patterns, alerts.append)
    detector.feed("transactions", {"card_id": "c1", "amount": 0.05, "ts": "2024-01-01T00:00:00Z"})
    detector.finish()
"""

from cep.detector import Detector
from cep.errors import (
    CepError,
    Diagnostic,
    EventError,
    EventTimeError,
    PatternError,
    PatternSyntaxError,
    SnapshotError,
    StateError,
)
from cep.lang.compiler import CompiledPattern
from cep.lang.load import compile_source as compile_patterns
from cep.lang.load import load_files as load_patterns
from cep.match import Match

__version__ = "0.1.0"

__all__ = [
    "CepError",
    "CompiledPattern",
    "Detector",
    "Diagnostic",
    "EventError",
    "EventTimeError",
    "Match",
    "PatternError",
    "PatternSyntaxError",
    "SnapshotError",
    "StateError",
    "compile_patterns",
    "load_patterns",
]
