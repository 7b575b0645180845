"""File input and output on real files: JSON lines, gzip, CSV, stdin, and the writers."""

from __future__ import annotations

import gzip
import io
import json
import os
import signal
import subprocess
import sys
import textwrap

import orjson
import pytest

from cep.connectors import (
    InputRecord,
    JsonLinesWriter,
    convert_cell,
    dead_letter_record,
    open_input,
    write_dead_letter,
)


def read_all(path, **kwargs) -> list[InputRecord]:
    with open_input(str(path), **kwargs) as source:
        return list(source)


def summary(records: list[InputRecord]) -> list[tuple[int, object]]:
    """(line, event) for good records, (line, error) for bad ones."""
    return [(r.line, r.event if r.ok else r.error) for r in records]


MIXED = (
    b'{"a": 1}\n'
    b"\n"  # blank: skipped, but counts as a line
    b'{"a": 2, "b": [1, 2]}\n'
    b"   \t\n"  # whitespace only: skipped too
    b'{"a": 3, "trunc\n'
    b"plain text\n"
    b"[1, 2, 3]\n"
    b'"a string"\n'
    b"42\n"
    b"null\n"
    b'{"a": "\xff\xfe"}\n'  # invalid UTF-8
    b'{"a": 4}'  # no newline at the end
)


def check_mixed(records: list[InputRecord]) -> None:
    lines = [r.line for r in records]
    assert lines == [1, 3, 5, 6, 7, 8, 9, 10, 11, 12]
    by_line = {r.line: r for r in records}
    assert by_line[1].event == {"a": 1} and by_line[1].error is None and by_line[1].ok
    assert by_line[3].event == {"a": 2, "b": [1, 2]}
    assert by_line[12].event == {"a": 4} and by_line[12].raw == b'{"a": 4}'
    for n in (5, 6, 11):
        assert by_line[n].event is None
        assert by_line[n].error.startswith("invalid JSON: "), by_line[n].error
    assert by_line[7].error == "not a JSON object (got list)"
    assert by_line[8].error == "not a JSON object (got string)"
    assert by_line[9].error == "not a JSON object (got number)"
    assert by_line[10].error == "not a JSON object (got null)"
    assert by_line[6].raw == b"plain text"
    assert by_line[11].raw == b'{"a": "\xff\xfe"}'


def test_jsonl_every_kind_of_line(tmp_path):
    path = tmp_path / "mixed.jsonl"
    path.write_bytes(MIXED)
    check_mixed(read_all(path))


def test_gzip_is_read_and_progress_counts_compressed_bytes(tmp_path):
    path = tmp_path / "mixed.jsonl.gz"
    path.write_bytes(gzip.compress(MIXED))
    with open_input(str(path)) as source:
        assert source.total_bytes == path.stat().st_size
        records = list(source)
        assert source.bytes_read == source.total_bytes
    check_mixed(records)


def test_gzip_is_recognised_by_content_whatever_the_name(tmp_path):
    path = tmp_path / "events.log"
    path.write_bytes(gzip.compress(b'{"a": 1}\n'))
    assert summary(read_all(path)) == [(1, {"a": 1})]


def test_plain_progress_and_crlf_and_bom(tmp_path):
    data = b'\xef\xbb\xbf{"a": 1}\r\n\r\n{"a": 2}\r\nnope\r\n'
    path = tmp_path / "crlf.ndjson"
    path.write_bytes(data)
    with open_input(str(path)) as source:
        records = list(source)
        assert source.bytes_read == source.total_bytes == len(data)
    assert [(r.line, r.raw) for r in records] == [(1, b'{"a": 1}'), (3, b'{"a": 2}'), (4, b"nope")]


def test_lines_across_block_boundaries(tmp_path, monkeypatch):
    import cep.connectors.readers as readers

    monkeypatch.setattr(readers, "_BLOCK", 7)  # most lines straddle two or more blocks
    lines = [json.dumps({"n": n, "pad": "x" * (n % 5)}) for n in range(50)]
    path = tmp_path / "small-blocks.jsonl"
    path.write_text("\r\n".join(lines) + "\r\n")
    records = read_all(path)
    assert [r.event["n"] for r in records] == list(range(50))
    assert [r.line for r in records] == list(range(1, 51))
    assert [r.raw.decode() for r in records] == lines


def test_empty_file(tmp_path):
    path = tmp_path / "empty.jsonl"
    path.write_bytes(b"")
    assert read_all(path) == []


def test_missing_file_raises(tmp_path):
    with pytest.raises(FileNotFoundError):
        open_input(str(tmp_path / "nope.jsonl"))


def test_unknown_format_raises():
    with pytest.raises(ValueError, match="unknown input format"):
        open_input("x.jsonl", format="xml")


def test_stdin_through_a_real_pipe(monkeypatch):
    data = b'{"a": 1}\n[]\n{"a": 2}\n'
    read_end, write_end = os.pipe()
    with os.fdopen(write_end, "wb") as writer:
        writer.write(data)
    stdin = os.fdopen(read_end, "rb")
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(stdin))
    with open_input("-") as source:
        assert source.total_bytes is None
        records = list(source)
        assert source.bytes_read == len(data)
    assert summary(records) == [(1, {"a": 1}), (2, "not a JSON object (got list)"), (3, {"a": 2})]
    assert not stdin.closed  # stdin belongs to the process, not to the reader


def test_stdin_in_a_subprocess_with_gzip_and_csv():
    script = textwrap.dedent(
        """
        import sys
        from cep.connectors import open_input
        with open_input("-", format=sys.argv[1]) as source:
            for r in source:
                print(r.line, r.event if r.ok else r.error)
        """
    )
    run = lambda fmt, data: subprocess.run(  # noqa: E731
        [sys.executable, "-c", script, fmt], input=data, capture_output=True, check=True
    ).stdout.decode()
    first, third = run("jsonl", gzip.compress(b'{"a": 1}\n\nbad\n')).splitlines()
    assert first == "1 {'a': 1}"
    assert third.startswith("3 invalid JSON: ")
    assert run("csv", b"a,b\n1,x\n") == "2 {'a': 1, 'b': 'x'}\n"


# ---- CSV -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cell", "value"),
    [
        ("", None),
        ("12", 12),
        ("-3", -3),
        ("0", 0),
        ("0.05", 0.05),
        ("12.50", 12.5),
        ("1e5", 100000.0),
        ("-2.5E-3", -0.0025),
        ("true", True),
        ("false", False),
        ("null", None),
        ("007", "007"),
        ("+5", "+5"),
        (".5", ".5"),
        ("5.", "5."),
        ("1,000", "1,000"),
        (" 12", " 12"),
        ("12 ", "12 "),
        ("NaN", "NaN"),
        ("inf", "inf"),
        ("-", "-"),
        ("1e999", "1e999"),
        ("TRUE", "TRUE"),
        ("True", "True"),
        ("c0042", "c0042"),
        ("2024-01-01T00:00:20Z", "2024-01-01T00:00:20Z"),
    ],
)
def test_convert_cell(cell, value):
    converted = convert_cell(cell)
    assert converted == value and type(converted) is type(value)


def test_csv_rows_types_ragged_rows_and_line_numbers(tmp_path):
    path = tmp_path / "tx.csv"
    path.write_bytes(
        b"card_id,amount,ts,note\r\n"
        b"c1,0.05,2024-01-01T00:00:00Z,\r\n"
        b"\r\n"
        b'c2,900,2024-01-01T00:00:20Z,"two\r\nlines"\r\n'
        b"c3,1,2,3,4\r\n"
        b"c4,1\r\n"
        b"c\xff,1,2,3\r\n"
        b'c5,"1,5",x,"say ""hi"""\r\n'
    )
    records = read_all(path)
    assert summary(records) == [
        (2, {"card_id": "c1", "amount": 0.05, "ts": "2024-01-01T00:00:00Z", "note": None}),
        (4, {"card_id": "c2", "amount": 900, "ts": "2024-01-01T00:00:20Z", "note": "two\nlines"}),
        (6, "CSV row has 5 fields, header has 4"),
        (7, "CSV row has 2 fields, header has 4"),
        (8, "invalid UTF-8 at byte 1"),
        (9, {"card_id": "c5", "amount": "1,5", "ts": "x", "note": 'say "hi"'}),
    ]
    assert records[1].raw == 'c2,900,2024-01-01T00:00:20Z,"two\nlines"'
    assert records[2].raw == "c3,1,2,3,4"
    assert records[4].raw == "c\ufffd,1,2,3"


def test_csv_gz_and_format_override(tmp_path):
    gz = tmp_path / "tx.csv.gz"
    gz.write_bytes(gzip.compress(b"a,b\n1,2\n"))
    assert summary(read_all(gz)) == [(2, {"a": 1, "b": 2})]
    txt = tmp_path / "tx.txt"
    txt.write_bytes(b"a,b\n1,2\n")
    assert summary(read_all(txt, format="csv")) == [(2, {"a": 1, "b": 2})]
    assert read_all(txt)[0].error.startswith("invalid JSON")  # .txt defaults to JSON lines


def test_csv_header_only_or_empty(tmp_path):
    (tmp_path / "h.csv").write_text("a,b\n")
    (tmp_path / "e.csv").write_text("")
    assert read_all(tmp_path / "h.csv") == []
    assert read_all(tmp_path / "e.csv") == []


# ---- writers ---------------------------------------------------------------------------------


def test_writer_writes_json_lines(tmp_path):
    path = tmp_path / "out" / "alerts.jsonl"
    path.parent.mkdir()
    records = [{"pattern": "p", "n": n, "s": "é\n\"x\""} for n in range(3)]
    with JsonLinesWriter(path) as writer:
        assert path.exists()  # created at once, even before any write
        writer.write(records[0])
        writer.write_many(records[1:])
        assert writer.lines_written == 3
    lines = path.read_bytes().split(b"\n")
    assert lines[-1] == b""
    assert [orjson.loads(line) for line in lines[:-1]] == records
    assert writer.closed
    writer.close()  # twice is fine
    with pytest.raises(ValueError, match="closed"):
        writer.write({"late": True})


def test_writer_flushes_on_close_and_not_before(tmp_path):
    path = tmp_path / "a.jsonl"
    writer = JsonLinesWriter(path)
    writer.write({"a": 1})
    assert path.read_bytes() == b""  # pending until a flush
    writer.flush()
    assert path.read_bytes() == b'{"a":1}\n'
    writer.write({"a": 2})
    writer.close()
    assert path.read_bytes() == b'{"a":1}\n{"a":2}\n'


def test_writer_append_and_non_str_keys(tmp_path):
    path = tmp_path / "a.jsonl"
    path.write_bytes(b'{"old":true}\n')
    with JsonLinesWriter(path, append=True, non_str_keys=True) as writer:
        writer.write({1: "one"})
    assert path.read_bytes() == b'{"old":true}\n{"1":"one"}\n'
    with JsonLinesWriter(tmp_path / "b.jsonl") as strict:
        with pytest.raises(TypeError):
            strict.write({1: "one"})


def test_writer_to_stdout(capsysbinary):
    with JsonLinesWriter("-") as writer:
        writer.write({"a": 1})
    with JsonLinesWriter(None) as writer:
        writer.write_many([{"b": 2}])
    assert capsysbinary.readouterr().out == b'{"a":1}\n{"b":2}\n'
    assert not sys.stdout.closed


def test_writer_to_text_only_stdout(monkeypatch):
    fake = io.StringIO()
    monkeypatch.setattr(sys, "stdout", fake)
    with JsonLinesWriter() as writer:
        writer.write({"a": "é"})
    assert fake.getvalue() == '{"a":"é"}\n'


def test_dead_letters(tmp_path):
    source = tmp_path / "in.jsonl"
    source.write_bytes(b'{"a": 1}\n{"a": "\xff"}\n[1]\n')
    path = tmp_path / "dead.jsonl"
    with open_input(str(source)) as records, JsonLinesWriter(path) as dead:
        for record in records:
            if not record.ok:
                write_dead_letter(dead, record, record.error)
        write_dead_letter(dead, InputRecord(9, b"{}", {}, None), "missing field card_id")
    letters = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert [(d["line"], d["raw"]) for d in letters] == [
        (2, '{"a": "\ufffd"}'),
        (3, "[1]"),
        (9, "{}"),
    ]
    assert letters[0]["reason"].startswith("invalid JSON")
    assert letters[1]["reason"] == "not a JSON object (got list)"
    assert letters[2]["reason"] == "missing field card_id"
    csv_record = InputRecord(4, "a,b,c", None, "CSV row has 3 fields, header has 2")
    assert dead_letter_record(csv_record) == {
        "line": 4, "raw": "a,b,c", "reason": "CSV row has 3 fields, header has 2"
    }


class _InterruptedOnce:
    """A file whose first write puts out half the bytes and then gets Ctrl-C."""

    def __init__(self, real):
        self.real = real
        self.interrupted = False

    def write(self, data):
        if not self.interrupted:
            self.interrupted = True
            self.real.write(data[: len(data) // 2])
            raise KeyboardInterrupt
        return self.real.write(data)

    def __getattr__(self, name):
        return getattr(self.real, name)


def test_a_flush_cut_short_by_ctrl_c_is_finished_on_close(tmp_path):
    path = tmp_path / "a.jsonl"
    records = [{"n": n, "pad": "x" * 100} for n in range(20)]
    with pytest.raises(KeyboardInterrupt):
        with JsonLinesWriter(path) as writer:
            writer.write({"n": -1})
            writer.flush()
            writer._file = _InterruptedOnce(writer._file)
            writer.write_many(records)
    assert writer._file.interrupted
    lines = path.read_bytes().split(b"\n")
    assert lines[-1] == b""
    assert [orjson.loads(line) for line in lines[:-1]] == [{"n": -1}, *records]
    assert writer.lines_written == 21


WRITE_FOREVER = """
import sys
from cep.connectors import JsonLinesWriter
with JsonLinesWriter(sys.argv[1]) as writer:
    n = 0
    while True:
        writer.write_many({"n": n + i, "pad": "x" * ((n + i) % 3000)} for i in range(50))
        n += 50
        if n == 5000:
            print("ready", flush=True)
"""


def run_and_stop(path, sig) -> bytes:
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITE_FOREVER, str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert proc.stdout.readline() == b"ready\n"
    finally:
        proc.send_signal(sig)
        proc.wait()
        proc.stdout.close()
    return path.read_bytes()


def test_ctrl_c_leaves_only_whole_lines(tmp_path):
    data = run_and_stop(tmp_path / "alerts.jsonl", signal.SIGINT)
    assert data.endswith(b"\n")
    numbers = [orjson.loads(line)["n"] for line in data.splitlines()]
    assert numbers == list(range(len(numbers))) and len(numbers) >= 5000


def test_a_hard_kill_can_cut_at_most_the_last_line(tmp_path):
    data = run_and_stop(tmp_path / "alerts.jsonl", signal.SIGKILL)
    complete = data[: data.rfind(b"\n") + 1]
    numbers = [orjson.loads(line)["n"] for line in complete.splitlines()]
    assert numbers == list(range(len(numbers))) and len(numbers) >= 5000
