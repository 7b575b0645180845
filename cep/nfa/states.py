"""The compiled NFA: states and their edges.

A compiled :class:`NFA` is built once per pattern and shared, read-only, by every key. Each
state has edges of three kinds, as in Flink CEP:

* TAKE: consume the event into the state's variable and move to the target;
* IGNORE: skip the event and stay (or move to an "ignore copy" of the state);
* PROCEED: move to the target without consuming, then look at the same event there.

Per-key run state (``cep.nfa.runtime``) only points into this graph.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum

from cep.nfa.spec import Condition, SkipStrategy


class Action(IntEnum):
    TAKE = 0
    IGNORE = 1
    PROCEED = 2


class StateKind(IntEnum):
    NORMAL = 0
    FINAL = 1
    STOP = 2  # reaching it discards the partial match (negation: the forbidden event came)
    PENDING = 3  # absence at the end: the partial match completes when `within` runs out


@dataclass(eq=False, slots=True)
class Edge:
    action: Action
    source: "State"
    target: "State"
    condition: Condition | None  # None: always true

    def describe(self) -> str:
        cond = "true" if self.condition is None else self.condition.text
        return f"{self.action.name.lower()} -> {self.target.id} when {cond}"


@dataclass(eq=False, slots=True)
class State:
    """One NFA state. ``name`` is the pattern variable whose events this state takes."""

    id: int
    name: str
    kind: StateKind = StateKind.NORMAL
    edges: list[Edge] = field(default_factory=list)
    # Filled when the NFA is frozen: edges as tuples for the hot loop.
    frozen: tuple[tuple[int, "State", object, bool], ...] = ()

    @property
    def is_final(self) -> bool:
        return self.kind is StateKind.FINAL

    @property
    def is_stop(self) -> bool:
        return self.kind is StateKind.STOP

    def add(self, action: Action, target: "State", condition: Condition | None) -> None:
        self.edges.append(Edge(action, self, target, condition))

    def __repr__(self) -> str:
        return f"State({self.id}, {self.name!r}, {self.kind.name})"


@dataclass(frozen=True, slots=True)
class NFA:
    """An immutable compiled pattern: the start state, all states, and the pattern's bounds."""

    start: State
    states: tuple[State, ...]
    within_ms: int | None
    skip: SkipStrategy
    variables: tuple[str, ...]
    name: str = ""
    within_between_events: bool = False

    def state(self, state_id: int) -> State:
        return self.states[state_id]
