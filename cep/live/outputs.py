"""Exactly-once output files for ``cep run --output`` (docs/live.md, "--output: exactly-once").

Two layouts, one rule:

* :class:`SingleFile`: everything a process detects goes to one file. Exactly-once as long as
  one process writes every checkpoint of the directory.
* :class:`PartitionFiles`: ``--output 'out/alerts-{topic}-{partition}.jsonl'`` gives every source
  partition a file of its own, written only by the partition's owner and recorded in the
  partition's checkpoints. The file moves with the partition between processes (rebalances,
  a dead process's partitions taken over), so it is exactly-once with any number of processes
  sharing the checkpoint directory and the files' directory.

The rule (:func:`resume`), applied when a file is opened (at start for the single file, when its
partition is assigned for a partition's file): the newest checkpoint recording the file says
how long it was there. The file is cut back to that length and the partitions resume from
that checkpoint's offsets, so whatever was cut is written again, identically. A file that no
checkpoint records must be empty, or it is refused (an old file's alerts are never mixed with
this run's); it is then recorded at length 0 at once, by a checkpoint of no partition (a
*claim*), so a crash before the file's first real checkpoint still finds it recorded.

Lines go out whole: queued per alert, handed to the OS once per batch, fsynced (and measured)
at every checkpoint. Each file remembers how long it made the file; if the file has another
length when it is written again, another process writes it too (two processes given the same
single file, or a process that was frozen past its session timeout while its partition moved
on), and the run stops instead of interleaving lines.
"""

from __future__ import annotations

import os
import time
from typing import Callable, Mapping, Sequence

from cep.errors import StateError
from cep.state.checkpoint import Checkpoint, output_length, truncate_output
from cep.state.store import CheckpointStore

__all__ = ["PLACEHOLDERS", "AppendFile", "OutputRefused", "PartitionFiles", "SingleFile", "output_key", "resume"]

Partition = tuple[str, int]

#: What a per-partition ``--output`` may name: ``{topic}`` and ``{partition}``.
PLACEHOLDERS = ("topic", "partition")


class OutputRefused(StateError):
    """An output file holds data that no checkpoint accounts for: appending would mix them."""


def output_key(path: str) -> str:
    """The name of an output file in ``Checkpoint.outputs``: its absolute path."""
    return os.path.abspath(path)


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def resume(path: str, store: CheckpointStore | None, state_from: Checkpoint | None, fingerprint: str,
           note: Callable[[str], None], now: Callable[[], int] = _now_ms) -> None:
    """Make ``path`` ready to be appended to by a run whose state comes from ``state_from``
    (None: from nothing); see the module docstring for the rule."""
    key = output_key(path)
    covering = state_from if state_from is not None and key in state_from.outputs else (
        store.latest(output=key) if store is not None else None)
    if covering is not None:
        if _older(covering, state_from):
            note(f"warning: checkpoint {state_from.id} does not record {path}; cutting it back to checkpoint "
                 f"{covering.id}: alerts between the two are not in it")
        cut = truncate_output(path, covering.outputs[key])
        if cut:
            note(f"{path}: cut {cut:,} bytes written after checkpoint {covering.id}")
        return
    try:
        size = os.stat(path).st_size
    except FileNotFoundError:
        size = 0
    if size:
        where = "no --checkpoint-dir was given" if store is None else "no checkpoint records it"
        raise OutputRefused(
            f"--output {path} already holds {size:,} bytes, and {where}, so its alerts would be mixed "
            "with this run's; move or delete it, or give another --output (a file written by cep run "
            "with --checkpoint-dir is resumed automatically)"
        )
    if state_from is not None:
        note(f"{path} starts at checkpoint {state_from.id}: alerts from before it are not in the file")
    if store is not None:
        store.save(Checkpoint(fingerprint, now(), (), {key: 0}))


def _older(checkpoint: Checkpoint, than: Checkpoint | None) -> bool:
    """Whether ``checkpoint`` was saved before ``than`` (both loaded from one store)."""
    return than is not None and checkpoint.id is not None and than.id is not None and checkpoint.id < than.id


class AppendFile:
    """One output file, appended to in whole lines: :meth:`write` queues a line, :meth:`flush`
    hands the queue to the OS in one ``write``, :meth:`length` also fsyncs, for
    ``Checkpoint.outputs``. ``owner`` says, in the error raised when the file changed under
    this process, who else may be writing it."""

    def __init__(self, path: str, owner: str) -> None:
        self.path = path
        self._owner = owner
        self._file = open(path, "ab", buffering=0)  # noqa: SIM115 - closed by close()
        self._size = os.fstat(self._file.fileno()).st_size
        self._pending: list[bytes] = []

    def write(self, line: bytes) -> None:
        self._pending.append(line)
        self._pending.append(b"\n")

    def flush(self) -> None:
        if not self._pending:
            return
        self._check()
        data = b"".join(self._pending)
        self._pending = []
        view = memoryview(data)
        while view:
            view = view[self._file.write(view) or 0 :]
        self._size += len(data)

    def length(self) -> int:
        """Flush, fsync and measure: the length to record in a checkpoint."""
        self.flush()
        self._check()
        return output_length(self._file)

    def _check(self) -> None:
        size = os.fstat(self._file.fileno()).st_size
        if size != self._size:
            raise StateError(f"{self.path} has {size:,} bytes where this process left {self._size:,}: "
                             f"{self._owner}; stopping rather than interleaving lines")

    def close(self, discard: bool = False) -> None:
        """Flush (unless ``discard``: drop what is queued) and close."""
        if discard:
            self._pending = []
        try:
            self.flush()
        finally:
            self._file.close()


class SingleFile:
    """``--output FILE``: every partition's alerts in one file, resumed at start."""

    def __init__(self, path: str, store: CheckpointStore | None, fingerprint: str,
                 note: Callable[[str], None]) -> None:
        resume(path, store, store.latest() if store is not None else None, fingerprint, note)
        self.key = output_key(path)
        self._file = AppendFile(path, "another process writes it too (give each process its own --output, "
                                      "or one file per partition with {topic} and {partition})")

    def open(self, source: Partition, restored: Checkpoint | None) -> None:
        """Nothing to do: the file was resumed at start."""

    def release(self, source: Partition) -> None:
        """Nothing to do: the other partitions go on writing the file."""

    def write(self, source: Partition, line: bytes) -> None:
        self._file.write(line)

    def flush(self) -> None:
        self._file.flush()

    def lengths(self, sources: Sequence[Partition]) -> Mapping[str, int]:
        return {self.key: self._file.length()}

    def close(self) -> None:
        self._file.close()


class PartitionFiles:
    """``--output`` with ``{topic}`` and ``{partition}``: one file per source partition, opened
    (resumed from the partition's checkpoint) when the partition is assigned, closed when it
    goes. The template is checked by the caller (placeholders: :data:`PLACEHOLDERS`)."""

    def __init__(self, template: str, store: CheckpointStore, fingerprint: str,
                 note: Callable[[str], None]) -> None:
        self.template = template
        self._store = store
        self._fingerprint = fingerprint
        self._note = note
        self._files: dict[Partition, AppendFile] = {}

    def path(self, source: Partition) -> str:
        return self.template.format(topic=source[0], partition=source[1])

    def open(self, source: Partition, restored: Checkpoint | None) -> None:
        """``source`` is now this process's: resume its file from ``restored``, the checkpoint its
        state comes from (None: no checkpoint holds it)."""
        path = self.path(source)
        directory = os.path.dirname(path)
        if directory:
            os.makedirs(directory, exist_ok=True)
        resume(path, self._store, restored, self._fingerprint, self._note)
        self._files[source] = AppendFile(path, f"partition {source[1]} of {source[0]} is owned by another process "
                                               "now (this one was unresponsive past its session timeout)")

    def release(self, source: Partition) -> None:
        """``source`` is no longer this process's: what is queued for it is dropped (its owner
        writes it again, after the partition's checkpoint)."""
        file = self._files.pop(source, None)
        if file is not None:
            file.close(discard=True)

    def write(self, source: Partition, line: bytes) -> None:
        self._files[source].write(line)

    def flush(self) -> None:
        for file in self._files.values():
            file.flush()

    def lengths(self, sources: Sequence[Partition]) -> Mapping[str, int]:
        files = [self._files[s] for s in sources if s in self._files]
        return {output_key(f.path): f.length() for f in files}

    def close(self) -> None:
        for source in list(self._files):
            self._files.pop(source).close()
