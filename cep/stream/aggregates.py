"""Min and max under removal, for windows that drop their oldest values.

Most window aggregates are generated straight-line code (``cep.stream.plans``). Min and max in
windows that also *remove* values (rolling and sliding-count windows) need a structure: a
monotonic queue, so the oldest value can leave in O(1) amortised time and no window is rescanned.
``first``/``last`` in such windows are read from the window's own history instead
(``NEEDS_HISTORY``).

Values follow the language's rules: ``null`` and booleans are skipped; min/max are over the
numbers when the window has any, else over the strings.
"""

from __future__ import annotations

from collections import deque
from typing import Any, Callable

__all__ = ["Min", "Max", "NEEDS_HISTORY"]

# Aggregates whose removal needs the window's remaining values (read from its history).
NEEDS_HISTORY = frozenset({"first", "last"})


def _is_number(v: Any) -> bool:
    return v.__class__ is int or v.__class__ is float


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


class _Extreme:
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
