"""Compile a :class:`~cep.nfa.spec.PatternSpec` into an immutable :class:`~cep.nfa.states.NFA`.

The construction follows Flink CEP's NFACompiler so that the same pattern gives the same
matches: states are built backwards from the final state; a quantified element becomes a chain
of singleton states (``times``) ending in a looping state (``+``/``*``); a state that may be
left by IGNORE while it could also PROCEED gets an "ignore copy" without the PROCEED edge, so a
skipped event does not branch the same proceed twice. The first element of a group takes its
contiguity from the group: the group's own when the group is entered, the group's inner
contiguity when a quantified group loops back.
"""

from __future__ import annotations

from dataclasses import dataclass

from cep.errors import CepError
from cep.nfa.spec import AlternationElement, Condition, Consuming, Element, GroupElement, Node, PatternSpec, Times
from cep.nfa.states import NFA, Action, State, StateKind

__all__ = ["compile_nfa", "MAX_UNROLLED_STATES"]

# `a{500}` unrolls into 500 states; beyond this many states the pattern is refused.
MAX_UNROLLED_STATES = 2000

_TRUE: Condition | None = None


def _not(cond: Condition | None) -> Condition:
    if cond is None:
        return Condition(lambda *_: False, False, "false")
    fn = cond.fn
    if cond.iterative:
        return Condition(lambda e, n: not fn(e, n), True, f"not ({cond.text})")
    return Condition(lambda e: not fn(e), False, f"not ({cond.text})")


def _and(a: Condition | None, b: Condition | None) -> Condition | None:
    """Both hold (None is "always")."""
    if a is None:
        return b
    if b is None:
        return a
    fa, fb = a.fn, b.fn
    if a.iterative or b.iterative:
        def both(e: object, n: object) -> bool:
            return bool((fa(e, n) if a.iterative else fa(e)) and (fb(e, n) if b.iterative else fb(e)))
        return Condition(both, True, f"({a.text}) and ({b.text})")
    return Condition(lambda e: bool(fa(e) and fb(e)), False, f"({a.text}) and ({b.text})")


def _none_of(conditions: list[Condition | None]) -> Condition:
    """True when the event satisfies none of the (non-iterative or iterative) conditions."""
    conds = [c for c in conditions if c is not None]
    if any(c.iterative for c in conds):
        def fn_it(e: object, n: object) -> bool:
            return not any(c.fn(e, n) if c.iterative else c.fn(e) for c in conds)
        return Condition(fn_it, True, "none of the options")
    fns = [c.fn for c in conds]
    return Condition(lambda e: not any(f(e) for f in fns), False, "none of the options")


@dataclass(slots=True)
class _GroupContext:
    """The group whose body is being compiled and whether we build its entry copy."""

    group: GroupElement
    first_of_loop: bool


class _Builder:
    def __init__(self) -> None:
        self.states: list[State] = []
        self.stops: dict[str, State] = {}
        self.clean: dict[int, State] = {}  # entry state id -> its copy without carried nots

    def new_state(self, name: str, kind: StateKind = StateKind.NORMAL) -> State:
        if len(self.states) >= MAX_UNROLLED_STATES:
            raise OverflowError
        state = State(len(self.states), name, kind)
        self.states.append(state)
        return state

    # -- sequences ------------------------------------------------------------------------

    def sequence(self, elements: tuple[Node, ...], sink: State, ctx: _GroupContext | None) -> State:
        for index in range(len(elements) - 1, -1, -1):
            el = elements[index]
            if isinstance(el, Element) and el.negated:
                sink = self.negation(el, sink)
                continue
            head_ctx = ctx if index == 0 else None
            entry = self.convert(el, sink, head_ctx)
            # `then not c` before this element — directly, or with only optional elements in
            # between (Flink's getCurrentNotCondition): while a run waits here, a c ends it.
            nots = self.nots_before(elements, index)
            if nots:
                # An optional element in between that *is* taken clears those nots (Flink's
                # copyWithoutTransitiveNots): its TAKE edges lead to a copy without the stops.
                self.clean[entry.id] = self.copy_state(entry)
                for negated_el in nots:
                    self.add_stop(entry, negated_el)
            sink = entry
        return sink

    def alternation(self, alt: AlternationElement, sink: State) -> State:
        """A split state proceeding into each option; entry states skip only events that fit
        no option's first element (relaxed), any event (then any), or none (next)."""
        split = self.new_state(alt.name or "$alternation$")
        entries: list[State] = []
        firsts: list[Condition | None] = []
        for option in alt.options:
            first = option[0]
            if isinstance(first, Element):
                option = (Element(first.name, first.condition, first.times, alt.consuming, first.inner),) + option[1:]
                firsts.append(first.condition)
            else:
                firsts.append(None)  # a group or nested alternation first: be conservative
            entry = self.sequence(option, sink, None)
            split.add(Action.PROCEED, entry, _TRUE)
            entries.append(entry)
        if alt.consuming is Consuming.SKIP_TILL_NEXT and all(c is not None for c in firsts):
            fits_none = _none_of([c for c in firsts if c is not None])
            for entry in entries:
                for state in [entry] + [e.target for e in entry.edges if e.action is Action.IGNORE]:
                    for edge in state.edges:
                        if edge.action is Action.IGNORE:
                            edge.condition = fits_none
        return split

    @staticmethod
    def nots_before(elements: tuple[Node, ...], index: int) -> list[Element]:
        found: list[Element] = []
        j = index - 1
        while j >= 0:
            prev = elements[j]
            if isinstance(prev, Element) and prev.negated:
                if prev.consuming is Consuming.STRICT:
                    break  # `next not` is its own state, not a condition carried forward
                found.append(prev)
            elif not prev.times.optional:
                break
            j -= 1
        return found

    def copy_state(self, state: State) -> State:
        """A copy with the same edges (self-loops pointing at the copy)."""
        copy = self.new_state(state.name, state.kind)
        for edge in state.edges:
            copy.add(edge.action, copy if edge.target is state else edge.target, edge.condition)
        return copy

    def take_target(self, sink: State, el: Node) -> State:
        """Where an optional element's TAKE leads: past earlier nots when it is taken."""
        if el.times.optional:
            return self.clean.get(sink.id, sink)
        return sink

    def stop_state(self, el: Element) -> State:
        stop = self.stops.get(el.name)
        if stop is None:
            stop = self.stops[el.name] = self.new_state(el.name, StateKind.STOP)
        return stop

    def add_stop(self, entry: State, el: Element) -> None:
        """Stop edges on the state a run waits in for the next element, and its ignore copy."""
        waiting = [entry] + [e.target for e in entry.edges if e.action is Action.IGNORE and e.target is not entry]
        for state in waiting:
            state.add(Action.PROCEED, self.stop_state(el), el.condition)

    def negation(self, el: Element, sink: State) -> State:
        """States for `next not c` and for `then not c` at the end (absence); a `then not c`
        in the middle creates no state of its own (see add_stop)."""
        cond = el.condition
        if el.consuming is Consuming.STRICT:  # Flink's notNext
            state = self.new_state(el.name)
            if sink.is_final:
                # At the end: the next event, if it is not c, completes the match without
                # being taken (an IGNORE straight to the final state).
                state.add(Action.IGNORE, sink, _not(cond))
            else:
                state.add(Action.PROCEED, sink, _not(cond))
            state.add(Action.PROCEED, self.stop_state(el), cond)
            return state
        if sink.is_final:  # absence at the end: wait for `within`; a c in the meantime stops it
            state = self.new_state(el.name, StateKind.PENDING)
            state.add(Action.IGNORE, state, _not(cond))
            state.add(Action.PROCEED, self.stop_state(el), cond)
            return state
        return sink

    def convert(self, el: Node, sink: State, head: _GroupContext | None) -> State:
        """Build the states of one element in front of ``sink``; return its entry state."""
        if isinstance(el, AlternationElement):
            return self.alternation(el, sink)
        times = el.times
        low = max(times.min, 1)
        optional = times.min == 0
        if times.looping:
            looping = self.looping(el, sink, head)
            return self.times_state(el, looping, sink, low, low, optional, head)
        if low == 1 and times.max == 1:
            return self.singleton(
                el, sink, sink, self.take(el), self.ignore(el, head), self.optional(el, optional, head), head, True
            )
        return self.times_state(el, sink, sink, low, times.max or low, optional, head)

    # -- conditions ------------------------------------------------------------------------

    @staticmethod
    def take(el: Node) -> Condition | None:
        """An element's take condition; a loop with `until` never takes an event meeting it."""
        if not isinstance(el, Element):
            return None
        if el.until is not None:
            return _and(_not(el.until), el.condition)
        return el.condition

    def _ignore_for(self, strategy: Consuming, el: Node) -> Condition | None | str:
        if strategy is Consuming.STRICT:
            return "none"
        if strategy is Consuming.SKIP_TILL_ANY:
            return _TRUE
        return _not(self.take(el))

    def ignore(self, el: Node, head: _GroupContext | None) -> Condition | None | str:
        """The IGNORE condition on entering ``el`` ("none": no ignore edge at all)."""
        strategy = el.consuming
        if head is not None:
            strategy = head.group.consuming if head.first_of_loop else head.group.inner
        return self._ignore_for(strategy, el)

    def inner_ignore(self, el: Node, head: _GroupContext | None) -> Condition | None | str:
        strategy = head.group.inner if head is not None else el.inner
        ignore = self._ignore_for(strategy, el)
        if isinstance(el, Element) and el.until is not None and ignore != "none":
            # An event meeting `until` ends the loop: it may not be skipped either.
            return _and(_not(el.until), ignore)  # type: ignore[arg-type]
        return ignore

    @staticmethod
    def optional(el: Node, optional: bool, head: _GroupContext | None) -> bool:
        if head is not None:
            return head.first_of_loop and head.group.times.optional
        return optional

    # -- state shapes ----------------------------------------------------------------------

    def singleton(
        self,
        el: Node,
        sink: State,
        proceed: State | None,
        take: Condition | None,
        ignore: Condition | None | str,
        optional: bool,
        head: _GroupContext | None,
        first_of_loop: bool,
    ) -> State:
        if isinstance(el, GroupElement):
            return self.group_state(el, sink, proceed, optional, first_of_loop)
        state = self.new_state(el.name)
        taken = self.take_target(sink, el) if optional else sink
        state.add(Action.TAKE, taken, take)
        if optional and head is None and proceed is not None:
            state.add(Action.PROCEED, proceed, _TRUE)
        if ignore != "none":
            assert not isinstance(ignore, str)
            if optional:
                copy = self.new_state(el.name)
                copy.add(Action.TAKE, taken, take)
                copy.add(Action.IGNORE, copy, ignore)
                target = copy
            else:
                target = state
            state.add(Action.IGNORE, target, ignore)
        return state

    def times_state(
        self,
        el: Node,
        sink: State,
        proceed: State,
        low: int,
        high: int,
        optional: bool,
        head: _GroupContext | None,
    ) -> State:
        take = self.take(el)
        inner = self.inner_ignore(el, head)
        inner_head = _GroupContext(head.group, False) if head is not None else None
        last = sink
        for _ in range(low, high):
            last = self.singleton(el, last, proceed, take, inner, True, inner_head, False)
        for _ in range(low - 1):
            last = self.singleton(el, last, None, take, inner, False, inner_head, False)
        return self.singleton(
            el, last, proceed, take, self.ignore(el, head), self.optional(el, optional, head), head, True
        )

    def looping(self, el: Node, sink: State, head: _GroupContext | None) -> State:
        if isinstance(el, GroupElement):
            return self.looping_group(el, sink)
        take = self.take(el)
        ignore = self.inner_ignore(el, head)
        state = self.new_state(el.name)
        state.add(Action.PROCEED, sink, _TRUE)
        if isinstance(el, Element) and el.greedy:
            # Flink's greedy: what follows the loop may not use an event the loop can take.
            for edge in sink.edges:
                edge.condition = _and(edge.condition, _not(take))
        if isinstance(el, Element) and el.reluctant:
            if sink.is_final:
                return state  # as few as possible at the end: never take another one
            # As few as possible: leave an event to the next element when it can take it.
            take = _and(take, _not(_first_take(sink)))
        state.add(Action.TAKE, state, take)
        if ignore != "none":
            assert not isinstance(ignore, str)
            copy = self.new_state(el.name)
            copy.add(Action.TAKE, state, take)
            copy.add(Action.IGNORE, copy, ignore)
            state.add(Action.IGNORE, copy, ignore)
        return state

    def group_state(
        self, group: GroupElement, sink: State, proceed: State | None, optional: bool, first_of_loop: bool
    ) -> State:
        entry = self.sequence(group.body, sink, _GroupContext(group, first_of_loop))
        if optional and proceed is not None:
            entry.add(Action.PROCEED, proceed, _TRUE)
        return entry

    def looping_group(self, group: GroupElement, sink: State) -> State:
        back = self.new_state(group.name or "$group$")
        entry = self.sequence(group.body, back, _GroupContext(group, False))
        entry.add(Action.PROCEED, sink, _TRUE)
        back.add(Action.PROCEED, entry, _TRUE)
        return entry


def _first_take(state: State) -> Condition | None:
    """What the state (and states it proceeds to) can take: OR of its TAKE conditions."""
    conds: list[Condition | None] = []
    stack, seen = [state], {state.id}
    while stack:
        current = stack.pop()
        for edge in current.edges:
            if edge.action is Action.TAKE:
                conds.append(edge.condition)
            elif edge.action is Action.PROCEED and not edge.target.is_stop and edge.target.id not in seen:
                seen.add(edge.target.id)
                stack.append(edge.target)
    if any(c is None for c in conds):
        return None  # takes anything
    return _not(_none_of(conds)) if conds else Condition(lambda *_: False, False, "nothing")


def _freeze(states: list[State]) -> None:
    for state in states:
        state.frozen = tuple(
            (
                int(e.action),
                e.target,
                None if e.condition is None else e.condition.fn,
                False if e.condition is None else e.condition.iterative,
            )
            for e in state.edges
        )


def _variables(elements: tuple[Node, ...]) -> list[str]:
    names: list[str] = []
    for el in elements:
        if isinstance(el, GroupElement):
            names.extend(_variables(el.body))
        elif isinstance(el, AlternationElement):
            for option in el.options:
                names.extend(_variables(option))
        elif not el.negated:
            names.append(el.name)
    return names


def compile_nfa(spec: PatternSpec) -> NFA:
    """Compile once; the result is shared by every key that runs the pattern."""
    if not spec.elements:
        raise ValueError("a pattern needs at least one element")
    builder = _Builder()
    final = builder.new_state("$end$", StateKind.FINAL)
    try:
        start = builder.sequence(spec.elements, final, None)
    except OverflowError:
        raise CepError(
            f"pattern {spec.name or '?'} unrolls into more than {MAX_UNROLLED_STATES} NFA states; "
            "use a loop (+ or {n,}) instead of a large {n,m}"
        ) from None
    _freeze(builder.states)
    return NFA(
        start=start,
        states=tuple(builder.states),
        within_ms=spec.within_ms,
        skip=spec.skip,
        within_between_events=spec.within_between_events,
        variables=tuple(dict.fromkeys(_variables(spec.elements))),
        name=spec.name,
    )


def describe(times: Times) -> str:
    """Human form of a quantifier, for explain output."""
    if times.max is None:
        return "+" if times.min <= 1 and not times.optional else ("*" if times.optional else f"{{{times.min},}}")
    if times.min == times.max:
        return "" if times.min == 1 else f"{{{times.min}}}"
    if times.min == 0 and times.max == 1:
        return "?"
    return f"{{{times.min},{times.max}}}"
