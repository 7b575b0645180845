"""Event-time timers, one per ``(timestamp, key)``, fired in time order.

A processor asks for a callback when the watermark passes a time (a ``within`` deadline, say).
Registering the same ``(ts, key)`` twice yields one timer, as in Flink: the processor does not
need to remember what it already asked for. Timers at the same time fire in the order they were
first registered, so a run is deterministic and replays identically after a restore.

Storage is a ``SortedList`` of ``(ts, seq, key)``: ``seq`` is unique, so keys (which may be of
mixed, mutually unorderable types) are never compared, and deleting an arbitrary timer is
O(log n), which a heap cannot do without tombstones. A dict maps ``(ts, key)`` to its ``seq``
for deduplication and deletion.
"""

from __future__ import annotations

from typing import Any, Callable, Hashable, Iterator

from sortedcontainers import SortedList

from cep.errors import SnapshotError

__all__ = ["TimerService"]


def _same(x: Any) -> Any:
    return x


class TimerService:
    """Event-time timers keyed by ``(ts, key)``; see the module docstring."""

    __slots__ = ("_sorted", "_index", "_seq")

    def __init__(self) -> None:
        self._sorted: SortedList = SortedList()
        self._index: dict[tuple[int, Hashable], int] = {}
        self._seq = 0

    def __len__(self) -> int:
        return len(self._index)

    def __contains__(self, item: tuple[Hashable, int]) -> bool:
        key, ts = item
        return (ts, key) in self._index

    def register(self, key: Hashable, ts: int) -> bool:
        """Ask for ``key`` to be called back at ``ts``; False if that timer already exists."""
        ident = (ts, key)
        if ident in self._index:
            return False
        seq = self._seq
        self._seq = seq + 1
        self._index[ident] = seq
        self._sorted.add((ts, seq, key))
        return True

    def delete(self, key: Hashable, ts: int) -> bool:
        """Cancel a timer; False if there was none (already fired or never registered)."""
        seq = self._index.pop((ts, key), None)
        if seq is None:
            return False
        self._sorted.remove((ts, seq, key))
        return True

    def peek(self) -> int | None:
        """Time of the next timer to fire, or None when there are no timers."""
        return self._sorted[0][0] if self._sorted else None

    def pop(self) -> tuple[int, Hashable]:
        """Remove and return the next ``(ts, key)``; IndexError when empty."""
        ts, _, key = self._sorted.pop(0)
        del self._index[(ts, key)]
        return ts, key

    def pop_due(self, upto_ts: int) -> Iterator[tuple[int, Hashable]]:
        """Remove and yield every ``(ts, key)`` with ``ts <= upto_ts`` in firing order.

        Lazy: a timer registered while iterating fires in the same pass if it is due.
        """
        sorted_ = self._sorted
        while sorted_ and sorted_[0][0] <= upto_ts:
            yield self.pop()

    def snapshot(self, encode_key: Callable[[Hashable], Any] = _same) -> list[list[Any]]:
        """``[[ts, key], ...]`` in firing order; JSON-able when ``encode_key`` makes keys so."""
        return [[ts, encode_key(key)] for ts, _, key in self._sorted]

    def restore(
        self, data: list[list[Any]], decode_key: Callable[[Any], Hashable] = _same
    ) -> None:
        """Replace all timers with those of a :meth:`snapshot`, keeping their firing order."""
        self.__init__()
        try:
            for ts, key in data:
                if type(ts) is not int:
                    raise SnapshotError(f"timer time must be an int, got {ts!r}")
                self.register(decode_key(key), ts)
        except (TypeError, ValueError) as exc:
            raise SnapshotError(f"corrupt timer snapshot: {exc}") from exc
