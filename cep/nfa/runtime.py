"""Running a compiled NFA over one key's events.

:class:`Matcher` holds no per-key data: it is built once per pattern and works on
:class:`KeyRuns`, the small object each key owns (its live partial matches and, under a skip
strategy, completed matches waiting for earlier-starting partial matches to finish).

The step for one event follows Flink's ``NFA.doProcess``: first partial matches that the
event's time puts out of ``within`` are pruned; then every partial match, and a fresh run at the
start state, follows the edges whose conditions hold (PROCEED edges are explored on the same
event, TAKE consumes it, IGNORE skips it — never from the start state); runs reaching the final
state are completed matches. Under a skip strategy a completed match is released only once no
partial match that started earlier is still alive, in start order, and each released match
prunes what the strategy says.
"""

from __future__ import annotations

from typing import Any

from cep.nfa.buffer import BufferNode
from cep.nfa.skip import pruning_point, should_prune
from cep.nfa.spec import SkipKind
from cep.nfa.states import NFA, Action, State, StateKind

# Per key, at most this many live partial matches (a pattern such as `a then any b+` can
# otherwise grow without end); `--max-partial-matches` changes it, None removes the bound.
DEFAULT_MAX_PARTIAL_MATCHES = 10_000

_STOP = StateKind.STOP
_PENDING = StateKind.PENDING
_TAKE = int(Action.TAKE)
_IGNORE = int(Action.IGNORE)
_PROCEED = int(Action.PROCEED)


class Run:
    """A partial (or, at the final state, completed) match: a state and a buffer pointer."""

    __slots__ = ("state", "node", "start_ts", "start_seq")

    def __init__(self, state: State, node: BufferNode | None, start_ts: int, start_seq: int) -> None:
        self.state = state
        self.node = node
        self.start_ts = start_ts
        self.start_seq = start_seq

    def __repr__(self) -> str:
        return f"Run({self.state.name}#{self.state.id}, start={self.start_seq})"


class KeyRuns:
    """One key's matcher state: live partial matches and held-back completed matches."""

    __slots__ = ("runs", "completed")

    def __init__(self) -> None:
        self.runs: list[Run] = []
        self.completed: list[Run] = []

    def __bool__(self) -> bool:
        return bool(self.runs) or bool(self.completed)


class StepResult:
    """What one step produced: released matches (oldest start first) and timed-out runs."""

    __slots__ = ("matches", "timeouts", "started", "dropped")

    def __init__(self) -> None:
        self.matches: list[Run] = []
        self.timeouts: list[Run] = []
        self.started: list[int] = []  # start timestamps of new partial matches (for timers)
        self.dropped = 0  # partial matches dropped by the per-key bound


class Matcher:
    """Executes one compiled :class:`NFA`; shared by all keys of a pattern."""

    def __init__(self, nfa: NFA, max_partial_matches: int | None = DEFAULT_MAX_PARTIAL_MATCHES) -> None:
        self.nfa = nfa
        self.max_partial = max_partial_matches
        self.within = nfa.within_ms
        self.between = nfa.within_between_events
        self.skip = nfa.skip
        self._skipping = nfa.skip.kind is not SkipKind.NONE
        self._final_reachable = _final_reachability(nfa)
        self._final = nfa.states[0]
        assert self._final.is_final
        self.start_takes = _start_takes(nfa.start)

    # -- the step ---------------------------------------------------------------------------

    def step(self, key_runs: KeyRuns, event: Any, ts: int, seq: int, result: StepResult) -> None:
        """Advance ``key_runs`` by one event; append what came out to ``result``."""
        retained: list[Run] = []
        potential: list[Run] = []
        if self.within is not None and key_runs.runs:
            absences = self._prune_timed_out(key_runs, ts, result)
            if absences:
                # Completed before this event: release them first, as a timer would have.
                self._release(key_runs, absences, result)
        advance = self._advance
        for run in key_runs.runs:
            advance(run.state, run.node, run.start_ts, run.start_seq, False, event, ts, seq, retained, potential)
        before = len(retained) + len(potential)
        advance(self.nfa.start, None, ts, seq, True, event, ts, seq, retained, potential)
        if len(retained) + len(potential) > before:
            result.started.append(ts)
        elif self.between and any(r.node is not None and r.node.seq == seq for r in retained):
            result.started.append(ts)  # a take restarts the clock between events
        bound = self.max_partial
        if bound is not None and len(retained) > bound:
            # Never unbounded memory, never a silent drop: the oldest partial matches go, counted.
            retained.sort(key=_partial_order)
            result.dropped += len(retained) - bound
            retained = retained[len(retained) - bound:]
        key_runs.runs = retained
        self._release(key_runs, potential, result)

    def advance_time(self, key_runs: KeyRuns, ts: int, result: StepResult) -> None:
        """Event time reached ``ts`` with no event: prune by ``within`` and release held matches."""
        absences: list[Run] = []
        if self.within is not None and key_runs.runs:
            absences = self._prune_timed_out(key_runs, ts, result)
        if key_runs.completed or absences:
            self._release(key_runs, absences, result)

    def deadline(self, run: Run) -> int:
        """When `within` runs out for a partial match: from its first event, or from its last
        one with `within D between events`."""
        reference = run.node.ts if self.between and run.node is not None else run.start_ts
        return reference + (self.within or 0)

    def match_time(self, run: Run) -> int:
        """When a released match happened: its last event, or for an absence the deadline."""
        if run.state.kind is _PENDING:
            return self.deadline(run)
        return run.node.ts  # type: ignore[union-attr]

    def end_of_input(self, key_runs: KeyRuns, result: StepResult) -> None:
        """No event will ever come again: partial matches cannot complete, held matches go out.

        Flink keeps such partial matches (and the matches they hold back) forever when there is
        no ``within``; for a finished log we release them instead (see docs/semantics.md).
        """
        # Time runs out for everything: an absence still waiting completes (nothing can stop
        # it now); every other partial match can never complete.
        absences = [run for run in key_runs.runs if run.state.kind is _PENDING]
        key_runs.runs = []
        if key_runs.completed or absences:
            self._release(key_runs, absences, result)

    # -- internals --------------------------------------------------------------------------

    def _prune_timed_out(self, key_runs: KeyRuns, ts: int, result: StepResult) -> list[Run]:
        """Drop partial matches `within` puts out of time; return the absences this completes.

        A run waiting in a PENDING state (``then not c`` at the end) saw no c for the whole
        window: it is a match, at time ``start + within``. Any other expired run is a timeout.
        """
        within = self.within
        between = self.between
        alive = []
        completed: list[Run] = []
        for run in key_runs.runs:
            reference = run.node.ts if between and run.node is not None else run.start_ts
            if ts - reference >= within:  # type: ignore[operator]
                if run.state.kind is _PENDING:
                    completed.append(run)
                else:
                    result.timeouts.append(run)
            else:
                alive.append(run)
        key_runs.runs = alive
        return completed

    def _advance(
        self,
        state: State,
        node: BufferNode | None,
        start_ts: int,
        start_seq: int,
        is_start: bool,
        event: Any,
        ts: int,
        seq: int,
        retained: list[Run],
        potential: list[Run],
    ) -> None:
        """Follow the edges of one run (state + buffer node) for one event."""
        takes: list[tuple[State, State]] = []
        ignores: list[State] = []
        stack = [state]
        while stack:
            state = stack.pop()
            for action, target, fn, iterative in state.frozen:
                if is_start and action == _IGNORE:
                    continue  # a fresh run never skips events: the next event starts its own
                if fn is not None and not (fn(event, node) if iterative else fn(event)):
                    continue
                if action == _PROCEED:
                    if target.kind is _STOP:
                        return  # a forbidden event (negation): this partial match ends here
                    stack.append(target)
                elif action == _TAKE:
                    takes.append((state, target))
                else:
                    ignores.append(target)
        for target in ignores:
            if target.is_final:  # `next not c` at the end: a non-c event completes the match
                potential.append(Run(target, node, start_ts, start_seq))
            else:
                retained.append(Run(target, node, start_ts, start_seq))
        for source, target in takes:
            new_node = BufferNode(source.name, event, ts, seq, node)
            new_run = Run(target, new_node, start_ts, start_seq)
            if target.is_final:
                potential.append(new_run)
                continue
            retained.append(new_run)
            if self._final_reachable[target.id] and self._proceeds_to_final(target, event, new_node):
                potential.append(Run(self._final, new_node, start_ts, start_seq))

    def _proceeds_to_final(self, state: State, event: Any, node: BufferNode) -> bool:
        stack = [state]
        seen = set()
        while stack:
            current = stack.pop()
            for action, target, fn, iterative in current.frozen:
                if action != _PROCEED or target.id in seen:
                    continue
                if fn is not None and not (fn(event, node) if iterative else fn(event)):
                    continue
                if target.is_final:
                    return True
                seen.add(target.id)
                stack.append(target)
        return False

    def _release(self, key_runs: KeyRuns, potential: list[Run], result: StepResult) -> None:
        if not self._skipping:
            potential.sort(key=_start_order)
            result.matches.extend(potential)
            return
        completed = key_runs.completed
        if potential:
            completed.extend(potential)
            completed.sort(key=_start_order)
        runs = key_runs.runs
        while completed:
            earliest = completed[0]
            if runs and earliest.start_seq > min(r.start_seq for r in runs):
                break
            completed.pop(0)
            result.matches.append(earliest)
            point = pruning_point(self.skip, earliest.node)  # type: ignore[arg-type]
            if point is not None:
                runs = [r for r in runs if not should_prune(r.start_seq, point)]
                completed[:] = [c for c in completed if not should_prune(c.start_seq, point)]
        key_runs.runs = runs


def _start_order(run: Run) -> tuple[int, int]:
    """Release order of completed matches: earliest start first; among matches with the same
    start, the one with most events first (SQL's greedy preference; with a skip strategy it is
    the one that is kept)."""
    length = 0
    node = run.node
    while node is not None:
        length += 1
        node = node.prev
    return run.start_seq, -length


def _partial_order(run: Run) -> int:
    return run.start_seq


def _start_takes(start: State) -> tuple[Any, ...] | None:
    """Conditions of the TAKE edges a fresh run can use, for the ``quick_start`` pre-filter.

    None when a conditional PROCEED edge leaves the start (then every event must be tried);
    an iterative condition counts as "may hold" (None) since it needs a partial match.
    """
    found: list[Any] = []
    stack, seen = [start], {start.id}
    while stack:
        state = stack.pop()
        for action, target, fn, iterative in state.frozen:
            if action == _TAKE:
                found.append(None if iterative else fn)
            elif action == _PROCEED:
                if fn is not None:
                    return None
                if target.id not in seen:
                    seen.add(target.id)
                    stack.append(target)
    return tuple(found)


def _final_reachability(nfa: NFA) -> list[bool]:
    """For each state: can PROCEED edges alone (ignoring conditions) reach the final state?"""
    reach = [False] * len(nfa.states)
    changed = True
    while changed:
        changed = False
        for state in nfa.states:
            if reach[state.id]:
                continue
            for action, target, _fn, _it in state.frozen:
                if action == _PROCEED and (target.is_final or reach[target.id]):
                    reach[state.id] = True
                    changed = True
                    break
    return reach
