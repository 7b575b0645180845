"""The runtime helpers that compiled expressions call: null-safe operators and functions.

The rule everywhere: a missing field is ``null``; a comparison involving ``null`` is false;
arithmetic involving ``null`` gives ``null``; a type mismatch ("abc" < 5) is treated like a
comparison with ``null`` rather than crashing the detector on one odd event.
These are the only callables a pattern file can reach.
"""

from __future__ import annotations

import re
from typing import Any, Callable

from cep.stream.timestamps import parse_timestamp

_NUMBER = (int, float)


def get_path(obj: Any, parts: tuple[str, ...]) -> Any:
    for part in parts:
        if obj.__class__ is not dict:
            return None
        obj = obj.get(part)
    return obj


def time_ms(value: Any, unit: str = "auto") -> int | None:
    """A time-field value in epoch milliseconds, or None when absent or unparseable."""
    if value is None:
        return None
    try:
        return parse_timestamp(value, unit)
    except (ValueError, TypeError):
        return None


def _comparable(a: Any, b: Any) -> bool:
    """Same kind of value: both numbers (not booleans), or the same type."""
    if a is None or b is None:
        return False
    ca, cb = a.__class__, b.__class__
    if ca is cb:
        return True
    return (ca is int or ca is float) and (cb is int or cb is float)


def lt(a: Any, b: Any) -> bool:
    return _comparable(a, b) and a < b


def le(a: Any, b: Any) -> bool:
    return _comparable(a, b) and a <= b


def gt(a: Any, b: Any) -> bool:
    return _comparable(a, b) and a > b


def ge(a: Any, b: Any) -> bool:
    return _comparable(a, b) and a >= b


def eq(a: Any, b: Any) -> bool:
    """Equal and of the same kind: ``true == 1`` is false, as it is in JSON's data model."""
    if a is None or b is None:
        return False
    if (a.__class__ is bool) is not (b.__class__ is bool):
        return False
    return a == b


def ne(a: Any, b: Any) -> bool:
    return a is not None and b is not None and not eq(a, b)


def _arith(op: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    def apply(a: Any, b: Any) -> Any:
        if a is None or b is None:
            return None
        try:
            return op(a, b)
        except (TypeError, ZeroDivisionError, OverflowError, ValueError):
            return None

    return apply


add = _arith(lambda a, b: a + b)
sub = _arith(lambda a, b: a - b)
mul = _arith(lambda a, b: a * b)
div = _arith(lambda a, b: a / b)
mod = _arith(lambda a, b: a % b)


def neg(a: Any) -> Any:
    return -a if isinstance(a, _NUMBER) and a.__class__ is not bool else None


def truthy(a: Any) -> bool:
    return bool(a) if a is not None else False


def in_list(a: Any, options: Any) -> bool:
    if a is None or options is None:
        return False
    try:
        return a in options
    except TypeError:
        return False


def between(a: Any, low: Any, high: Any) -> bool:
    return ge(a, low) and le(a, high)


# -- functions callable from pattern files -------------------------------------------------


def _abs(x: Any) -> Any:
    return abs(x) if isinstance(x, _NUMBER) else None


def _round(x: Any, digits: Any = 0) -> Any:
    if not isinstance(x, _NUMBER) or not isinstance(digits, int):
        return None
    return round(x, digits) if digits else round(x)


def _str_fn(op: Callable[..., Any]) -> Callable[..., Any]:
    def apply(s: Any, *args: Any) -> Any:
        if not isinstance(s, str) or any(not isinstance(a, str) for a in args):
            return None
        return op(s, *args)

    return apply


def _len(x: Any) -> Any:
    return len(x) if isinstance(x, (str, list, dict)) else None


def _contains(container: Any, item: Any) -> Any:
    if item is None:
        return None
    if isinstance(container, str):
        return isinstance(item, str) and item in container
    if isinstance(container, list):
        return item in container
    return None


_REGEX_CACHE: dict[str, re.Pattern[str]] = {}


def _matches(s: Any, pattern: Any) -> Any:
    if not isinstance(s, str) or not isinstance(pattern, str):
        return None
    compiled = _REGEX_CACHE.get(pattern)
    if compiled is None:
        try:
            compiled = re.compile(pattern)
        except re.error:
            return None
        if len(_REGEX_CACHE) < 256:
            _REGEX_CACHE[pattern] = compiled
    return compiled.search(s) is not None


def _coalesce(*args: Any) -> Any:
    for a in args:
        if a is not None:
            return a
    return None


FUNCTIONS: dict[str, tuple[Callable[..., Any], int, int | None]] = {
    # name: (implementation, min args, max args)
    "abs": (_abs, 1, 1),
    "round": (_round, 1, 2),
    "lower": (_str_fn(str.lower), 1, 1),
    "upper": (_str_fn(str.upper), 1, 1),
    "len": (_len, 1, 1),
    "contains": (_contains, 2, 2),
    "startswith": (_str_fn(str.startswith), 2, 2),
    "endswith": (_str_fn(str.endswith), 2, 2),
    "matches": (_matches, 2, 2),
    "coalesce": (_coalesce, 1, None),
}


# -- aggregates over a variable's events ----------------------------------------------------


def _numbers(values: list[Any]) -> list[Any]:
    return [v for v in values if isinstance(v, _NUMBER) and v.__class__ is not bool]


def agg_count(values: list[Any]) -> int:
    return len(values)


def agg_sum(values: list[Any]) -> Any:
    nums = _numbers(values)
    return sum(nums) if nums else None


def agg_avg(values: list[Any]) -> Any:
    nums = _numbers(values)
    return sum(nums) / len(nums) if nums else None


def agg_min(values: list[Any]) -> Any:
    present = [v for v in values if v is not None]
    try:
        return min(present) if present else None
    except TypeError:
        return None


def agg_max(values: list[Any]) -> Any:
    present = [v for v in values if v is not None]
    try:
        return max(present) if present else None
    except TypeError:
        return None


def agg_first(values: list[Any]) -> Any:
    return values[0] if values else None


def agg_last(values: list[Any]) -> Any:
    return values[-1] if values else None


def agg_stddev(values: list[Any]) -> Any:
    """Sample standard deviation (SQL's STDDEV / STDDEV_SAMP); null below two numbers."""
    nums = _numbers(values)
    n = len(nums)
    if n < 2:
        return None
    mean = sum(nums) / n
    return (sum((x - mean) ** 2 for x in nums) / (n - 1)) ** 0.5


def agg_distinct_count(values: list[Any]) -> int:
    """How many distinct non-null values (unhashable ones compared by their JSON-ish repr)."""
    seen = set()
    for v in values:
        if v is None:
            continue
        try:
            seen.add(v if not isinstance(v, bool) else ("bool", v))
        except TypeError:
            seen.add(repr(v))
    return len(seen)


AGGREGATES: dict[str, Callable[[list[Any]], Any]] = {
    "count": agg_count,
    "sum": agg_sum,
    "avg": agg_avg,
    "min": agg_min,
    "max": agg_max,
    "first": agg_first,
    "last": agg_last,
    "stddev": agg_stddev,
    "distinct_count": agg_distinct_count,
}


class PrevHistory:
    """The key's recent events for ``prev(field, n)``: the operator points ``events`` at the
    current key's history (oldest first, the current event not included) before evaluating
    conditions; ``depth`` is the largest n the pattern uses."""

    __slots__ = ("events", "depth")

    def __init__(self) -> None:
        self.events: Any = ()
        self.depth = 0


def prev(history: PrevHistory, parts: tuple[str, ...], n: int) -> Any:
    events = history.events
    if len(events) < n:
        return None
    return get_path(events[-n], parts)
