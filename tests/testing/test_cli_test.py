"""`cep test`: report lines, the summary, and exit codes 0 / 1 / 2."""

from __future__ import annotations

from pathlib import Path

from cep.cli.main import main

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "patterns" / "small_then_big.cep"

PATTERN = SHIPPED.read_text(encoding="utf-8").split("\ntest ")[0]
FAILING = PATTERN + """
test "passes"
  given transactions
    {"card_id": "c1", "amount": 0.05, "ts": "2024-01-01T00:00:00Z"}
    {"card_id": "c1", "amount": 900, "ts": "2024-01-01T00:00:20Z"}
  expect small_then_big
    {"card_id": "c1"}

test "fails"
  given transactions
    {"card_id": "c1", "amount": 0.05, "ts": "2024-01-01T00:00:00Z"}
    {"card_id": "c1", "amount": 900, "ts": "2024-01-01T00:00:20Z"}
  expect no small_then_big
"""


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_all_passing_exits_0(capsys):
    assert main(["test", str(SHIPPED)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out == [
        f"PASS {SHIPPED}:17  a tiny charge then a big one is flagged",
        f"PASS {SHIPPED}:24  a big one three minutes later is not",
        f"PASS {SHIPPED}:30  another charge in between breaks the pair",
        "3 passed, 0 failed",
    ]


def test_a_failure_exits_1_and_shows_the_diff(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path, "cards.cep", FAILING)
    assert main(["test", "cards.cep"]) == 1
    line = PATTERN.count("\n")
    assert capsys.readouterr().out == f"""\
PASS cards.cep:{line + 2}  passes
FAIL cards.cep:{line + 9}  fails
    expect no small_then_big (line {line + 13}): 1 record emitted
      + {{"pattern": "small_then_big", "key": "c1", "time": "2024-01-01T00:00:20Z", "card_id": "c1", \
"small_amount": 0.05, "big_amount": 900, "small_ts": "2024-01-01T00:00:00Z", "big_ts": "2024-01-01T00:00:20Z"}}
1 passed, 1 failed
"""


def test_quiet_and_select(tmp_path, capsys):
    path = write(tmp_path, "cards.cep", FAILING)
    assert main(["test", "-q", str(path)]) == 1
    out = capsys.readouterr().out
    assert "PASS" not in out and "FAIL" in out and out.endswith("1 passed, 1 failed\n")
    assert main(["test", "-k", "PASS", str(path)]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "1 passed, 0 failed"


def test_folders_are_searched_recursively(tmp_path, capsys):
    write(tmp_path, "a/one.cep", SHIPPED.read_text(encoding="utf-8"))
    write(tmp_path, "a/b/two.cep", FAILING)
    write(tmp_path, "a/b/notes.txt", "not a pattern file")
    assert main(["test", str(tmp_path)]) == 1
    assert capsys.readouterr().out.splitlines()[-1] == "4 passed, 1 failed"


def test_pattern_errors_exit_2_with_diagnostics_and_other_files_still_run(tmp_path, capsys):
    write(tmp_path, "bad.cep", 'pattern p from s match a define b as x > 1\ntest "t"\n  given s\n')
    write(tmp_path, "good.cep", SHIPPED.read_text(encoding="utf-8"))
    assert main(["test", str(tmp_path)]) == 2
    captured = capsys.readouterr()
    assert f"{tmp_path / 'bad.cep'}:1:33: error: `b` is defined but not used in `match`" in captured.err
    assert captured.out.splitlines()[-1] == "3 passed, 0 failed, 1 file with pattern errors"


def test_a_missing_path_exits_2(tmp_path, capsys):
    assert main(["test", str(tmp_path / "nope.cep")]) == 2
    assert "no such file or folder" in capsys.readouterr().err


def test_no_test_blocks_is_not_a_failure(tmp_path, capsys):
    write(tmp_path, "only.cep", PATTERN)
    assert main(["test", str(tmp_path)]) == 0
    assert capsys.readouterr().out == "0 passed, 0 failed (no test blocks found)\n"
