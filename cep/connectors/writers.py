"""Write JSON lines (alerts, dead letters, late events) so that a file never ends mid-line.

Records are serialised with ``orjson.dumps`` into a pending list, and a flush hands all pending
lines to the operating system in one ``write`` call on an unbuffered file. Python's own
buffered writer pushes its buffer out whenever it fills, which can be in the middle of a line.
Here bytes only leave in whole-line batches, and a batch cut short by an exception (Ctrl-C
lands between a short write and the next) is finished from the file position by the next flush
or by ``close()``, which leaving the ``with`` block always calls. So a run that stops by an
exception, Ctrl-C included, leaves only whole lines.

A hard kill (SIGKILL, an unhandled SIGTERM, power loss) is different: Linux may stop a large
``write`` part-way through when a fatal signal arrives, so the last line can be cut. Code that
resumes from such a file must drop a trailing partial line (or truncate to a committed
offset); the CLI can turn SIGTERM into an exception to get the clean case.

The engine is expected to call :meth:`JsonLinesWriter.flush` once per batch of input (or use
:meth:`JsonLinesWriter.write_many`); :meth:`JsonLinesWriter.write` alone only flushes when
64 KiB are pending, so writing is cheap per record.
"""

from __future__ import annotations

import os
import sys
from typing import IO, Any, Callable, Iterable

import orjson

from cep.connectors.records import InputRecord
from cep.state.checkpoint import output_length

__all__ = ["JsonLinesWriter", "write_dead_letter", "dead_letter_record"]

_FLUSH_AT = 64 * 1024


class JsonLinesWriter:
    """One JSON object per line to ``path``; ``None`` or ``"-"`` means stdout (never closed).

    ``non_str_keys=True`` writes dict keys that are not strings (ints, ...) as strings instead
    of raising ``TypeError``, which is orjson's default. ``default`` is orjson's hook for types
    it cannot serialise. ``append=True`` adds to an existing file instead of replacing it.
    The file is created at once, so an empty file means "nothing to report", not "not run".
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        non_str_keys: bool = False,
        default: Callable[[Any], Any] | None = None,
        append: bool = False,
    ):
        self.name = "<stdout>" if path is None or path == "-" else os.fspath(path)
        self.lines_written = 0
        self._option = orjson.OPT_APPEND_NEWLINE | (orjson.OPT_NON_STR_KEYS if non_str_keys else 0)
        self._default = default
        self._pending: list[bytes] = []
        self._pending_size = 0
        self._closed = False
        # (file position or -1 for a pipe, bytes still to write, their line count)
        self._unwritten: tuple[int, bytes | memoryview, int] | None = None
        self._seekable = False
        self._file: IO[bytes] | None
        if self.name == "<stdout>":
            self._file = None  # looked up at each flush: tests and tools swap sys.stdout
        else:
            self._file = open(self.name, "ab" if append else "wb", buffering=0)
            self._seekable = self._file.seekable()

    def write(self, record: dict[str, Any]) -> None:
        """Queue one record; it reaches the file at the next flush (at the latest at 64 KiB)."""
        if self._closed:
            raise ValueError(f"write to closed JsonLinesWriter {self.name!r}")
        line = orjson.dumps(record, default=self._default, option=self._option)
        self._pending.append(line)
        self._pending_size += len(line)
        if self._pending_size >= _FLUSH_AT:
            self.flush()

    def write_many(self, records: Iterable[dict[str, Any]]) -> None:
        """Write a batch of records and flush them together."""
        for record in records:
            self.write(record)
        self.flush()

    def flush(self) -> None:
        """Hand every pending line to the OS in one write (whole lines only)."""
        if self._closed:
            if self._pending:
                raise ValueError(f"write to closed JsonLinesWriter {self.name!r}")
            return
        if self._unwritten is not None:
            self._drain()  # finish a flush that an exception (Ctrl-C) cut short
        if not self._pending:
            return
        data = b"".join(self._pending)
        if self._file is None:
            count = len(self._pending)
            self._pending, self._pending_size = [], 0
            _write_stdout(data)
            self.lines_written += count
            return
        position = self._file.tell() if self._seekable else -1
        # No call between these stores, so no signal handler can run half-way through them.
        self._unwritten = (position, data, len(self._pending))
        self._pending, self._pending_size = [], 0
        self._drain()

    def _drain(self) -> None:
        """Write ``self._unwritten`` to the end, also after an earlier attempt was interrupted.

        On a regular file the file position says how much already went out, so a retry after
        KeyboardInterrupt neither repeats nor skips bytes. A pipe cannot tell, so there the
        progress is stored after each write (an interrupt in the instant between a write and
        that store would repeat those bytes).
        """
        assert self._unwritten is not None and self._file is not None
        position, data, count = self._unwritten
        view = memoryview(data)
        if position >= 0:
            while (done := self._file.tell() - position) < len(view):
                self._file.write(view[done:])
        else:
            while view:
                view = view[self._file.write(view) or 0 :]
                self._unwritten = (position, view, count)  # progress, for a retry
        self._unwritten = None
        self.lines_written += count

    def length(self) -> int:
        """Flush, fsync and return the file's length: the value a checkpoint records for an
        exactly-once output, which must be on disk before the checkpoint is."""
        if self._file is None:
            raise ValueError("stdout has no length to checkpoint; write to a file")
        self.flush()
        return output_length(self._file)

    def close(self) -> None:
        if self._closed:
            return
        try:
            self.flush()
        finally:
            self._closed = True
            if self._file is not None:
                self._file.close()

    @property
    def closed(self) -> bool:
        return self._closed

    def __enter__(self) -> "JsonLinesWriter":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"JsonLinesWriter({self.name!r}, lines_written={self.lines_written})"


def _write_stdout(data: bytes) -> None:
    buffer = getattr(sys.stdout, "buffer", None)
    if buffer is not None:
        sys.stdout.flush()  # keep order with anything printed as text before
        buffer.write(data)
        buffer.flush()
    else:  # a text-only replacement (pytest's capsys, io.StringIO)
        sys.stdout.write(data.decode("utf-8"))
        sys.stdout.flush()


def dead_letter_record(record: InputRecord, reason: str | None = None) -> dict[str, Any]:
    """The dead-letter form of ``record``: ``{"line": N, "raw": text, "reason": why}``.

    ``raw`` is text so the output stays valid JSON: invalid UTF-8 becomes U+FFFD. ``reason``
    defaults to the record's own error (the reader's reason for refusing the line).
    """
    raw = record.raw
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
    return {"line": record.line, "raw": text, "reason": reason or record.error or "unusable"}


def write_dead_letter(
    writer: JsonLinesWriter, record: InputRecord, reason: str | None = None
) -> None:
    """Write ``record`` to ``writer`` as a dead letter (see :func:`dead_letter_record`)."""
    writer.write(dead_letter_record(record, reason))
