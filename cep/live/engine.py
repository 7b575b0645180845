"""The live engine: per-partition detectors, match ids, idle watermarks, checkpoints.

Design (see ``docs/live.md``):

* **One detector per source partition** ``(topic, partition)``, all built from the same
  compiled patterns. ``cep produce`` keys records by the pattern key, so a key's events are all
  in one partition and a per-partition detector sees everything a match needs. State is thus
  partitioned exactly like the checkpoints, and a partition's state can move to another
  process on a rebalance.
* **Provenance**: each event gets its record's offset under the reserved top-level key
  :data:`PROVENANCE_KEY` (``"@cep"``) before it reaches the detector. Pattern expressions can
  only name fields matching ``[A-Za-z_][A-Za-z0-9_]*``, so no pattern can see it; no output
  copies a whole input event, so it never leaks into alerts; and because the detector keeps the
  event dicts themselves in its buffers and snapshots, the offset survives checkpoints. (The
  partition is the detector's own.) An input event that already has a ``"@cep"`` field loses it.
* **Match ids** (:func:`match_id`): sha256 over the pattern name, whether it is a timeout, and
  the sorted ``(topic, partition, offset)`` of the matched events; for window patterns, over
  the pattern name, the source partition, the key and the window's end (and, for rolling and
  count windows, the position of the event that closed the window). Deterministic across
  restarts, replays and rebalances.
* **Watermarks** are per partition and per pattern (each detector's drivers); with
  ``source_watermark`` (``cep run --watermark source``), Flink's rule instead: the minimum over
  the owned partitions, which every partition's detector then follows. With
  ``idle_timeout_ms``, a partition without data for that long is moved up to the smallest
  watermark of the partitions still receiving data, so it stops holding its own timers back.
  With ``idle_advance_ms``, once the whole input has been quiet that long, every partition's
  watermark follows the wall clock (``now - lateness - 1`` per pattern).
* **Checkpoints** (:meth:`LiveEngine.checkpoint`) follow docs/checkpoints.md: between batches,
  flush the outputs and wait for delivery, snapshot every owned partition, save, then commit.
* **Exactly-once files** (:class:`OutputFiles`, implemented in :mod:`cep.live.outputs`) are told
  which partitions this process owns, and from which checkpoint each one was restored, so that
  a file written per partition can follow its partition from process to process.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping, Protocol, Sequence

import orjson

from cep.detector import WINDOW_EVENT, Detector
from cep.lang.compiler import CompiledPattern
from cep.match import Match
from cep.nfa.runtime import DEFAULT_MAX_PARTIAL_MATCHES
from cep.state.checkpoint import Checkpoint, PartitionState
from cep.state.store import CheckpointStore
from cep.stream.driver import encode_key
from cep.stream.watermarks import MIN_WATERMARK

__all__ = ["PROVENANCE_KEY", "Alert", "LiveEngine", "LiveStats", "match_id"]

PROVENANCE_KEY = "@cep"

Partition = tuple[str, int]


class OutputFiles(Protocol):
    """The exactly-once output files, as the engine sees them (see :mod:`cep.live.outputs`)."""

    def open(self, source: Partition, restored: Checkpoint | None) -> None:
        """``source`` is now owned, its state restored from ``restored`` (None: no checkpoint)."""
        ...

    def release(self, source: Partition) -> None:
        """``source`` is owned no more (checkpointed first when revoked, not when lost)."""
        ...

    def lengths(self, sources: Sequence[Partition]) -> Mapping[str, int]:
        """``{path: length}`` of the files to record in a checkpoint holding ``sources``, fsynced."""
        ...


class Record(Protocol):
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None


@dataclass(frozen=True, slots=True)
class Alert:
    """One output record: value is the JSON alert, key the JSON match key."""

    pattern: str
    match_id: str
    key: bytes
    value: bytes
    source: Partition
    time: int = 0  # the match's event time (epoch ms): the output record's Kafka timestamp


@dataclass(slots=True)
class LiveStats:
    records: int = 0
    alerts: int = 0
    dead_lettered: int = 0
    late: int = 0
    checkpoints: int = 0


def _event_identity(event: Any, topic: str, partition: int) -> list[Any]:
    if isinstance(event, dict):
        offset = event.get(PROVENANCE_KEY)
        if offset.__class__ is int:
            return [0, topic, partition, offset]
    # An event that is not a source record (the match of another pattern): its content.
    digest = hashlib.sha256(orjson.dumps(event, option=orjson.OPT_SORT_KEYS, default=str)).hexdigest()
    return [1, digest]


def match_id(match: Match, topic: str, partition: int, window: str | None = None) -> str:
    """The deterministic id of ``match``, produced by the detector of ``(topic, partition)``.

    Sequence patterns: the pattern, the timeout flag and the sorted source positions of the
    matched events (events that are not source records, i.e. matches of an upstream pattern,
    count by their content). Window patterns (``window`` is the kind): the pattern, the source
    partition, the key and the window's end — a key has one time window per end — and for
    rolling and count windows, which end at an event's time and so can share an end, also the
    position of the event that closed the window."""
    if window is not None:
        payload: list[Any] = [match.pattern, "window", topic, partition, encode_key(match.key), match.time]
        if window in ("rolling", "count"):
            payload.append(_event_identity(match.events[WINDOW_EVENT][0], topic, partition))
    else:
        positions = sorted(
            (_event_identity(e, topic, partition) for events in match.events.values() for e in events),
            key=lambda x: (x[0], x[1:]),
        )
        payload = [match.pattern, bool(match.timeout), positions]
    return hashlib.sha256(orjson.dumps(payload)).hexdigest()


def _kafka_timestamp(ms: int) -> int:
    """A match time as a Kafka timestamp; 0 (the producer's clock) when Kafka cannot hold it
    (before the epoch, or the end of time at which a replay's last timers fire)."""
    return ms if 0 < ms < 2**53 else 0


def dead_letter_value(record: Record, reason: str) -> bytes:
    raw = record.value
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
    return orjson.dumps({"topic": record.topic, "partition": record.partition, "offset": record.offset,
                         "raw": text, "reason": reason})


class _Slot:
    """One owned source partition."""

    __slots__ = ("topic", "partition", "detector", "feed", "next_offset", "last_data")

    def __init__(self, topic: str, partition: int, detector: Detector, stream: str) -> None:
        self.topic = topic
        self.partition = partition
        self.detector = detector
        self.feed = detector.batch_feeder(stream)
        self.next_offset: int | None = None  # None: nothing read or restored yet (no state)
        self.last_data = 0.0

    def watermark(self) -> int | None:
        marks = [r.driver.watermark for r in self.detector.runners if r.pattern.time_of is not None]
        low = min(marks) if marks else MIN_WATERMARK
        return None if low <= MIN_WATERMARK else low


class LiveEngine:
    """Runs patterns over partitioned records; see the module docstring.

    Outputs go through callbacks: ``on_alert(alert)``, ``on_dead_letter(record, value)`` (value
    is the JSON dead-letter record), ``on_late(record)``. ``flush()`` must return only when
    everything passed to them so far is durable (delivered), and raise otherwise. ``commit``
    receives ``{partition: next offset}`` after each durable checkpoint. ``store`` None runs
    without checkpoints (nothing is committed; state is lost on restart). ``outputs``, when
    given, is told when partitions are assigned and go, and asked after ``flush()`` at each
    checkpoint for the ``{path: length}`` of the exactly-once output files (fsynced), which go
    into ``Checkpoint.outputs``.
    """

    def __init__(
        self,
        patterns: Sequence[CompiledPattern],
        streams: Mapping[str, str],  # topic -> stream
        *,
        on_alert: Callable[[Alert], None],
        on_dead_letter: Callable[[Record, bytes], None],
        on_late: Callable[[Record], None],
        flush: Callable[[], None],
        commit: Callable[[Mapping[Partition, int]], None],
        store: CheckpointStore | None = None,
        fingerprint: str = "",
        outputs: OutputFiles | None = None,
        idle_timeout_ms: int | None = None,
        idle_advance_ms: int | None = None,
        source_watermark: bool = False,
        max_partial_matches: int | None = DEFAULT_MAX_PARTIAL_MATCHES,
        wall_ms: Callable[[], int] = lambda: time.time_ns() // 1_000_000,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.patterns = list(patterns)
        self.streams = dict(streams)
        self._window_patterns = {p.name: p.window.kind for p in self.patterns if p.window is not None}
        self._on_alert = on_alert
        self._on_dead_letter = on_dead_letter
        self._on_late = on_late
        self._flush = flush
        self._commit = commit
        self.store = store
        self.fingerprint = fingerprint
        self._outputs = outputs
        self.idle_timeout_ms = idle_timeout_ms
        self.idle_advance_ms = idle_advance_ms
        self.source_watermark = source_watermark
        self._max_partial = max_partial_matches
        self._wall_ms = wall_ms
        self._monotonic = monotonic
        self.slots: dict[Partition, _Slot] = {}
        self.stats = LiveStats()
        self.dirty = False  # state changed since the last checkpoint
        self._last_input = monotonic()

    # -- partitions ------------------------------------------------------------------------------

    def _new_slot(self, topic: str, partition: int) -> _Slot:
        window = self._window_patterns
        stats = self.stats
        on_alert = self._on_alert
        dumps = orjson.dumps

        def on_match(match: Match) -> None:
            mid = match_id(match, topic, partition, window.get(match.pattern))
            key = list(match.key) if isinstance(match.key, tuple) else match.key
            stats.alerts += 1
            on_alert(Alert(match.pattern, mid, dumps(key), dumps(match.to_record()), (topic, partition),
                           _kafka_timestamp(match.time)))

        detector = Detector(self.patterns, on_match, max_partial_matches=self._max_partial,
                            external_watermark=self.source_watermark)
        return _Slot(topic, partition, detector, self.streams[topic])

    def assign(self, partitions: Iterable[Partition]) -> dict[Partition, int | None]:
        """Take ownership: restore each partition's newest checkpoint; returns where each
        partition starts reading (None: no checkpoint, the caller's start policy applies)."""
        starts: dict[Partition, int | None] = {}
        loaded: dict[Any, Checkpoint] = {}
        for topic, partition in partitions:
            if (topic, partition) in self.slots:
                starts[(topic, partition)] = self.slots[(topic, partition)].next_offset
                continue
            slot = self._new_slot(topic, partition)
            start = checkpoint = None
            if self.store is not None:
                checkpoint = self.store.latest((topic, partition))
                if checkpoint is not None:
                    checkpoint = loaded.setdefault(checkpoint.id, checkpoint)
                    state = checkpoint.partition(topic, partition)
                    assert state is not None
                    slot.detector.restore(state.state)
                    slot.next_offset = start = state.offset
            if self._outputs is not None:
                self._outputs.open((topic, partition), checkpoint)
            slot.last_data = self._monotonic()
            self.slots[(topic, partition)] = slot
            starts[(topic, partition)] = start
        self._last_input = self._monotonic()
        return starts

    def revoke(self, partitions: Iterable[Partition]) -> None:
        """Partitions are being taken away: checkpoint (everything owned), then drop them."""
        self.checkpoint(force=True)
        self._drop(partitions)

    def lose(self, partitions: Iterable[Partition]) -> None:
        """Partitions were taken away already (another process may own them): drop them."""
        self._drop(partitions)

    def _drop(self, partitions: Iterable[Partition]) -> None:
        for topic, partition in partitions:
            if self.slots.pop((topic, partition), None) is not None and self._outputs is not None:
                self._outputs.release((topic, partition))

    # -- records ---------------------------------------------------------------------------------

    def process(self, records: Sequence[Record]) -> None:
        """Feed a batch (records of any owned partitions, each partition's in offset order)."""
        if not records:
            return
        now = self._monotonic()
        self._last_input = now
        self.dirty = True
        groups: dict[Partition, list[Record]] = {}
        for r in records:
            groups.setdefault((r.topic, r.partition), []).append(r)
        loads = orjson.loads
        key = PROVENANCE_KEY
        stats = self.stats
        for part, group in groups.items():
            slot = self.slots.get(part)
            if slot is None:
                continue  # not ours (any more)
            stats.records += len(group)
            events: list[dict[str, Any]] = []
            sources: list[Record] = []
            for r in group:
                value = r.value
                if value is None:
                    self._dead(r, "the record has no value")
                    continue
                try:
                    event = loads(value)
                except orjson.JSONDecodeError as exc:
                    self._dead(r, f"not JSON: {exc}")
                    continue
                if event.__class__ is not dict:
                    self._dead(r, f"not a JSON object (got {type(event).__name__})")
                    continue
                event[key] = r.offset
                events.append(event)
                sources.append(r)
            if events:
                for index, reason in slot.feed(events):
                    if reason is None:
                        stats.late += 1
                        self._on_late(sources[index])
                    else:
                        self._dead(sources[index], reason)
            slot.next_offset = group[-1].offset + 1
            slot.last_data = now
        if self.source_watermark:
            self._advance_source_watermark(now)

    def _dead(self, record: Record, reason: str) -> None:
        self.stats.dead_lettered += 1
        self._on_dead_letter(record, dead_letter_value(record, reason))

    # -- time ------------------------------------------------------------------------------------

    def tick(self) -> None:
        """Move idle partitions' watermarks (``idle_timeout_ms``, ``idle_advance_ms``)."""
        if not self.slots:
            return
        now = self._monotonic()
        live = [s for s in self.slots.values() if s.next_offset is not None]
        if not live:
            return
        if self.idle_advance_ms is not None and (now - self._last_input) * 1000 >= self.idle_advance_ms:
            wall = self._wall_ms()
            for slot in live:
                for runner in slot.detector.runners:
                    p = runner.pattern
                    if p.time_of is not None:
                        target = wall - p.lateness_ms - 1
                        if target > runner.driver.watermark:
                            runner.driver.advance_watermark(target)
                            self.dirty = True
            return
        if self.source_watermark:
            self._advance_source_watermark(now)
            return
        if self.idle_timeout_ms is not None and len(live) > 1:
            limit = now - self.idle_timeout_ms / 1000
            active = [s for s in live if s.last_data > limit]
            idle = [s for s in live if s.last_data <= limit]
            if not active or not idle:
                return
            self._raise_to_minimum(active, idle, lambda driver, lateness: driver.watermark)

    def _advance_source_watermark(self, now: float) -> None:
        """``source_watermark``: per pattern, every owned partition's watermark is the minimum over
        the owned partitions of their own (newest event - lateness - 1), as Flink's Kafka source
        combines partitions. A partition without data for ``idle_timeout_ms`` (counted from its
        assignment when it never had any) does not hold it back; without that option an empty
        partition holds time back until it receives data."""
        slots = list(self.slots.values())
        counting = slots
        if self.idle_timeout_ms is not None:
            limit = now - self.idle_timeout_ms / 1000
            counting = [s for s in slots if s.last_data > limit]
        if not counting:
            return  # every partition is idle: nothing moves time but --idle-advance
        self._raise_to_minimum(counting, slots, lambda driver, lateness: driver.max_event_time - lateness - 1)

    def _raise_to_minimum(self, counting: list[_Slot], raised: list[_Slot],
                          mark: Callable[[Any, int], int]) -> None:
        """Per pattern, move the watermarks of ``raised`` up to the smallest ``mark(driver,
        lateness)`` among ``counting`` (nothing moves while one of them has no time yet)."""
        for index, runner in enumerate(counting[0].detector.runners):
            if runner.pattern.time_of is None:
                continue
            drivers = [s.detector.runners[index].driver for s in counting]
            if min(d.max_event_time for d in drivers) <= MIN_WATERMARK:
                continue
            target = min(mark(d, runner.pattern.lateness_ms) for d in drivers)
            for slot in raised:
                driver = slot.detector.runners[index].driver
                if target > driver.watermark:
                    driver.advance_watermark(target)
                    self.dirty = True

    # -- checkpoints -----------------------------------------------------------------------------

    def checkpoint(self, force: bool = False) -> bool:
        """Flush outputs, snapshot owned partitions, save, commit; False when nothing to do."""
        if not (self.dirty or force):
            return False
        self._flush()  # 1-2: everything emitted so far is delivered before the checkpoint exists
        if self.store is None:
            self.dirty = False
            return False
        owned = [s for s in self.slots.values() if s.next_offset is not None]
        if not owned:
            self.dirty = False
            return False
        sources = [(s.topic, s.partition) for s in owned]
        outputs = dict(self._outputs.lengths(sources)) if self._outputs is not None else {}  # 3: fsynced
        parts = [  # 4
            PartitionState(s.topic, s.partition, s.next_offset, s.watermark(), s.detector.snapshot())
            for s in owned
        ]
        checkpoint = Checkpoint(self.fingerprint, self._wall_ms(), tuple(parts), outputs)
        self.store.save(checkpoint)  # 5: durable
        self._commit({p.source: p.offset for p in parts})  # 6: only now
        self.stats.checkpoints += 1
        self.dirty = False
        return True

