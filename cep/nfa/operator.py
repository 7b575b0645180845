"""The keyed NFA operator: one compiled pattern run for every key, driven by event time.

It implements the stream core's keyed-processor protocol (``on_event``/``on_timer``/
``snapshot``/``restore``): the event-time driver hands it events in event-time order and
fires the timers it registers. A key that has no partial match owns no state at all — the
common case — so memory follows the number of live partial matches, not of keys or events.

``within`` is enforced in two ways, as in Flink: before an event is processed, partial matches
that its time puts out of bounds are pruned; and each partial match registers an event-time
timer at ``start + within`` so it is pruned when the watermark passes, even if its key never
sees another event.
"""

from __future__ import annotations

from collections import deque
from typing import Any, Callable, Hashable, Protocol

from cep.errors import SnapshotError
from cep.nfa.buffer import BufferNode, NodeEncoder, decode_nodes
from cep.nfa.runtime import DEFAULT_MAX_PARTIAL_MATCHES, KeyRuns, Matcher, Run, StepResult
from cep.nfa.states import NFA
from cep.stream.driver import decode_key, encode_key

MatchCallback = Callable[[Hashable, BufferNode, int], None]
"""Called as ``on_match(key, last_node, time)`` for each released match."""

SNAPSHOT_FORMAT = "cep.nfa"
SNAPSHOT_VERSION = 1


class TimerRegistry(Protocol):
    def register_timer(self, key: Hashable, ts: int) -> None: ...


class NFAOperator:
    """Runs one pattern's NFA per key. Holds only keys with live partial matches."""

    def __init__(
        self,
        nfa: NFA,
        on_match: MatchCallback,
        *,
        on_timeout: MatchCallback | None = None,
        where: Callable[[Any], bool] | None = None,
        max_partial_matches: int | None = DEFAULT_MAX_PARTIAL_MATCHES,
        history: Any = None,
    ) -> None:
        self.nfa = nfa
        # prev(): each key's last `history.depth` events, whether or not it has a partial match.
        self.history = history
        self.recent: dict[Hashable, deque[Any]] = {}
        self.matcher = Matcher(nfa, max_partial_matches)
        self.dropped = 0
        self.on_match = on_match
        self.on_timeout = on_timeout
        self.where = where
        self.keys: dict[Hashable, KeyRuns] = {}
        self.timers: TimerRegistry | None = None
        self.seq = 0
        self.timed_out = 0
        self.on_event = self._make_on_event()

    def bind(self, timers: TimerRegistry) -> None:
        """Called by the event-time driver with its timer service, before events flow."""
        self.timers = timers

    # -- KeyedProcessor -------------------------------------------------------------------------

    def _make_on_event(self) -> Callable[[Hashable, int, Any], None]:
        """Build the per-event entry point with the pattern's fixed choices baked in.

        Nearly every event belongs to a key with no partial match and cannot start one, so
        that case must cost a dict probe and one condition call, nothing more.
        """
        where = self.where
        keys = self.keys
        step = self.matcher.step
        settle = self._settle
        start_ok = _start_filter(self.matcher.start_takes)

        def on_event(key: Hashable, ts: int, event: Any) -> None:
            key_runs = keys.get(key)
            if key_runs is None:
                if start_ok is not None and not start_ok(event):
                    return
                key_runs = KeyRuns()
            seq = self.seq
            self.seq = seq + 1
            result = StepResult()
            step(key_runs, event, ts, seq, result)
            settle(key, key_runs, result, ts)

        history = self.history
        if history is not None:
            recent = self.recent
            depth = history.depth
            step_event = on_event

            def on_event_with_history(key: Hashable, ts: int, event: Any) -> None:
                events = recent.get(key)
                if events is None:
                    events = recent[key] = deque(maxlen=depth)
                history.events = events
                try:
                    step_event(key, ts, event)
                finally:
                    events.append(event)

            on_event = on_event_with_history

        if where is None:
            return on_event

        def on_event_where(key: Hashable, ts: int, event: Any) -> None:
            if where(event):
                on_event(key, ts, event)

        return on_event_where

    def on_timer(self, key: Hashable, ts: int) -> None:
        key_runs = self.keys.get(key)
        if key_runs is None:
            return
        result = StepResult()
        self.matcher.advance_time(key_runs, ts, result)
        self._settle(key, key_runs, result, ts)

    def end_of_input(self) -> None:
        """The input is finished: release what partial matches were holding back."""
        for key in list(self.keys):
            key_runs = self.keys[key]
            result = StepResult()
            self.matcher.end_of_input(key_runs, result)
            self._settle(key, key_runs, result, None)

    def _settle(self, key: Hashable, key_runs: KeyRuns, result: StepResult, ts: int | None) -> None:
        within = self.nfa.within_ms
        self.dropped += result.dropped
        if result.started and within is not None and self.timers is not None:
            for start in set(result.started):
                self.timers.register_timer(key, start + within)
        for run in result.timeouts:
            self.timed_out += 1
            if self.on_timeout is not None and run.node is not None:
                self.on_timeout(key, run.node, self.matcher.deadline(run))
        for run in result.matches:
            node = run.node
            assert node is not None
            self.on_match(key, node, self.matcher.match_time(run))
        if key_runs:
            self.keys[key] = key_runs
        else:
            self.keys.pop(key, None)

    @property
    def partial_matches(self) -> int:
        return sum(len(k.runs) for k in self.keys.values())

    # -- snapshots ------------------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """A JSON-able copy of every key's runs; shared prefixes and events are written once."""
        encoder = NodeEncoder()

        def runs(items: list[Run]) -> list[list[Any]]:
            return [[r.state.id, encoder.encode(r.node), r.start_ts, r.start_seq] for r in items]

        keys = [[encode_key(k), runs(v.runs), runs(v.completed)] for k, v in self.keys.items()]
        return {
            "format": SNAPSHOT_FORMAT,
            "version": SNAPSHOT_VERSION,
            "pattern": self.nfa.name,
            "states": len(self.nfa.states),
            "seq": self.seq,
            "timed_out": self.timed_out,
            "dropped": self.dropped,
            "events": encoder.events,
            "nodes": encoder.nodes,
            "keys": keys,
            "recent": [[encode_key(k), list(v)] for k, v in self.recent.items()],
        }

    def restore(self, data: dict[str, Any]) -> None:
        if data.get("format") != SNAPSHOT_FORMAT or data.get("version") != SNAPSHOT_VERSION:
            raise SnapshotError(
                f"cannot restore NFA state: format {data.get('format')!r} version {data.get('version')!r}, "
                f"expected {SNAPSHOT_FORMAT!r} version {SNAPSHOT_VERSION}"
            )
        if data.get("states") != len(self.nfa.states):
            raise SnapshotError(
                f"snapshot of pattern {data.get('pattern')!r} was taken with a different pattern "
                f"({data.get('states')} NFA states, this one has {len(self.nfa.states)})"
            )
        nodes = decode_nodes(data["nodes"], data["events"])
        states = self.nfa.states

        def runs(items: list[list[Any]]) -> list[Run]:
            return [Run(states[s], None if n < 0 else nodes[n], st, sq) for s, n, st, sq in items]

        self.keys.clear()  # the same dict object: on_event holds a reference to it
        for key, live, completed in data["keys"]:
            key_runs = KeyRuns()
            key_runs.runs = runs(live)
            key_runs.completed = runs(completed)
            self.keys[decode_key(key)] = key_runs
        self.seq = data["seq"]
        self.timed_out = data.get("timed_out", 0)
        self.dropped = data.get("dropped", 0)
        self.recent.clear()
        if self.history is not None:
            for key, events in data.get("recent", []):
                self.recent[decode_key(key)] = deque(events, maxlen=self.history.depth)


def _start_filter(takes: tuple[Any, ...] | None) -> Callable[[Any], bool] | None:
    """One function telling whether an event may start a match; None: try every event."""
    if takes is None or any(fn is None for fn in takes):
        return None
    if len(takes) == 1:
        return takes[0]
    return lambda event: any(fn(event) for fn in takes)
