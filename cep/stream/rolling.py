"""Windows over the most recent events of a key: ``rolling D`` and ``count N [every M]``.

Both keep the events still inside the window in a deque (they must know what leaves) and update
their accumulators incrementally: the newest event is added, the ones that fall out are removed
oldest first, so no window is ever rescanned (``first``/``last`` read the deque's ends).

* ``rolling D``: for every event, the key's events of the last D up to and including it, i.e.
  times in ``[ts - D, ts]`` among the events processed so far (SQL's
  ``RANGE BETWEEN INTERVAL D PRECEDING AND CURRENT ROW``, except that an event with the same time
  arriving later is not yet part of it). Evaluated once per event, when the event is processed.
  A periodic sweep drops the state of keys that went quiet.
* ``count N``: every N events of a key, the aggregates over those N. ``count N every M``: every M
  events, once N have been seen, the aggregates over the last N. An incomplete count window is
  not emitted at the end of the input (Flink's count windows behave the same).
"""

from __future__ import annotations

from collections import deque
from typing import Any, Callable, Hashable

from cep.stream.aggregates import NEEDS_HISTORY
from cep.stream.driver import decode_key, encode_key
from cep.stream.fused import fused_rolling_add_many, fused_rolling_on_event
from cep.stream.windows import AggregateSpec, WindowCallback, WindowFilter, WindowSpec, _check_snapshot, _WindowBase

__all__ = ["RollingOperator", "CountWindowOperator"]

# The timer key of a rolling operator's sweeps: a one-element tuple, which no user key can equal
# (see windows._ALIGNED).
_SWEEP = ("\x00cep:rolling-sweep",)


class _Recent:
    """A key's recent events (ts, per-aggregate values, event) and the plan state following them."""

    __slots__ = ("entries", "state", "seen", "timer")

    def __init__(self, state: list[Any]) -> None:
        # (time, the values the aggregates took from the event): what leaving needs, not the
        # event itself, which would keep every event of the window alive.
        self.entries: deque[tuple[int, tuple[Any, ...]]] = deque()
        self.state = state
        self.seen = 0  # events ever added (count windows)
        self.timer: int | None = None  # pending clean-up timer (rolling)


class _RecentBase(_WindowBase):
    REMOVABLE = True

    def __init__(self, spec: WindowSpec, aggregates: tuple[AggregateSpec, ...], on_window: WindowCallback,
                 where: Callable[[Any], bool] | None = None, accept: WindowFilter | None = None) -> None:
        super().__init__(spec, aggregates, on_window, where, accept)
        self.keys: dict[Hashable, _Recent] = {}
        self._history = [i for i, kind in enumerate(self._kinds) if kind in NEEDS_HISTORY]

    def _push(self, state: _Recent, ts: int, event: Any) -> None:
        state.entries.append((ts, self.plan.add(state.state, event)))
        state.seen += 1

    def _evict_oldest(self, state: _Recent) -> None:
        _, values = state.entries.popleft()
        self.plan.remove(state.state, values)

    def _results(self, state: _Recent) -> list[Any]:
        results = self.plan.results(state.state)
        for i in self._history:
            ordered = state.entries if self._kinds[i] == "first" else reversed(state.entries)
            results[i] = next((values[i] for _, values in ordered if values[i] is not None), None)
        return results

    def _emit(self, key: Hashable, state: _Recent, start: int, end: int, last: Any) -> None:
        self.fired += 1
        results = self._results(state)
        if self.accept is None or self.accept(results, start, end, last):
            self.on_window(key, start, end, results, last)

    def end_of_input(self) -> None:
        """Rolling windows were emitted per event; incomplete count windows are not emitted."""

    def snapshot(self) -> dict[str, Any]:
        return {
            "format": "cep.windows",
            "version": 1,
            "kind": self.spec.kind,
            "fired": self.fired,
            "keys": [
                [encode_key(key), [[ts, list(values)] for ts, values in s.entries], s.seen, s.timer,
                 self.plan.encode(s.state)]
                for key, s in self.keys.items()
            ],
        }

    def restore(self, data: dict[str, Any]) -> None:
        _check_snapshot(data, self.spec.kind)
        self.fired = data["fired"]
        self.keys.clear()  # the same dict: the fused on_event holds a reference to it
        for key, entries, seen, timer, plan_state in data["keys"]:
            # The aggregate state is restored as it was, not recomputed from the events: a
            # rolling window's sums after many additions and removals must come back bit-exact.
            state = _Recent(self.plan.decode(plan_state))
            for entry in entries:  # [ts, values], or [ts, values, event] before events were dropped
                state.entries.append((entry[0], tuple(entry[1])))
            state.seen = seen
            state.timer = timer
            self.keys[decode_key(key)] = state


class RollingOperator(_RecentBase):
    """``rolling D``: each event with the key's events of the last D, evaluated per event.

    A key's events leave its window when its next event comes; a key that goes quiet is dropped
    by a periodic sweep instead of a timer per key: one timer every D + 1 of event time visits
    the keys holding state, so memory stays bounded at no per-event timer cost.
    """

    def __init__(self, spec: WindowSpec, aggregates: tuple[AggregateSpec, ...], on_window: WindowCallback,
                 where: Callable[[Any], bool] | None = None, accept: WindowFilter | None = None) -> None:
        super().__init__(spec, aggregates, on_window, where, accept)
        self._size: int = spec.size_ms  # type: ignore[assignment]
        self._sweep: int | None = None  # the pending sweep's time; pending whenever keys hold state
        # The same step with the aggregate plan inlined (cep.stream.fused), when it fits.
        fused = fused_rolling_on_event(self, _Recent)
        if fused is not None:
            self.on_event = fused  # type: ignore[method-assign]

    def on_event(self, key: Hashable, ts: int, event: Any) -> None:
        # Push, evict, aggregate and emit in one method: this runs for every event.
        if self.where is not None and not self.where(event):
            return
        plan = self.plan
        state = self.keys.get(key)
        if state is None:
            state = self.keys[key] = _Recent(plan.new_state())
            if self._sweep is None:
                self._schedule_sweep(ts)
        entries = state.entries
        slots = state.state
        entries.append((ts, plan.add(slots, event)))
        horizon = ts - self._size
        remove = plan.remove
        while entries[0][0] < horizon:
            remove(slots, entries.popleft()[1])
        results = plan.results(slots) if not self._history else self._results(state)
        if self.accept is None or self.accept(results, horizon, ts, event):
            self.on_window(key, horizon, ts, results, event)

    def fused_add_many(self, driver: Any) -> Callable[[Any], Any] | None:
        """The driver's batch loop with this operator's step inlined (cep.stream.fused)."""
        return fused_rolling_add_many(driver, self, _Recent)

    def _schedule_sweep(self, now: int) -> None:
        self._sweep = now + self._size + 1
        self.timers.register_timer(_SWEEP, self._sweep)  # type: ignore[union-attr]

    def on_timer(self, key: Hashable, ts: int) -> None:
        if key == _SWEEP:
            self._sweep = None
            for each in list(self.keys):
                self._evict_before(each, ts - self._size)
            if self.keys:
                self._schedule_sweep(ts)
            return
        # A per-key timer restored from a checkpoint written before sweeps: the same clean-up.
        state = self.keys.get(key)
        if state is not None and state.timer == ts:
            state.timer = None
            self._evict_before(key, ts - self._size)
            if self.keys and self._sweep is None:
                self._schedule_sweep(ts)

    def _evict_before(self, key: Hashable, horizon: int) -> None:
        state = self.keys[key]
        while state.entries and state.entries[0][0] < horizon:
            self._evict_oldest(state)
        if not state.entries:
            del self.keys[key]

    def snapshot(self) -> dict[str, Any]:
        return {**super().snapshot(), "sweep": self._sweep}

    def restore(self, data: dict[str, Any]) -> None:
        super().restore(data)
        self._sweep = data.get("sweep")


class CountWindowOperator(_RecentBase):
    """``count N [every M]``: windows of N events per key, every N (or every M) events.

    With ``every`` at least N (tumbling, or gapped) a window needs only its accumulators; with a
    smaller ``every`` (sliding) the last N events are kept so the oldest can leave.
    """

    def __init__(self, spec: WindowSpec, aggregates: tuple[AggregateSpec, ...], on_window: WindowCallback,
                 where: Callable[[Any], bool] | None = None, accept: WindowFilter | None = None) -> None:
        # Tumbling (or gapped) count windows never remove a value: a plain plan suffices.
        self.REMOVABLE = (spec.count_every or spec.count) < spec.count  # type: ignore[operator]
        super().__init__(spec, aggregates, on_window, where, accept)

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
            self._fire(key, state.timer, ts, state.state, event)  # type: ignore[arg-type]

    def on_timer(self, key: Hashable, ts: int) -> None:
        """Count windows register no timers."""
