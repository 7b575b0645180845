"""Read event logs (JSON lines, gzip, CSV, stdin) as a stream of :class:`InputRecord`.

A replay must survive a bad line: the reader never raises for one. Each physical line becomes a
record holding the line number, the original bytes or text and either the parsed event or the
reason it cannot be used, and the caller decides where unusable lines go (the dead-letter
output). Only problems with the file itself (missing, unreadable, corrupt gzip) raise.

JSON lines is the hot path of ``cep replay``, so that loop is written for speed: the file is read
in 64 KiB blocks and split with ``bytes.split`` (one C call per block instead of one
``readline`` per line), and per line the loop does little besides ``orjson.loads`` and building
the record. Blank and whitespace-only lines are skipped without a record, but still count for
line numbers, so numbers always match what an editor shows.

CSV lives in :mod:`cep.connectors.csv_rows`; this module only routes to it.

A reader knows where it stands (:attr:`InputSource.position`: the byte offset of the next line
and the number of lines before it) after each batch it pushes, and can start from such a
position (``open_input(path, start=...)``): that is how ``cep replay --checkpoint-dir`` resumes
a file after a crash with the same line numbers.
"""

from __future__ import annotations

import gzip
import os
import stat
import sys
from dataclasses import dataclass
from typing import IO, Any, Callable, Iterator

import orjson

from cep.connectors.csv_rows import convert_cell, read_csv
from cep.connectors.records import InputRecord

__all__ = ["InputRecord", "InputSource", "Position", "open_input", "format_of", "convert_cell", "FORMATS"]

FORMATS = ("jsonl", "csv")
_FORMAT_ALIASES = {"jsonl": "jsonl", "json": "jsonl", "ndjson": "jsonl", "csv": "csv"}
_BLOCK = 1 << 16  # 16 KiB to 1 MiB measured the same; 64 KiB keeps memory small
_CSV_BATCH = 1024  # CSV rows per batch handed to `consume`
_BOM = b"\xef\xbb\xbf"
_GZIP_MAGIC = b"\x1f\x8b"


@dataclass(frozen=True, slots=True)
class Position:
    """Where reading stopped in a file, so that a later reader can go on from there.

    ``offset`` is the byte offset of the next line in the stream (the decompressed stream, for
    gzip); ``line`` the number of physical lines before it, so line numbers (dead letters) go
    on where they stopped; ``header`` a CSV file's header row, read before ``offset``, which
    the rows after it need. The start of a file is ``Position()``.
    """

    offset: int = 0
    line: int = 0
    header: tuple[str, ...] | None = None


class InputSource:
    """An open input: iterate it once for records; a context manager that closes the file.

    ``bytes_read`` and ``total_bytes`` feed a progress bar. For gzip files both count
    compressed bytes, so their ratio is the fraction done. ``total_bytes`` is None when the
    size is unknown (stdin, pipes). ``start`` resumes at a :class:`Position` a previous reader
    of the same file reported; it needs a seekable file.
    """

    def __init__(self, name: str, fileobj: IO[bytes], fmt: str, *, close: bool = True,
                 start: Position | None = None):
        self.name = name
        self.format = fmt
        self.total_bytes: int | None = _size_of(fileobj)
        self._raw = fileobj  # what is read from the disk or pipe: compressed for gzip
        self._close_raw = close
        self._stream: IO[bytes] = fileobj
        self._gzip = _looks_gzipped(name, fileobj)
        if self._gzip:
            self._stream = gzip.GzipFile(fileobj=fileobj, mode="rb")
        self._consumed = 0  # bytes taken from the stream (decompressed for gzip)
        self._position = 0  # compressed bytes taken from the file, for gzip
        self._offset = 0  # stream offset after the last line handed over (see `position`)
        self._line = 0  # physical lines handed over
        self._header: list[str] | None = None  # CSV only
        if start is not None and start != Position():
            self._seek(start)

    def _seek(self, start: Position) -> None:
        """Go to ``start``; for gzip that means decompressing (not parsing) everything before."""
        if not self._raw.seekable():
            raise ValueError(f"{self.name} cannot be resumed at byte {start.offset}: it is not a seekable file")
        self._stream.seek(start.offset)
        self._consumed = self._offset = start.offset
        if self._gzip:
            self._position = self._raw.tell()
        self._line = start.line
        self._header = list(start.header) if start.header is not None else None

    @property
    def position(self) -> Position:
        """Where the next batch starts: valid in ``pump``'s ``on_progress``, once a batch has
        been handed over in full, and after ``pump`` returns."""
        header = tuple(self._header) if self._header is not None else None
        return Position(self._offset, self._line, header)

    @property
    def bytes_read(self) -> int:
        """Bytes read so far: compressed ones for a gzip file, as ``total_bytes`` counts."""
        if self._gzip and self.total_bytes is not None:
            return self._position
        return self._consumed

    def __iter__(self) -> Iterator[InputRecord]:
        if self.format == "csv":
            return read_csv(self._lines(), self._header, lines_before=self._line, on_header=self._keep_header)
        return self._read_jsonl()

    def _keep_header(self, header: list[str]) -> None:
        self._header = header

    def pump(
        self,
        consume: Callable[[list[dict[str, Any]]], list[tuple[int, str | None]]],
        on_error: Callable[[int, bytes | str, str], None],
        on_late: Callable[[dict[str, Any]], None] | None = None,
        on_progress: Callable[[int, int], None] | None = None,
    ) -> int:
        """Push every event to ``consume`` in batches; return the number of lines read.

        The push form of iteration for the replay hot path: no record object and no generator
        step per line, and one ``consume`` call per block of lines. ``consume(events)`` returns
        the problems of the batch as ``(index, reason)``: reason None means the event was late
        (``on_late`` gets it), otherwise the event was unusable. Lines that are not JSON
        objects and unusable events go to ``on_error(line_number, raw, reason)``; the run goes
        on. ``on_progress(bytes_read, lines)`` is called once per block, with the lines read by
        this call so far, when everything of the block has been handed over: the place where a
        caller may checkpoint, with :attr:`position` as the point to resume from.
        """
        if self.format == "csv":
            return self._pump_records(iter(self), consume, on_error, on_late, on_progress, _CSV_BATCH)
        loads = orjson.loads
        decode_error = orjson.JSONDecodeError
        before = self._line  # lines before the start, when resuming
        number = 0
        for data in self._blocks():
            lines = data.split(b"\n")
            if lines[-1] == b"":
                lines.pop()
            first = before + number + 1
            events: list[dict[str, Any]] = []
            append = events.append
            skipped: list[int] = []  # positions of lines that are not events
            errors: list[tuple[int, str]] = []  # (position, reason), reported in line order
            for position, raw in enumerate(lines):
                try:
                    event = loads(raw)
                except decode_error as exc:
                    skipped.append(position)
                    if raw.strip():  # whitespace-only lines are blank, not errors
                        errors.append((position, f"invalid JSON: {exc}"))
                    continue
                if event.__class__ is dict:
                    append(event)
                else:
                    skipped.append(position)
                    errors.append((position, f"not a JSON object (got {_json_kind(event)})"))
            number += len(lines)
            if events:
                problems = consume(events)
                if problems:
                    positions = _event_positions(len(lines), skipped) if skipped else None
                    for index, reason in problems:
                        if reason is None:
                            if on_late is not None:
                                on_late(events[index])
                        else:
                            errors.append((positions[index] if positions else index, reason))
            if errors:
                errors.sort()
                for position, reason in errors:
                    on_error(first + position, lines[position], reason)
            self._line = before + number
            if on_progress is not None:
                on_progress(self.bytes_read, number)
        return number

    def _pump_records(
        self,
        records: Iterator[InputRecord],
        consume: Callable[[list[dict[str, Any]]], list[tuple[int, str | None]]],
        on_error: Callable[[int, bytes | str, str], None],
        on_late: Callable[[dict[str, Any]], None] | None,
        on_progress: Callable[[int, int], None] | None,
        batch: int,
    ) -> int:
        count = 0
        pending: list[InputRecord] = []

        # Unusable rows are held back with the batch so dead letters stay in line order.
        held: list[tuple[int, bytes | str, str]] = []

        def flush() -> None:
            events = [r.event for r in pending]
            for index, reason in consume(events):  # type: ignore[arg-type]
                if reason is None:
                    if on_late is not None:
                        on_late(events[index])  # type: ignore[arg-type]
                else:
                    held.append((pending[index].line, pending[index].raw, reason))
            held.sort(key=lambda h: h[0])
            for line, raw, reason in held:
                on_error(line, raw, reason)
            held.clear()
            pending.clear()
            if on_progress is not None:
                on_progress(self.bytes_read, count)

        for record in records:
            count += 1
            if record.event is None:
                held.append((record.line, record.raw, record.error or "unusable line"))
                continue
            pending.append(record)
            if len(pending) >= batch:
                flush()
        flush()
        return count

    def close(self) -> None:
        if self._gzip:
            self._stream.close()  # closes only the GzipFile, never a fileobj it was given
        if self._close_raw:
            self._raw.close()

    def __enter__(self) -> "InputSource":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"InputSource({self.name!r}, format={self.format!r}, gzip={self._gzip})"

    def _blocks(self, crlf_to_lf: bool = True) -> Iterator[bytes]:
        """The stream as blocks split at line ends, CRLF turned into LF (unless told not to), a
        leading BOM dropped. ``_offset`` is the stream offset of a block's end when it is
        yielded: the block is what lies between the previous one and there."""
        read = self._stream.read
        rest = b""
        first = self._consumed == 0
        while True:
            block = read(_BLOCK)
            if not block:
                break
            self._consumed += len(block)
            if self._gzip and self.total_bytes is not None:
                self._position = self._raw.tell()
            if first:
                first = False
                if block.startswith(_BOM):
                    block = block[3:]
            end = block.rfind(b"\n")
            if end < 0:
                rest += block
                continue
            data = rest + block[: end + 1] if rest else block[: end + 1]
            rest = block[end + 1 :]
            self._offset = self._consumed - len(rest)
            if crlf_to_lf and b"\r" in data:
                data = data.replace(b"\r\n", b"\n")
            yield data
        if rest:
            self._offset = self._consumed
            yield rest[:-1] if crlf_to_lf and rest.endswith(b"\r") else rest

    def _lines(self) -> Iterator[bytes]:
        """Every physical line (blank ones too) without its line ending.

        ``position`` follows each line (the CSV reader hands rows over one at a time, so a
        batch can end after any line); CR is stripped here, per line, so that the offsets
        count the bytes of the file."""
        for data in self._blocks(crlf_to_lf=False):
            offset = self._offset - len(data)
            lines = data.split(b"\n")
            last = lines.pop()  # b"" after a line ending, else the file's unterminated last line
            for raw in lines:
                offset += len(raw) + 1
                self._offset, self._line = offset, self._line + 1
                yield raw[:-1] if raw.endswith(b"\r") else raw
            if last:
                self._offset, self._line = offset + len(last), self._line + 1
                yield last[:-1] if last.endswith(b"\r") else last

    def _read_jsonl(self) -> Iterator[InputRecord]:
        loads = orjson.loads
        decode_error = orjson.JSONDecodeError
        record = InputRecord
        before = self._line  # lines in earlier blocks (and before the start, when resuming)
        for data in self._blocks():
            lines = data.split(b"\n")
            if lines[-1] == b"":
                lines.pop()
            for number, raw in enumerate(lines, before + 1):
                if not raw:
                    continue
                try:
                    event = loads(raw)
                except decode_error as exc:
                    if not raw.strip():
                        continue  # whitespace-only counts as blank
                    yield record(number, raw, None, f"invalid JSON: {exc}")
                    continue
                if type(event) is dict:
                    yield record(number, raw, event, None)
                else:
                    yield record(number, raw, None, f"not a JSON object (got {_json_kind(event)})")
            before += len(lines)


def open_input(path: str, *, format: str | None = None, start: Position | None = None) -> InputSource:
    """Open ``path`` (``-`` for stdin) for reading events.

    The format comes from the name: ``.csv`` and ``.csv.gz`` are CSV; ``.jsonl``, ``.ndjson``,
    ``.json`` and anything else (``.log``, no extension) are JSON lines. ``format`` ("jsonl",
    "json", "ndjson" or "csv") overrides the name. Gzip is recognised by its magic bytes, so
    ``.gz`` files and gzipped stdin both work whatever the name says. Stdin is read as bytes.
    ``start`` resumes reading at a :attr:`InputSource.position` reported by an earlier reader.
    """
    fmt = format_of(path, format)
    if path == "-":
        return InputSource("<stdin>", sys.stdin.buffer, fmt, close=False, start=start)
    fileobj = open(path, "rb")
    try:
        return InputSource(path, fileobj, fmt, start=start)
    except BaseException:
        fileobj.close()
        raise


def format_of(path: str, format: str | None = None) -> str:
    """The format ``open_input`` reads ``path`` as ("jsonl" or "csv"), see there."""
    if format is not None:
        try:
            return _FORMAT_ALIASES[format.lower()]
        except KeyError:
            raise ValueError(
                f"unknown input format {format!r}; use one of {', '.join(_FORMAT_ALIASES)}"
            ) from None
    name = path.lower()
    if name.endswith(".gz"):
        name = name[:-3]
    return "csv" if name.endswith(".csv") else "jsonl"


def _looks_gzipped(name: str, fileobj: IO[bytes]) -> bool:
    peek = getattr(fileobj, "peek", None)
    if peek is not None:
        try:
            return peek(2)[:2] == _GZIP_MAGIC
        except (OSError, ValueError):
            pass
    return name.lower().endswith(".gz")


def _size_of(fileobj: IO[bytes]) -> int | None:
    try:
        info = os.fstat(fileobj.fileno())
    except (OSError, ValueError, AttributeError):
        return None
    return info.st_size if stat.S_ISREG(info.st_mode) else None


def _event_positions(count: int, skipped: list[int]) -> list[int]:
    """Line positions of a block's events, given the positions of lines that were not events."""
    gone = set(skipped)
    return [p for p in range(count) if p not in gone]


def _json_kind(value: object) -> str:
    if isinstance(value, list):
        return "list"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "boolean"
    if value is None:
        return "null"
    return "number"
