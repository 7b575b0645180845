"""One generated loop for the hottest window pattern: a tumbling window of order-free aggregates.

Feeding such a pattern event by event goes through the driver's batch loop, a time getter, a
key getter, the window operator and its aggregate plan: five Python calls per event, each
costing more than the work it does. This module writes, once per pattern, a single
``add_many(events)`` that does all of it inline — the top-level time and key fields read
directly, the lateness check, the watermark, the window lookup and the aggregate update — and
falls back to the real getters only for what the inline code does not handle (ISO strings,
nested fields, errors), so every event gets exactly the treatment of the unfused path:

* the same late/unusable ``problems`` as :meth:`EventTimeDriver.add_many`, with the same reasons;
* the same watermark, and timers (window ends) fired at the same points, through the driver's
  own ``_release``;
* the same window state (:class:`~cep.stream.windows.TimeWindowOperator`'s ``keys`` and
  ``ends``, first-event order and newest event), so firing, snapshots and restores are those
  of the operator.

The source comes only from the fixed template below and the aggregate plan's fixed templates;
the pattern contributes constants (field names, the window size, its ``where`` function),
never text. This is the driver's and the operator's private business: the loop reads and writes
their underscored state, and it is property-tested against the unfused path
(tests/windows/test_fused.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Sequence

from cep.errors import EventError
from cep.stream.timestamps import MAX_MS, MIN_MS

if TYPE_CHECKING:
    from cep.stream.driver import EventTimeDriver
    from cep.stream.windows import TimeWindowOperator

__all__ = ["fused_tumbling_add_many"]

Problems = list[tuple[int, "str | None"]]

_TEMPLATE = '''
def add_many(events):
    d = DRIVER
    op = OPERATOR
    keys = op.keys
    wm = d._wm
    max_ts = d._max_ts
    n = op._arrivals
    problems = []
    problem = problems.append
    index = -1
    accepted = 0
    try:
        for e in events:
            index += 1
            t = e.get(TIME_FIELD)
            try:
                if t.__class__ is int:
                    ts = t{scale}
                    if ts < MIN_MS or ts > MAX_MS:
                        ts = TIME_OF(e)
                else:
                    ts = TIME_OF(e)
                if ts <= wm:
                    problem((index, None))
                    continue
                k = e.get(KEY_FIELD)
                if k is None or k.__class__ is dict or k.__class__ is list:
                    k = KEY_OF(e)
            except EventError as exc:
                problem((index, str(exc)))
                continue
            accepted += 1
            if ts > max_ts:
                max_ts = ts
                if ts - LATENESS1 > wm:
                    wm = ts - LATENESS1
                    if d._next_timer <= wm:
                        d._wm = wm
                        d._release(wm)
{where}            n += 1
            windows = keys.get(k)
            if windows is None:
                windows = keys[k] = {{}}
            start = ts - ts % SIZE
            w = windows.get(start)
            if w is None:
                w = windows[start] = WINDOW(start, start + SIZE, NEW_STATE())
                w.first_at = (ts, n)
                w.last_ts = ts
                w.last = e
                op._schedule(k, start + SIZE)
            else:
                if ts < w.first_at[0]:
                    w.first_at = (ts, n)
                if ts >= w.last_ts:
                    w.last_ts = ts
                    w.last = e
            S = w.state
{aggregate}
    finally:
        d._wm = wm
        d._max_ts = max_ts
        d._seq += accepted
        op._arrivals = n
        d._tally(problems)
    return problems
'''

_WHERE = """            if not WHERE(e):
                continue
"""


def fused_tumbling_add_many(
    driver: EventTimeDriver, operator: TimeWindowOperator, window_class: type,
) -> Callable[[Sequence[dict[str, Any]]], Problems] | None:
    """The generated ``add_many`` for ``operator`` behind ``driver``, or None when the pattern
    does not have the shape it handles (top-level time and key fields; the driver in
    unordered mode, i.e. a tumbling window of order-free aggregates)."""
    time_of = driver._time_of
    key_of = driver._key_of
    time_field = getattr(time_of, "inline_field", None)
    key_field = getattr(key_of, "inline_field", None)
    if time_field is None or key_field is None or driver._mode != "event_time_unordered":
        return None
    if operator.spec.kind != "tumbling" or operator.ordered:
        return None
    plan = operator.plan
    scale = time_of.inline_scale  # type: ignore[union-attr]
    source = _TEMPLATE.format(
        scale="" if scale == 1 else " * TIME_SCALE",
        where="" if operator.where is None else _WHERE,
        aggregate="\n".join("            " + line for line in plan.add_body.split("\n")),
    )
    namespace: dict[str, Any] = dict(plan.namespace)
    namespace.update({
        "DRIVER": driver, "OPERATOR": operator, "WINDOW": window_class, "NEW_STATE": plan.new_state,
        "TIME_FIELD": time_field, "TIME_SCALE": scale, "TIME_OF": time_of, "KEY_FIELD": key_field,
        "KEY_OF": key_of, "LATENESS1": driver._lateness1, "SIZE": operator.spec.size_ms,
        "WHERE": operator.where, "MIN_MS": MIN_MS, "MAX_MS": MAX_MS, "EventError": EventError,
    })
    namespace["__builtins__"] = {**namespace["__builtins__"], "str": str, "dict": dict, "list": list}
    exec(compile(source, "<cep fused window ingest>", "exec"), namespace)  # noqa: S102 - fixed template
    add_many: Callable[[Sequence[dict[str, Any]]], Problems] = namespace["add_many"]
    add_many.source = source  # type: ignore[attr-defined]
    return add_many
