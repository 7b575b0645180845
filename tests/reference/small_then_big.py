"""Reference semantics of the canonical ``small_then_big`` pattern, as a test oracle.

The pattern (docs/language.md)::

    pattern small_then_big
      from transactions
      key card_id
      time ts lateness 5s
      match small next big within 1m
      define
        small as amount < 0.10
        big as amount > 500
      skip past last
      emit card_id, small.amount as small_amount, big.amount as big_amount,
           small.ts as small_ts, big.ts as big_ts

Deliberately written from the rules, with the stdlib only and no import from ``cep``, in the
most direct form: lists, sorting, a loop over consecutive pairs. The rules:

1. Lines are numbered from 1. Blank (or whitespace-only) lines are skipped silently. A line is
   dead-lettered when it is not UTF-8, not JSON (``NaN``/``Infinity`` are not JSON), not a JSON
   object, has no ``ts`` or a ``ts`` that is not a timestamp, or has no usable ``card_id``
   (missing, null, or a list/object).
2. Event time: ``ts`` as epoch milliseconds. An ISO-8601 string (``Z``, an offset, or no zone
   meaning UTC; fractions beyond the millisecond truncated), or an integer (not a bool) of
   epoch milliseconds. Floats and digit strings are dead-lettered here, so feed the oracle
   ISO strings when comparing with the engine.
3. Watermark (Flink's bounded out-of-orderness): after each accepted event,
   ``max ts seen - 5000 - 1``; before any event there is none. An event is late when
   ``ts <= watermark`` at its arrival, computed before it raises the max. Late events are
   dropped entirely. So an event exactly 5 s older than the max is on time, 5.001 s is late.
4. The other events are ordered by (ts, arrival index). Per card, a match is a pair of
   consecutive events of that card with ``first.amount < 0.10``, ``second.amount > 500`` and
   ``second.ts - first.ts < 60000``. An amount that is not an int or float (string, null,
   missing, bool) is neither small nor big, but the event still sits between its neighbours.
   Skip past last needs no code: a big event (> 500) can never be the small of the next pair.
5. Alerts are ordered by (big ts, big arrival index).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Iterable

__all__ = ["PATTERN", "LATENESS_MS", "WITHIN_MS", "OracleResult", "run", "run_file", "event_time_ms"]

PATTERN = "small_then_big"
LATENESS_MS = 5_000
WITHIN_MS = 60_000

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


@dataclass
class OracleResult:
    alerts: list[dict[str, Any]] = field(default_factory=list)
    dead_lettered: list[int] = field(default_factory=list)  # line numbers
    late: list[int] = field(default_factory=list)  # line numbers
    reasons: dict[int, str] = field(default_factory=dict)  # dead-lettered line -> why


@dataclass
class _Event:
    line: int
    arrival: int
    ts_ms: int
    record: dict[str, Any]


def event_time_ms(value: Any) -> int:
    """``ts`` as epoch milliseconds; ValueError when it is not a timestamp."""
    if isinstance(value, bool):
        raise ValueError("a boolean is not a timestamp")
    if isinstance(value, int):
        return value
    if not isinstance(value, str):
        raise ValueError(f"{type(value).__name__} is not a timestamp")
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    moment = datetime.fromisoformat(text)  # raises ValueError for "not a time"
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return (moment - _EPOCH) // timedelta(milliseconds=1)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _parse(raw: str | bytes) -> dict[str, Any]:
    """The event on one line, or ValueError saying why the line is dead-lettered."""
    text = raw.decode("utf-8") if isinstance(raw, bytes) else raw  # UnicodeDecodeError is a ValueError
    value = json.loads(text, parse_constant=_reject_constant)
    if not isinstance(value, dict):
        raise ValueError(f"not a JSON object ({type(value).__name__})")
    if "ts" not in value:
        raise ValueError("no ts")
    event_time_ms(value["ts"])
    card = value.get("card_id")
    if card is None or isinstance(card, (list, dict)):
        raise ValueError("no usable card_id")
    return value


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_small(record: dict[str, Any]) -> bool:
    amount = record.get("amount")
    return _is_number(amount) and amount < 0.10


def _is_big(record: dict[str, Any]) -> bool:
    amount = record.get("amount")
    return _is_number(amount) and amount > 500


def run(lines: Iterable[str | bytes]) -> OracleResult:
    """Apply the rules in the module docstring to ``lines`` (one raw input line each)."""
    result = OracleResult()
    accepted: list[_Event] = []
    max_ts: int | None = None
    for number, raw in enumerate(lines, start=1):
        if isinstance(raw, bytes):
            raw = raw.rstrip(b"\r\n")
            blank = not raw.strip()
        else:
            raw = raw.rstrip("\r\n")
            blank = not raw.strip()
        if blank:
            continue
        try:
            record = _parse(raw)
        except ValueError as exc:
            result.dead_lettered.append(number)
            result.reasons[number] = str(exc)
            continue
        ts_ms = event_time_ms(record["ts"])
        watermark = None if max_ts is None else max_ts - LATENESS_MS - 1
        if watermark is not None and ts_ms <= watermark:
            result.late.append(number)
            continue
        accepted.append(_Event(number, len(accepted), ts_ms, record))
        max_ts = ts_ms if max_ts is None else max(max_ts, ts_ms)

    in_time_order = sorted(accepted, key=lambda e: (e.ts_ms, e.arrival))
    by_card: dict[Any, list[_Event]] = {}
    for event in in_time_order:
        by_card.setdefault(event.record["card_id"], []).append(event)

    matches: list[tuple[_Event, _Event]] = []
    for events in by_card.values():
        for first, second in zip(events, events[1:]):
            if (
                _is_small(first.record)
                and _is_big(second.record)
                and second.ts_ms - first.ts_ms < WITHIN_MS
            ):
                matches.append((first, second))
    matches.sort(key=lambda pair: (pair[1].ts_ms, pair[1].arrival))

    for small, big in matches:
        card = small.record["card_id"]
        result.alerts.append(
            {
                "pattern": PATTERN,
                "key": card,
                "card_id": card,
                "small_amount": small.record["amount"],
                "big_amount": big.record["amount"],
                "small_ts": small.record["ts"],
                "big_ts": big.record["ts"],
            }
        )
    return result


def run_file(path: str) -> OracleResult:
    """:func:`run` over the lines of a file (plain JSON lines, not gzip)."""
    with open(path, "rb") as file:
        return run(file.read().split(b"\n"))
