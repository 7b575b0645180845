"""Buffer out-of-order events until the watermark says their time is complete.

Events come out in event-time order; events with equal timestamps come out in arrival order,
which a monotonically increasing arrival sequence number gives us for free (it is also the
tie-breaker that keeps keys and events, which need not be orderable, out of comparisons).

Why ``heapq`` and not ``SortedList``: measured on 200k events with the push-then-release
pattern the driver produces (one push, about one pop per event), heapq cost ~0.48 us/event
both in order and with jitter, SortedList 1.6-2.0 us/event. We never need random deletion or
ordered iteration on the hot path, only push and pop-min, which is exactly what a binary heap
in C does best; the O(n log n) sort for a snapshot is rare.
"""

from __future__ import annotations

from heapq import heapify, heappop, heappush
from typing import Any, Callable, Hashable, Iterator

from cep.errors import SnapshotError

__all__ = ["ReorderBuffer"]


def _same(x: Any) -> Any:
    return x


class ReorderBuffer:
    """A min-heap of ``(ts, seq, key, event)`` entries.

    ``entries`` is the heap list itself. It is public so the event-time driver's hot loop can
    ``heappush``/read ``entries[0]`` without a method call per event; anyone else should use
    :meth:`push` and :meth:`release`.
    """

    __slots__ = ("entries", "seq")

    def __init__(self) -> None:
        self.entries: list[tuple[int, int, Hashable, Any]] = []
        self.seq = 0  # next arrival sequence number

    def __len__(self) -> int:
        return len(self.entries)

    def push(self, ts: int, key: Hashable, event: Any) -> None:
        seq = self.seq
        self.seq = seq + 1
        heappush(self.entries, (ts, seq, key, event))

    def peek_ts(self) -> int | None:
        """Timestamp of the next event to release, or None when empty."""
        return self.entries[0][0] if self.entries else None

    def pop(self) -> tuple[int, Hashable, Any]:
        ts, _, key, event = heappop(self.entries)
        return ts, key, event

    def release(self, watermark: int) -> Iterator[tuple[int, Hashable, Any]]:
        """Remove and yield ``(ts, key, event)`` with ``ts <= watermark``, in order."""
        entries = self.entries
        while entries and entries[0][0] <= watermark:
            ts, _, key, event = heappop(entries)
            yield ts, key, event

    def snapshot(self, encode_key: Callable[[Hashable], Any] = _same) -> dict[str, Any]:
        """``{"seq": next_seq, "entries": [[ts, seq, key, event], ...]}``, sorted."""
        return {
            "seq": self.seq,
            "entries": [
                [ts, seq, encode_key(key), event] for ts, seq, key, event in sorted(
                    self.entries, key=lambda e: (e[0], e[1])
                )
            ],
        }

    def restore(
        self, data: dict[str, Any], decode_key: Callable[[Any], Hashable] = _same
    ) -> None:
        try:
            entries = [(int(ts), int(seq), decode_key(key), event)
                       for ts, seq, key, event in data["entries"]]
            seq = int(data["seq"])
        except (KeyError, TypeError, ValueError) as exc:
            raise SnapshotError(f"corrupt reorder-buffer snapshot: {exc!r}") from exc
        if len({e[1] for e in entries}) != len(entries):
            raise SnapshotError("corrupt reorder-buffer snapshot: duplicate arrival sequence")
        if entries and seq <= max(e[1] for e in entries):
            raise SnapshotError("corrupt reorder-buffer snapshot: seq behind buffered entries")
        heapify(entries)
        self.entries = entries
        self.seq = seq
