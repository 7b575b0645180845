"""``cep check``: every problem of every file, each with a place and a hint; exit 0 or 2."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from cep.cli.main import main

ROOT = Path(__file__).resolve().parents[2]
PATTERN = ROOT / "patterns" / "small_then_big.cep"


def check(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["check", *args])
    out, err = capsys.readouterr()
    return code, out, err


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_a_clean_file_says_ok_with_its_counts(capsys):
    code, out, _ = check(capsys, str(PATTERN))
    assert code == 0
    assert f"ok  {PATTERN} (1 pattern, 3 tests)" in out
    assert out.rstrip().endswith("1 file checked: no problems")


def test_quiet_prints_nothing_for_clean_files(capsys):
    code, out, _ = check(capsys, "--quiet", str(PATTERN))
    assert (code, out) == (0, "")


def test_every_problem_of_every_file_is_listed(capsys, tmp_path):
    write(tmp_path, "good.cep", PATTERN.read_text())
    write(tmp_path, "sub/semantic.cep", "pattern p\n  from s\n  match a next b\n  define\n    x as v > 1\n"
                                        "    b as v > 2\n  emit a.v as pattern, a.v as pattern\n")
    write(tmp_path, "sub/deeper/syntax.cep", "pattern q\n  from s\n  match a within 60\n")
    write(tmp_path, "notes.txt", "not a pattern file")
    code, out, _ = check(capsys, str(tmp_path))
    assert code == 2
    assert f"ok  {tmp_path / 'good.cep'}" in out
    semantic = tmp_path / "sub" / "semantic.cep"
    assert f"{semantic}:5:5: error: `x` is defined but not used in `match`" in out
    assert f"{semantic}:7:" in out and "two emitted fields are named `pattern`" in out
    assert f"{tmp_path / 'sub' / 'deeper' / 'syntax.cep'}:3:18: error: a duration needs a unit" in out
    assert "notes.txt" not in out
    assert "3 files checked: 3 problems in 2 files" in out


def test_each_problem_has_the_line_a_caret_and_a_hint(capsys, tmp_path):
    path = write(tmp_path, "p.cep", "pattern p\n  from s\n  match a\n  define a as x > 1\n  skip to first c\n")
    code, out, _ = check(capsys, str(path))
    assert code == 2
    block = out.split("\n\n")[0].splitlines()
    assert block[0] == f"{path}:5:3: error: `skip to first c`: `c` is not in the match"
    assert block[1] == "    5 |   skip to first c"
    assert re.fullmatch(r" +\|   \^+", block[2])
    assert block[3].startswith("  hint: ")


def test_compile_stage_problems_are_found_once(capsys, tmp_path):
    # The checks pass `emit ... as key`; only the compiler knows the name is reserved.
    path = write(tmp_path, "p.cep", "pattern p\n  from s\n  match a\n  define a as x > 1\n  emit a.x as key\n")
    code, out, _ = check(capsys, str(path))
    assert code == 2
    assert out.count("'key' is a reserved output field") == 1
    assert "1 problem in 1 file" in out


def test_compile_problems_of_a_pattern_with_check_errors_are_not_repeated(capsys, tmp_path):
    # `sum` over a bare field is reported by both the checks and the compiler, in other words.
    path = write(tmp_path, "p.cep", "pattern p\n  from s\n  match a\n  define a as x > 1\n"
                                    "  emit sum(x) as total,\n       a.x as time\n")
    code, out, _ = check(capsys, str(path))
    assert code == 2
    errors = [line for line in out.splitlines() if ": error: " in line]
    assert len(errors) == 2, out  # the checks' `sum` problem (not the compiler's too), and `time`
    assert ":5:" in errors[0] and "sum" in errors[0]
    assert ":6:" in errors[1] and "'time' is a reserved output field" in errors[1]


def test_not_yet_supported_constructs_are_listed_once_each(capsys):
    path = ROOT / "tests" / "lang" / "bad" / "not_yet_supported.cep"
    code, out, _ = check(capsys, str(path))
    assert code == 2
    messages = [line for line in out.splitlines() if ": error: " in line]
    assert all("not yet supported" in m for m in messages)
    assert len(messages) == len(set(messages))


def test_a_missing_path_is_an_error_but_the_others_are_still_checked(capsys, tmp_path):
    code, out, err = check(capsys, str(tmp_path / "nope.cep"), str(PATTERN))
    assert code == 2
    assert f"{tmp_path / 'nope.cep'}: no such file or folder" in err
    assert f"ok  {PATTERN}" in out


def test_a_folder_without_pattern_files_is_an_error(capsys, tmp_path):
    code, _, err = check(capsys, str(tmp_path))
    assert code == 2
    assert "no .cep files" in err


def test_a_file_that_is_not_utf8_is_reported(capsys, tmp_path):
    path = tmp_path / "latin1.cep"
    path.write_bytes("pattern p from s match a define a as name == 'café'\n".encode("latin-1"))
    code, out, _ = check(capsys, str(path))
    assert code == 2
    assert "not UTF-8" in out


def test_the_repository_patterns_and_golden_files_check_clean(capsys, tmp_path):
    folder = tmp_path / "patterns"
    shutil.copytree(ROOT / "patterns", folder)
    code, out, _ = check(capsys, str(folder))
    assert code == 0, out


# --------------------------------------------------------------------------- a new user's typo

BASE = """pattern small_then_big
  from transactions
  key card_id
  match small next big
  define
    small as amount < 0.10
    big as amount > 500
"""

# (what the user wrote, what they meant)
TYPOS = {
    "misspelt variable in define": (BASE.replace("    small as", "    smal as"), BASE),
    "misspelt keyword": (BASE.replace("  define", "  defne"), BASE),
    "single equals": (BASE + "  emit card_id\n", None),
    "missing as": (BASE.replace("big as amount", "big amount"), BASE),
    "misspelt clause keyword": (BASE.replace("  from", "  form"), BASE),
}
_EQUALS = BASE.replace("amount > 500", "amount > 500 and currency == \"EUR\"")
TYPOS["single equals"] = (_EQUALS.replace("== \"EUR\"", "= \"EUR\""), _EQUALS)


def _apply_fix(text: str, line: int, column: int, end: int, hint: str) -> str:
    """Do what the message says, mechanically, the way a new user would read it."""
    lines = text.split("\n")
    row = lines[line - 1]
    word = row[column - 1 : end - 1]
    suggestion = re.search(r"did you mean `(\w+)`\?", hint)
    if suggestion:  # the misspelt word is the first word under the carets
        first = re.match(r"\w+", word)
        assert first, word
        row = row[: column - 1] + suggestion.group(1) + row[column - 1 + first.end() :]
    elif "use `==`" in hint:
        row = row[: column - 1] + "==" + row[end - 1 :]
    elif "needs `as`" in hint or "as` between" in hint:
        row = row[: column - 1] + "as " + row[column - 1 :]
    else:
        raise AssertionError(f"the message gives no fix a new user could apply: {word!r} / {hint!r}")
    lines[line - 1] = row
    return "\n".join(lines)


@pytest.mark.parametrize("typo", list(TYPOS))
def test_a_new_user_can_fix_a_typo_from_the_message_alone(capsys, tmp_path, typo):
    written, meant = TYPOS[typo]
    path = write(tmp_path, "mine.cep", written)
    code, out, _ = check(capsys, str(path))
    assert code == 2
    head, source, caret, hint = out.split("\n\n")[0].splitlines()[:4]
    found = re.match(rf"{re.escape(str(path))}:(\d+):(\d+): error: (.+)", head)
    assert found, head
    line, column = int(found.group(1)), int(found.group(2))
    width = len(caret.split("|", 1)[1].strip())
    assert hint.startswith("  hint: ")
    fixed = _apply_fix(written, line, column, column + width, found.group(3) + " " + hint)
    assert fixed == meant
    code, out, _ = check(capsys, str(write(tmp_path, "mine.cep", fixed)))
    assert code == 0, out


def test_the_typo_messages_name_the_fix():
    # The same scenario spelled out: each message contains the fix itself.
    expected = {
        "misspelt variable in define": "did you mean `small`?",
        "misspelt keyword": "did you mean `define`?",
        "single equals": "use `==` to compare",
        "missing as": "needs `as` between the variable and its condition",
        "misspelt clause keyword": "did you mean `from`?",
    }
    from cep.cli.check import check_text

    for typo, fix in expected.items():
        report = check_text(TYPOS[typo][0], "mine.cep")
        assert len(report.diagnostics) == 1, typo
        assert fix in report.diagnostics[0].format(), typo


def test_warnings_are_shown_but_do_not_fail_the_check(tmp_path, capsys):
    path = tmp_path / "w.cep"
    path.write_text("pattern p\n  from s\n  match a then any b+\n  define\n    a as x == 1\n    b as x == 2\n")
    assert main(["check", str(path)]) == 0
    out = capsys.readouterr().out
    assert "warning: `then any b` loop with no `within`" in out and "1 warning" in out
