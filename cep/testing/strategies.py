"""Hypothesis strategies for pattern tests: event streams shaped by a pattern, and arrival orders.

Needs hypothesis (a test dependency of cep, not a runtime one)::

    from hypothesis import given
    from cep.testing import Harness
    from cep.testing.strategies import events_for, shuffled_within

    SOURCE = open("patterns/small_then_big.cep").read()

    @given(events_for(SOURCE).flatmap(lambda evs: shuffled_within("5s", evs).map(lambda a: (evs, a))))
    def test_reordering_within_lateness_changes_nothing(pair):
        in_order, arrived = pair
        ...

:func:`events_for` reads the pattern's syntax tree (never runs its text) to decide what to
generate:

* key fields: a few ids (``k1``, ``k2``, ``k3``), or the literals the key is compared with;
* the time field: non-decreasing times (equal times included) from 2024-01-01, as ISO-8601
  strings (or epoch ms with ``time_format="millis"``; epoch seconds for ``time F seconds``),
  with gaps up to half the pattern's ``within`` (a quarter of a window pattern's window;
  10 s otherwise);
* fields compared with numbers: the literals, values just either side of each, and a range
  around them (``amount < 0.10`` gives values on both sides of 0.10);
* fields compared with strings: mostly those strings, sometimes others; with booleans:
  booleans; with ``null`` (``x is null``): sometimes null (half the time when that is the
  only test of the field);
* any other field the pattern reads: small integers.

``fields={"amount": st.floats(0, 1)}`` replaces what is generated for a field (dotted names
for nested ones) or adds a field; a plain value stands for ``st.just(value)``.
"""

from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

from hypothesis import strategies as st
from hypothesis.strategies import SearchStrategy

from cep.stream.timestamps import format_timestamp_iso, parse_timestamp
from cep.testing.harness import duration_millis, to_millis
from cep.testing.infer import FieldHint, PatternSource, infer

__all__ = ["events_for", "in_order", "shuffled_within", "values_for"]

START = "2024-01-01T00:00:00Z"
_OTHER_STRINGS = ("other", "zzz", "")


def events_for(
    pattern_or_source: PatternSource,
    *,
    stream: str | None = None,
    count: int | tuple[int, int] = (0, 30),
    fields: Mapping[str, Any] | None = None,
    keys: int | Sequence[Any] = 3,
    start: int | str = START,
    max_gap: int | str | None = None,
    time_format: str = "iso",
) -> SearchStrategy[list[dict[str, Any]]]:
    """Lists of events for ``stream`` of the pattern(s), in event-time order.

    ``count``: an exact number of events or ``(min, max)``. ``keys``: how many key values, or
    the values themselves. ``start``: the first event's time. ``max_gap``: the largest step
    between consecutive times (ms or ``'30s'``). ``time_format``: ``"iso"`` or ``"millis"``
    (ignored for ``time F seconds``, which gets epoch seconds).
    """
    shape = infer(pattern_or_source, stream)
    low, high = (count, count) if isinstance(count, int) else count
    overrides = {tuple(name.split(".")): _as_strategy(v) for name, v in (fields or {}).items()}
    if time_format not in ("iso", "millis"):
        raise ValueError(f"time_format is 'iso' or 'millis', not {time_format!r}")

    generated: dict[tuple[str, ...], SearchStrategy[Any]] = {}
    for path in shape.keys:
        hint = shape.fields.get(path)
        literals = [*hint.strings, *hint.numbers] if hint else []
        ids = literals or (list(keys) if not isinstance(keys, int) else [f"k{i}" for i in range(1, keys + 1)])
        generated[path] = st.sampled_from(ids)
    for path, hint in shape.fields.items():
        if path not in generated and path != shape.time:
            generated[path] = values_for(hint)
    generated.update(overrides)

    if max_gap is not None:
        gap = duration_millis(max_gap)
    elif shape.within_ms:
        gap = shape.within_ms // 2
    else:
        gap = shape.window_ms // 4 if shape.window_ms else 10_000
    first = to_millis(start)
    time_path = shape.time if shape.time is not None and shape.time not in overrides else None
    seconds = shape.time_unit == "seconds"
    names = sorted(generated, key=len)  # parents before nested children

    @st.composite
    def build(draw: Any) -> list[dict[str, Any]]:
        n = draw(st.integers(low, high))
        events: list[dict[str, Any]] = []
        now = first
        for index in range(n):
            if index:
                step = draw(st.integers(0, gap))
                now += step - step % 1000 if seconds else step
            event: dict[str, Any] = {}
            for path in names:
                _put(event, path, draw(generated[path]))
            if time_path is not None:
                value: Any = now // 1000 if seconds else (format_timestamp_iso(now) if time_format == "iso" else now)
                _put(event, time_path, value)
            events.append(event)
        return events

    return build()


def values_for(hint: FieldHint) -> SearchStrategy[Any]:
    """Values for one field from what the pattern compares it with (see the module doc)."""
    options: list[SearchStrategy[Any]] = []
    if hint.numbers:
        options.append(_numbers(hint.numbers))
    if hint.strings:
        others = [s for s in _OTHER_STRINGS if s not in hint.strings]
        other = st.one_of(st.sampled_from(others), st.text("abcxyz", min_size=1, max_size=5))
        options.append(_weighted(st.sampled_from(hint.strings), other, 3))  # the literals, mostly
    if hint.booleans:
        options.append(st.booleans())
    if not options:
        return st.one_of(st.none(), st.integers(0, 100)) if hint.nullable else st.integers(0, 100)
    values = st.one_of(*options)
    return _weighted(values, st.none(), 4) if hint.nullable else values


def _weighted(usual: SearchStrategy[Any], rare: SearchStrategy[Any], odds: int) -> SearchStrategy[Any]:
    """``usual`` ``odds`` times out of ``odds + 1``, else ``rare``; shrinks towards ``usual``."""
    return st.integers(0, odds).flatmap(lambda n: rare if n == odds else usual)


def _numbers(literals: list[int | float]) -> SearchStrategy[int | float]:
    lo, hi = min(literals), max(literals)
    if all(isinstance(v, int) for v in literals):
        margin = max(2, (hi - lo) // 2, abs(hi) // 2)
        edges = sorted({v + d for v in literals for d in (-1, 0, 1)} | {lo - margin, hi + margin})
        return st.one_of(st.sampled_from(edges), st.integers(lo - margin, hi + margin))
    digits = max(_decimals(v) for v in literals) + 1
    margin = max(1.0, (hi - lo) / 2, abs(hi) / 2)
    near = []
    for v in literals:
        step = max(abs(v) * 1e-3, 10.0 ** -digits)
        near += [v - step, v, v + step]
    ordered = sorted(set(literals))
    near += [(a + b) / 2 for a, b in zip(ordered, ordered[1:])] + [lo - margin, hi + margin]
    spread = st.floats(lo - margin, hi + margin, allow_nan=False, allow_infinity=False).map(lambda x: round(x, digits))
    return st.one_of(st.sampled_from(sorted(set(round(x, digits + 3) for x in near))), spread)


def _decimals(value: float) -> int:
    if isinstance(value, int) or not math.isfinite(value):
        return 0
    text = repr(value)
    if "e" in text:
        return min(12, max(0, -int(text.split("e")[1])))
    return len(text.partition(".")[2].rstrip("0"))


def _as_strategy(value: Any) -> SearchStrategy[Any]:
    return value if isinstance(value, SearchStrategy) else st.just(value)


def _put(event: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    node = event
    for part in path[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = node[part] = {}
        node = child
    node[path[-1]] = value


# -- arrival orders -------------------------------------------------------------------------


def _times(events: Sequence[Any], time: str, unit: str) -> list[int]:
    path = time.split(".")
    out = []
    for index, event in enumerate(events):
        value: Any = event
        for part in path:
            value = value.get(part) if isinstance(value, dict) else None
        try:
            out.append(parse_timestamp(value, unit))
        except Exception as exc:  # EventTimeError: say which event
            raise ValueError(f"event {index + 1} has no usable time in {time!r}: {exc}") from exc
    return out


def in_order(events: Sequence[dict[str, Any]] | SearchStrategy[list[dict[str, Any]]], *,
             time: str = "ts", unit: str = "auto") -> SearchStrategy[list[dict[str, Any]]]:
    """The events in event-time order (stable: equal times keep their order)."""
    def sort(evs: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        times = _times(evs, time, unit)
        return [evs[i] for i in sorted(range(len(evs)), key=times.__getitem__)]

    if isinstance(events, SearchStrategy):
        return events.map(sort)
    return st.just(sort(events))


def shuffled_within(lateness: int | str, events: Sequence[dict[str, Any]] | SearchStrategy[list[dict[str, Any]]],
                    *, time: str = "ts", unit: str = "auto") -> SearchStrategy[list[dict[str, Any]]]:
    """Arrival orders of ``events`` in which no event is late for ``lateness`` (ms or ``'5s'``).

    An event is late when it arrives ``lateness`` + 1 ms or more behind the newest event before
    it (the engine's watermark rule), so every order drawn here reaches the pattern whole. Each
    event is delayed by up to ``lateness`` and the events are sorted by time plus delay; events
    with equal times keep their relative order (the engine orders equal times by arrival, so
    swapping them would be a different input, not a reordering). Shrinks towards event-time order.
    """
    bound = duration_millis(lateness)

    def shuffle(evs: Sequence[dict[str, Any]]) -> SearchStrategy[list[dict[str, Any]]]:
        events_ = list(evs)
        times = _times(events_, time, unit)
        base = sorted(range(len(events_)), key=times.__getitem__)

        @st.composite
        def order(draw: Any) -> list[dict[str, Any]]:
            delays = draw(st.lists(st.integers(0, bound), min_size=len(base), max_size=len(base)))
            arrival = sorted(range(len(base)), key=lambda k: (times[base[k]] + delays[k], k))
            slots: dict[int, list[int]] = {}
            for position, k in enumerate(arrival):
                slots.setdefault(times[base[k]], []).append(position)
            placed: list[int] = [0] * len(base)
            for k in range(len(base)):  # equal times: fill their slots in event-time order
                placed[slots[times[base[k]]].pop(0)] = base[k]
            return [events_[i] for i in placed]

        return order()

    if isinstance(events, SearchStrategy):
        return events.flatmap(shuffle)
    return shuffle(events)
