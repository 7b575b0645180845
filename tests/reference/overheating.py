"""Reference semantics of the canonical ``overheating`` pattern, as a test oracle.

The pattern (patterns/overheating.cep)::

    pattern overheating
      from sensors
      key sensor_id
      time ts lateness 10s
      window tumbling 1m
      having avg(temperature) > 40
      emit sensor_id, avg(temperature) as avg_temp, count() as readings,
           window.start as window_start, window.end as window_end

Written from the rules (docs/semantics.md and the window rules in cep/stream/windows.py) with
the stdlib only and no import from ``cep``, in the most direct form: a pass over the lines for
lateness, a sort into event-time order, a dict of windows, a final sort into firing order.

1. Lines are numbered from 1. Blank (or whitespace-only) lines are skipped silently. A line is
   dead-lettered when it is not UTF-8, not JSON (``NaN``/``Infinity`` are not JSON), not a JSON
   object, or has a ``ts`` that is missing, null or not a timestamp; and, when its ``ts`` is on
   time, when its ``sensor_id`` is missing, null, a list or an object. (The engine reads the time
   first, then decides lateness, then reads the key: a late line with no ``sensor_id`` is late,
   not dead. The generator never writes one; :func:`run` follows the engine.)
2. Event time: ``ts`` as epoch milliseconds: an integer (not a bool), a finite float rounded to
   the millisecond, a string of digits read as a number, or an ISO-8601 string (``Z``, an
   offset, or no zone meaning UTC; fractions beyond the millisecond truncated).
3. Watermark (Flink's bounded out-of-orderness): after each accepted line,
   ``max ts seen - 10000 - 1``; before any there is none. A line is late when
   ``ts <= watermark`` at its arrival; late and dead-lettered lines move nothing.
4. The accepted readings in event-time order, ties by arrival, go into tumbling windows aligned
   to the epoch, ``[k*60000, (k+1)*60000)`` per ``sensor_id``: a reading exactly on a minute
   edge opens the next window. Per window: ``avg`` over the temperatures that are numbers
   (int or float, not bool), summed in that order; ``count()`` counts every reading, including
   those whose temperature is missing or not a number. A window with no numeric temperature has
   no average and is never flagged.
5. A window is output when its average is ``> 40``. Output order is firing order: windows fire
   when the watermark reaches their end, so by end; windows with the same end fire in the order
   their timers were registered, i.e. the order in which each (sensor, window) got its first
   reading in the event-time order of rule 4.
6. Each record: ``pattern``, ``key`` (the sensor id of the window's first reading), ``time``
   (= ``window_end``), ``sensor_id`` (of the window's last reading), ``avg_temp``, ``readings``,
   ``window_start``, ``window_end``. The window bounds are epoch ms when the window's last
   reading carried a numeric ``ts`` and ISO-8601 UTC strings (``2024-01-01T00:01:00Z``,
   ``.fff`` only when nonzero) when it carried a string.

Sensor ids are compared as Python values, as the engine does, so ``1``, ``1.0`` and ``true``
would be one sensor; whether that is right is open (JSON says ``true`` is not ``1``), so no
test depends on it and the generator writes string ids only.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Iterable

__all__ = [
    "PATTERN", "LATENESS_MS", "WINDOW_MS", "THRESHOLD", "OracleResult", "Window",
    "run", "run_file", "event_time_ms", "iso",
]

PATTERN = "overheating"
LATENESS_MS = 10_000
WINDOW_MS = 60_000
THRESHOLD = 40

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_DIGITS = re.compile(r"[+-]?\d+(\.\d*)?\Z")


@dataclass
class Window:
    """One (sensor, minute) window with at least one on-time reading."""

    key: Any
    start: int
    registered: int  # order in which the window got its first reading (event-time order)
    total: int | float = 0
    numbers: int = 0
    readings: int = 0
    lines: list[int] = field(default_factory=list)
    last: dict[str, Any] | None = None

    @property
    def end(self) -> int:
        return self.start + WINDOW_MS

    @property
    def avg(self) -> float | None:
        return self.total / self.numbers if self.numbers else None

    @property
    def flagged(self) -> bool:
        return self.avg is not None and self.avg > THRESHOLD


@dataclass
class OracleResult:
    alerts: list[dict[str, Any]] = field(default_factory=list)
    dead_lettered: list[int] = field(default_factory=list)  # line numbers
    late: list[int] = field(default_factory=list)  # line numbers
    reasons: dict[int, str] = field(default_factory=dict)  # dead-lettered line -> why
    windows: list[Window] = field(default_factory=list)  # every window, in firing order


def event_time_ms(value: Any) -> int:
    """``ts`` as epoch milliseconds; ValueError when it is not a timestamp."""
    if isinstance(value, bool) or value is None:
        raise ValueError(f"{value!r} is not a timestamp")
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{value!r} is not a finite timestamp")
        return round(value)
    if not isinstance(value, str):
        raise ValueError(f"{type(value).__name__} is not a timestamp")
    text = value.strip()
    if _DIGITS.match(text):
        return event_time_ms(float(text) if "." in text else int(text))
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    moment = datetime.fromisoformat(text)  # ValueError for "soon", ""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return (moment - _EPOCH) // timedelta(milliseconds=1)


def iso(ms: int) -> str:
    """Epoch ms as ISO-8601 UTC with ``Z``; milliseconds only when nonzero."""
    moment = _EPOCH + timedelta(milliseconds=ms)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    return f"{text}.{ms % 1000:03d}Z" if ms % 1000 else text + "Z"


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _usable_key(value: Any) -> bool:
    return value is not None and not isinstance(value, (list, dict))


def run(lines: Iterable[str | bytes]) -> OracleResult:
    """Apply the rules in the module docstring to ``lines`` (one raw input line each)."""
    result = OracleResult()
    accepted: list[tuple[int, int, int, dict[str, Any]]] = []  # (ts, arrival, line, record)
    max_ts: int | None = None
    for number, raw in enumerate(lines, start=1):
        if isinstance(raw, bytes):
            raw = raw.rstrip(b"\r\n")
        else:
            raw = raw.rstrip("\r\n")
        if not raw.strip():
            continue
        try:
            text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
            record = json.loads(text, parse_constant=_reject_constant)
            if not isinstance(record, dict):
                raise ValueError(f"not a JSON object ({type(record).__name__})")
            ts = event_time_ms(record.get("ts"))
        except ValueError as exc:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
            result.dead_lettered.append(number)
            result.reasons[number] = str(exc)
            continue
        if max_ts is not None and ts <= max_ts - LATENESS_MS - 1:
            result.late.append(number)
            continue
        if not _usable_key(record.get("sensor_id")):
            result.dead_lettered.append(number)
            result.reasons[number] = "no usable sensor_id"
            continue
        accepted.append((ts, len(accepted), number, record))
        max_ts = ts if max_ts is None else max(max_ts, ts)

    windows: dict[tuple[Any, int], Window] = {}
    for ts, _, number, record in sorted(accepted, key=lambda a: (a[0], a[1])):
        sensor = record["sensor_id"]
        start = ts - ts % WINDOW_MS  # floor, also before 1970
        window = windows.get((sensor, start))
        if window is None:
            window = windows[(sensor, start)] = Window(sensor, start, len(windows))
        temperature = record.get("temperature")
        if _is_number(temperature):
            window.total += temperature
            window.numbers += 1
        window.readings += 1
        window.lines.append(number)
        window.last = record

    result.windows = sorted(windows.values(), key=lambda w: (w.end, w.registered))
    for window in result.windows:
        if not window.flagged:
            continue
        assert window.last is not None
        as_text = isinstance(window.last["ts"], str)
        start = iso(window.start) if as_text else window.start
        end = iso(window.end) if as_text else window.end
        result.alerts.append(
            {
                "pattern": PATTERN,
                "key": window.key,
                "time": end,
                "sensor_id": window.last["sensor_id"],
                "avg_temp": window.avg,
                "readings": window.readings,
                "window_start": start,
                "window_end": end,
            }
        )
    return result


def run_file(path: str) -> OracleResult:
    """:func:`run` over the lines of a file (plain JSON lines, not gzip)."""
    with open(path, "rb") as file:
        return run(file.read().split(b"\n"))
