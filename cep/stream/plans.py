"""Aggregate plans: one generated function updates all of a window's aggregates at once.

A window pattern has a fixed set of aggregates (``avg(temperature)``, ``count()``...). Calling
one accumulator object per aggregate per event costs more than the arithmetic itself, so a plan
generates, once per pattern, straight-line Python that updates a flat list of slots:

    def add(S, e):
        v0 = G0(e)
        if v0.__class__ is int or v0.__class__ is float:
            S[0] += 1; S[1] += v0
        S[2] += 1

The code comes only from the fixed templates below; the per-event value functions (compiled
from the pattern by ``cep.lang``) are passed in as constants ``G0, G1, ...`` — no text from a
pattern file is ever part of the generated source.

State is a list: constant size for count, sum, avg, stddev, first, last and (when values are
only added) min/max; a dict for distinct_count; a monotonic-queue object for min/max in plans
that also *remove* values (rolling and sliding-count windows). ``first``/``last`` in removing
plans are read from the window's history by the operator (``NEEDS_HISTORY``).
"""

from __future__ import annotations

from typing import Any, Callable

from cep.stream.aggregates import Max, Min, _Extreme

__all__ = ["AggregatePlan"]


def _number(v: Any) -> bool:
    return v.__class__ is int or v.__class__ is float


def _sd_add(S: list[Any], i: int, v: Any) -> None:
    """Sample variance from sums shifted by the first value K (slots n, K, s1, s2): with
    integers the sums are exact; with floats near each other there is little cancellation;
    and removal is exact subtraction, so a rolling window does not drift."""
    if S[i] == 0:
        S[i + 1] = v
    d = v - S[i + 1]
    S[i] += 1
    S[i + 2] += d
    S[i + 3] += d * d


def _sd_remove(S: list[Any], i: int, v: Any) -> None:
    d = v - S[i + 1]
    S[i] -= 1
    if S[i] == 0:
        S[i + 2] = S[i + 3] = 0
        return
    S[i + 2] -= d
    S[i + 3] -= d * d


def _sd_result(S: list[Any], i: int) -> Any:
    n = S[i]
    if n < 2:
        return None
    s1, s2 = S[i + 2], S[i + 3]
    numerator = s2 * n - s1 * s1  # exact for integers
    if numerator <= 0:
        return 0.0
    return (numerator / (n * (n - 1))) ** 0.5


def _dkey(v: Any) -> Any:
    if v.__class__ is bool:
        return ("bool", v)  # true is not 1
    if isinstance(v, (dict, list)):
        return ("json", repr(v))
    return v


def _distinct_add(D: dict[Any, int], v: Any) -> None:
    k = _dkey(v)
    D[k] = D.get(k, 0) + 1


def _distinct_remove(D: dict[Any, int], v: Any) -> None:
    k = _dkey(v)
    left = D.get(k, 0) - 1
    if left > 0:
        D[k] = left
    else:
        D.pop(k, None)


# kind -> (slots, initial values (callables for fresh mutable ones), add, remove, result)
# `{i}` is the first slot, `{v}` the value variable. Each template is fixed text.
_ADD = {
    "count()": "S[{i}] += 1",
    "count": "if {v} is not None: S[{i}] += 1",
    "sum": "if {v}.__class__ is int or {v}.__class__ is float:\n    S[{i}] += 1\n    S[{i1}] += {v}",
    "avg": "if {v}.__class__ is int or {v}.__class__ is float:\n    S[{i}] += 1\n    S[{i1}] += {v}",
    "stddev": "if {v}.__class__ is int or {v}.__class__ is float: _sd_add(S, {i}, {v})",
    "min": (
        "if {v}.__class__ is int or {v}.__class__ is float:\n"
        "    if S[{i}] is None or {v} < S[{i}]: S[{i}] = {v}\n"
        "elif {v}.__class__ is str and (S[{i1}] is None or {v} < S[{i1}]): S[{i1}] = {v}"
    ),
    "max": (
        "if {v}.__class__ is int or {v}.__class__ is float:\n"
        "    if S[{i}] is None or {v} > S[{i}]: S[{i}] = {v}\n"
        "elif {v}.__class__ is str and (S[{i1}] is None or {v} > S[{i1}]): S[{i1}] = {v}"
    ),
    "first": "if not S[{i1}] and {v} is not None:\n    S[{i}] = {v}\n    S[{i1}] = True",
    "last": "if {v} is not None: S[{i}] = {v}",
    "distinct_count": "if {v} is not None: _distinct_add(S[{i}], {v})",
}
_REMOVE = {
    "count()": "S[{i}] -= 1",
    "count": "if {v} is not None: S[{i}] -= 1",
    "sum": (
        "if {v}.__class__ is int or {v}.__class__ is float:\n    S[{i}] -= 1\n    S[{i1}] -= {v}\n"
        "    if not S[{i}]: S[{i1}] = 0"
    ),
    "avg": (
        "if {v}.__class__ is int or {v}.__class__ is float:\n    S[{i}] -= 1\n    S[{i1}] -= {v}\n"
        "    if not S[{i}]: S[{i1}] = 0"
    ),
    "stddev": "if {v}.__class__ is int or {v}.__class__ is float: _sd_remove(S, {i}, {v})",
    "min": "S[{i}].remove({v})",
    "max": "S[{i}].remove({v})",
    "distinct_count": "if {v} is not None: _distinct_remove(S[{i}], {v})",
}
_RESULT = {
    "count()": "S[{i}]",
    "count": "S[{i}]",
    "sum": "(S[{i1}] if S[{i}] else None)",
    "avg": "(S[{i1}] / S[{i}] if S[{i}] else None)",
    "stddev": "_sd_result(S, {i})",
    "min": "(S[{i}] if S[{i}] is not None else S[{i1}])",
    "max": "(S[{i}] if S[{i}] is not None else S[{i1}])",
    "first": "S[{i}]",
    "last": "S[{i}]",
    "distinct_count": "len(S[{i}])",
}
_SLOTS = {"count()": 1, "count": 1, "sum": 2, "avg": 2, "stddev": 4, "min": 2, "max": 2,
          "first": 2, "last": 1, "distinct_count": 1}
_INITIAL: dict[str, list[Any]] = {
    "count()": [0], "count": [0], "sum": [0, 0], "avg": [0, 0], "stddev": [0, 0, 0, 0],
    "min": [None, None], "max": [None, None], "first": [None, False], "last": [None],
}


def _indent(code: str, by: str) -> str:
    return "\n".join(by + line for line in code.split("\n"))


class AggregatePlan:
    """Generated ``add``/``remove``/``results`` for a fixed list of aggregates.

    ``removable`` plans (rolling, sliding count windows) return from ``add`` the tuple of
    per-event values, which the operator keeps so it can ``remove`` them later; their min/max
    are monotonic queues and their first/last come from the operator's history.
    """

    def __init__(self, kinds: tuple[str, ...], getters: tuple[Callable[[Any], Any] | None, ...],
                 removable: bool = False, fields: tuple[str | None, ...] | None = None) -> None:
        self.kinds = kinds
        self.removable = removable
        self.offsets: list[int] = []
        offset = 0
        for kind in kinds:
            self.offsets.append(offset)
            offset += 1 if removable and kind in ("min", "max") else _SLOTS[kind]
        self.size = offset
        namespace: dict[str, Any] = {
            "__builtins__": {"len": len, "int": int, "float": float, "str": str},
            "_sd_add": _sd_add, "_sd_remove": _sd_remove, "_sd_result": _sd_result,
            "_distinct_add": _distinct_add, "_distinct_remove": _distinct_remove,
        }
        add_lines, remove_lines, result_parts, values, unpack = [], [], [], [], []
        for n, (kind, getter) in enumerate(zip(kinds, getters)):
            i = self.offsets[n]
            slots = {"i": i, "i1": i + 1, "v": f"v{n}"}
            field = fields[n] if fields else None
            if kind != "count()" and field is not None:
                namespace[f"F{n}"] = field  # a constant, never spliced into the code
                add_lines.append(f"v{n} = e.get(F{n})")
                values.append(f"v{n}")
                unpack.append(f"v{n}")
            elif kind != "count()":
                namespace[f"G{n}"] = getter
                add_lines.append(f"v{n} = G{n}(e)")
                values.append(f"v{n}")
                unpack.append(f"v{n}")
            else:
                values.append("None")
                unpack.append(f"_{n}")
            if removable and kind in ("min", "max"):
                add_lines.append(f"S[{i}].add(v{n})")
                remove_lines.append(_REMOVE[kind].format(**slots))
                result_parts.append(f"S[{i}].result()")
                continue
            add_lines.append(_ADD[kind].format(**slots))
            if removable:
                if kind in ("first", "last"):
                    result_parts.append("None")  # read from the history by the operator
                    continue
                remove_lines.append(_REMOVE[kind].format(**slots))
            result_parts.append(_RESULT[kind].format(**slots))
        tail = f"\n    return ({', '.join(values)},)" if removable else ""
        remove_values = ", ".join(unpack) if unpack else "_"
        source = (
            "def add(S, e):\n" + _indent("\n".join(add_lines) or "pass", "    ") + tail + "\n\n"
            f"def remove(S, V):\n    {remove_values}, = V\n" + _indent("\n".join(remove_lines) or "pass", "    ") + "\n\n"
            f"def results(S):\n    return [{', '.join(result_parts)}]\n"
        )
        exec(compile(source, "<cep aggregate plan>", "exec"), namespace)  # noqa: S102 - fixed templates
        self.source = source
        # For code that inlines the plan (cep.stream.fused): the body of `add` (state `S`, event
        # `e`; it leaves the values in v0, v1...), the tuple of those values a removable plan
        # keeps, the body of `remove` (values tuple `V`), the results list, and the constants.
        self.add_body = "\n".join(add_lines) or "pass"
        self.values_tuple = f"({', '.join(values)},)"
        self.remove_body = f"{remove_values}, = V\n" + ("\n".join(remove_lines) or "pass")
        self.results_list = f"[{', '.join(result_parts)}]"
        self.namespace = namespace
        self.add: Callable[[list[Any], Any], Any] = namespace["add"]
        self.remove: Callable[[list[Any], tuple[Any, ...]], None] = namespace["remove"]
        self.results: Callable[[list[Any]], list[Any]] = namespace["results"]

    def new_state(self) -> list[Any]:
        state: list[Any] = []
        for kind in self.kinds:
            if self.removable and kind in ("min", "max"):
                state.append(Min() if kind == "min" else Max())
            elif kind == "distinct_count":
                state.append({})
            else:
                state.extend(_INITIAL[kind])
        return state

    # -- snapshots: JSON-able forms of a state --------------------------------------------

    def encode(self, state: list[Any]) -> list[Any]:
        out: list[Any] = []
        for value in state:
            if isinstance(value, _Extreme):
                out.append({"extreme": value.snapshot()})
            elif isinstance(value, dict):
                out.append({"distinct": [[list(k) if isinstance(k, tuple) else k, n] for k, n in value.items()]})
            else:
                out.append(value)
        return out

    def decode(self, data: list[Any]) -> list[Any]:
        state = self.new_state()
        for index, value in enumerate(data):
            if isinstance(value, dict) and "extreme" in value:
                state[index].restore(value["extreme"])
            elif isinstance(value, dict) and "distinct" in value:
                state[index] = {tuple(k) if isinstance(k, list) else k: n for k, n in value["distinct"]}
            else:
                state[index] = value
        return state
