"""``cep replay patterns/overheating.cep`` end to end, compared with the independent oracle.

Real files, the real engine (reader, event-time driver, tumbling windows, alert writer) against
``tests/reference/overheating.py``: alerts in order with every field (floats within 1e-9),
dead-lettered line numbers, and late lines.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from cep.cli.main import main
from tests.reference.overheating import iso, run_file

ROOT = Path(__file__).resolve().parents[2]
PATTERN = str(ROOT / "patterns" / "overheating.cep")
SAMPLE = ROOT / "samples" / "sensors.jsonl"
GENERATOR = ROOT / "samples" / "make_sensors.py"
T0 = 1_704_067_200_000  # 2024-01-01T00:00:00Z


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def replay(tmp_path: Path, log: Path) -> tuple[int, dict[str, Path]]:
    out = {name: tmp_path / f"{name}.jsonl" for name in ("alerts", "dead", "late")}
    code = main(["replay", PATTERN, "--input", f"sensors={log}", "--output", str(out["alerts"]),
                 "--dead-letter", str(out["dead"]), "--late", str(out["late"]), "--quiet"])
    return code, out


def same_value(got: object, want: object) -> bool:
    if isinstance(want, float) and isinstance(got, (int, float)) and not isinstance(got, bool):
        return math.isclose(got, want, rel_tol=1e-9, abs_tol=1e-9)
    return type(got) is type(want) and got == want


def assert_same_alerts(got: list[dict], want: list[dict]) -> None:
    assert len(got) == len(want), f"engine gave {len(got)} alerts, the oracle {len(want)}"
    for index, (g, w) in enumerate(zip(got, want)):
        assert list(g) == list(w), f"alert {index}: fields {list(g)} != {list(w)}"
        bad = {k: (g[k], w[k]) for k in w if not same_value(g[k], w[k])}
        assert not bad, f"alert {index} differs (engine, oracle): {bad}\n  engine: {g}\n  oracle: {w}"


def check_against_oracle(tmp_path: Path, log: Path) -> list[dict]:
    code, out = replay(tmp_path, log)
    assert code == 0
    expected = run_file(str(log))
    alerts = read_jsonl(out["alerts"])
    assert_same_alerts(alerts, expected.alerts)
    assert [d["line"] for d in read_jsonl(out["dead"])] == expected.dead_lettered
    lines = log.read_text().splitlines()
    assert read_jsonl(out["late"]) == [json.loads(lines[n - 1]) for n in expected.late]
    return alerts


def generate(tmp_path: Path, *args: str) -> Path:
    log = tmp_path / "log.jsonl"
    subprocess.run([sys.executable, str(GENERATOR), *args, "--out", str(log)], check=True,
                   capture_output=True)
    return log


def test_sample_log_gives_the_oracles_alerts(tmp_path):
    alerts = check_against_oracle(tmp_path, SAMPLE)
    assert [(a["sensor_id"], a["window_start"]) for a in alerts] == [
        ("s001", T0 + 60_000), ("s007", T0 + 60_000), ("s001", T0 + 120_000), ("s007", T0 + 120_000),
        ("s001", T0 + 300_000), ("s007", T0 + 300_000), ("s007", T0 + 360_000),
    ]
    assert all(a["time"] == a["window_end"] == a["window_start"] + 60_000 for a in alerts)
    assert alerts[0]["readings"] == 7  # line 57's null temperature is a reading too


@pytest.mark.parametrize(("seed", "disorder", "late", "malformed"), [
    (1, "6", "0.03", "0.02"),
    (2, "10", "0.02", "0.03"),  # disorder right at the lateness bound
    (3, "2.5", "0.05", "0.01"),
])
def test_generated_logs_give_the_oracles_alerts(tmp_path, seed, disorder, late, malformed):
    log = generate(tmp_path, "--count", "5000", "--seed", str(seed), "--disorder-seconds", disorder,
                   "--late-fraction", late, "--malformed-fraction", malformed)
    alerts = check_against_oracle(tmp_path, log)
    assert len(alerts) > 30, "the generated log should contain many hot windows"
    # Many windows end on the same minute, so the firing order within a minute is exercised.
    ends = [a["window_end"] for a in alerts]
    assert len(set(ends)) < len(ends)


def test_iso_times_give_iso_window_bounds(tmp_path):
    """The same generated log with every numeric ``ts`` rewritten as ISO-8601 (some with an
    offset): same windows, bounds as ISO strings."""
    log = generate(tmp_path, "--count", "3000", "--seed", "4")
    rewritten = []
    for number, line in enumerate(log.read_text().splitlines()):
        try:
            record = json.loads(line)
        except ValueError:
            rewritten.append(line)
            continue
        if isinstance(record, dict) and isinstance(record.get("ts"), int):
            text = iso(record["ts"])
            if number % 7 == 0:  # the same instant at +02:00
                hour = int(text[11:13]) + 2
                text = f"{text[:11]}{hour:02d}{text[13:].rstrip('Z')}+02:00"
            record["ts"] = text
            line = json.dumps(record)
        rewritten.append(line)
    iso_log = tmp_path / "iso.jsonl"
    iso_log.write_text("".join(line + "\n" for line in rewritten))
    alerts = check_against_oracle(tmp_path, iso_log)
    assert alerts and all(isinstance(a["window_end"], str) and a["window_end"].endswith(":00Z") for a in alerts)
    numeric = run_file(str(log)).alerts
    assert [(a["sensor_id"], iso(a["window_start"])) for a in numeric] == [
        (a["sensor_id"], a["window_start"]) for a in alerts
    ]


def reading(sensor: object, temperature: object, seconds: float) -> str:
    return json.dumps({"sensor_id": sensor, "ts": T0 + round(seconds * 1000), "temperature": temperature})


def test_hand_written_corner_cases(tmp_path):
    """Edges, the strict threshold, ties in firing order, the lateness bound, odd values."""
    lines = [
        reading("a", 45, 62),  # window 1, arrives before the window-0 readings below
        reading("b", 45, 55),
        reading("c", 45, 61),
        reading("d", 45, 61),  # same time as c, arrives later: fires after c
        reading("a", 45, 53),
        reading("e", 40, 54),  # avg exactly 40: not flagged
        reading("e", 40, 56),
        reading("f", 50, 60),  # exactly on the edge: window 1, first of it in event time
        reading("f", 30, 59.999),  # window 0, alone: avg 30
        "",
        reading("g", "41", 63),  # a string: counted, not averaged
        reading("g", True, 63.5),
        reading("g", None, 64),
        reading("g", 44, 64.5),
        json.dumps({"sensor_id": "g", "ts": T0 + 65_000}),  # no temperature: counted
        reading("h", 99, 55),  # exactly 10 s older than the newest (65 s): on time
        reading("h", 99, 54.999),  # 10.001 s older: late
        json.dumps({"temperature": 99, "ts": T0 + 1_000}),  # no sensor_id, and late: late
        json.dumps({"temperature": 99, "ts": T0 + 66_000}),  # no sensor_id, on time: dead
        '{"sensor_id": "x", "ts": "soon", "temperature": 50}',
        '{"sensor_id": "x", "ts": 1704067266000, "temperature": NaN}',
        "[1, 2, 3]",
        reading(7, 41, 125),  # a numeric sensor id; 60 s later: closes everything before
        reading("i", 41, 300),
    ]
    log = tmp_path / "corner.jsonl"
    log.write_text("".join(line + "\n" for line in lines))
    alerts = check_against_oracle(tmp_path, log)
    assert [(a["key"], (a["window_start"] - T0) // 1000, a["readings"]) for a in alerts] == [
        ("a", 0, 1), ("b", 0, 1), ("h", 0, 1),
        ("f", 60, 1), ("c", 60, 1), ("d", 60, 1), ("a", 60, 1), ("g", 60, 5),
        (7, 120, 1), ("i", 300, 1),
    ]
    assert [d["line"] for d in read_jsonl(tmp_path / "dead.jsonl")] == [19, 20, 21, 22]


def test_the_pattern_files_own_tests_pass(capsys):
    assert main(["test", PATTERN, "--quiet"]) == 0
    assert "3 passed, 0 failed" in capsys.readouterr().out
