"""Measuring helpers shared by the benchmarks: interleaved best-of-N timing and peak memory."""

from __future__ import annotations

import gc
import time
import tracemalloc
from pathlib import Path
from typing import Any, Callable


def timed(fns: list[Callable[[Path], Any]], path: Path, repeat: int) -> list[tuple[float, Any]]:
    """Best time of each function, runs interleaved so machine noise hits all alike.

    The time is this process's CPU time, not the wall clock: every function compared is
    single-threaded and CPU-bound (the input file is in the page cache after the first run), and
    on a shared machine the wall clock also counts the time other processes held the CPU, which
    made ratios swing by a factor of two between runs."""
    best = [float("inf")] * len(fns)
    results: list[Any] = [0] * len(fns)
    for _ in range(repeat):
        for i, fn in enumerate(fns):
            gc.collect()
            started = time.process_time()
            results[i] = fn(path)
            best[i] = min(best[i], time.process_time() - started)
    return list(zip(best, results))


def peak_memory(fn: Callable[[Path], Any], path: Path) -> int:
    """Peak traced memory (bytes) of one run of ``fn``."""
    gc.collect()
    tracemalloc.start()
    fn(path)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak
