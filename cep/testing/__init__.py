"""Testing patterns: a harness over the real engine, test-block running, hypothesis strategies.

* :class:`Harness` feeds events and watermarks to patterns and collects their outputs.
* :mod:`cep.testing.blocks` runs the ``test`` blocks of pattern files (``cep test`` and the
  pytest plugin use it).
* :mod:`cep.testing.strategies` generates event streams for a pattern with hypothesis. It is
  imported on first use (``cep.testing.strategies``), so ``import cep.testing`` does not need
  hypothesis, which is a test dependency only.

See docs/testing.md.
"""

from __future__ import annotations

import importlib
from typing import Any

from cep.testing.blocks import TestFile, TestResult, run_file
from cep.testing.harness import Harness

__all__ = ["Harness", "TestFile", "TestResult", "run_file", "strategies"]


def __getattr__(name: str) -> Any:
    if name == "strategies":
        return importlib.import_module("cep.testing.strategies")
    raise AttributeError(f"module 'cep.testing' has no attribute {name!r}")
