"""The public record of one detection."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Hashable


@dataclass(frozen=True, slots=True)
class Match:
    """One output of a pattern: a completed match (or, with ``timeout``, an expired partial one).

    ``fields`` are the ``emit`` values in the input's own representation; ``events`` maps each
    pattern variable to the original event dicts it matched, in order (for a window pattern:
    ``{"window": [the window's newest event]}``); ``time`` is the event time (epoch ms) at which
    the match was produced.
    """

    pattern: str
    key: Hashable
    fields: dict[str, Any]
    events: dict[str, list[Any]] = field(default_factory=dict)
    time: int = 0
    timeout: bool = False
    time_value: Any = None  # the time field as it appeared in the input (ISO string or number)

    def to_record(self) -> dict[str, Any]:
        """The JSON output form: ``pattern``, ``key``, ``time``, then the emitted fields."""
        key = list(self.key) if isinstance(self.key, tuple) else self.key
        record: dict[str, Any] = {"pattern": self.pattern, "key": key}
        if self.time_value is not None:
            record["time"] = self.time_value
        if self.timeout:
            record["timeout"] = True
        record.update(self.fields)
        return record
