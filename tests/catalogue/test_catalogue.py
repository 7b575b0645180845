"""The pattern catalogue (``patterns/*.cep``): every entry checks clean, carries enough test
blocks and they pass, and replaying its sample log gives the alerts its documentation promises.

The pytest plugin already runs each test block of ``patterns/`` as its own test; here the
blocks are only counted and run once per file, as `cep test` would, so a catalogue entry
without tests (or with failing ones) shows up as a catalogue failure too. The expected counts
below are the ones written in ``samples/README.md`` and ``samples/README-catalogue.md``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cep.cli.main import main
from cep.testing import run_file
from cep.testing.blocks import TestFile

ROOT = Path(__file__).resolve().parents[2]
PATTERNS = ROOT / "patterns"
SAMPLES = ROOT / "samples"

# pattern file stem -> (sample log, alerts, late events, dead letters) for a replay of the log.
# A catalogue entry NAME uses samples/NAME.jsonl; the two original entries use the older logs.
EXPECTED: dict[str, tuple[str, int, int, int]] = {
    "small_then_big": ("transactions.jsonl", 6, 6, 6),
    "overheating": ("sensors.jsonl", 7, 8, 8),
    "many_small_charges": ("many_small_charges.jsonl", 4, 1, 0),
    "two_countries": ("two_countries.jsonl", 6, 1, 0),
    "brute_force_login": ("brute_force_login.jsonl", 3, 1, 0),
    "price_spike_crash": ("price_spike_crash.jsonl", 3, 1, 0),
    "high_rolling_average": ("high_rolling_average.jsonl", 6, 1, 0),
    "session_summary": ("session_summary.jsonl", 5, 1, 0),
    # absence: two gaps of s3, one of s5, and every sensor goes quiet when the log ends
    "sensor_silent": ("sensor_silent.jsonl", 8, 1, 0),
    "order_not_shipped": ("order_not_shipped.jsonl", 3, 0, 0),
}

# The entries that must exist (others may be added; they are checked too).
CATALOGUE = sorted(EXPECTED)
MIN_TESTS = 3

PATTERN_FILES = sorted(PATTERNS.glob("*.cep"))


def _id(path: Path) -> str:
    return path.stem


def read_jsonl(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.mark.parametrize("name", CATALOGUE)
def test_the_catalogue_entry_exists(name):
    assert (PATTERNS / f"{name}.cep").is_file()
    assert (SAMPLES / EXPECTED[name][0]).is_file()


@pytest.mark.parametrize("path", PATTERN_FILES, ids=_id)
def test_cep_check_is_clean(path, capsys):
    code = main(["check", str(path)])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "no problems" in out


@pytest.mark.parametrize("path", PATTERN_FILES, ids=_id)
def test_it_has_test_blocks_and_they_pass(path):
    assert len(TestFile.load(path).tests) >= MIN_TESTS, f"{path.name}: fewer than {MIN_TESTS} test blocks"
    failed = [r for r in run_file(path) if not r.passed]
    assert not failed, "\n".join(f"{r.location}  {r.name}\n{r.report()}" for r in failed)


@pytest.mark.parametrize("path", PATTERN_FILES, ids=_id)
def test_a_sample_log_has_its_expected_counts(path):
    """A pattern with a samples/NAME.jsonl must say what replaying it gives."""
    if (SAMPLES / f"{path.stem}.jsonl").exists():
        assert path.stem in EXPECTED, f"add the expected alerts for samples/{path.stem}.jsonl to EXPECTED"


@pytest.mark.parametrize("name", CATALOGUE)
def test_replaying_the_sample_gives_the_expected_alerts(name, tmp_path, capsys):
    sample, alerts, late, dead = EXPECTED[name]
    out = {kind: tmp_path / f"{kind}.jsonl" for kind in ("alerts", "late", "dead")}
    code = main([
        "replay", str(PATTERNS / f"{name}.cep"), "--input", str(SAMPLES / sample),
        "--output", str(out["alerts"]), "--late", str(out["late"]), "--dead-letter", str(out["dead"]),
        "--quiet",
    ])
    capsys.readouterr()
    assert code == 0
    records = read_jsonl(out["alerts"])
    assert {r["pattern"] for r in records} <= {name}
    assert len(records) == alerts, json.dumps(records, indent=1)
    assert len(read_jsonl(out["late"])) == late
    assert len(read_jsonl(out["dead"])) == dead
