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
"""

from __future__ import annotations

import gzip
import os
import stat
import sys
from typing import IO, Any, Callable, Iterator

import orjson

from cep.connectors.csv_rows import convert_cell, read_csv
from cep.connectors.records import InputRecord

__all__ = ["InputRecord", "InputSource", "open_input", "convert_cell", "FORMATS"]

FORMATS = ("jsonl", "csv")
_FORMAT_ALIASES = {"jsonl": "jsonl", "json": "jsonl", "ndjson": "jsonl", "csv": "csv"}
_BLOCK = 1 << 16  # 16 KiB to 1 MiB measured the same; 64 KiB keeps memory small
_BOM = b"\xef\xbb\xbf"
_GZIP_MAGIC = b"\x1f\x8b"


class InputSource:
    """An open input: iterate it once for records; a context manager that closes the file.

    ``bytes_read`` and ``total_bytes`` feed a progress bar. For gzip files both count
    compressed bytes, so their ratio is the fraction done. ``total_bytes`` is None when the
    size is unknown (stdin, pipes).
    """

    def __init__(self, name: str, fileobj: IO[bytes], fmt: str, *, close: bool = True):
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

    @property
    def bytes_read(self) -> int:
        """Bytes read so far: compressed ones for a gzip file, as ``total_bytes`` counts."""
        if self._gzip and self.total_bytes is not None:
            return self._position
        return self._consumed

    def __iter__(self) -> Iterator[InputRecord]:
        if self.format == "csv":
            return read_csv(self._lines())
        return self._read_jsonl()

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
        on. ``on_progress(bytes_read, lines)`` is called once per block.
        """
        if self.format == "csv":
            return self._pump_records(iter(self), consume, on_error, on_late, on_progress)
        loads = orjson.loads
        decode_error = orjson.JSONDecodeError
        number = 0
        for data in self._blocks():
            lines = data.split(b"\n")
            if lines[-1] == b"":
                lines.pop()
            first = number + 1
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
        batch: int = 1024,
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

    def _blocks(self) -> Iterator[bytes]:
        """The stream as blocks split at line ends, CRLF turned into LF, a leading BOM dropped."""
        read = self._stream.read
        rest = b""
        first = True
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
            if b"\r" in data:
                data = data.replace(b"\r\n", b"\n")
            yield data
        if rest:
            yield rest[:-1] if rest.endswith(b"\r") else rest

    def _lines(self) -> Iterator[bytes]:
        """Every physical line (blank ones too) without its line ending."""
        for data in self._blocks():
            lines = data.split(b"\n")
            if lines[-1] == b"":
                lines.pop()
            yield from lines

    def _read_jsonl(self) -> Iterator[InputRecord]:
        loads = orjson.loads
        decode_error = orjson.JSONDecodeError
        record = InputRecord
        before = 0  # lines in earlier blocks
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


def open_input(path: str, *, format: str | None = None) -> InputSource:
    """Open ``path`` (``-`` for stdin) for reading events.

    The format comes from the name: ``.csv`` and ``.csv.gz`` are CSV; ``.jsonl``, ``.ndjson``,
    ``.json`` and anything else (``.log``, no extension) are JSON lines. ``format`` ("jsonl",
    "json", "ndjson" or "csv") overrides the name. Gzip is recognised by its magic bytes, so
    ``.gz`` files and gzipped stdin both work whatever the name says. Stdin is read as bytes.
    """
    fmt = _format_for(path, format)
    if path == "-":
        return InputSource("<stdin>", sys.stdin.buffer, fmt, close=False)
    return InputSource(path, open(path, "rb"), fmt)


def _format_for(path: str, format: str | None) -> str:
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
