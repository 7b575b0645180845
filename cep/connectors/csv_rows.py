"""CSV input: rows under a header row, cells read by the JSON-scalar rule of :func:`convert_cell`.

Kept apart from the JSON-lines reader because it is a different kind of parsing (a header, a
state machine for quoted fields that may span lines, per-cell typing) and off the hot path.
"""

from __future__ import annotations

import csv
import re
from typing import Any, Callable, Iterator

from cep.connectors.records import InputRecord

__all__ = ["convert_cell", "read_csv"]


# JSON's number grammar, exactly: no leading zeros, no '+', no bare '.5', no 'inf'/'nan'.
_INT_RE = re.compile(r"-?(?:0|[1-9][0-9]*)\Z")
_FLOAT_RE = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?\Z")
_LITERALS: dict[str, Any] = {"true": True, "false": False, "null": None}


def convert_cell(text: str) -> Any:
    """Read one CSV cell the way the same value would read in a JSON line, written unquoted.

    * ``""`` is None (CSV has no other way to say null).
    * A JSON number is that number: ``"12"`` -> 12, ``"0.05"`` -> 0.05, ``"12.50"`` -> 12.5,
      ``"1e5"`` -> 100000.0 (int without fraction or exponent, else float). Text that is not
      a JSON number stays a string: ``"007"`` (leading zeros are identifiers: card numbers,
      postcodes), ``"+5"``, ``".5"``, ``"1,000"``, ``" 12"``, ``"NaN"``, ``"inf"``, and numbers
      too large for a finite float.
    * The JSON literals ``true``, ``false`` and ``null``, lowercase as in JSON, are True, False
      and None. ``"TRUE"`` or ``"yes"`` stay strings: guessing spreadsheet spellings would turn
      merchant names into booleans.

    One rule for both formats means a pattern written against JSON events reads a CSV export
    of the same data the same way.
    """
    if not text:
        return None
    first = text[0]
    if first.isdigit() or first == "-":
        if _INT_RE.match(text):
            return int(text)
        if _FLOAT_RE.match(text):
            value = float(text)
            if value - value == 0.0:  # finite
                return value
        return text
    if first in "tfn" and text in _LITERALS:
        return _LITERALS[text]
    return text


def read_csv(
    lines: Iterator[bytes],
    header: list[str] | None = None,
    *,
    lines_before: int = 0,
    on_header: Callable[[list[str]], None] | None = None,
) -> Iterator[InputRecord]:
    """Rows of a CSV stream (header first) as records; ragged rows and bad UTF-8 are errors.

    csv.reader is fed one decoded physical line at a time through ``tap``, which remembers the
    lines of the current row, so ``raw`` is the row's own text even when a quoted field spans
    lines, and ``line`` is where the row starts.

    A replay resumed from a checkpoint starts after the header, in the middle of the file: it
    passes the ``header`` read before (``on_header`` receives it when it is read, so it can be
    kept) and the number of physical lines before the first one given (``lines_before``), so
    the rows keep their fields and their line numbers.
    """
    pending: list[str] = []
    bad_utf8: list[str] = []

    def tap() -> Iterator[str]:
        for raw in lines:
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                text = raw.decode("utf-8", "replace")
                bad_utf8.append(f"invalid UTF-8 at byte {exc.start}")
            pending.append(text)
            yield text + "\n"

    reader = csv.reader(tap(), strict=False)
    consumed = lines_before  # physical lines consumed before the current row
    while True:
        problem: str | None = None
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:  # e.g. a field over csv.field_size_limit(); the reader goes on
            row, problem = [], f"CSV error: {exc}"
        start = consumed + 1
        consumed = lines_before + reader.line_num
        raw = "\n".join(pending)
        pending.clear()
        if bad_utf8:
            # A bad header is still the header (U+FFFD in a name); any other row is unusable.
            problem = bad_utf8[0] if header is not None else problem
            bad_utf8.clear()
        if problem is not None:
            yield InputRecord(start, raw, None, problem)
            continue
        if not row or (len(row) == 1 and not row[0].strip() and not raw.strip()):
            continue  # blank line
        if header is None:
            header = row
            if on_header is not None:
                on_header(header)
            continue
        if len(row) != len(header):
            problem = f"CSV row has {len(row)} fields, header has {len(header)}"
            yield InputRecord(start, raw, None, problem)
            continue
        yield InputRecord(start, raw, {k: convert_cell(v) for k, v in zip(header, row)}, None)
