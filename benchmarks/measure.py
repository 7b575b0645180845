"""Measuring helpers shared by the benchmarks: interleaved best-of-N timing and peak memory."""

from __future__ import annotations

import gc
import time
import tracemalloc
from pathlib import Path
from typing import Any, Callable


def timed(fns: list[Callable[[Path], Any]], path: Path, repeat: int) -> list[tuple[float, Any]]:
    """Best time of each function, runs interleaved so machine noise hits all alike."""
    best = [float("inf")] * len(fns)
    results: list[Any] = [0] * len(fns)
    for _ in range(repeat):
        for i, fn in enumerate(fns):
            gc.collect()
            started = time.perf_counter()
            results[i] = fn(path)
            best[i] = min(best[i], time.perf_counter() - started)
    return list(zip(best, results))


def peak_memory(fn: Callable[[Path], Any], path: Path) -> int:
    """Peak traced memory (bytes) of one run of ``fn``."""
    gc.collect()
    tracemalloc.start()
    fn(path)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak
