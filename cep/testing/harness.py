"""The test harness: drive the real detector by hand and look at what it emits.

A :class:`Harness` wraps one :class:`~cep.detector.Detector` — the same engine ``cep replay``
runs — and lets a test feed events, move the watermark and end the input one call at a time,
collecting every output as a :class:`~cep.match.Match`. Nothing here reads a clock: time moves
only when the test feeds an event or calls :meth:`Harness.advance` / :meth:`Harness.finish`.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from cep.detector import LATE, Detector, Stats
from cep.errors import CepError, EventError, StateError
from cep.lang.compiler import CompiledPattern
from cep.lang.load import compile_source, read_pattern_file
from cep.match import Match
from cep.stream.timestamps import parse_timestamp
from cep.stream.watermarks import END_OF_TIME

__all__ = ["Harness", "to_millis", "duration_millis"]

_DURATION = re.compile(r"\s*(\d+)\s*(ms|s|m|h|d)\s*\Z")
_UNIT_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}


def to_millis(ts: int | str) -> int:
    """An instant as epoch milliseconds: an int is taken as is, a string as ISO-8601."""
    if isinstance(ts, bool) or not isinstance(ts, (int, str)):
        raise TypeError(f"a time is epoch milliseconds (int) or an ISO-8601 string, not {ts!r}")
    if isinstance(ts, int):
        return ts
    return parse_timestamp(ts)


def duration_millis(d: int | str) -> int:
    """A duration in milliseconds: an int is taken as is, a string is written as in patterns
    (``250ms``, ``10s``, ``1m``, ``2h``, ``1d``)."""
    if isinstance(d, bool) or not isinstance(d, (int, str)):
        raise TypeError(f"a duration is milliseconds (int) or text such as '30s', not {d!r}")
    if isinstance(d, int):
        if d < 0:
            raise ValueError(f"a duration cannot be negative, got {d}")
        return d
    found = _DURATION.match(d)
    if not found:
        raise ValueError(f"{d!r} is not a duration; write it as in patterns: 250ms, 10s, 1m, 2h, 1d")
    return int(found.group(1)) * _UNIT_MS[found.group(2)]


class Harness:
    """Feed events to patterns through the real engine and collect what they emit.

    ::

        from cep.testing import Harness

        h = Harness(open("patterns/small_then_big.cep").read())
        h.feed([{"card_id": "c1", "amount": 0.05, "ts": "2024-01-01T00:00:00Z"},
                {"card_id": "c1", "amount": 900, "ts": "2024-01-01T00:00:20Z"}])
        h.finish()                          # end of input: every buffered event is processed
        [m.fields["big_amount"] for m in h.matches]   # [900]

    ``source`` is pattern text (compiled here; a :class:`~cep.errors.PatternError` lists every
    problem) or already compiled patterns. Every pattern of the source runs unless ``pattern``
    names one. Options:

    * ``stream``: the stream :meth:`feed` writes to by default. Without it, the one stream the
      patterns read (a source whose patterns read several streams needs ``stream=`` here or in
      each :meth:`feed`).
    * ``lateness``: replaces every pattern's ``lateness`` (milliseconds, or text such as ``'5s'``).
    * ``buffered``: ``True`` (the default) runs as ``cep replay`` does: on-time events wait in the
      reorder buffer until the watermark (newest time seen − lateness − 1 ms) passes them, older
      events are late, and :meth:`finish` ends the input. ``False`` feeds the NFA the way Flink's
      NFA test harness does: each event is processed at once, in arrival order, with its own
      timestamp; nothing is buffered or late, and nothing is flushed unless you call
      :meth:`finish`.

    Each of :meth:`feed`, :meth:`advance` and :meth:`finish` returns the outputs it caused;
    :attr:`outputs` keeps them all in emission order, :attr:`matches` and :attr:`timeouts` split
    them by kind, :attr:`late` holds the events that arrived behind the watermark.
    """

    def __init__(
        self,
        source: str | Sequence[CompiledPattern],
        *,
        pattern: str | None = None,
        stream: str | None = None,
        lateness: int | str | None = None,
        buffered: bool = True,
        path: str = "<string>",
    ) -> None:
        patterns = list(compile_source(source, path) if isinstance(source, str) else source)
        if pattern is not None:
            chosen = [p for p in patterns if p.name == pattern]
            if not chosen:
                names = ", ".join(p.name for p in patterns) or "none"
                raise CepError(f"no pattern named {pattern!r} (the source has: {names})")
            patterns = chosen
        if not patterns:
            raise CepError("the source holds no pattern to test")
        if lateness is not None:
            ms = duration_millis(lateness)
            patterns = [dataclasses.replace(p, lateness_ms=ms) for p in patterns]
        self.patterns: tuple[CompiledPattern, ...] = tuple(patterns)
        self.buffered = buffered
        streams = list(dict.fromkeys(p.stream for p in patterns))
        if stream is not None and stream not in streams:
            raise CepError(f"no pattern reads stream {stream!r} (they read: {', '.join(streams)})")
        self.stream = stream if stream is not None else (streams[0] if len(streams) == 1 else None)
        self.outputs: list[Match] = []
        self.late: list[Any] = []
        self._newest: int | None = None
        self._clock: int | None = None  # where advance(by=...) last moved event time
        self._finished = False
        self._detector = Detector(patterns, self.outputs.append, buffered=buffered)

    @classmethod
    def from_file(cls, path: str | Path, **options: Any) -> "Harness":
        """A harness over the patterns of a ``.cep`` file; options as for the constructor."""
        return cls(read_pattern_file(path), path=str(path), **options)

    # -- what came out ----------------------------------------------------------------------

    @property
    def matches(self) -> list[Match]:
        """Completed matches, in emission order."""
        return [m for m in self.outputs if not m.timeout]

    @property
    def timeouts(self) -> list[Match]:
        """Expired partial matches (``Match.timeout`` is True), in emission order."""
        return [m for m in self.outputs if m.timeout]

    def outputs_of(self, pattern: str) -> list[Match]:
        """Everything pattern ``pattern`` emitted, matches and timeouts, in emission order."""
        return [m for m in self.outputs if m.pattern == pattern]

    @property
    def stats(self) -> Stats:
        """The detector's counts: events, accepted, late, invalid, matches."""
        return self._detector.stats

    @property
    def now(self) -> int | None:
        """Event time so far (epoch ms): the newest event time fed, or where
        ``advance(by=...)`` moved it if that is later; None before any timed event."""
        times = [t for t in (self._newest, self._clock) if t is not None]
        return max(times) if times else None

    # -- driving it -------------------------------------------------------------------------

    def feed(self, events: Iterable[Mapping[str, Any]] | Mapping[str, Any], *, stream: str | None = None) -> list[Match]:
        """Feed events in arrival order; returns the outputs they caused.

        An event behind the watermark (buffered mode only) is not an error: it goes to
        :attr:`late` and never reaches a pattern, as in replay. An event that cannot be used
        (not an object, no key, no readable time) raises :class:`~cep.errors.EventError`
        saying which event and why; the events before it have been fed.
        """
        self._check_open("feed")
        target = stream if stream is not None else self.stream
        if target is None:
            streams = ", ".join(dict.fromkeys(p.stream for p in self.patterns))
            raise CepError(f"the patterns read several streams ({streams}); say which: feed(events, stream=...)")
        batch = [events] if isinstance(events, Mapping) else list(events)
        before = len(self.outputs)
        timed = [p.time_of for p in self.patterns if p.stream == target and p.time_of is not None]
        for index, event in enumerate(batch):
            try:
                status = self._detector.feed(target, event)
            except EventError as exc:
                raise type(exc)(f"event {index + 1} of {len(batch)} fed to {target!r}: {exc}; event: {event!r}") from exc
            if status == LATE:
                self.late.append(event)
            else:
                self._note_time(event, timed)
        return self.outputs[before:]

    def advance(self, to: int | str | None = None, *, by: int | str | None = None) -> list[Match]:
        """Move event time on and fire what is due; returns the outputs it caused.

        ``to=T`` sets the watermark to ``T`` (epoch ms or ISO-8601): buffered events and timers
        at or before ``T`` are processed, and an event stamped ``T`` or earlier fed afterwards is
        late. ``by=D`` (ms or ``'30s'``) moves event time D past :attr:`now`, as a test block's
        ``advance D`` does: the watermark becomes ``now + D − 1 ms``, so everything before
        ``now + D`` is settled and an event stamped exactly ``now + D`` is still on time.
        The watermark never goes back.
        """
        self._check_open("advance")
        if (to is None) == (by is None):
            raise TypeError("advance() takes exactly one of to=TIME or by=DURATION")
        if to is not None:
            watermark = to_millis(to)
        else:
            base = self.now
            if base is None:
                raise CepError("advance(by=...) needs a current event time: feed a timed event first, or use to=TIME")
            self._clock = base + duration_millis(by)  # type: ignore[arg-type]
            watermark = self._clock - 1
        before = len(self.outputs)
        self._detector.advance_watermark(watermark)
        return self.outputs[before:]

    def finish(self) -> list[Match]:
        """End of input: the watermark moves to the end of time, every buffered event is
        processed, every timer fires and held-back matches are released (as replay does at the
        end of a log). Returns the outputs this caused; the harness takes no input after it."""
        self._check_open("finish")
        before = len(self.outputs)
        self._detector.finish()
        self._finished = True
        return self.outputs[before:]

    @property
    def finished(self) -> bool:
        return self._finished

    # -- internals --------------------------------------------------------------------------

    def _check_open(self, what: str) -> None:
        if self._finished:
            raise StateError(f"cannot {what}: the input has ended (finish() was called); start a new Harness")

    def _note_time(self, event: Any, time_getters: list[Any]) -> None:
        for time_of in time_getters:
            try:
                ts = time_of(event)
            except EventError:
                continue  # readable for another pattern of the stream; this one dead-letters it
            if ts < END_OF_TIME and (self._newest is None or ts > self._newest):
                self._newest = ts
