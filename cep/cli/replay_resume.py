"""``cep replay --checkpoint-dir``: checkpoints of a file replay, and resuming from them.

A replay of a large log is a long batch job. Killed part-way (SIGKILL, the OOM killer, a
reboot, Ctrl-C), it should go on where it stopped, and its output files should end up byte for
byte as if it had never stopped. So every ``--checkpoint-interval`` of wall-clock time, between
two batches of the reader (``InputSource.pump``'s ``on_progress``, when everything read so far
has reached the detector and the output files), and once more at the end, the replay saves a
checkpoint into a :class:`~cep.state.store.DirectoryStore`, the store and format of ``cep run``:

* the detector's snapshot and the summary's counters;
* for every ``--input``: the byte offset and line number reached (line numbers in dead letters
  go on where they stopped) and the file's identity, so that resuming against a changed file is
  refused instead of reading it from the middle of something else;
* the lengths of the output files (``--output``, ``--dead-letter``, ``--late``), fsynced first.

On start, the newest checkpoint of the directory is restored: the detector from its snapshot,
every output file cut back to its recorded length (what lies beyond was written after the
checkpoint and is written again, identically), every input sought to its position. The last
checkpoint says the replay finished, so running it again is refused rather than silently
redone (``--restart`` starts over). docs/checkpoints.md describes the format and the rules.
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import os
import signal
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from cep.cli.replay import InputBinding, Tally, UsageError
from cep.live.outputs import output_key  # the name of an output file in Checkpoint.outputs, as in `cep run`
from cep.connectors import InputSource, JsonLinesWriter, Position
from cep.connectors.readers import format_of
from cep.detector import Detector
from cep.errors import SnapshotError, StateError
from cep.lang.compiler import CompiledPattern
from cep.lang.fingerprint import pattern_fingerprint
from cep.state.checkpoint import Checkpoint, PartitionState, truncate_output
from cep.state.store import DirectoryStore
from cep.stream.timestamps import format_timestamp_iso
from cep.stream.watermarks import MIN_WATERMARK

__all__ = [
    "DEFAULT_INTERVAL_MS",
    "INPUT_FORMAT",
    "INPUT_VERSION",
    "ReplayCheckpoints",
    "check_arguments",
    "file_identity",
]

INPUT_FORMAT = "cep.replay-input"
INPUT_VERSION = 1
DEFAULT_INTERVAL_MS = 5000
KEEP = 3  # at least 2, so that recovery can fall back past a damaged newest checkpoint
WRITER = "replay"  # one replay per directory (the lock sees to it), so its leftovers are its own
LOCK_NAME = "replay.lock"
_HEAD = 64 * 1024  # bytes of an input hashed into its identity


def check_arguments(args: argparse.Namespace) -> None:
    """Refuse what cannot be made exactly-once, before anything is read or written."""
    if not args.checkpoint_dir:
        used = [flag for flag, given in (("--checkpoint-interval", args.checkpoint_interval is not None),
                                         ("--restart", args.restart)) if given]
        if used:
            raise UsageError(f"{used[0]} goes with --checkpoint-dir DIR")
        return
    if args.topic:
        raise UsageError("--checkpoint-dir is for replaying files (--input); a topic replay starts over instead")
    if any(spec == "-" or spec.endswith("=-") for spec in args.input or ()):
        raise UsageError("--checkpoint-dir cannot resume stdin (--input -): it cannot be read again; "
                         "replay a file instead")
    if not args.output or args.output == "-":
        raise UsageError("--checkpoint-dir needs --output FILE: alerts written to stdout or a terminal cannot "
                         "be taken back after a crash, a file can be cut back to its checkpointed length")
    for flag, path in (("--dead-letter", args.dead_letter), ("--late", args.late)):
        if path == "-":
            raise UsageError(f"{flag} - (stdout) cannot be resumed; with --checkpoint-dir give {flag} a file")


def file_identity(path: str) -> dict[str, Any]:
    """What says an input is still the file a checkpoint was taken of: its size, modification
    time and the hash of its first 64 KiB. Any append, truncation, rewrite or touch changes one
    of them; resuming a changed file at a byte offset would read from the middle of anything."""
    with open(path, "rb") as f:
        info = os.fstat(f.fileno())
        head = f.read(_HEAD)
    return {"size": info.st_size, "mtime_ns": info.st_mtime_ns, "head_sha256": hashlib.sha256(head).hexdigest()}


@dataclass(slots=True)
class _Input:
    """One ``--input`` as the checkpoints know it."""

    binding: InputBinding
    key: str  # the absolute path: the checkpoint entry's `topic`
    format: str  # "jsonl" or "csv", as it is read
    identity: dict[str, Any]
    position: Position = Position()
    done: bool = False


@dataclass(frozen=True, slots=True)
class _Saved:
    """What a replay's checkpoint holds besides the store's own fields."""

    inputs: list[tuple[str, str, str]]  # (absolute path, stream, file format) per input
    identities: list[Any]
    positions: list[tuple[Position, bool]]  # (where, done) per input
    detector: Any
    events: int
    dead_lettered: int
    finished: bool
    max_partial_matches: int


class ReplayCheckpoints:
    """Checkpoints of one file replay; see the module docstring.

    Use: :meth:`open` (restores ``detector`` and cuts the outputs back, or records a fresh
    start), then open the writers (appending when :attr:`resumed`) and :meth:`attach` them;
    per input :meth:`start_of`, :meth:`watch` as ``pump``'s ``on_progress``, :meth:`input_done`;
    after ``detector.finish()`` :meth:`finish`; always :meth:`close`.
    """

    def __init__(self, args: argparse.Namespace, patterns: Sequence[CompiledPattern],
                 bindings: Sequence[InputBinding], detector: Detector) -> None:
        self.inputs = [_Input(b, os.path.abspath(b.path), format_of(b.path, args.format), file_identity(b.path))
                       for b in bindings]
        self.fingerprint = pattern_fingerprint(patterns)
        self.store = DirectoryStore(args.checkpoint_dir, keep=KEEP, writer=WRITER, fingerprint=self.fingerprint)
        self._lock = _lock(self.store.path)  # nothing after it here can fail, before open() guards it
        self.detector = detector
        self.output_keys = [output_key(p) for p in (args.output, args.dead_letter, args.late) if p]
        self.max_partial_matches: int = args.max_partial_matches
        interval = DEFAULT_INTERVAL_MS if args.checkpoint_interval is None else args.checkpoint_interval
        self.interval = interval / 1000
        self.crash_after: int | None = args.crash_after_events
        self.quiet: bool = args.quiet
        self.tally = Tally()
        self.resumed: Checkpoint | None = None
        self._writers: list[JsonLinesWriter] = []
        self._events_at_start = 0
        self._due = 0.0

    @classmethod
    def open(cls, args: argparse.Namespace, patterns: Sequence[CompiledPattern], bindings: Sequence[InputBinding],
             detector: Detector) -> ReplayCheckpoints:
        """Resume from the directory's newest checkpoint, or (none, or ``--restart``) record a
        fresh start at once, with every output at length 0: the writers about to empty the
        files are then covered, whatever the directory held before."""
        self = cls(args, patterns, bindings, detector)
        try:
            newest = None if args.restart else self._latest()
            if newest is None:
                self._save({key: 0 for key in self.output_keys})
            else:
                self._resume(newest)
        except BaseException:
            self.close()
            raise
        self._events_at_start = self.tally.events
        return self

    def _latest(self) -> Checkpoint | None:
        try:
            return self.store.latest()  # skips damaged checkpoints, refuses other patterns
        except SnapshotError as exc:
            raise SnapshotError(f"{exc}; or add --restart to replay from the start") from None

    # -- resuming --------------------------------------------------------------------------------

    def _resume(self, checkpoint: Checkpoint) -> None:
        saved = self._read(checkpoint)
        self._check(checkpoint, saved)
        self.detector.restore(saved.detector)
        for item, (position, done) in zip(self.inputs, saved.positions):
            item.position, item.done = position, done
        self.tally = Tally(saved.events, saved.dead_lettered)
        for key, length in checkpoint.outputs.items():
            cut = truncate_output(key, length)
            if cut and not self.quiet:
                print(f"cep replay: {key}: cut {cut:,} bytes written after checkpoint {checkpoint.id}",
                      file=sys.stderr)
        self.resumed = checkpoint

    def _read(self, checkpoint: Checkpoint) -> _Saved:
        """The replay's own fields of ``checkpoint``; refuses one that is not a replay's."""
        where = f"--checkpoint-dir {self.store.path}"
        states = [p.state for p in checkpoint.partitions]
        if not states or any(not isinstance(s, dict) or s.get("format") != INPUT_FORMAT for s in states):
            raise StateError(f"{where} holds checkpoints of something other than a file replay (cep run's?); "
                             "give the replay a directory of its own")
        if any(s.get("version") != INPUT_VERSION for s in states):
            raise SnapshotError(f"checkpoint {checkpoint.id} in {where} has a replay input version this cep does "
                                f"not read (it reads {INPUT_VERSION}); use the cep release that wrote it, "
                                "or add --restart")
        try:
            replay = states[0]["replay"]
            return _Saved(
                inputs=[(p.topic, s["stream"], s["file_format"]) for p, s in zip(checkpoint.partitions, states)],
                identities=[s["identity"] for s in states],
                positions=[(Position(p.offset, p.state["line"], _header(p.state["header"])), bool(p.state["done"]))
                           for p in checkpoint.partitions],
                detector=replay["detector"], events=replay["events"], dead_lettered=replay["dead_lettered"],
                finished=replay["finished"], max_partial_matches=replay["max_partial_matches"],
            )
        except (KeyError, TypeError) as exc:
            raise SnapshotError(f"checkpoint {checkpoint.id} in {where} is malformed: {exc!r}") from None

    def _check(self, checkpoint: Checkpoint, saved: _Saved) -> None:
        """Refuse a checkpoint of another replay, of a finished one, or of changed inputs."""
        where = f"--checkpoint-dir {self.store.path}"
        ours = [(i.key, i.binding.stream, i.format) for i in self.inputs]
        restart = "give the same options to resume it, add --restart to replay from the start, or use another directory"
        if saved.inputs != ours:
            raise StateError(f"{where} holds a replay of other inputs ({_describe(saved.inputs)}), not of "
                             f"{_describe(ours)}; {restart}")
        if sorted(checkpoint.outputs) != sorted(self.output_keys):
            raise StateError(f"{where} holds a replay writing {', '.join(sorted(checkpoint.outputs))}, not "
                             f"{', '.join(sorted(self.output_keys))} (--output, --dead-letter, --late); {restart}")
        if saved.max_partial_matches != self.max_partial_matches:
            raise StateError(f"{where} holds a replay run with --max-partial-matches {saved.max_partial_matches}, "
                             f"not {self.max_partial_matches}; {restart}")
        if saved.finished:
            at = format_timestamp_iso(checkpoint.created_at)
            raise UsageError(f"this replay finished already (checkpoint {checkpoint.id} in {where}, {at}): "
                             f"{', '.join(sorted(checkpoint.outputs))} hold its complete results. To replay "
                             "again from the start, add --restart (or use another --checkpoint-dir)")
        for item, identity, (position, _) in zip(self.inputs, saved.identities, saved.positions):
            changed = _changes(identity, item.identity)
            if changed:
                raise StateError(f"--input {item.binding.path} changed since checkpoint {checkpoint.id} was taken "
                                 f"({changed}), so it cannot be resumed at byte {position.offset:,}: restore the "
                                 "file, or add --restart to replay it from the start")

    # -- running ---------------------------------------------------------------------------------

    def attach(self, writers: Iterable[JsonLinesWriter | None]) -> None:
        """The output writers, opened after :meth:`open` (appending when resuming)."""
        self._writers = [w for w in writers if w is not None]
        assert sorted(output_key(w.name) for w in self._writers) == sorted(self.output_keys)
        self._due = time.monotonic() + self.interval

    def is_done(self, index: int) -> bool:
        return self.inputs[index].done

    def start_of(self, index: int) -> Position:
        return self.inputs[index].position

    def watch(self, index: int, source: InputSource,
              progress: Callable[[int, int], None]) -> Callable[[int, int], None]:
        """``on_progress`` for ``pump``: called between batches, when everything read so far has
        reached the detector and the writers, so a checkpoint taken there is consistent."""
        tally = self.tally
        crash_at = None if self.crash_after is None else self._events_at_start + self.crash_after

        def between_batches(bytes_read: int, lines: int) -> None:
            progress(bytes_read, lines)
            if crash_at is not None and tally.events + lines >= crash_at:
                self._crash()
            if time.monotonic() >= self._due:
                self.inputs[index].position = source.position
                self._save(self._lengths(), events=tally.events + lines)

        return between_batches

    def input_done(self, index: int, position: Position) -> None:
        self.inputs[index].position = position
        self.inputs[index].done = True

    def finish(self) -> None:
        """The replay is complete (``detector.finish()`` ran): say so in a last checkpoint."""
        self._save(self._lengths(), finished=True)

    def notes(self) -> list[str]:
        if self.resumed is None:
            return []
        return [f"resumed from checkpoint {self.resumed.id}: events and counts are those of the whole replay"]

    def close(self) -> None:
        self._lock.close()

    # -- saving ----------------------------------------------------------------------------------

    def _lengths(self) -> dict[str, int]:
        """Flush and fsync each output, then take its length (before the snapshot and the save)."""
        return {output_key(w.name): w.length() for w in self._writers}

    def _save(self, outputs: dict[str, int], *, events: int | None = None, finished: bool = False) -> None:
        replay = {
            "detector": self.detector.snapshot(),
            "events": self.tally.events if events is None else events,
            "dead_lettered": self.tally.dead_lettered,
            "finished": finished,
            "max_partial_matches": self.max_partial_matches,
        }
        parts = tuple(self._partition(item, replay if n == 0 else None) for n, item in enumerate(self.inputs))
        self.store.save(Checkpoint(self.fingerprint, time.time_ns() // 1_000_000, parts, outputs))
        self._due = time.monotonic() + self.interval

    def _partition(self, item: _Input, replay: dict[str, Any] | None) -> PartitionState:
        header = item.position.header
        state: dict[str, Any] = {
            "format": INPUT_FORMAT, "version": INPUT_VERSION, "stream": item.binding.stream,
            "file_format": item.format, "line": item.position.line,
            "header": list(header) if header is not None else None, "done": item.done, "identity": item.identity,
        }
        if replay is not None:
            state["replay"] = replay
        return PartitionState(item.key, 0, item.position.offset, _watermark(self.detector, item.binding.stream),
                              state)

    def _crash(self) -> None:
        """Test-only (``--crash-after-events``): die as a SIGKILL would, with the lines written
        since the last checkpoint in the files, so that a resume has to cut them off."""
        for writer in self._writers:
            writer.flush()
        os.kill(os.getpid(), signal.SIGKILL)


def _lock(directory: Path) -> IO[bytes]:
    """Hold the directory for this replay: two replays saving into one directory would take
    each other's checkpoints for their own. The kernel drops the lock when the process dies."""
    f = open(directory / LOCK_NAME, "ab")  # noqa: SIM115 - closed by ReplayCheckpoints.close
    try:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        f.close()
        raise UsageError(f"another cep replay is using --checkpoint-dir {directory}; wait for it to end, "
                         "or give this one another directory") from None
    return f


def _watermark(detector: Detector, stream: str) -> int | None:
    """The watermark of the patterns reading ``stream`` (the lowest), None before any event."""
    marks = [r.driver.watermark for r in detector.runners
             if r.pattern.stream == stream and r.pattern.time_of is not None]
    low = min(marks, default=MIN_WATERMARK)
    return None if low <= MIN_WATERMARK else low


def _header(value: Any) -> tuple[str, ...] | None:
    return None if value is None else tuple(value)


def _describe(inputs: list[tuple[str, str, str]]) -> str:
    return ", ".join(f"{stream}={path} ({fmt})" for path, stream, fmt in inputs)


def _changes(before: Any, now: dict[str, Any]) -> str:
    """What differs between two file identities, in words; empty when nothing does."""
    if not isinstance(before, dict):
        return "the checkpoint holds no identity for it"
    changes = []
    if before.get("size") != now["size"]:
        changes.append(f"size {before.get('size')} -> {now['size']} bytes")
    if before.get("head_sha256") != now["head_sha256"]:
        changes.append("its first 64 KiB differ")
    if before.get("mtime_ns") != now["mtime_ns"]:
        changes.append("it was modified (modification time)")
    return "; ".join(changes)
