"""Watermarks: how far event time has certainly progressed.

We follow Flink's bounded-out-of-orderness strategy. The watermark is
``max_ts_seen - lateness - 1`` and an event is *late* iff ``ts <= watermark``. The ``- 1``
makes the bound inclusive: an event exactly ``lateness`` ms older than the newest one seen is
still on time, one more millisecond and it is late.

A watermark ``W`` is a promise that no more on-time events with ``ts <= W`` will come, which
is what lets the driver release buffered events and fire timers up to ``W``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["MIN_WATERMARK", "END_OF_TIME", "BoundedOutOfOrderness", "WatermarkTracker"]

MIN_WATERMARK = -(2**63)
"""Watermark before any event: nothing is late yet (every timestamp is greater)."""

END_OF_TIME = 2**63 - 1
"""Watermark at the end of bounded input: every buffered event and timer is due."""


@dataclass(frozen=True, slots=True)
class BoundedOutOfOrderness:
    """Config: events may arrive up to ``lateness_ms`` behind the newest event seen."""

    lateness_ms: int

    def __post_init__(self) -> None:
        if type(self.lateness_ms) is not int or self.lateness_ms < 0:
            raise ValueError(f"lateness_ms must be a non-negative int, got {self.lateness_ms!r}")

    def create(self) -> WatermarkTracker:
        """Build the private, mutable tracker this configuration describes."""
        return WatermarkTracker(self.lateness_ms)


class WatermarkTracker:
    """Tracks the newest timestamp seen and the watermark derived from it.

    ``current`` is a plain attribute so hot loops can read it without a call. It never goes
    backwards, also when :meth:`advance_to` pushed it ahead of what the events imply.
    """

    __slots__ = ("lateness_ms", "max_ts", "current")

    def __init__(self, lateness_ms: int) -> None:
        self.lateness_ms = lateness_ms
        self.max_ts = MIN_WATERMARK
        self.current = MIN_WATERMARK

    def is_late(self, ts: int) -> bool:
        return ts <= self.current

    def observe(self, ts: int) -> int:
        """Note an event timestamp; return the (possibly advanced) watermark."""
        if ts > self.max_ts:
            self.max_ts = ts
            wm = ts - self.lateness_ms - 1
            if wm > self.current:
                self.current = wm
        return self.current

    def advance_to(self, watermark: int) -> int:
        """Move the watermark forward explicitly (idle source, end of input); never back."""
        if watermark > self.current:
            self.current = watermark
        return self.current

    def snapshot(self) -> dict[str, Any]:
        return {"max_ts": self.max_ts, "current": self.current}

    def restore(self, data: dict[str, Any]) -> None:
        self.max_ts = int(data["max_ts"])
        self.current = int(data["current"])
