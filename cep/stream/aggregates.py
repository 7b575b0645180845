"""Incremental aggregates for windows: constant memory for the algebraic ones.

Each accumulator takes values one at a time (``add``) and gives its result at any moment
(``result``); none keeps a list of the values it saw, except where the aggregate needs it by
nature (``distinct_count`` keeps a count per distinct value). Accumulators used by rolling and
sliding-count windows also support ``remove`` of the *oldest* value still inside (FIFO order):
sums and counts subtract, standard deviation runs Welford's update backwards, and min/max keep a
monotonic deque, so a rolling window never rescans its events.

Values follow the language's rules: ``null`` is skipped by every aggregate but ``count()``;
``sum``/``avg``/``stddev`` skip non-numbers (booleans are not numbers); min/max are over the
numbers when there are any, else over the strings.
"""

from __future__ import annotations

from collections import deque
from typing import Any, Callable

__all__ = ["ACCUMULATORS", "make_accumulator", "Accumulator"]

_NUM = (int, float)


def _is_number(v: Any) -> bool:
    return v.__class__ is int or v.__class__ is float


class Accumulator:
    """Base: ``add`` a value, ``remove`` the oldest one, read ``result``; snapshot as a list."""

    __slots__ = ()

    def add(self, value: Any) -> None:  # pragma: no cover - interface
        raise NotImplementedError

    def remove(self, value: Any) -> None:  # pragma: no cover - interface
        raise NotImplementedError

    def result(self) -> Any:  # pragma: no cover - interface
        raise NotImplementedError

    def snapshot(self) -> list[Any]:  # pragma: no cover - interface
        raise NotImplementedError

    def restore(self, data: list[Any]) -> None:  # pragma: no cover - interface
        raise NotImplementedError


class CountAll(Accumulator):
    """``count()``: every event."""

    __slots__ = ("n",)

    def __init__(self) -> None:
        self.n = 0

    def add(self, value: Any) -> None:
        self.n += 1

    def remove(self, value: Any) -> None:
        self.n -= 1

    def result(self) -> int:
        return self.n

    def snapshot(self) -> list[Any]:
        return [self.n]

    def restore(self, data: list[Any]) -> None:
        (self.n,) = data


class Count(CountAll):
    """``count(x)``: events where x is not null."""

    __slots__ = ()

    def add(self, value: Any) -> None:
        if value is not None:
            self.n += 1

    def remove(self, value: Any) -> None:
        if value is not None:
            self.n -= 1


class Sum(Accumulator):
    __slots__ = ("n", "total")

    def __init__(self) -> None:
        self.n = 0
        self.total: int | float = 0

    def add(self, value: Any) -> None:
        if _is_number(value):
            self.n += 1
            self.total += value

    def remove(self, value: Any) -> None:
        if _is_number(value):
            self.n -= 1
            self.total -= value
            if self.n == 0:
                self.total = 0  # no float residue once the window is empty

    def result(self) -> Any:
        return self.total if self.n else None

    def snapshot(self) -> list[Any]:
        return [self.n, self.total]

    def restore(self, data: list[Any]) -> None:
        self.n, self.total = data


class Avg(Sum):
    __slots__ = ()

    def result(self) -> Any:
        return self.total / self.n if self.n else None


class Stddev(Accumulator):
    """Sample standard deviation (SQL ``STDDEV``/``STDDEV_SAMP``) by Welford's method."""

    __slots__ = ("n", "mean", "m2")

    def __init__(self) -> None:
        self.n = 0
        self.mean = 0.0
        self.m2 = 0.0

    def add(self, value: Any) -> None:
        if _is_number(value):
            self.n += 1
            delta = value - self.mean
            self.mean += delta / self.n
            self.m2 += delta * (value - self.mean)

    def remove(self, value: Any) -> None:
        if not _is_number(value):
            return
        if self.n <= 1:
            self.n, self.mean, self.m2 = 0, 0.0, 0.0
            return
        old_mean = (self.n * self.mean - value) / (self.n - 1)
        self.m2 -= (value - self.mean) * (value - old_mean)
        self.mean = old_mean
        self.n -= 1
        if self.m2 < 0:  # rounding can leave a tiny negative
            self.m2 = 0.0

    def result(self) -> Any:
        if self.n < 2:
            return None
        return (self.m2 / (self.n - 1)) ** 0.5

    def snapshot(self) -> list[Any]:
        return [self.n, self.mean, self.m2]

    def restore(self, data: list[Any]) -> None:
        self.n, self.mean, self.m2 = data


class _Monotonic:
    """Candidates for min or max under FIFO removal: the front is the result; each later value
    could become it once the values before it leave. Equal values are all kept, so removing
    one of them leaves the others."""

    __slots__ = ("items", "better")

    def __init__(self, better: Callable[[Any, Any], bool]) -> None:
        self.items: deque[Any] = deque()
        self.better = better

    def add(self, value: Any) -> None:
        items = self.items
        while items and self.better(value, items[-1]):
            items.pop()
        items.append(value)

    def remove(self, value: Any) -> None:
        # The removed value is the oldest in the window: still a candidate only if nothing
        # after it was better, and then it is the front.
        if self.items and self.items[0] == value:
            self.items.popleft()


class _Extreme(Accumulator):
    """min/max over numbers when the window has any, otherwise over strings (so ``min(name)``
    works); booleans, null and other values are skipped. Order-independent, O(1) amortised."""

    __slots__ = ("numbers", "strings")

    def __init__(self) -> None:
        self.numbers = _Monotonic(self._better)
        self.strings = _Monotonic(self._better)

    @staticmethod
    def _better(a: Any, b: Any) -> bool:  # pragma: no cover - interface
        raise NotImplementedError

    def _side(self, value: Any) -> _Monotonic | None:
        if _is_number(value):
            return self.numbers
        if value.__class__ is str:
            return self.strings
        return None

    def add(self, value: Any) -> None:
        side = self._side(value)
        if side is not None:
            side.add(value)

    def remove(self, value: Any) -> None:
        side = self._side(value)
        if side is not None:
            side.remove(value)

    def result(self) -> Any:
        if self.numbers.items:
            return self.numbers.items[0]
        return self.strings.items[0] if self.strings.items else None

    def snapshot(self) -> list[Any]:
        return [list(self.numbers.items), list(self.strings.items)]

    def restore(self, data: list[Any]) -> None:
        self.numbers.items = deque(data[0])
        self.strings.items = deque(data[1])


class Min(_Extreme):
    __slots__ = ()

    @staticmethod
    def _better(a: Any, b: Any) -> bool:
        return a < b


class Max(_Extreme):
    __slots__ = ()

    @staticmethod
    def _better(a: Any, b: Any) -> bool:
        return a > b


class First(Accumulator):
    """The first non-null value. Under FIFO removal the window's values are needed to know
    the next first, so rolling windows ask their event deque instead (see ``needs_history``)."""

    __slots__ = ("value", "seen")

    def __init__(self) -> None:
        self.value: Any = None
        self.seen = False

    def add(self, value: Any) -> None:
        if not self.seen and value is not None:
            self.value, self.seen = value, True

    def remove(self, value: Any) -> None:
        raise TypeError("first() under removal is recomputed from the window's history")

    def result(self) -> Any:
        return self.value

    def snapshot(self) -> list[Any]:
        return [self.value, self.seen]

    def restore(self, data: list[Any]) -> None:
        self.value, self.seen = data


class Last(Accumulator):
    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value: Any = None

    def add(self, value: Any) -> None:
        if value is not None:
            self.value = value

    def remove(self, value: Any) -> None:
        raise TypeError("last() under removal is recomputed from the window's history")

    def result(self) -> Any:
        return self.value

    def snapshot(self) -> list[Any]:
        return [self.value]

    def restore(self, data: list[Any]) -> None:
        (self.value,) = data


class DistinctCount(Accumulator):
    """Distinct non-null values; a count per value so that removal works."""

    __slots__ = ("counts",)

    def __init__(self) -> None:
        self.counts: dict[Any, int] = {}

    @staticmethod
    def _key(value: Any) -> Any:
        if value.__class__ is bool:
            return ("bool", value)  # true is not 1
        if isinstance(value, (dict, list)):
            return ("json", repr(value))
        return value

    def add(self, value: Any) -> None:
        if value is not None:
            key = self._key(value)
            self.counts[key] = self.counts.get(key, 0) + 1

    def remove(self, value: Any) -> None:
        if value is not None:
            key = self._key(value)
            left = self.counts.get(key, 0) - 1
            if left > 0:
                self.counts[key] = left
            else:
                self.counts.pop(key, None)

    def result(self) -> int:
        return len(self.counts)

    def snapshot(self) -> list[Any]:
        # JSON-able: each distinct key with its count; tuple keys become lists and back.
        return [[list(k) if isinstance(k, tuple) else k, n] for k, n in self.counts.items()]

    def restore(self, data: list[Any]) -> None:
        self.counts = {tuple(k) if isinstance(k, list) else k: n for k, n in data}


ACCUMULATORS: dict[str, Callable[[], Accumulator]] = {
    "count()": CountAll,
    "count": Count,
    "sum": Sum,
    "avg": Avg,
    "stddev": Stddev,
    "min": Min,
    "max": Max,
    "first": First,
    "last": Last,
    "distinct_count": DistinctCount,
}

# Aggregates whose removal needs the window's remaining values (read from the event deque).
NEEDS_HISTORY = frozenset({"first", "last"})


def make_accumulator(kind: str) -> Accumulator:
    return ACCUMULATORS[kind]()
