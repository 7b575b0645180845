"""Generated hot loops: the driver's batch loop and the window operators, inlined.

Feeding an event goes through the driver's batch loop, a time getter, a key getter, an
operator and its aggregate plan: several Python calls per event, each costing more than the
work it does. This module writes, once per pattern, specialised functions from the fixed
templates below:

* ``driver_add_many``: the driver's batch loops (ordered: buffer, then release; unordered: each
  event to the processor at once), for any processor, with the time and key reads inlined;
* ``fused_tumbling_add_many``: the unordered batch loop with a tumbling window of order-free
  aggregates inlined as well — lateness check, watermark, window lookup, aggregate update;
* ``fused_rolling_on_event``: a rolling window's per-event step with its plan inlined, and
  ``fused_rolling_add_many``: the ordered batch loop that also runs that step inline when it
  releases events in the common case.

Inline code handles the common case only — epoch-number and ISO-8601 UTC times, plain top-level
keys (other getters get a head that calls them) — and calls the real getters for everything else (ISO strings, nested fields, errors), so every event
gets exactly the treatment of the unfused path: the same late/unusable ``problems`` with the
same reasons, the same watermark, timers fired at the same points through the driver's own
``_release``, and the same operator state, so firing, snapshots and restores are unchanged.

The source comes only from these templates and the aggregate plan's fixed templates; the
pattern contributes constants (field names, sizes, its compiled ``where``/``having``), never
text. This is the driver's and the operators' private business: the code reads and writes
their underscored state, and it is property-tested against the unfused paths
(tests/windows/test_fused.py).
"""

from __future__ import annotations

import textwrap
from datetime import datetime, timezone
from heapq import heappush
from typing import TYPE_CHECKING, Any, Callable, Sequence

from cep.errors import EventError
from cep.stream.timestamps import EPOCH_ORDINAL, MAX_MS, MIN_MS

if TYPE_CHECKING:
    from cep.stream.driver import EventTimeDriver
    from cep.stream.rolling import RollingOperator
    from cep.stream.windows import TimeWindowOperator

__all__ = ["driver_add_many", "fused_rolling_add_many", "fused_rolling_on_event", "fused_tumbling_add_many"]

Problems = list[tuple[int, "str | None"]]

# Read an event's time and key and refuse it when late: the head of every generated batch loop.
# Epoch numbers, ISO-8601 UTC strings and plain top-level keys inline (the getter's own fast
# path, see cep.stream.timestamps); everything else through the getters, which also give the
# error reasons.
_HEAD = '''
        for index, e in enumerate(events):
            t = e.get(TIME_FIELD)
            try:
                if t.__class__ is int:
                    ts = t{scale}
                    if ts < MIN_MS or ts > MAX_MS:
                        ts = TIME_OF(e)
                elif t.__class__ is str:
                    try:
                        dt = FROMISO(t)
                    except ValueError:
                        dt = None
                    if dt is not None and dt.tzinfo is UTC:
                        ts = ((dt.toordinal() - EPOCH_ORDINAL) * 86400000 + dt.hour * 3600000
                              + dt.minute * 60000 + dt.second * 1000 + dt.microsecond // 1000)
                    else:
                        ts = TIME_OF(e)
                else:
                    ts = TIME_OF(e)
                if ts <= wm:
                    problem((index, None))
                    continue
                k = e.get(KEY_FIELD)
                if k.__class__ is not str and (k is None or k.__class__ is dict or k.__class__ is list):
                    k = KEY_OF(e)
            except EventError as exc:
                problem((index, str(exc)))
                continue
'''

# The driver's ordered batch loop (EventTimeDriver.add_many): buffer, then release once.
_ORDERED = '''
def add_many(events):
    d = DRIVER
    run = d._run
    append = run.append
    heap = d._heap
    wm = d._wm
    max_ts = d._max_ts
    seq = d._seq
    problems = []
    problem = problems.append
    try:
{head}
            if not run or ts >= run[-1][0]:
                append((ts, seq, k, e))
            else:
                heappush(heap, (ts, seq, k, e))
            seq += 1
            if ts > max_ts:
                max_ts = ts
                if ts - LATENESS1 > wm:
                    wm = ts - LATENESS1
        d._wm = wm
{release}        if (run and run[0][0] <= wm) or heap or d._next_timer <= wm:
            d._release(wm)
    finally:
        d._max_ts = max_ts
        d._seq = seq
        d._tally(problems)
    return problems
'''

# The driver's unordered batch loop: each on-time event to the processor at once; timers
# fire whenever the watermark passes them (before the next event). `{body}` handles an event:
# the processor's on_event, or a tumbling window inlined (_TUMBLING_BODY).
_UNORDERED = '''
def add_many(events):
    d = DRIVER
{setup}    wm = d._wm
    max_ts = d._max_ts
    problems = []
    problem = problems.append
    index = -1
    try:
{head}
            if ts > max_ts:
                max_ts = ts
                if ts - LATENESS1 > wm:
                    wm = ts - LATENESS1
                    if d._next_timer <= wm:  # older than this event: they go first
                        d._wm = wm
                        d._release(wm)
{body}
    finally:
        d._wm = wm
        d._max_ts = max_ts
        d._seq += index + 1 - len(problems)  # accepted: all but the problems, up to where it stopped
{teardown}        d._tally(problems)
    return problems
'''

_ON_EVENT = ("    on_event = d._on_event\n", "            on_event(k, ts, e)", "")

# A tumbling window operator inlined in the unordered loop: (setup, body, teardown).
_TUMBLING = (
    "    op = OPERATOR\n    keys = op.keys\n    n = op._arrivals\n",
    '''{where}            n += 1
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
{aggregate}''',
    "        op._arrivals = n\n",
)

_WHERE = '''            if not WHERE(e):
                continue
'''

# A rolling window's step for event `e` of key `k` at `ts`, its plan inlined; `{skip}` leaves it.
_ROLLING_STEP = '''{where}st = keys.get(k)
if st is None:
    st = keys[k] = RECENT(NEW_STATE())
    if op._sweep is None:
        op._schedule_sweep(ts)
entries = st.entries
S = st.state
{add}
entries.append((ts, {values}))
horizon = ts - SIZE
while entries[0][0] < horizon:
    V = entries.popleft()[1]
{remove}
results = {results}
{emit}'''

# The common case of the driver's release (events in order, no timer due), stepping the
# rolling window inline; anything else goes to the driver's own _release.
_ROLLING_RELEASE = '''        if not heap and d._next_timer > wm:
            popleft = run.popleft
            while run and run[0][0] <= wm:
                ts, _, k, e = popleft()
{step}
                if d._next_timer <= wm or heap:
                    break  # the step registered a timer that is already due
'''


def _indent(code: str, by: int) -> str:
    return textwrap.indent(code, " " * by)


def _inline_fields(driver: EventTimeDriver) -> tuple[str, str, int] | None:
    """(time field, key field, time scale) when both are plain top-level fields."""
    time_field = getattr(driver._time_of, "inline_field", None)
    key_field = getattr(driver._key_of, "inline_field", None)
    if time_field is None or key_field is None:
        return None
    return time_field, key_field, driver._time_of.inline_scale  # type: ignore[union-attr]


def _generate(name: str, source: str, namespace: dict[str, Any]) -> Any:
    namespace["__builtins__"] = {**namespace.get("__builtins__", {}), "str": str, "dict": dict, "list": list,
                                 "int": int, "float": float, "len": len,
                                 "enumerate": enumerate}
    exec(compile(source, f"<cep fused {name}>", "exec"), namespace)  # noqa: S102 - fixed templates
    fn = namespace[name]
    fn.source = source
    return fn


def _head_namespace(driver: EventTimeDriver, fields: tuple[str, str, int] | None) -> dict[str, Any]:
    time_field, key_field, scale = fields or (None, None, 1)
    return {"DRIVER": driver, "TIME_FIELD": time_field, "TIME_SCALE": scale, "TIME_OF": driver._time_of,
            "KEY_FIELD": key_field, "KEY_OF": driver._key_of, "LATENESS1": driver._lateness1,
            "MIN_MS": MIN_MS, "MAX_MS": MAX_MS, "EventError": EventError, "FROMISO": datetime.fromisoformat,
            "UTC": timezone.utc, "EPOCH_ORDINAL": EPOCH_ORDINAL, "ValueError": ValueError}


# The same for any time and key getters (nested fields, several key fields).
_GENERIC_HEAD = '''
        for index, e in enumerate(events):
            try:
                ts = TIME_OF(e)
                if ts <= wm:
                    problem((index, None))
                    continue
                k = KEY_OF(e)
            except EventError as exc:
                problem((index, str(exc)))
                continue
'''


def _head(fields: tuple[str, str, int] | None) -> str:
    if fields is None:
        return _GENERIC_HEAD
    return _HEAD.format(scale="" if fields[2] == 1 else " * TIME_SCALE")


def driver_add_many(driver: EventTimeDriver) -> Callable[[Sequence[dict[str, Any]]], Problems]:
    """The batch loop of an event-time driver (``EventTimeDriver.add_many``): ordered (buffer,
    then release) or unordered (each on-time event to the processor at once), with the time
    and key reads inlined when they are plain top-level fields."""
    fields = _inline_fields(driver)
    namespace = _head_namespace(driver, fields)
    if driver._mode == "event_time_unordered":
        setup, body, teardown = _ON_EVENT
        return _generate("add_many", _UNORDERED.format(head=_head(fields), setup=setup, body=body,
                                                       teardown=teardown), namespace)
    namespace["heappush"] = heappush
    return _generate("add_many", _ORDERED.format(head=_head(fields), release=""), namespace)


def fused_tumbling_add_many(
    driver: EventTimeDriver, operator: TimeWindowOperator, window_class: type,
) -> Callable[[Sequence[dict[str, Any]]], Problems] | None:
    """The generated ``add_many`` for ``operator`` behind ``driver``, or None unless the driver
    is in unordered mode with a tumbling window (order-free aggregates)."""
    fields = _inline_fields(driver)
    if driver._mode != "event_time_unordered" or operator.spec.kind != "tumbling" or operator.ordered:
        return None
    plan = operator.plan
    setup, body, teardown = _TUMBLING
    body = body.format(where="" if operator.where is None else _WHERE, aggregate=_indent(plan.add_body, 12))
    source = _UNORDERED.format(head=_head(fields), setup=setup, body=body, teardown=teardown)
    namespace: dict[str, Any] = dict(plan.namespace)
    namespace.update(_head_namespace(driver, fields))
    namespace.update({"OPERATOR": operator, "WINDOW": window_class, "NEW_STATE": plan.new_state,
                      "SIZE": operator.spec.size_ms, "WHERE": operator.where})
    return _generate("add_many", source, namespace)


def _rolling_step(operator: RollingOperator, skip: str, indent: int) -> str:
    plan = operator.plan
    step = _ROLLING_STEP.format(
        where="" if operator.where is None else f"if not WHERE(e):\n    {skip}\n",
        add=plan.add_body, values=plan.values_tuple, remove=_indent(plan.remove_body, 4),
        results=plan.results_list,
        emit=("ON_WINDOW(k, horizon, ts, results, e)" if operator.accept is None
              else "if ACCEPT(results, horizon, ts, e):\n    ON_WINDOW(k, horizon, ts, results, e)"),
    )
    return _indent(step, indent)


def _rolling_namespace(operator: RollingOperator, recent_class: type) -> dict[str, Any]:
    plan = operator.plan
    namespace: dict[str, Any] = dict(plan.namespace)
    namespace.update({"op": operator, "keys": operator.keys, "RECENT": recent_class, "NEW_STATE": plan.new_state,
                      "SIZE": operator.spec.size_ms, "WHERE": operator.where, "ACCEPT": operator.accept,
                      "ON_WINDOW": operator.on_window})
    return namespace


def fused_rolling_on_event(operator: RollingOperator, recent_class: type) -> Callable[[Any, int, Any], None] | None:
    """``operator.on_event`` with the aggregate plan inlined (rolling windows evaluate every
    event), or None when an aggregate reads the window's history (first, last)."""
    if operator._history:
        return None
    source = "def on_event(k, ts, e):\n" + _rolling_step(operator, "return", 4) + "\n"
    return _generate("on_event", source, _rolling_namespace(operator, recent_class))


def fused_rolling_add_many(driver: EventTimeDriver, operator: RollingOperator,
                           recent_class: type) -> Callable[[Sequence[dict[str, Any]]], Problems] | None:
    """The driver's ordered batch loop whose release steps the rolling window inline."""
    fields = _inline_fields(driver)
    if driver._mode != "event_time" or operator._history:
        return None
    release = _ROLLING_RELEASE.format(step=_rolling_step(operator, "continue", 16))
    namespace = _head_namespace(driver, fields)
    namespace.update(_rolling_namespace(operator, recent_class))
    namespace["heappush"] = heappush
    return _generate("add_many", _ORDERED.format(head=_head(fields), release=release), namespace)
