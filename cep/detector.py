"""The detector: compiled patterns wired to event-time drivers, fed from named streams.

Each pattern gets its own driver (its own key, time field, lateness and therefore watermark)
and its own NFA operator. An input event is offered to every pattern that reads its stream.
The detector reports per event whether it was accepted, late, or unusable (and why), so the
caller — ``cep replay``, ``cep run``, the test harness — decides where late and dead-lettered
events go; the detector itself never does I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Hashable, Iterable, Sequence

from cep.errors import EventError, SnapshotError
from cep.lang.compiler import CompiledPattern
from cep.lang.functions import get_path
from cep.match import Match
from cep.nfa.buffer import BufferNode, events_by_variable
from cep.nfa.operator import NFAOperator
from cep.stream.driver import EventTimeDriver

ACCEPTED = 0
LATE = 1

SNAPSHOT_FORMAT = "cep.detector"
SNAPSHOT_VERSION = 1


@dataclass(slots=True)
class Stats:
    events: int = 0
    accepted: int = 0
    late: int = 0
    invalid: int = 0
    matches: int = 0


class _PatternRunner:
    """One pattern's driver + operator, and how its matches become :class:`Match` records."""

    def __init__(self, pattern: CompiledPattern, emit: Callable[[Match], None]) -> None:
        self.pattern = pattern
        self._emit = emit
        self.operator = NFAOperator(pattern.nfa, self._on_match, where=pattern.where)
        self.driver = EventTimeDriver(
            self.operator,
            time_of=pattern.time_of,
            key_of=pattern.key_of,
            lateness_ms=pattern.lateness_ms if pattern.time_of is not None else None,
        )
        self.operator.bind(self.driver)

    def _on_match(self, key: Hashable, node: BufferNode, ts: int) -> None:
        p = self.pattern
        by_var = events_by_variable(node, p.variables)
        last = node.event
        time_value = get_path(last, p.time_path) if p.time_path else None
        self._emit(Match(p.name, key, p.fields_of(by_var, last), by_var, ts, False, time_value))


class Detector:
    """Runs a set of compiled patterns over events from named streams."""

    def __init__(self, patterns: Sequence[CompiledPattern], on_match: Callable[[Match], None]) -> None:
        self.stats = Stats()
        self._on_match = on_match
        self.runners = [_PatternRunner(p, self._emit) for p in patterns]
        self._by_stream: dict[str, list[_PatternRunner]] = {}
        for runner in self.runners:
            self._by_stream.setdefault(runner.pattern.stream, []).append(runner)

    @property
    def streams(self) -> tuple[str, ...]:
        return tuple(self._by_stream)

    def _emit(self, match: Match) -> None:
        self.stats.matches += 1
        self._on_match(match)

    def feed(self, stream: str, event: Any) -> int:
        """Offer one event; returns ACCEPTED or LATE, raises EventError when it is unusable.

        An event late for some patterns but not others counts as accepted; it reaches only the
        patterns for which it is on time.
        """
        stats = self.stats
        stats.events += 1
        if event.__class__ is not dict:
            stats.invalid += 1
            raise EventError(f"event is not a JSON object (got {type(event).__name__})")
        runners = self._by_stream.get(stream, ())
        on_time = False
        errors: list[str] = []
        for runner in runners:
            try:
                if runner.driver.add(event):
                    on_time = True
            except EventError as exc:
                errors.append(str(exc) if len(runners) == 1 else f"{runner.pattern.name}: {exc}")
        if errors and not on_time:
            stats.invalid += 1
            raise EventError("; ".join(errors))
        if on_time or not runners:
            stats.accepted += 1
            return ACCEPTED
        stats.late += 1
        return LATE

    def advance_watermark(self, watermark: int) -> None:
        for runner in self.runners:
            runner.driver.advance_watermark(watermark)

    def finish(self) -> None:
        """End of input: fire every timer and window, release every held-back match."""
        for runner in self.runners:
            runner.driver.finish()
            runner.operator.end_of_input()

    # -- snapshots ------------------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        return {
            "format": SNAPSHOT_FORMAT,
            "version": SNAPSHOT_VERSION,
            "stats": [self.stats.events, self.stats.accepted, self.stats.late, self.stats.invalid, self.stats.matches],
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
        self.stats = Stats(*data["stats"])


def run_events(
    patterns: Sequence[CompiledPattern], events: Iterable[tuple[str, Any]]
) -> list[Match]:
    """Feed ``(stream, event)`` pairs to a fresh detector, finish, return the matches."""
    out: list[Match] = []
    detector = Detector(patterns, out.append)
    for stream, event in events:
        try:
            detector.feed(stream, event)
        except EventError:
            pass
    detector.finish()
    return out
