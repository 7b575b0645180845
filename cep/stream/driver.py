"""The keyed event-time operator: owns time so the processor (the NFA) never reads a clock.

:class:`EventTimeDriver` sits between a source and a :class:`KeyedProcessor`. It

1. reads each event's time (``time_of``) and key (``key_of``),
2. rejects late events (``ts <= watermark``; the caller counts and writes them),
3. buffers on-time events until the watermark passes them,
4. then hands events and due timers to the processor in event-time order.

Ordering contract, for every time ``T`` the watermark passes:

* timers due at ``T`` fire *before* events with ``ts == T`` (a ``within`` deadline at ``T``
  must prune partial matches before an event at ``T`` can extend them);
* events with equal ``ts`` are processed in arrival order;
* timers with equal ``ts`` fire in registration order;
* a timer registered for a time the watermark has already passed (typically ``T`` itself,
  from inside a callback at ``T``) fires next, before anything later.

Without ``time_of`` (no time clause) events are processed at once in arrival order with
``ts`` = arrival index (0, 1, 2, ...); nothing is buffered or late, and timers are measured in
events: a timer at ``n`` fires before the event with index ``n``.

Callbacks must not call :meth:`EventTimeDriver.add`, :meth:`~EventTimeDriver.advance_watermark`
or :meth:`~EventTimeDriver.finish`; they may register and delete timers.
"""

from __future__ import annotations

from heapq import heappop, heappush
from typing import Any, Callable, Hashable, Protocol, Sequence

from cep.errors import EventError, SnapshotError
from cep.state.timers import TimerService
from cep.stream.fused import driver_add_many
from cep.stream.reorder import ReorderBuffer
from cep.stream.watermarks import END_OF_TIME, MIN_WATERMARK, BoundedOutOfOrderness

__all__ = [
    "SNAPSHOT_FORMAT",
    "SNAPSHOT_VERSION",
    "KeyedProcessor",
    "TimerContext",
    "EventTimeDriver",
    "encode_key",
    "decode_key",
]

SNAPSHOT_FORMAT = "cep.driver"
SNAPSHOT_VERSION = 1

_NO_TIMER = END_OF_TIME + 1  # later than any watermark, so "next timer due?" is one compare
_HELD = END_OF_TIME - MIN_WATERMARK + 1  # the lateness of a driver whose watermark is external


class TimerContext(Protocol):
    """What a processor may ask of the operator that drives it."""

    @property
    def watermark(self) -> int: ...

    def register_timer(self, key: Hashable, ts: int) -> None: ...

    def delete_timer(self, key: Hashable, ts: int) -> None: ...


class KeyedProcessor(Protocol):
    """Per-key logic driven in event-time order (the NFA implements this).

    ``bind`` is called once by the driver's constructor with the :class:`TimerContext` to use
    for timers. ``snapshot`` returns JSON-able data (use :func:`encode_key` for keys) that
    ``restore`` accepts on a freshly bound processor.
    """

    def bind(self, timers: TimerContext) -> None: ...

    def on_event(self, key: Hashable, ts: int, event: Any) -> None: ...

    def on_timer(self, key: Hashable, ts: int) -> None: ...

    def snapshot(self) -> Any: ...

    def restore(self, data: Any) -> None: ...


def encode_key(key: Hashable) -> Any:
    """Make a key JSON-able: scalars stay, tuples become ``{"t": [...]}`` (recursively).

    A dict can never be a key (it is unhashable), so a dict in the encoded form is always a
    tuple, and :func:`decode_key` gives back exactly the original, tuple-ness included.
    """
    kind = type(key)
    if kind is tuple:
        return {"t": [encode_key(k) for k in key]}
    if key is None or kind is str or kind is int or kind is float or kind is bool:
        return key
    raise SnapshotError(
        f"key {key!r} of type {kind.__name__} cannot be snapshotted; "
        "keys must be str, int, float, bool, None or tuples of those"
    )


def decode_key(data: Any) -> Hashable:
    """Inverse of :func:`encode_key`."""
    if type(data) is dict:
        try:
            items = data["t"]
        except KeyError:
            raise SnapshotError(f"corrupt encoded key {data!r}") from None
        return tuple(decode_key(x) for x in items)
    if type(data) is list:
        raise SnapshotError(f"corrupt encoded key {data!r}: lists are not keys")
    return data


class EventTimeDriver:
    """Keyed event-time operator; see the module docstring for the ordering contract."""

    def __init__(
        self,
        processor: KeyedProcessor,
        *,
        time_of: Callable[[Any], int] | None,
        key_of: Callable[[Any], Hashable],
        lateness_ms: int | None = None,
        buffered: bool = True,
        ordered: bool = True,
        external_watermark: bool = False,
    ) -> None:
        if lateness_ms is not None:
            BoundedOutOfOrderness(lateness_ms)  # validates: a non-negative int
        self._processor = processor
        self._time_of = time_of
        self._key_of = key_of
        self._lateness = (lateness_ms or 0) if time_of is not None else None
        self._lateness1 = (lateness_ms or 0) + 1
        if external_watermark:
            # Events do not move the watermark; only advance_watermark() does (a source
            # watermark computed over several drivers). With this lateness no event time can
            # raise it: ts - _HELD < MIN_WATERMARK for every representable time.
            self._lateness1 = _HELD
        self._on_event = processor.on_event
        self._on_timer = processor.on_timer
        self._buffer = ReorderBuffer()
        # The hot loop appends to / pushes on the buffer's two structures directly.
        self._run = self._buffer.run
        self._heap = self._buffer.heap
        self._timers = TimerService()
        self._next_timer = _NO_TIMER
        self._seq = 0  # next arrival sequence; only accepted events get one
        self._max_ts = MIN_WATERMARK
        self._wm = MIN_WATERMARK
        self.late = 0
        self.invalid = 0  # events whose time or key could not be read (the caller dead-letters)
        # Pick the add() variant once; the instance attribute shadows the method below and
        # saves a mode test per event.
        self._buffered = buffered
        # ordered=False: events go to the processor on arrival (late ones still refused) and
        # timers fire by the watermark. For processors whose result does not depend on the
        # order of events (tumbling windows of sums and counts), the reorder buffer is pure cost.
        self._ordered = ordered
        if time_of is None:
            self.add = self._add_arrival
        elif not buffered:
            self.add = self._add_immediate
        elif ordered:
            self.add = self._add_timed
        else:
            self.add = self._add_unordered
        processor.bind(self)
        # The batch loop of the event-time modes is generated for this driver (cep.stream.fused):
        # the time and key reads inlined when they are plain fields, and a processor may offer
        # one with itself inlined as well (tumbling and rolling windows); same effect as add().
        if self._mode.startswith("event_time"):
            fuse = getattr(processor, "fused_add_many", None)
            self.add_many = (fuse(self) if fuse is not None else None) or driver_add_many(self)

    # -- public surface ------------------------------------------------------------------

    def add(self, event: Any) -> bool:
        """Feed one event; True if accepted, False if late (the processor never sees it).

        :class:`~cep.errors.EventTimeError` from ``time_of`` (and errors from ``key_of``)
        propagate so the caller can dead-letter the event.
        """
        return self.add(event)  # replaced per instance in __init__

    @property
    def _mode(self) -> str:
        if self._time_of is None:
            return "arrival"
        if not self._buffered:
            return "immediate"
        return "event_time" if self._ordered else "event_time_unordered"

    @property
    def watermark(self) -> int:
        return self._wm

    @property
    def max_event_time(self) -> int:
        """The newest event time accepted so far (MIN_WATERMARK before any)."""
        return self._max_ts

    @property
    def accepted(self) -> int:
        """Events accepted so far (equal to the arrival sequence, which only they advance)."""
        return self._seq

    @property
    def buffered(self) -> int:
        return len(self._buffer)

    @property
    def pending_timers(self) -> int:
        return len(self._timers)

    def register_timer(self, key: Hashable, ts: int) -> None:
        """Call ``processor.on_timer(key, ts)`` once the watermark reaches ``ts``."""
        if type(ts) is not int or not MIN_WATERMARK < ts <= END_OF_TIME:
            raise ValueError(f"timer time must be an int in the watermark range, got {ts!r}")
        if self._timers.register(key, ts) and ts < self._next_timer:
            self._next_timer = ts

    def delete_timer(self, key: Hashable, ts: int) -> None:
        """Cancel a timer; a no-op if it does not exist."""
        if self._timers.delete(key, ts) and ts == self._next_timer:
            nxt = self._timers.peek()
            self._next_timer = _NO_TIMER if nxt is None else nxt

    def advance_watermark(self, watermark: int) -> None:
        """Move the watermark forward (never back) and process everything now due."""
        if watermark > self._wm:
            self._wm = watermark
        self._release(self._wm)

    def finish(self) -> None:
        """End of bounded input: release every buffered event and fire every timer."""
        self.advance_watermark(END_OF_TIME)

    # -- hot path ------------------------------------------------------------------------

    def _add_timed(self, event: Any) -> bool:
        try:
            ts = self._time_of(event)
            wm = self._wm
            if ts <= wm:
                self.late += 1
                return False
            key = self._key_of(event)
        except EventError:
            self.invalid += 1
            raise
        seq = self._seq
        self._seq = seq + 1
        run = self._run
        if not run or ts >= run[-1][0]:
            run.append((ts, seq, key, event))
        else:
            heappush(self._heap, (ts, seq, key, event))
        if ts > self._max_ts:
            self._max_ts = ts
            new_wm = ts - self._lateness1
            if new_wm > wm:
                self._wm = new_wm
                if self._heap or self._next_timer <= new_wm:
                    self._release(new_wm)
                else:
                    # The common case, inlined: events in order, no timer due. Release what
                    # the new watermark passed with a popleft each, no call per event.
                    on_event = self._on_event
                    popleft = run.popleft
                    while run and run[0][0] <= new_wm:
                        entry = popleft()
                        on_event(entry[2], entry[0], entry[3])
                        if self._heap or self._next_timer <= new_wm:
                            self._release(new_wm)  # the processor registered a due timer
                            break
        return True

    def add_many(self, events: Sequence[Any]) -> list[tuple[int, str | None]]:
        """Feed a batch of JSON objects in order; return the problems as ``(index, reason)``.

        ``reason`` is None for a late event and the error message for an event whose time or
        key cannot be read. The effect is exactly that of :meth:`add` on each event in turn;
        replay uses this form because a loop keeps the driver's state in local variables
        instead of attributes, which is most of the driver's cost per event. In the event-time
        modes the instance has a generated loop in place of this method (see ``__init__``).
        """
        return self._add_many_arrival(events)

    def _tally(self, problems: list[tuple[int, str | None]]) -> None:
        """Count a batch's late (reason None) and unusable events."""
        late = sum(1 for _, reason in problems if reason is None)
        self.late += late
        self.invalid += len(problems) - late

    def _add_many_arrival(self, events: Sequence[Any]) -> list[tuple[int, str | None]]:
        problems: list[tuple[int, str | None]] = []
        add = self.add
        for index, event in enumerate(events):
            try:
                if not add(event):
                    problems.append((index, None))
            except EventError as exc:  # counted by add
                problems.append((index, str(exc)))
        return problems

    def _add_unordered(self, event: Any) -> bool:
        try:
            ts = self._time_of(event)
            wm = self._wm
            if ts <= wm:
                self.late += 1
                return False
            key = self._key_of(event)
        except EventError:
            self.invalid += 1
            raise
        self._seq += 1
        if ts > self._max_ts:
            self._max_ts = ts
            if ts - self._lateness1 > wm:
                # Timers the new watermark passed fire first: they are all older than this
                # event (the watermark stays below its time).
                self._wm = wm = ts - self._lateness1
                if self._next_timer <= wm:
                    self._release(wm)
        self._on_event(key, ts, event)
        return True

    def _add_immediate(self, event: Any) -> bool:
        """Unbuffered event time (``buffered=False``): each event is processed at once, in
        arrival order, with its own timestamp, the way Flink's NFA test harness feeds an NFA.
        Timers due at or before the event's time fire first; nothing is ever late."""
        try:
            ts = self._time_of(event)
            key = self._key_of(event)
        except EventError:
            self.invalid += 1
            raise
        self._seq += 1
        if ts > self._max_ts:
            self._max_ts = ts
        if self._next_timer <= ts:
            self._release(ts)
        if ts > self._wm:
            self._wm = ts
        self._on_event(key, ts, event)
        if self._next_timer <= ts:
            self._release(ts)
        return True

    def _add_arrival(self, event: Any) -> bool:
        try:
            key = self._key_of(event)
        except EventError:
            self.invalid += 1
            raise
        ts = self._seq
        self._seq = ts + 1
        if self._next_timer <= ts:
            self._release(ts)  # timers at ts fire before the event at ts
        self._wm = ts
        self._on_event(key, ts, event)
        if self._next_timer <= ts:
            self._release(ts)  # timers the event registered for ts itself
        return True

    def _release(self, wm: int) -> None:
        """Process buffered events and timers with time <= wm, timers first at equal time."""
        run = self._run
        heap = self._heap
        on_event = self._on_event
        if not heap and self._next_timer > wm:
            # The common case: events in order and no timer due. A tight loop that only has to
            # watch for a timer the processor registers for a time already passed.
            popleft = run.popleft
            while run and run[0][0] <= wm:
                ets, _, k, ev = popleft()
                on_event(k, ets, ev)
                if self._next_timer <= wm or heap:
                    break
        while True:
            nt = self._next_timer
            if run or heap:
                if run and (not heap or run[0] < heap[0]):  # arrival seqs are unique
                    entry = run[0]
                    ts = entry[0]
                    if nt > ts:
                        if ts > wm:
                            return
                        run.popleft()
                        on_event(entry[2], ts, entry[3])
                        continue
                else:
                    entry = heap[0]
                    ts = entry[0]
                    if nt > ts:
                        if ts > wm:
                            return
                        heappop(heap)
                        on_event(entry[2], ts, entry[3])
                        continue
            if nt > wm:
                return
            self._fire_next_timer()

    def _fire_next_timer(self) -> None:
        timers = self._timers
        ts, key = timers.pop()
        nxt = timers.peek()
        # Update before the callback so timers it registers or deletes see a true state.
        self._next_timer = _NO_TIMER if nxt is None else nxt
        self._on_timer(key, ts)

    # -- snapshot ------------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """The whole operator as a JSON-able dict; see docs/state-format.md."""
        self._buffer.seq = self._seq
        return {
            "format": SNAPSHOT_FORMAT,
            "version": SNAPSHOT_VERSION,
            "mode": self._mode,
            "lateness_ms": self._lateness,
            "watermark": {"max_ts": self._max_ts, "current": self._wm},
            "seq": self._seq,
            "late": self.late,
            "invalid": self.invalid,
            "buffer": self._buffer.snapshot(encode_key)["entries"],
            "timers": self._timers.snapshot(encode_key),
            "processor": self._processor.snapshot(),
        }

    def restore(self, data: dict[str, Any]) -> None:
        """Replace all state with a :meth:`snapshot` (usually after ``json.loads``).

        The configured lateness applies from here on; the restored watermark is kept as is,
        since a watermark never goes backwards.
        """
        if not isinstance(data, dict) or data.get("format") != SNAPSHOT_FORMAT:
            raise SnapshotError(f"not a {SNAPSHOT_FORMAT} snapshot")
        version = data.get("version")
        if version != SNAPSHOT_VERSION:
            raise SnapshotError(
                f"unsupported {SNAPSHOT_FORMAT} snapshot version {version!r}; "
                f"this cep reads version {SNAPSHOT_VERSION}"
            )
        mode = self._mode
        if data.get("mode") != mode:
            raise SnapshotError(
                f"snapshot was taken in {data.get('mode')!r} mode but this driver runs in "
                f"{mode!r} mode (was the time clause added or removed?)"
            )
        try:
            wm = data["watermark"]
            max_ts, current = wm["max_ts"], wm["current"]
            seq, late = data["seq"], data["late"]
            for name, value in (("max_ts", max_ts), ("current", current), ("seq", seq),
                                ("late", late)):
                if type(value) is not int:
                    raise SnapshotError(f"snapshot field {name!r} must be an int, got {value!r}")
            self._buffer.restore({"seq": seq, "entries": data["buffer"]}, decode_key)
            self._timers.restore(data["timers"], decode_key)
            processor_data = data["processor"]
        except (KeyError, TypeError) as exc:
            raise SnapshotError(f"corrupt {SNAPSHOT_FORMAT} snapshot: {exc!r}") from exc
        self._run = self._buffer.run
        self._heap = self._buffer.heap
        nxt = self._timers.peek()
        self._next_timer = _NO_TIMER if nxt is None else nxt
        self._seq = seq
        self._max_ts = max_ts
        self._wm = current
        self.late = late
        self.invalid = data.get("invalid", 0)
        self._processor.restore(processor_data)
