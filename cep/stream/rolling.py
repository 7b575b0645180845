"""Windows over the most recent events of a key: ``rolling D`` and ``count N [every M]``.

Both keep the events still inside the window in a deque (they must know what leaves) and update
their accumulators incrementally: the newest event is added, the ones that fall out are removed
oldest first, so no window is ever rescanned (``first``/``last`` read the deque's ends).

* ``rolling D``: for every event, the key's events of the last D up to and including it, i.e.
  times in ``[ts - D, ts]`` among the events processed so far (SQL's
  ``RANGE BETWEEN INTERVAL D PRECEDING AND CURRENT ROW``, except that an event with the same time
  arriving later is not yet part of it). Evaluated once per event, when the event is processed.
  A timer at ``newest + D + 1`` drops the key's state when it goes quiet.
* ``count N``: every N events of a key, the aggregates over those N. ``count N every M``: every M
  events, once N have been seen, the aggregates over the last N. An incomplete count window is
  not emitted at the end of the input (Flink's count windows behave the same).
"""

from __future__ import annotations

from collections import deque
from typing import Any, Callable, Hashable

from cep.stream.aggregates import NEEDS_HISTORY
from cep.stream.driver import decode_key, encode_key
from cep.stream.windows import AggregateSpec, WindowCallback, WindowSpec, _check_snapshot, _WindowBase

__all__ = ["RollingOperator", "CountWindowOperator"]


class _Recent:
    """A key's recent events (ts, per-aggregate values, event) and the plan state following them."""

    __slots__ = ("entries", "state", "seen", "timer")

    def __init__(self, state: list[Any]) -> None:
        self.entries: deque[tuple[int, tuple[Any, ...], Any]] = deque()
        self.state = state
        self.seen = 0  # events ever added (count windows)
        self.timer: int | None = None  # pending clean-up timer (rolling)


class _RecentBase(_WindowBase):
    REMOVABLE = True

    def __init__(self, spec: WindowSpec, aggregates: tuple[AggregateSpec, ...], on_window: WindowCallback,
                 where: Callable[[Any], bool] | None = None) -> None:
        super().__init__(spec, aggregates, on_window, where)
        self.keys: dict[Hashable, _Recent] = {}
        self._history = [i for i, kind in enumerate(self._kinds) if kind in NEEDS_HISTORY]

    def _push(self, state: _Recent, ts: int, event: Any) -> None:
        state.entries.append((ts, self.plan.add(state.state, event), event))
        state.seen += 1

    def _evict_oldest(self, state: _Recent) -> None:
        _, values, _ = state.entries.popleft()
        self.plan.remove(state.state, values)

    def _results(self, state: _Recent) -> list[Any]:
        results = self.plan.results(state.state)
        for i in self._history:
            ordered = state.entries if self._kinds[i] == "first" else reversed(state.entries)
            results[i] = next((values[i] for _, values, _ in ordered if values[i] is not None), None)
        return results

    def _emit(self, key: Hashable, state: _Recent, start: int, end: int, last: Any) -> None:
        self.fired += 1
        self.on_window(key, start, end, self._results(state), last)

    def end_of_input(self) -> None:
        """Rolling windows were emitted per event; incomplete count windows are not emitted."""

    def snapshot(self) -> dict[str, Any]:
        return {
            "format": "cep.windows",
            "version": 1,
            "kind": self.spec.kind,
            "fired": self.fired,
            "keys": [
                [encode_key(key), [[ts, list(values), event] for ts, values, event in s.entries], s.seen, s.timer,
                 self.plan.encode(s.state)]
                for key, s in self.keys.items()
            ],
        }

    def restore(self, data: dict[str, Any]) -> None:
        _check_snapshot(data, self.spec.kind)
        self.fired = data["fired"]
        self.keys = {}
        for key, entries, seen, timer, plan_state in data["keys"]:
            # The aggregate state is restored as it was, not recomputed from the events: a
            # rolling window's sums after many additions and removals must come back bit-exact.
            state = _Recent(self.plan.decode(plan_state))
            for ts, values, event in entries:
                state.entries.append((ts, tuple(values), event))
            state.seen = seen
            state.timer = timer
            self.keys[decode_key(key)] = state


class RollingOperator(_RecentBase):
    """``rolling D``: each event with the key's events of the last D, evaluated per event."""

    def on_event(self, key: Hashable, ts: int, event: Any) -> None:
        # Push, evict, aggregate and emit in one method: this runs for every event.
        if self.where is not None and not self.where(event):
            return
        plan = self.plan
        state = self.keys.get(key)
        if state is None:
            state = self.keys[key] = _Recent(plan.new_state())
        entries = state.entries
        slots = state.state
        entries.append((ts, plan.add(slots, event), event))
        state.seen += 1
        horizon = ts - self.spec.size_ms  # type: ignore[operator]
        remove = plan.remove
        while entries[0][0] < horizon:
            remove(slots, entries.popleft()[1])
        if state.timer is None:
            state.timer = ts + self.spec.size_ms + 1  # type: ignore[operator]
            self.timers.register_timer(key, state.timer)  # type: ignore[union-attr]
        self.fired += 1
        results = plan.results(slots) if not self._history else self._results(state)
        self.on_window(key, horizon, ts, results, event)

    def on_timer(self, key: Hashable, ts: int) -> None:
        state = self.keys.get(key)
        if state is None or state.timer != ts:
            return
        state.timer = None
        horizon = ts - self.spec.size_ms  # type: ignore[operator]
        while state.entries and state.entries[0][0] < horizon:
            self._evict_oldest(state)
        if not state.entries:
            del self.keys[key]
            return
        state.timer = state.entries[-1][0] + self.spec.size_ms + 1  # type: ignore[operator]
        self.timers.register_timer(key, state.timer)  # type: ignore[union-attr]


class CountWindowOperator(_RecentBase):
    """``count N [every M]``: windows of N events per key, every N (or every M) events.

    With ``every`` at least N (tumbling, or gapped) a window needs only its accumulators; with a
    smaller ``every`` (sliding) the last N events are kept so the oldest can leave.
    """

    def __init__(self, spec: WindowSpec, aggregates: tuple[AggregateSpec, ...], on_window: WindowCallback,
                 where: Callable[[Any], bool] | None = None) -> None:
        # Tumbling (or gapped) count windows never remove a value: a plain plan suffices.
        self.REMOVABLE = (spec.count_every or spec.count) < spec.count  # type: ignore[operator]
        super().__init__(spec, aggregates, on_window, where)

    def on_event(self, key: Hashable, ts: int, event: Any) -> None:
        if self.where is not None and not self.where(event):
            return
        size: int = self.spec.count  # type: ignore[assignment]
        every: int = self.spec.count_every or size
        state = self.keys.get(key)
        if state is None:
            state = self.keys[key] = _Recent(self.plan.new_state())
        if every >= size:
            self._add_tumbling(key, state, ts, event, size, every)
            return
        self._push(state, ts, event)
        if len(state.entries) > size:
            self._evict_oldest(state)
        if state.seen >= size and (state.seen - size) % every == 0:
            self._emit(key, state, state.entries[0][0], ts, event)

    def _add_tumbling(self, key: Hashable, state: _Recent, ts: int, event: Any, size: int, every: int) -> None:
        state.seen += 1
        position = (state.seen - 1) % every  # 0-based place in the current cycle of `every`
        if position >= size:
            return  # a gap between windows (every > size): the event belongs to none
        plan = self.plan
        if position == 0:
            state.state = plan.new_state()
            state.timer = ts  # the window's first time, kept in the spare slot
        plan.add(state.state, event)
        if position == size - 1:
            self.fired += 1
            self.on_window(key, state.timer, ts, plan.results(state.state), event)  # type: ignore[arg-type]

    def on_timer(self, key: Hashable, ts: int) -> None:
        """Count windows register no timers."""
