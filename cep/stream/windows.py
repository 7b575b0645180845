"""Time windows per key: tumbling, sliding and session, fired by event-time timers.

A window pattern's operator is a keyed processor for the same event-time driver the NFA uses,
so windows get the same watermarks, the same lateness rule and the same end-of-input flush:
events reach the operator in event-time order once the watermark passes them; a window fires
once, when the watermark reaches its end: its timer is at ``end``, so it fires after every event
of its last millisecond and before any event of the next window (timers fire before events of
the same time). An event for a window that has fired is necessarily late (its time is behind
the watermark), so it never reaches the operator.

Windows are aligned to the epoch: a tumbling window of size D covers ``[k*D, (k+1)*D)``; a sliding
window of size D every S covers ``[k*S, k*S + D)``. A session covers its events' times plus the
gap: it closes when ``gap`` passes with no event of its key. Because events arrive in time
order, an event that arrives late but within the lateness bound and falls between two sessions
is released before either has fired and joins them into one, the result Flink gets by merging.

Per window the state is one accumulator per aggregate (constant size for the algebraic ones)
and the window's last event — never its list of events.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Hashable

from cep.errors import SnapshotError
from cep.stream.driver import TimerContext, decode_key, encode_key
from cep.stream.fused import fused_tumbling_add_many
from cep.stream.plans import AggregatePlan

__all__ = ["AggregateSpec", "WindowSpec", "WindowCallback", "WindowFilter", "TimeWindowOperator", "make_window_operator"]

WindowCallback = Callable[[Hashable, int, int, list[Any], Any], None]
"""``on_window(key, start, end, aggregate_results, last_event)``; ``end`` exclusive for time
windows, the newest event's time for rolling and count windows."""

WindowFilter = Callable[[list[Any], int, int, Any], bool]
"""``accept(aggregate_results, start, end, last_event)``: whether a window is worth reporting,
tested before ``on_window`` (a pattern's ``having``, when it does not read the window bounds)."""

SNAPSHOT_FORMAT = "cep.windows"

# The timer key of aligned windows' shared end-of-window timers. A one-element tuple, so it
# encodes in snapshots like any key and no user key can equal it: a one-field key is the field's
# value itself, never a tuple, and keys of several fields are tuples of two or more.
_ALIGNED = ("\x00cep:aligned-window-end",)
SNAPSHOT_VERSION = 1


@dataclass(frozen=True, slots=True)
class AggregateSpec:
    """One aggregate of a window pattern: an accumulator kind and the per-event value it takes."""

    kind: str  # an aggregate of cep.stream.plans ("count()" counts every event)
    value: Callable[[Any], Any] | None = None
    field: str | None = None  # when the value is just a top-level field: read it inline


@dataclass(frozen=True, slots=True)
class WindowSpec:
    kind: str  # "tumbling" | "sliding" | "session" | "rolling" | "count"
    size_ms: int | None = None
    slide_ms: int | None = None
    gap_ms: int | None = None
    count: int | None = None
    count_every: int | None = None


class _Window:
    __slots__ = ("start", "end", "state", "last", "first_at", "last_ts")

    def __init__(self, start: int, end: int, state: list[Any]) -> None:
        self.start = start
        self.end = end
        self.state = state  # the aggregate plan's slots
        self.last: Any = None
        # Events arriving out of order (unordered mode): (time, arrival) of the window's first
        # event, which sets the firing order, and the time of the event kept as `last`.
        self.first_at: tuple[int, int] = (0, 0)
        self.last_ts = 0


class _WindowBase:
    """What all window operators share: aggregates, the where filter, callbacks."""

    REMOVABLE = False  # whether the aggregate plan must support removing the oldest values

    def __init__(
        self,
        spec: WindowSpec,
        aggregates: tuple[AggregateSpec, ...],
        on_window: WindowCallback,
        where: Callable[[Any], bool] | None = None,
        accept: WindowFilter | None = None,
    ) -> None:
        self.spec = spec
        self.aggregates = aggregates
        self.on_window = on_window
        self.where = where
        self.accept = accept
        self.timers: TimerContext | None = None
        self._kinds = [a.kind for a in aggregates]
        self.plan = AggregatePlan(tuple(self._kinds), tuple(a.value for a in aggregates), self.REMOVABLE,
                                  tuple(a.field for a in aggregates))
        self.fired = 0

    def bind(self, timers: TimerContext) -> None:
        self.timers = timers

    def _fire(self, key: Hashable, start: int, end: int, state: list[Any], last: Any) -> None:
        self.fired += 1
        results = self.plan.results(state)
        if self.accept is None or self.accept(results, start, end, last):
            self.on_window(key, start, end, results, last)


class TimeWindowOperator(_WindowBase):
    """Tumbling and sliding windows (several open windows per key) and sessions (one).

    ``ordered=False`` (tumbling and sliding windows whose aggregates ignore event order) takes
    events as they arrive instead of from the reorder buffer, as Flink's window operator does:
    each window keeps its newest event by time and fires, among windows ending together, in the
    order of its first event — the same output as the ordered path, at less cost per event.
    """

    def __init__(self, spec: WindowSpec, aggregates: tuple[AggregateSpec, ...], on_window: WindowCallback,
                 where: Callable[[Any], bool] | None = None, ordered: bool = True,
                 accept: WindowFilter | None = None) -> None:
        super().__init__(spec, aggregates, on_window, where, accept)
        self.ordered = ordered
        self._arrivals = 0
        self.keys: dict[Hashable, dict[int, _Window]] = {}
        # Aligned windows (tumbling, sliding) end at the same times for every key, so they share
        # one timer per end time: `ends` lists, per end, the keys with a window ending then, in
        # the order their windows opened (the firing order). Sessions use a timer per key.
        self.ends: dict[int, list[Hashable]] = {}
        self._session = spec.kind == "session"
        self._tumbling = spec.kind == "tumbling"
        if self._session:
            self._gap = spec.gap_ms or spec.size_ms
        else:
            self._size = spec.size_ms
            self._slide = spec.slide_ms if spec.kind == "sliding" else spec.size_ms
        self.on_event = self._make_on_event()

    def starts(self, ts: int) -> list[int]:
        """Starts of the aligned windows containing ``ts``, oldest first."""
        size, slide = self._size, self._slide
        last = ts - ts % slide  # Python's % floors, so negative times align too
        starts = []
        start = last
        while start > ts - size:
            starts.append(start)
            start -= slide
        starts.reverse()
        return starts

    def _make_on_event(self) -> Callable[[Hashable, int, Any], None]:
        """The per-event entry point, specialised for the window kind (tumbling is hottest)."""
        keys = self.keys
        add = self.plan.add
        new_state = self.plan.new_state
        where = self.where

        if self._tumbling and not self.ordered:
            size = self._size

            def on_event_unordered(key: Hashable, ts: int, event: Any) -> None:
                if where is not None and not where(event):
                    return
                self._arrivals = n = self._arrivals + 1
                windows = keys.get(key)
                if windows is None:
                    windows = keys[key] = {}
                start = ts - ts % size
                window = windows.get(start)
                if window is None:
                    window = windows[start] = _Window(start, start + size, new_state())
                    window.first_at = (ts, n)
                    window.last_ts = ts
                    window.last = event
                    self._schedule(key, start + size)
                else:
                    if ts < window.first_at[0]:
                        window.first_at = (ts, n)
                    if ts >= window.last_ts:  # ties: the later arrival, as in time order
                        window.last_ts = ts
                        window.last = event
                add(window.state, event)

            return on_event_unordered

        if self._tumbling:
            size = self._size

            def on_event(key: Hashable, ts: int, event: Any) -> None:
                if where is not None and not where(event):
                    return
                windows = keys.get(key)
                if windows is None:
                    windows = keys[key] = {}
                start = ts - ts % size  # the one window containing ts
                window = windows.get(start)
                if window is None:
                    window = windows[start] = _Window(start, start + size, new_state())
                    self._schedule(key, start + size)
                add(window.state, event)
                window.last = event

            return on_event

        def on_event_general(key: Hashable, ts: int, event: Any) -> None:
            if where is not None and not where(event):
                return
            windows = keys.get(key)
            if windows is None:
                windows = keys[key] = {}
            if self._session:
                self._add_to_session(key, windows, ts, event)
                return
            for start in self.starts(ts):
                window = windows.get(start)
                if window is None:
                    window = windows[start] = _Window(start, start + self._size, new_state())
                    self._schedule(key, window.end)
                add(window.state, event)
                window.last = event

        return on_event_general

    def fused_add_many(self, driver: Any) -> Callable[[Any], Any] | None:
        """The driver's batch loop with this operator inlined (cep.stream.fused), if it fits."""
        return fused_tumbling_add_many(driver, self, _Window)

    def _schedule(self, key: Hashable, end: int) -> None:
        waiting = self.ends.get(end)
        if waiting is None:
            self.ends[end] = [key]
            self.timers.register_timer(_ALIGNED, end)  # type: ignore[union-attr]
        else:
            waiting.append(key)

    def _add_to_session(self, key: Hashable, windows: dict[int, _Window], ts: int, event: Any) -> None:
        session = next(iter(windows.values()), None)
        if session is not None and ts >= session.end:
            # Cannot happen with the driver's ordering (the session's timer at its end fires
            # before any event at or after the end), but never merge across a closed gap.
            del windows[session.start]
            self._fire(key, session.start, session.end, session.state, session.last)
            session = None
        if session is None:
            session = windows[ts] = _Window(ts, ts + self._gap, self.plan.new_state())
            self.timers.register_timer(key, session.end)  # type: ignore[union-attr]
        elif ts + self._gap > session.end:
            self.timers.delete_timer(key, session.end)  # type: ignore[union-attr]
            session.end = ts + self._gap
            self.timers.register_timer(key, session.end)  # type: ignore[union-attr]
        self.plan.add(session.state, event)
        session.last = event

    def on_timer(self, key: Hashable, ts: int) -> None:
        if key == _ALIGNED and not self._session:
            waiting = self.ends.pop(ts, [])
            start = ts - self._size  # each waiting key has exactly this window ending now
            keys = self.keys
            if not self.ordered:
                # Arrival order is not time order here: fire as the ordered path would, by
                # the (time, arrival) of each window's first event.
                waiting.sort(key=lambda k: keys[k][start].first_at)
            for each in waiting:
                windows = keys[each]
                window = windows.pop(start)
                if not windows:
                    del keys[each]
                self._fire(each, start, ts, window.state, window.last)
            return
        self._fire_due(key, ts)

    def _fire_due(self, key: Hashable, ts: int) -> None:
        windows = self.keys.get(key)
        if not windows:
            return
        due = sorted(start for start, w in windows.items() if w.end <= ts)
        for start in due:
            window = windows.pop(start)
            self._fire(key, window.start, window.end, window.state, window.last)
        if not windows:
            del self.keys[key]

    def end_of_input(self) -> None:
        """Nothing to do: the driver's finish() fired every window's timer."""

    @property
    def open_windows(self) -> int:
        return sum(len(w) for w in self.keys.values())

    def snapshot(self) -> dict[str, Any]:
        return {
            "format": SNAPSHOT_FORMAT,
            "version": SNAPSHOT_VERSION,
            "kind": self.spec.kind,
            "fired": self.fired,
            "arrivals": self._arrivals,
            "keys": [
                [encode_key(key), [[w.start, w.end, self.plan.encode(w.state), w.last, list(w.first_at), w.last_ts]
                                   for w in windows.values()]]
                for key, windows in self.keys.items()
            ],
            "ends": [[end, [encode_key(k) for k in keys]] for end, keys in self.ends.items()],
        }

    def restore(self, data: dict[str, Any]) -> None:
        _check_snapshot(data, self.spec.kind)
        self.fired = data["fired"]
        self._arrivals = data.get("arrivals", 0)
        self.keys.clear()  # the same dict: on_event holds a reference to it
        for key, windows in data["keys"]:
            restored: dict[int, _Window] = {}
            for start, end, state, last, first_at, last_ts in windows:
                window = _Window(start, end, self.plan.decode(state))
                window.last = last
                window.first_at = tuple(first_at)  # type: ignore[assignment]
                window.last_ts = last_ts
                restored[start] = window
            self.keys[decode_key(key)] = restored
        self.ends = {end: [decode_key(k) for k in keys] for end, keys in data.get("ends", [])}


def _check_snapshot(data: dict[str, Any], kind: str) -> None:
    if data.get("format") != SNAPSHOT_FORMAT or data.get("version") != SNAPSHOT_VERSION:
        raise SnapshotError(f"not a {SNAPSHOT_FORMAT} snapshot of version {SNAPSHOT_VERSION}")
    if data.get("kind") != kind:
        raise SnapshotError(f"snapshot holds {data.get('kind')} windows, the pattern has {kind} windows")


ORDER_SENSITIVE = frozenset({"first", "last"})


def order_insensitive(spec: WindowSpec, aggregates: tuple[AggregateSpec, ...]) -> bool:
    """Whether the operator may take events in arrival order (see TimeWindowOperator)."""
    return spec.kind == "tumbling" and not any(a.kind in ORDER_SENSITIVE for a in aggregates)


def make_window_operator(
    spec: WindowSpec,
    aggregates: tuple[AggregateSpec, ...],
    on_window: WindowCallback,
    where: Callable[[Any], bool] | None = None,
    ordered: bool = True,
    accept: WindowFilter | None = None,
) -> Any:
    """The operator for ``spec.kind``; all are keyed processors for the event-time driver."""
    if spec.kind in ("tumbling", "sliding", "session"):
        return TimeWindowOperator(spec, aggregates, on_window, where, ordered, accept)
    from cep.stream.rolling import CountWindowOperator, RollingOperator

    if spec.kind == "rolling":
        return RollingOperator(spec, aggregates, on_window, where, accept)
    if spec.kind == "count":
        return CountWindowOperator(spec, aggregates, on_window, where, accept)
    raise ValueError(f"unknown window kind {spec.kind!r}")
