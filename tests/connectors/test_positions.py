"""Resuming a file at ``InputSource.position``: the rest of the file reads exactly as it would have.

For every batch boundary of ``pump`` (small blocks and CSV batches, so there are many), a new
reader opened at the position reported there must hand over the same events, late events and
errors, with the same line numbers, as the uninterrupted reader did after that boundary. Files
have every awkward feature: CRLF, a BOM, blank lines, invalid lines, quoted CSV fields spanning
lines, a last line without a line ending, gzip.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest

from cep.connectors import readers
from cep.connectors import InputSource, Position, open_input

Batch = tuple[list[Any], Position]  # what one batch handed over, and the position after it


def pump_batches(path: Path, start: Position | None = None) -> list[Batch]:
    """Pump ``path`` (from ``start``) and note, per batch, what came out and where it ended."""
    batches: list[Batch] = []
    out: list[Any] = []

    def consume(events: list[dict[str, Any]]) -> list[tuple[int, str | None]]:
        out.extend(("event", e) for e in events)
        return [(i, None if e.get("kind") == "late" else "no good")
                for i, e in enumerate(events) if e.get("kind") in ("late", "bad")]

    def on_error(line: int, raw: bytes | str, reason: str) -> None:
        out.append(("error", line, raw if isinstance(raw, str) else raw.decode("utf-8", "replace"), reason))

    def on_late(event: dict[str, Any]) -> None:
        out.append(("late", event))

    source: InputSource

    def on_progress(bytes_read: int, lines: int) -> None:
        batches.append((out.copy(), source.position))
        out.clear()

    with open_input(str(path), start=start) as source:
        source.pump(consume, on_error, on_late, on_progress)
        assert not out, "everything is handed over by the last on_progress"
    return batches


def by_kind(batches: list[Batch]) -> dict[str, list[Any]]:
    """Events, late events and errors, each in its order. How they interleave depends on where
    batches end, which a resumed reader need not repeat (as the replay's output files are
    separate, that is all they see)."""
    kinds: dict[str, list[Any]] = {"event": [], "late": [], "error": []}
    for items, _ in batches:
        for item in items:
            kinds[item[0]].append(item[1:])
    return kinds


def check_every_resume_point(path: Path) -> None:
    whole = pump_batches(path)
    assert len(whole) > 5, "the test needs many batch boundaries"
    for k, (_, position) in enumerate(whole):
        rest = pump_batches(path, position)
        assert by_kind(rest) == by_kind(whole[k + 1 :]), f"resumed at {position}"
        if rest:
            assert rest[-1][1] == whole[-1][1]  # and it ends where the whole read ended


def jsonl_lines() -> list[bytes]:
    lines = []
    for n in range(300):
        kind = ["ok", "late", "bad", "ok"][n % 4]
        lines.append(json.dumps({"n": n, "kind": kind, "pad": "é" * (n % 7)}, ensure_ascii=False).encode())
        if n % 17 == 0:
            lines.append(b"")  # blank: no record, but a line number
        if n % 23 == 0:
            lines.append(b'{"broken": ')
        if n % 29 == 0:
            lines.append(b"[1, 2]")
    return lines


@pytest.mark.parametrize("compress", [False, True], ids=["plain", "gzip"])
def test_jsonl_resumes_at_every_batch_boundary(tmp_path, monkeypatch, compress):
    monkeypatch.setattr(readers, "_BLOCK", 512)
    data = b"\xef\xbb\xbf" + b"\r\n".join(jsonl_lines()) + b"\r\n" + b'{"n": "last", "kind": "ok"}'
    path = tmp_path / ("log.jsonl.gz" if compress else "log.jsonl")
    path.write_bytes(gzip.compress(data) if compress else data)
    check_every_resume_point(path)


def test_csv_resumes_at_every_batch_boundary_with_its_header(tmp_path, monkeypatch):
    monkeypatch.setattr(readers, "_BLOCK", 512)
    monkeypatch.setattr(readers, "_CSV_BATCH", 7)
    rows = ["n,kind,note"]
    for n in range(300):
        kind = ["ok", "late", "bad", "ok"][n % 4]
        note = f'"spans\r\ntwo lines, n={n}"' if n % 11 == 0 else f"plain {n}"
        rows.append(f"{n},{kind},{note}")
        if n % 13 == 0:
            rows.append("")
        if n % 19 == 0:
            rows.append("ragged,row")
    path = tmp_path / "log.csv"
    path.write_bytes(b"\xef\xbb\xbf" + "\r\n".join(rows).encode() + b"\r\n" + b"300,ok,no line end")
    check_every_resume_point(path)
    # The header travels in the position: the rows after it still get their field names.
    middle = pump_batches(path)[3][1]
    assert middle.header == ("n", "kind", "note") and middle.offset > 0 and middle.line > 0


def test_stdin_cannot_be_resumed_in_the_middle(monkeypatch):
    import io
    import os
    import sys

    read_end, write_end = os.pipe()
    os.close(write_end)
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(os.fdopen(read_end, "rb")))
    with pytest.raises(ValueError, match="not a seekable file"):
        open_input("-", start=Position(10, 1))
