"""``cep explain``: golden tree, DOT and Mermaid output; unsupported patterns fail cleanly."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from cep.cli.main import main
from cep.cli.render_nfa import dot_string, mermaid_string

GOLDEN = Path(__file__).parent / "golden"
CASES = ["small_then_big", "loops"]
FORMATS = {"tree": "tree", "dot": "dot", "mermaid": "mermaid"}


@pytest.fixture(autouse=True)
def plain_terminal(monkeypatch):
    """A fixed width and no colour, so the tree is the same everywhere."""
    monkeypatch.setenv("COLUMNS", "100")
    for name in ("FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE"):
        monkeypatch.delenv(name, raising=False)


def explain(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["explain", *args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("fmt", list(FORMATS))
def test_golden_output(capsys, case, fmt):
    code, out, err = explain(capsys, str(GOLDEN / f"{case}.cep"), "--format", fmt)
    assert code == 0, err
    assert out == (GOLDEN / f"{case}.{fmt}").read_text(encoding="utf-8")


def test_output_is_the_same_on_every_run(capsys):
    runs = [explain(capsys, str(GOLDEN / "loops.cep"), "-f", "dot")[1] for _ in range(3)]
    assert runs[0] == runs[1] == runs[2]


def test_tree_shows_the_settings_and_the_define_source_text(capsys):
    code, out, _ = explain(capsys, str(GOLDEN / "small_then_big.cep"))
    assert code == 0
    assert "within  1m" in out and "skip    past last" in out and "key     card_id" in out
    assert "time    ts, lateness 5s" in out
    assert "take -> 1 big  when amount < 0.10" in out  # as written, not the printer's 0.1
    assert "2 small  (start)" in out and "0 end  (final)" in out
    assert "..." not in out


def test_several_patterns_are_all_explained_and_one_can_be_chosen(capsys, tmp_path):
    path = tmp_path / "two.cep"
    path.write_text("pattern first from s match a define a as x > 1\n"
                    "pattern second from s match b next c define b as y < 2 c as y > 3\n")
    code, out, _ = explain(capsys, str(path))
    assert code == 0
    assert "pattern first" in out and "pattern second" in out
    code, out, _ = explain(capsys, str(path), "--pattern", "second")
    assert code == 0
    assert "pattern first" not in out and "pattern second" in out


def test_an_unknown_pattern_name_is_a_usage_error_with_a_suggestion(capsys, tmp_path):
    path = tmp_path / "one.cep"
    path.write_text("pattern small_then_big from s match a define a as x > 1\n")
    code, out, err = explain(capsys, str(path), "--pattern", "small_then_bog")
    assert code == 2
    assert "did you mean `small_then_big`" in err


def test_a_missing_file_is_a_usage_error(capsys, tmp_path):
    code, _, err = explain(capsys, str(tmp_path / "nope.cep"))
    assert code == 2
    assert "no such file" in err


def test_a_pattern_that_cannot_work_is_reported_not_crashed(capsys, tmp_path):
    path = tmp_path / "absent.cep"
    path.write_text("pattern p from s time ts match a then not b define a as x > 1 b as x < 0\n")
    code, out, err = explain(capsys, str(path))
    assert code == 2
    assert out == ""
    assert "absent.cep:1:" in err and "needs `within`" in err


def test_one_broken_pattern_does_not_stop_another_being_explained(capsys, tmp_path):
    path = tmp_path / "mixed.cep"
    path.write_text("pattern ok from s match a define a as x > 1\n"
                    "pattern absent from s time ts match a then not b define a as x > 1 b as x < 0\n")
    code, out, _ = explain(capsys, str(path), "-p", "ok")
    assert code == 0 and "pattern ok" in out


@pytest.mark.parametrize("fmt", ["tree", "dot", "mermaid"])
def test_a_window_pattern_is_shown_with_its_settings_and_no_nfa(capsys, fmt):
    # Window patterns have no NFA: every format says so instead of drawing an empty graph.
    code, out, err = explain(capsys, str(GOLDEN.parent.parent / "lang" / "golden" / "windows.cep"),
                             "-p", "tumbling_one", "-f", fmt)
    assert code == 0, err
    assert "tumbling 1m" in out and "no NFA" in out


def test_a_syntax_error_exits_2_with_the_diagnostic(capsys, tmp_path):
    path = tmp_path / "bad.cep"
    path.write_text("pattern p\n  from s\n  match a\n  defne a as x > 1\n")
    code, out, err = explain(capsys, str(path))
    assert code == 2
    assert "bad.cep:4:3" in err and "did you mean `define`?" in err


# --------------------------------------------------------------------------- escaping


def test_dot_strings_escape_quotes_and_backslashes():
    assert dot_string('a "b" \\n') == '"a \\"b\\" \\\\n"'
    assert dot_string("two\nlines") == '"two\\nlines"'


def test_mermaid_strings_use_character_codes():
    assert mermaid_string('x == "#<|>`"') == '"x == #quot;#35;#lt;#124;#gt;#96;#quot;"'


_DOT_LINE = re.compile(
    r'^(digraph cep \{|\}|  \}|\s+(rankdir=LR|labeljust=l);|\s+(node|edge) \[.*\];'
    r'|\s+subgraph cluster_\d+ \{|\s+label="(?:[^"\\]|\\.)*";'
    r'|\s+p\d+_\w+ \[(?:[a-z]+=(?:"(?:[^"\\]|\\.)*"|\w+)(?:, )?)+\];'
    r'|\s+p\d+_\w+ -> p\d+_\w+( \[(?:[a-z]+=(?:"(?:[^"\\]|\\.)*"|\w+)(?:, )?)+\])?;)$'
)
_MERMAID_LINE = re.compile(
    r'^(flowchart LR|\s+%%.*|\s+subgraph p\d+\["[^"]*"\]|\s+direction LR|\s+end'
    r'|\s+p\d+_\w+(\["[^"]*"\]|\(\["[^"]*"\]\)|\(\(\("[^"]*"\)\)\))'
    r'|\s+p\d+_\w+ (-->|-\.->|==>)\|"[^"|]*"\| p\d+_\w+)$'
)


@pytest.mark.parametrize("case", CASES)
def test_dot_output_is_well_formed(capsys, case):
    code, out, _ = explain(capsys, str(GOLDEN / f"{case}.cep"), "-f", "dot")
    assert code == 0
    bad = [line for line in out.splitlines() if not _DOT_LINE.match(line)]
    assert bad == []
    if shutil.which("dot"):  # Graphviz itself, where it is installed
        result = subprocess.run(["dot", "-Tsvg"], input=out, capture_output=True, text=True)
        assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("case", CASES)
def test_mermaid_output_is_well_formed(capsys, case):
    code, out, _ = explain(capsys, str(GOLDEN / f"{case}.cep"), "-f", "mermaid")
    assert code == 0
    bad = [line for line in out.splitlines() if not _MERMAID_LINE.match(line)]
    assert bad == []
    assert out.count("subgraph") == out.count("  end")
