"""The pytest plugin, in a fresh project folder run by a separate pytest process.

Plugin autoloading is switched off and the plugin named with ``-p``, so the result is the same
whether or not cep's ``pytest11`` entry point is installed in this environment.
"""

from __future__ import annotations

import os
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PATTERN = (ROOT / "patterns" / "small_then_big.cep").read_text(encoding="utf-8").split("\ntest ")[0]

TESTS = """
test "flagged"
  given transactions
    {"card_id": "c1", "amount": 0.05, "ts": "2024-01-01T00:00:00Z"}
    {"card_id": "c1", "amount": 900, "ts": "2024-01-01T00:00:20Z"}
  expect small_then_big
    {"card_id": "c1", "big_amount": 900}

test "wrongly expected"
  given transactions
    {"card_id": "c1", "amount": 0.05, "ts": "2024-01-01T00:00:00Z"}
    {"card_id": "c1", "amount": 900, "ts": "2024-01-01T00:00:20Z"}
  expect small_then_big
    {"card_id": "c1", "big_amount": 901}
"""


def run_pytest(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTEST_DISABLE_PLUGIN_AUTOLOAD="1", NO_COLOR="1")
    env.pop("PYTEST_ADDOPTS", None)
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "cep.testing.pytest_plugin", "-p", "no:cacheprovider",
         "-rA", *args],
        cwd=folder, env=env, capture_output=True, text=True, timeout=120,
    )


def test_test_blocks_become_test_items(tmp_path):
    (tmp_path / "cards.cep").write_text(PATTERN + TESTS, encoding="utf-8")
    (tmp_path / "plain.cep").write_text(PATTERN, encoding="utf-8")  # no test blocks: not collected
    done = run_pytest(tmp_path)
    out = done.stdout
    assert done.returncode == 1, out + done.stderr
    assert "PASSED cards.cep::flagged" in out
    assert "FAILED cards.cep::wrongly expected" in out
    assert "1 failed, 1 passed" in out
    assert "plain.cep" not in out
    expect_line = [n for n, text in enumerate((PATTERN + TESTS).splitlines(), 1)
                   if text.startswith("  expect")][-1]
    assert f"""\
expect small_then_big (line {expect_line}): expected 1 record, emitted 1
  - {{"card_id": "c1", "big_amount": 901}}
  + {{"card_id": "c1", "big_amount": 900}}
        big_amount: expected 901, emitted 900""" in out


def test_selecting_one_block_by_node_id(tmp_path):
    (tmp_path / "cards.cep").write_text(PATTERN + TESTS, encoding="utf-8")
    done = run_pytest(tmp_path, "cards.cep::flagged")
    assert done.returncode == 0, done.stdout
    assert "1 passed" in done.stdout


def test_pattern_errors_are_collection_errors_with_the_diagnostic(tmp_path):
    (tmp_path / "bad.cep").write_text('pattern p from s match a define b as x > 1\ntest "t"\n  given s\n',
                                      encoding="utf-8")
    done = run_pytest(tmp_path)
    assert done.returncode == 2, done.stdout
    assert "ERROR collecting bad.cep" in done.stdout
    assert """\
bad.cep:1:33: error: `b` is defined but not used in `match`
    1 | pattern p from s match a define b as x > 1
      |                                 ^^^^^^^^^^""" in done.stdout
    assert "Traceback" not in done.stdout


def test_the_repos_own_pattern_files_run_under_pytest():
    done = run_pytest(ROOT, str(ROOT / "patterns"))
    assert done.returncode == 0, done.stdout
    assert "PASSED patterns/small_then_big.cep::another charge in between breaks the pair" in done.stdout


def test_entry_point_names_the_plugin_when_installed():
    found = [ep for ep in entry_points(group="pytest11") if ep.value == "cep.testing.pytest_plugin"]
    if not found:
        pytest.skip("cep's pytest11 entry point is not installed in this environment")
    assert [ep.name for ep in found] == ["cep"]
