"""Where checkpoints are kept: the :class:`CheckpointStore` interface and a directory store.

The interface is small so that a Kafka compacted changelog topic can back it later; the engine
only ever saves a checkpoint, asks for the newest one (overall, or the newest that holds a given
source partition, which is what a process needs when a rebalance hands it that partition), loads
one by id, lists them and prunes old ones.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import signal
import time
from pathlib import Path
from typing import Any, Callable, Protocol

import orjson

from cep.errors import SnapshotError
from cep.state.checkpoint import Checkpoint, CheckpointId, SourcePartition

__all__ = ["CheckpointStore", "DirectoryStore"]

_log = logging.getLogger("cep.state")

FILE_FORMAT = "cep.checkpoint-file"
FILE_VERSION = 1
_SUFFIX = ".ckpt"
_NAME = re.compile(r"^(\d{12,})-([A-Za-z0-9_.-]+)\.ckpt$")
_WRITER = re.compile(r"^[A-Za-z0-9_.-]+$")
_MAX_HEADER = 1 << 20


class CheckpointStore(Protocol):
    """What the engine needs from a checkpoint store."""

    def save(self, checkpoint: Checkpoint) -> CheckpointId:
        """Make ``checkpoint`` durable; when this returns, a crash cannot lose it."""
        ...

    def latest(self, partition: SourcePartition | None = None, *, output: str | None = None) -> Checkpoint | None:
        """The newest intact checkpoint (holding ``partition`` and recording the output file
        ``output`` in its ``outputs``, when given), or None."""
        ...

    def load(self, id: CheckpointId) -> Checkpoint:
        """One checkpoint; SnapshotError if it is missing or damaged."""
        ...

    def list(self) -> list[CheckpointId]:
        """Every checkpoint id, oldest first."""
        ...

    def prune(self, keep: int) -> list[CheckpointId]:
        """Delete old checkpoints, keeping the newest ``keep``; returns what was deleted."""
        ...


class _Damaged(SnapshotError):
    """A checkpoint file is truncated or corrupt: recovery falls back to an older one."""


def _wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


class DirectoryStore:
    """Checkpoints as files in one directory, written atomically.

    A checkpoint is saved by this procedure; each step completes before the next begins:

    1. Serialise: the checkpoint's JSON payload (orjson), behind a one-line header holding the
       payload's size and sha256, is written to ``NAME.tmp`` in the store directory. ``NAME`` is
       ``SEQ-WRITER.ckpt``: ``SEQ`` is one more than the highest sequence number in the
       directory, zero-padded to 12 digits, so names sort by sequence, never by wall-clock.
    2. Fsync the temporary file: its bytes are on disk.
    3. Rename it to ``NAME``: atomic on POSIX, so ``NAME`` is either absent or complete.
    4. Fsync the directory: the rename itself is on disk. The checkpoint is now durable, and only
       now may the source offsets it covers be committed.
    5. Prune: delete checkpoints beyond ``keep`` (see :meth:`prune`); never the newest.

    Recovery (:meth:`latest`): leftover ``*.tmp`` files are deleted (they are unfinished saves;
    another writer's are only deleted once older than ``stale_tmp_ms``, since that writer may be
    saving right now), then the newest checkpoint is loaded and its checksum verified. A
    truncated or corrupt one is skipped with a warning (``on_warning``, by default the
    ``cep.state`` logger) and the previous one is tried. A checkpoint in an unknown format
    version, or one written for other patterns (when ``fingerprint`` is given), is refused with
    :class:`SnapshotError` instead: falling back would silently run with the wrong state.

    Several processes may share one directory (scale-out): each needs its own ``writer`` name.
    ``now`` (epoch ms) is only used to age other writers' temporary files.

    ``_crash_after`` is for tests only: the process kills itself with SIGKILL right after that
    step of :meth:`save` (``0``: halfway through writing the temporary file).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        keep: int = 3,
        *,
        writer: str = "0",
        fingerprint: str | None = None,
        on_warning: Callable[[str], None] | None = None,
        now: Callable[[], int] = _wall_clock_ms,
        stale_tmp_ms: int = 600_000,
        _crash_after: int | None = None,
    ) -> None:
        if keep < 1:
            raise ValueError("keep must be at least 1: the newest checkpoint is never deleted")
        if not _WRITER.match(writer):
            raise ValueError(f"writer name {writer!r} may only use letters, digits, '_', '.' and '-'")
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)
        self.keep = keep
        self.writer = writer
        self.fingerprint = fingerprint
        self._warn = on_warning or _log.warning
        self._now = now
        self._stale_tmp_ms = stale_tmp_ms
        self._crash_after = _crash_after
        self._last_seq = 0

    # -- saving ------------------------------------------------------------------------------------

    def save(self, checkpoint: Checkpoint) -> CheckpointId:
        """Save by the numbered procedure in the class docstring."""
        if self.fingerprint is not None:
            checkpoint.require_fingerprint(self.fingerprint)
        ids = self.list()
        seq = max([self._last_seq] + [i.seq for i in ids]) + 1
        id = CheckpointId(seq, self.writer)
        final = self.path / f"{id}{_SUFFIX}"
        tmp = final.with_name(final.name + ".tmp")
        data = self._frame(id, checkpoint)
        # 1. serialise to NAME.tmp
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            if self._crash_after == 0:
                os.write(fd, data[: len(data) // 2])
                self._crash(0)
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            self._crash(1)
            # 2. fsync the file
            os.fsync(fd)
        finally:
            os.close(fd)
        self._crash(2)
        # 3. rename to the final name
        os.rename(tmp, final)
        self._crash(3)
        # 4. fsync the directory
        self._sync_dir()
        self._last_seq = seq
        self._crash(4)
        # 5. prune
        self.prune(self.keep)
        self._crash(5)
        return id

    def _frame(self, id: CheckpointId, checkpoint: Checkpoint) -> bytes:
        payload = checkpoint.to_bytes()
        header = {
            "format": FILE_FORMAT, "version": FILE_VERSION, "seq": id.seq, "writer": id.writer,
            "sources": [list(s) for s in checkpoint.sources],
            "outputs": sorted(checkpoint.outputs),
            "size": len(payload), "sha256": hashlib.sha256(payload).hexdigest(),
        }
        return orjson.dumps(header) + b"\n" + payload

    def _crash(self, step: int) -> None:
        if self._crash_after == step:
            os.kill(os.getpid(), signal.SIGKILL)

    def _sync_dir(self) -> None:
        fd = os.open(self.path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    # -- reading -----------------------------------------------------------------------------------

    def list(self) -> list[CheckpointId]:
        ids = []
        for entry in os.scandir(self.path):
            m = _NAME.match(entry.name)
            if m:
                ids.append(CheckpointId(int(m.group(1)), m.group(2)))
        return sorted(ids)

    def _file(self, id: CheckpointId) -> Path:
        return self.path / f"{id}{_SUFFIX}"

    def load(self, id: CheckpointId) -> Checkpoint:
        try:
            with open(self._file(id), "rb") as f:
                header = self._header(id, f.readline(_MAX_HEADER))
                payload = f.read()
        except FileNotFoundError:
            raise SnapshotError(f"no checkpoint {id} in {self.path}") from None
        if len(payload) != header["size"] or hashlib.sha256(payload).hexdigest() != header["sha256"]:
            raise _Damaged(f"checkpoint {id} in {self.path} is truncated or corrupt (checksum mismatch)")
        checkpoint = Checkpoint.from_bytes(payload, id)
        if self.fingerprint is not None:
            checkpoint.require_fingerprint(self.fingerprint)
        return checkpoint

    def _header(self, id: CheckpointId, line: bytes) -> dict[str, Any]:
        try:
            header = orjson.loads(line)
            known = header["format"] == FILE_FORMAT
        except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
            raise _Damaged(f"checkpoint {id} in {self.path} has a damaged header") from exc
        if not known:
            raise SnapshotError(f"{self._file(id)} is not a cep checkpoint file")
        if header.get("version") != FILE_VERSION:
            raise SnapshotError(
                f"checkpoint {id} in {self.path} has file version {header.get('version')!r}; this cep "
                f"reads version {FILE_VERSION}: use the cep release that wrote it, or start from scratch"
            )
        fields_ok = (header.get("seq") == id.seq and header.get("writer") == id.writer
                     and isinstance(header.get("size"), int) and isinstance(header.get("sha256"), str)
                     and isinstance(header.get("sources"), list))
        if not fields_ok:
            raise _Damaged(f"checkpoint {id} in {self.path} has a damaged header")
        return header

    def _index(self, id: CheckpointId) -> tuple[set[SourcePartition], set[str] | None] | None:
        """The partitions a checkpoint holds and the output files it records, from its header
        only (outputs None: a header written before they were listed); None if unreadable."""
        try:
            with open(self._file(id), "rb") as f:
                header = self._header(id, f.readline(_MAX_HEADER))
            outputs = header.get("outputs")
            return {(s[0], s[1]) for s in header["sources"]}, (None if outputs is None else set(outputs))
        except (OSError, _Damaged, IndexError, KeyError, TypeError):
            return None

    def latest(self, partition: SourcePartition | None = None, *, output: str | None = None) -> Checkpoint | None:
        """Recovery, as described in the class docstring; with ``partition`` and/or ``output``,
        only checkpoints holding that partition and/or recording that output file count."""
        self.clean()
        for id in reversed(self.list()):
            if partition is not None or output is not None:
                index = self._index(id)
                if index is None:
                    self._warn(f"checkpoint {id} in {self.path} is unreadable; skipping it")
                    continue
                sources, outputs = index
                if partition is not None and tuple(partition) not in sources:
                    continue
                if output is not None and outputs is not None and output not in outputs:
                    continue
            try:
                checkpoint = self.load(id)
            except _Damaged as exc:
                self._warn(f"{exc}; falling back to the previous checkpoint")
                continue
            except SnapshotError:
                if not self._file(id).exists():  # pruned by another writer meanwhile
                    continue
                raise
            if output is None or output in checkpoint.outputs:  # an old header does not list outputs
                return checkpoint
        return None

    # -- cleaning ----------------------------------------------------------------------------------

    def clean(self) -> list[str]:
        """Delete unfinished saves (``*.tmp``); returns the names deleted."""
        removed = []
        now = self._now()
        for entry in os.scandir(self.path):
            if not entry.name.endswith(_SUFFIX + ".tmp"):
                continue
            m = _NAME.match(entry.name[: -len(".tmp")])
            own = m is not None and m.group(2) == self.writer
            try:
                if own or now - entry.stat().st_mtime_ns // 1_000_000 > self._stale_tmp_ms:
                    os.unlink(entry.path)
                    removed.append(entry.name)
            except FileNotFoundError:
                pass
        return removed

    def prune(self, keep: int) -> list[CheckpointId]:
        """Delete every checkpoint that is neither among the ``keep`` newest, nor among the
        ``keep`` newest holding one of its source partitions (so a partition whose state another
        process writes, or that nobody owns just now, never loses its last checkpoints), nor
        among the ``keep`` newest recording one of its output files (so a checkpoint that only
        records a new file, before any state goes with it, stays until newer ones record it)."""
        if keep < 1:
            raise ValueError("keep must be at least 1: the newest checkpoint is never deleted")
        ids = self.list()
        kept = set(ids[-keep:])
        seen: dict[Any, int] = {}
        for id in reversed(ids):
            sources, outputs = self._index(id) or (set(), None)
            for name in [*sources, *(("output", o) for o in outputs or ())]:
                seen[name] = seen.get(name, 0) + 1
                if seen[name] <= keep:
                    kept.add(id)
        removed = [id for id in ids if id not in kept]
        for id in removed:
            try:
                os.unlink(self._file(id))
            except FileNotFoundError:
                pass
        if removed:
            self._sync_dir()
        return removed
