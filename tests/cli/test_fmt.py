"""``cep fmt``: canonical layout, comments kept, --check / --diff, idempotent, atomic writes."""

from __future__ import annotations

import os
import stat
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cep.cli import fmt as fmt_module
from cep.cli.main import main
from cep.errors import CepError
from cep.lang import format_file, parse
from cep.lang.comments import format_with_comments, scan_comments
from tests.lang import strategies as s

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = Path(__file__).parent / "golden"
LANG_GOLDEN = sorted((ROOT / "tests" / "lang" / "golden").glob("*.cep"))
PATTERN = ROOT / "patterns" / "small_then_big.cep"


def fmt(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["fmt", *args])
    out, err = capsys.readouterr()
    return code, out, err


def copy(tmp_path: Path, source: Path, name: str | None = None) -> Path:
    target = tmp_path / (name or source.name)
    target.write_bytes(source.read_bytes())
    return target


def test_rewrites_in_canonical_layout_and_keeps_comments(capsys, tmp_path):
    path = copy(tmp_path, GOLDEN / "comments.cep")
    code, out, _ = fmt(capsys, str(path))
    assert code == 0
    assert f"reformatted {path}" in out
    assert path.read_text() == (GOLDEN / "comments.formatted").read_text()


def test_the_shipped_pattern_keeps_its_comments(capsys, tmp_path):
    path = copy(tmp_path, PATTERN)
    before = [c.text for c in scan_comments(path.read_text())]
    assert fmt(capsys, str(path))[0] == 0
    text = path.read_text()
    assert [c.text for c in scan_comments(text)] == before
    assert text.startswith("# Card fraud: a tiny")
    flag = "# Flag a card when a tiny charge is followed straight away by a big one."
    assert f"\n\n{flag}\npattern small_then_big\n" in text


def test_fmt_twice_is_fmt_once(capsys, tmp_path):
    path = copy(tmp_path, GOLDEN / "comments.cep")
    fmt(capsys, str(path))
    once = path.read_bytes()
    code, out, err = fmt(capsys, str(path))
    assert code == 0 and out == ""
    assert "0 files reformatted, 1 unchanged" in err
    assert path.read_bytes() == once


def test_check_lists_files_that_would_change_and_writes_nothing(capsys, tmp_path):
    messy = copy(tmp_path, GOLDEN / "comments.cep")
    tidy = tmp_path / "tidy.cep"
    tidy.write_text((GOLDEN / "comments.formatted").read_text())
    before = messy.read_bytes()
    code, out, _ = fmt(capsys, "--check", str(tmp_path))
    assert code == 1
    assert out == f"would reformat {messy}\n"
    assert messy.read_bytes() == before
    assert fmt(capsys, "--check", str(tidy))[0] == 0


def test_diff_prints_a_unified_diff_and_writes_nothing(capsys, tmp_path):
    path = tmp_path / "p.cep"
    path.write_text("pattern p from s match a define a as x>1  # big x\n")
    code, out, _ = fmt(capsys, "--diff", str(path))
    assert code == 0
    assert out.splitlines() == [
        f"--- a/{path}".replace("a//", "/"),
        f"+++ b/{path}".replace("b//", "/"),
        "@@ -1 +1,5 @@",
        "-pattern p from s match a define a as x>1  # big x",
        "+pattern p",
        "+  from s",
        "+  match a",
        "+  define",
        "+    a as x > 1  # big x",
    ]
    assert path.read_text() == "pattern p from s match a define a as x>1  # big x\n"


def test_a_file_with_a_syntax_error_is_reported_and_left_alone(capsys, tmp_path):
    path = tmp_path / "bad.cep"
    path.write_text("pattern p\n  form s\n")
    good = copy(tmp_path, PATTERN)
    code, _, err = fmt(capsys, str(path), str(good))
    assert code == 2
    assert f"{path}:2:3" in err and "did you mean `from`?" in err
    assert path.read_text() == "pattern p\n  form s\n"
    assert good.read_text() != PATTERN.read_text()  # the good one was still formatted


def test_a_missing_path_exits_2(capsys, tmp_path):
    code, _, err = fmt(capsys, str(tmp_path / "missing.cep"))
    assert code == 2
    assert "no such file or folder" in err


def test_a_file_is_left_alone_when_its_comments_would_not_survive(capsys, tmp_path, monkeypatch):
    path = copy(tmp_path, PATTERN)

    def refuse(text: str, where: str) -> str:
        raise CepError(f"{where}: cannot reformat this file without losing a comment; it was left as it is")

    monkeypatch.setattr(fmt_module, "format_with_comments", refuse)
    code, _, err = fmt(capsys, str(path))
    assert code == 2
    assert "without losing a comment" in err
    assert path.read_bytes() == PATTERN.read_bytes()


def test_writes_keep_permissions_and_leave_no_temporary_files(capsys, tmp_path):
    path = copy(tmp_path, GOLDEN / "comments.cep")
    os.chmod(path, 0o640)
    assert fmt(capsys, str(path))[0] == 0
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["comments.cep"]


def test_crlf_line_breaks_become_lf(capsys, tmp_path):
    path = tmp_path / "crlf.cep"
    canonical = (GOLDEN / "comments.formatted").read_text()
    path.write_bytes(canonical.replace("\n", "\r\n").encode())
    assert fmt(capsys, "--check", str(path))[0] == 1
    assert fmt(capsys, str(path))[0] == 0
    assert path.read_bytes() == canonical.encode()


# --------------------------------------------------------------------------- properties

_SETTINGS = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
_COMMENT_TEXT = st.text(st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp")), max_size=12)


@st.composite
def commented_golden_files(draw: st.DrawFn) -> str:
    """A golden file with comments added: on lines of their own and after code."""
    lines = draw(st.sampled_from(LANG_GOLDEN)).read_text().split("\n")
    for _ in range(draw(st.integers(0, 6))):
        index = draw(st.integers(0, len(lines)))
        text = "#" + draw(_COMMENT_TEXT)
        if draw(st.booleans()) and index < len(lines) and lines[index].strip():
            lines[index] += "  " + text
        else:
            indent = " " * draw(st.integers(0, 4))
            lines.insert(index, indent + text)
    return "\n".join(lines)


@pytest.mark.parametrize("path", LANG_GOLDEN, ids=lambda p: p.name)
def test_golden_files_format_idempotently(path):
    once = format_with_comments(path.read_text(), str(path))
    assert format_with_comments(once, str(path)) == once
    assert parse(once) == parse(path.read_text())


@_SETTINGS
@given(commented_golden_files())
def test_fmt_is_idempotent_and_keeps_every_comment(text):
    once = format_with_comments(text)
    assert format_with_comments(once) == once
    assert parse(once) == parse(text)
    assert Counter(c.text for c in scan_comments(once)) == Counter(c.text for c in scan_comments(text))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(s.files)
def test_fmt_is_idempotent_on_any_printed_file(file):
    text = format_file(file)
    assert format_with_comments(text) == text
