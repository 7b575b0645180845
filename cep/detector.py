"""The detector: compiled patterns wired to event-time drivers, fed from named streams.

Each pattern gets its own driver (its own key, time field, lateness and therefore watermark)
and its own NFA operator. An input event is offered to every pattern that reads its stream.
The detector reports per event whether it was accepted, late, or unusable (and why), so the
caller — ``cep replay``, ``cep run``, the test harness — decides where late and dead-lettered
events go; the detector itself never does I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Callable, Hashable, Sequence

from cep.errors import CepError, EventError, SnapshotError
from cep.lang.compiler import CompiledPattern
from cep.lang.functions import get_path
from cep.match import Match
from cep.nfa.buffer import BufferNode, events_by_variable
from cep.nfa.operator import NFAOperator
from cep.nfa.runtime import DEFAULT_MAX_PARTIAL_MATCHES
from cep.stream.driver import EventTimeDriver
from cep.stream.timestamps import format_timestamp_iso, make_time_getter
from cep.stream.windows import make_window_operator, order_insensitive

ACCEPTED = 0
LATE = 1

# Under this name a window pattern's Match.events holds the window's newest event (window
# patterns have no variables, and `window` cannot be one).
WINDOW_EVENT = "window"

SNAPSHOT_FORMAT = "cep.detector"
SNAPSHOT_VERSION = 1


@dataclass(frozen=True, slots=True)
class Stats:
    """Counts since the detector started (restored from snapshots too)."""

    events: int = 0
    accepted: int = 0
    late: int = 0
    invalid: int = 0
    matches: int = 0
    dropped: int = 0  # partial matches dropped by the per-key bound


class _PatternRunner:
    """One pattern's driver + operator, and how its outputs become :class:`Match` records."""

    def __init__(self, pattern: CompiledPattern, emit: Callable[[Match], None], buffered: bool = True,
                 max_partial_matches: int | None = DEFAULT_MAX_PARTIAL_MATCHES,
                 external_watermark: bool = False) -> None:
        self.pattern = pattern
        self._emit = emit
        self.operator: Any
        ordered = True
        if pattern.window is not None:
            # Tumbling windows of order-free aggregates take events on arrival, skipping the
            # reorder buffer (same output; see TimeWindowOperator).
            ordered = not (buffered and order_insensitive(pattern.window, pattern.aggregates))
            # `having` on the raw aggregates, before any alert is built, when it does not read
            # the window bounds (which the alert shows in the input's own time format).
            self._having_in_operator = pattern.having is not None and not pattern.having_reads_bounds
            accept = pattern.having if self._having_in_operator else None
            self.operator = make_window_operator(pattern.window, pattern.aggregates, self._on_window, pattern.where,
                                                 ordered, accept)
        else:
            assert pattern.nfa is not None
            on_timeout = self._on_timeout if pattern.timeout_emit is not None else None
            self.operator = NFAOperator(pattern.nfa, self._on_match, on_timeout=on_timeout, where=pattern.where,
                                        max_partial_matches=max_partial_matches, history=pattern.history)
        self.driver = EventTimeDriver(
            self.operator,
            time_of=pattern.time_of,
            key_of=pattern.key_of,
            lateness_ms=pattern.lateness_ms if pattern.time_of is not None else None,
            buffered=buffered,
            ordered=ordered,
            external_watermark=external_watermark,
        )

    def _on_match(self, key: Hashable, node: BufferNode, ts: int) -> None:
        p = self.pattern
        by_var = events_by_variable(node, p.variables)
        last = node.event
        time_value = get_path(last, p.time_path) if p.time_path else None
        if ts != node.ts and p.time_path:
            # An absence completes at its deadline, not at its last event: say when, in the
            # input's own representation of time.
            time_value = format_timestamp_iso(ts) if isinstance(time_value, str) else ts
        self._emit(Match(p.name, key, p.fields_of(by_var, last), by_var, ts, False, time_value))

    def _on_timeout(self, key: Hashable, node: BufferNode, ts: int) -> None:
        """A partial match expired by `within`: output it with what matched so far."""
        p = self.pattern
        by_var = events_by_variable(node, p.variables)
        last = node.event
        fields = {name: fn(by_var, last) for name, fn in p.timeout_emit or ()}
        time_value: Any = ts
        if p.time_path and isinstance(get_path(last, p.time_path), str):
            time_value = format_timestamp_iso(ts)
        self._emit(Match(p.name, key, fields, by_var, ts, True, time_value))

    def _on_window(self, key: Hashable, start: int, end: int, results: list[Any], last: Any) -> None:
        p = self.pattern
        # Window bounds in the input's own terms: ISO-8601 UTC when times came as strings.
        iso = p.time_path is not None and isinstance(get_path(last, p.time_path), str)
        start_value = format_timestamp_iso(start) if iso else start
        end_value = format_timestamp_iso(end) if iso else end
        if p.having is not None and not self._having_in_operator and not p.having(results, start_value, end_value,
                                                                                    last):
            return
        fields = {name: fn(results, start_value, end_value, last) for name, fn in p.emit}
        self._emit(Match(p.name, key, fields, {WINDOW_EVENT: [last]}, end, False, end_value))


class Detector:
    """Runs a set of compiled patterns over events from named streams."""

    def __init__(
        self,
        patterns: Sequence[CompiledPattern],
        on_match: Callable[[Match], None],
        *,
        buffered: bool = True,
        max_partial_matches: int | None = DEFAULT_MAX_PARTIAL_MATCHES,
        external_watermark: bool = False,
    ) -> None:
        """``buffered=False`` processes each event at once in arrival order with its own
        timestamp (no reordering, nothing late), the way Flink's NFA test harness does.
        ``max_partial_matches`` bounds each key's live partial matches (oldest dropped, counted
        in ``stats.dropped``); None removes the bound. ``external_watermark=True``: events do not
        move the watermarks; the owner advances them (``cep run --watermark source``, whose
        watermark is the minimum over several detectors)."""
        self._on_match = on_match
        self._matches = 0
        self._invalid = 0
        # Streams read by several patterns keep their own counts; a stream read by one pattern
        # is counted by that pattern's driver, which keeps the per-event path short.
        self._shared_counts: dict[str, list[int]] = {}
        patterns = _with_composition(patterns)
        self.runners = [_PatternRunner(p, self._emit, buffered, max_partial_matches, external_watermark)
                        for p in patterns]
        # Composition: a pattern reading another pattern's name reads its matches.
        names = {p.name for p in patterns}
        self._downstream: dict[str, list[_PatternRunner]] = {}
        for runner in self.runners:
            if runner.pattern.stream in names:
                self._downstream.setdefault(runner.pattern.stream, []).append(runner)
        self._by_stream: dict[str, list[_PatternRunner]] = {}
        for runner in self.runners:
            self._by_stream.setdefault(runner.pattern.stream, []).append(runner)
        self._single = {s: r[0].driver.add for s, r in self._by_stream.items() if len(r) == 1}
        for stream, runners in self._by_stream.items():
            if len(runners) > 1:
                self._shared_counts[stream] = [0, 0]  # accepted, late

    @property
    def streams(self) -> tuple[str, ...]:
        """The input streams: those no pattern of the set produces."""
        return tuple(s for s in self._by_stream if s not in self._downstream)

    @property
    def stats(self) -> Stats:
        accepted = late = 0
        invalid = self._invalid
        for stream, runners in self._by_stream.items():
            counts = self._shared_counts.get(stream)
            if counts is None:
                accepted += runners[0].driver.accepted
                late += runners[0].driver.late
                invalid += runners[0].driver.invalid
            else:
                accepted += counts[0]
                late += counts[1]
        dropped = sum(getattr(r.operator, "dropped", 0) for r in self.runners)
        return Stats(accepted + late + invalid, accepted, late, invalid, self._matches, dropped)

    def _emit(self, match: Match) -> None:
        self._matches += 1
        self._on_match(match)
        if not match.timeout:
            for runner in self._downstream.get(match.pattern, ()):
                try:
                    runner.driver.add(match.to_record())
                except EventError:
                    self._invalid += 1  # e.g. the downstream key field is not in the record

    def feed(self, stream: str, event: Any) -> int:
        """Offer one event; returns ACCEPTED or LATE, raises EventError when it is unusable.

        An event late for some patterns but not others counts as accepted; it reaches only the
        patterns for which it is on time. A stream no pattern reads accepts and ignores events.
        """
        add = self._single.get(stream)
        if add is not None and event.__class__ is dict:
            return ACCEPTED if add(event) else LATE  # the driver counts invalid events
        return self._feed_shared(stream, event)

    def batch_feeder(self, stream: str) -> Callable[[list[dict[str, Any]]], list[tuple[int, str | None]]]:
        """Feed a list of JSON objects at once; returns problems as ``(index, reason)``.

        ``reason`` is None for a late event, else why the event is unusable. Same effect as
        :meth:`feed` on each event in turn; for a stream read by one pattern it is that
        driver's ``add_many``, the fastest way in.
        """
        runner = self._by_stream.get(stream)
        if runner is not None and len(runner) == 1:
            return runner[0].driver.add_many

        def feed_all(events: list[dict[str, Any]]) -> list[tuple[int, str | None]]:
            problems: list[tuple[int, str | None]] = []
            for index, event in enumerate(events):
                try:
                    if self._feed_shared(stream, event) == LATE:
                        problems.append((index, None))
                except EventError as exc:
                    problems.append((index, str(exc)))
            return problems

        return feed_all

    def _feed_shared(self, stream: str, event: Any) -> int:
        if event.__class__ is not dict:
            self._invalid += 1
            raise EventError(f"event is not a JSON object (got {type(event).__name__})")
        runners = self._by_stream.get(stream, ())
        counts = self._shared_counts.setdefault(stream, [0, 0])
        on_time = False
        errors: list[str] = []
        for runner in runners:
            try:
                if runner.driver.add(event):
                    on_time = True
            except EventError as exc:
                errors.append(f"{runner.pattern.name}: {exc}")
        if errors and not on_time:
            self._invalid += 1
            raise EventError("; ".join(errors))
        if on_time or not runners:
            counts[0] += 1
            return ACCEPTED
        counts[1] += 1
        return LATE

    def advance_watermark(self, watermark: int) -> None:
        for runner in self.runners:
            runner.driver.advance_watermark(watermark)

    def finish(self) -> None:
        """End of input: fire every timer and window, release every held-back match.

        Runners are in dependency order, so what an upstream pattern releases here still
        reaches the patterns reading it before they finish."""
        for runner in self.runners:
            runner.driver.finish()
            runner.operator.end_of_input()

    # -- snapshots ------------------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        return {
            "format": SNAPSHOT_FORMAT,
            "version": SNAPSHOT_VERSION,
            "counts": {"matches": self._matches, "invalid": self._invalid, "shared": self._shared_counts},
            "patterns": {r.pattern.name: r.driver.snapshot() for r in self.runners},
        }

    def restore(self, data: dict[str, Any]) -> None:
        if data.get("format") != SNAPSHOT_FORMAT or data.get("version") != SNAPSHOT_VERSION:
            raise SnapshotError(f"not a detector snapshot of version {SNAPSHOT_VERSION}")
        missing = [r.pattern.name for r in self.runners if r.pattern.name not in data["patterns"]]
        if missing:
            raise SnapshotError(f"snapshot has no state for pattern(s): {', '.join(missing)}")
        for runner in self.runners:
            runner.driver.restore(data["patterns"][runner.pattern.name])
        counts = data["counts"]
        self._matches = counts["matches"]
        self._invalid = counts["invalid"]
        self._shared_counts = {k: list(v) for k, v in counts["shared"].items()}



def _with_composition(patterns: Sequence[CompiledPattern]) -> list[CompiledPattern]:
    """Order patterns so producers come before consumers, and give a pattern that reads another
    pattern's output the match time as its event time when it has no `time` clause."""
    by_name = {p.name: p for p in patterns}
    ordered: list[CompiledPattern] = []
    state: dict[str, int] = {}  # 1 visiting, 2 done

    def visit(p: CompiledPattern, path: list[str]) -> None:
        if state.get(p.name) == 2:
            return
        if state.get(p.name) == 1:
            cycle = " -> ".join(path[path.index(p.name):] + [p.name])
            raise CepError(f"patterns read each other's output in a cycle: {cycle}")
        state[p.name] = 1
        upstream = by_name.get(p.stream)
        if upstream is not None:
            visit(upstream, path + [p.name])
            if p.time_of is None:
                p = replace(
                    p,
                    time_of=make_time_getter(("time",)),
                    time_path=("time",),
                    lateness_ms=upstream.nfa.within_ms or 0 if upstream.nfa is not None else 0,
                )
        state[p.name] = 2
        ordered.append(p)

    for p in patterns:
        visit(p, [])
    return ordered
