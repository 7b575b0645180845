"""``cep replay`` end to end: real files, the real engine, compared with the independent oracle."""

from __future__ import annotations

import gzip
import os
import json
import subprocess
import sys
from pathlib import Path

import pytest

from cep.cli import render
from cep.cli.main import main
from tests.reference.small_then_big import run_file

ROOT = Path(__file__).resolve().parents[2]
PATTERN = str(ROOT / "patterns" / "small_then_big.cep")
SAMPLE = ROOT / "samples" / "transactions.jsonl"
GENERATOR = ROOT / "samples" / "make_transactions.py"


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def replay(tmp_path: Path, *inputs: str, extra: tuple[str, ...] = ()) -> tuple[int, dict[str, Path]]:
    out = {name: tmp_path / f"{name}.jsonl" for name in ("alerts", "dead", "late")}
    args = ["replay", PATTERN, *(a for i in inputs for a in ("--input", i)), "--output", str(out["alerts"]),
            "--dead-letter", str(out["dead"]), "--late", str(out["late"]), "--quiet", *extra]
    return main(args), out


def without_time(alerts: list[dict]) -> list[dict]:
    assert all(a["time"] == a["big_ts"] for a in alerts)  # the match time is the big charge's time
    return [{k: v for k, v in a.items() if k != "time"} for a in alerts]


def check_against_oracle(log: Path, out: dict[str, Path]) -> None:
    expected = run_file(str(log))
    assert without_time(read_jsonl(out["alerts"])) == expected.alerts
    assert [d["line"] for d in read_jsonl(out["dead"])] == expected.dead_lettered
    lines = log.read_text().splitlines()
    assert read_jsonl(out["late"]) == [json.loads(lines[n - 1]) for n in expected.late]


def test_sample_log_gives_the_oracles_alerts(tmp_path):
    code, out = replay(tmp_path, str(SAMPLE))
    assert code == 0
    check_against_oracle(SAMPLE, out)
    assert len(read_jsonl(out["alerts"])) == 6


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_generated_logs_give_the_oracles_alerts(tmp_path, seed):
    log = tmp_path / "log.jsonl"
    subprocess.run(
        [sys.executable, str(GENERATOR), "--count", "6000", "--seed", str(seed), "--cards", "25",
         "--late-fraction", "0.03", "--malformed-fraction", "0.02", "--out", str(log)],
        check=True,
    )
    code, out = replay(tmp_path, f"transactions={log}")
    assert code == 0
    check_against_oracle(log, out)
    assert read_jsonl(out["alerts"]), "the generated log should contain planted alerts"


def test_dead_letter_records_carry_line_raw_and_reason(tmp_path):
    code, out = replay(tmp_path, str(SAMPLE))
    dead = {d["line"]: d for d in read_jsonl(out["dead"])}
    lines = SAMPLE.read_text().splitlines()
    for number, record in dead.items():
        assert record["raw"] == lines[number - 1]
        assert record["reason"]
    assert "card_id" in dead[32]["reason"]
    assert "invalid JSON" in dead[35]["reason"]
    assert "not a JSON object" in dead[272]["reason"]


def test_gzip_input(tmp_path):
    gz = tmp_path / "t.jsonl.gz"
    gz.write_bytes(gzip.compress(SAMPLE.read_bytes()))
    code, out = replay(tmp_path, str(gz))
    assert code == 0
    check_against_oracle(SAMPLE, out)


def test_csv_input(tmp_path):
    csv_path = tmp_path / "t.csv"
    csv_path.write_text(
        "card_id,amount,ts\n"
        "c1,0.05,2024-01-01T00:00:00Z\n"
        "c1,900,2024-01-01T00:00:20Z\n"
        "c2,0.05,2024-01-01T00:00:30Z\n"
        "c2,20,2024-01-01T00:00:31Z\n"
        "c2,900,2024-01-01T00:00:32Z\n"
    )
    code, out = replay(tmp_path, str(csv_path))
    assert code == 0
    alerts = read_jsonl(out["alerts"])
    assert [(a["key"], a["small_amount"], a["big_amount"]) for a in alerts] == [("c1", 0.05, 900)]


def test_stdin_input_through_the_console_entry_point(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "cep.cli.main", "replay", PATTERN, "--input", "-", "--quiet"],
        input=SAMPLE.read_bytes(), capture_output=True, cwd=ROOT, check=False,
    )
    assert result.returncode == 0, result.stderr.decode()
    alerts = [json.loads(line) for line in result.stdout.decode().splitlines()]
    assert len(alerts) == 6  # stdout is a pipe, so alerts come as JSON lines


def test_summary_reports_counts(tmp_path, capsys):
    assert main(["replay", PATTERN, "--input", str(SAMPLE), "--output", str(tmp_path / "a.jsonl")]) == 0
    err = capsys.readouterr().err
    assert "events 300" in err and "alerts 6" in err and "late 6" in err and "dead-lettered 6" in err
    assert "--late PATH" in err  # says how to keep what was only counted


def test_table_on_a_terminal(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(render, "stdout_is_terminal", lambda: True)
    monkeypatch.setenv("COLUMNS", "200")
    assert main(["replay", PATTERN, "--input", str(SAMPLE), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "small_then_big: 6 alerts" in out
    assert "small_amount" in out


def test_pattern_error_exits_2_with_the_diagnostic(tmp_path, capsys):
    bad = tmp_path / "bad.cep"
    bad.write_text("pattern p\n  from s\n  match a next bb\n  define\n    a as x > 1\n    b as x < 1\n")
    assert main(["replay", str(bad), "--input", str(SAMPLE)]) == 2
    err = capsys.readouterr().err
    assert f"{bad}:6:5" in err  # `b` is defined but not in the match
    assert "^" in err and "hint" in err


def test_usage_errors_exit_2(tmp_path, capsys):
    assert main(["replay", PATTERN, "--input", f"sensors={SAMPLE}"]) == 2
    assert "no pattern reads stream 'sensors'" in capsys.readouterr().err


def test_missing_input_exits_1(tmp_path, capsys):
    assert main(["replay", PATTERN, "--input", str(tmp_path / "nope.jsonl"), "--quiet"]) == 1
    assert "nope.jsonl" in capsys.readouterr().err


def test_two_outputs_on_one_file_is_a_usage_error(tmp_path, capsys):
    same = str(tmp_path / "x.jsonl")
    assert main(["replay", PATTERN, "--input", str(SAMPLE), "--output", same, "--late", same]) == 2
    assert "same file" in capsys.readouterr().err


def test_output_onto_the_input_is_a_usage_error(tmp_path, capsys):
    log = tmp_path / "log.jsonl"
    log.write_bytes(SAMPLE.read_bytes())
    assert main(["replay", PATTERN, "--input", str(log), "--dead-letter", str(log)]) == 2
    assert "also an input" in capsys.readouterr().err
    assert log.read_bytes() == SAMPLE.read_bytes()


def test_truncated_gzip_is_a_runtime_error(tmp_path, capsys):
    gz = tmp_path / "cut.jsonl.gz"
    gz.write_bytes(gzip.compress(SAMPLE.read_bytes())[:-40])
    assert main(["replay", PATTERN, "--input", str(gz), "--output", str(tmp_path / "a.jsonl"), "--quiet"]) == 1
    assert "error" in capsys.readouterr().err


def test_sigterm_closes_outputs_with_whole_lines(tmp_path):
    import signal
    import time as _time

    fifo = tmp_path / "in.fifo"
    os.mkfifo(fifo)
    out = tmp_path / "alerts.jsonl"
    proc = subprocess.Popen(
        [sys.executable, "-m", "cep.cli.main", "replay", PATTERN, "--input", str(fifo), "--output", str(out),
         "--quiet"], cwd=ROOT, stderr=subprocess.PIPE,
    )
    with open(fifo, "wb") as writer:
        writer.write(SAMPLE.read_bytes())  # the whole log; the input stays open, as a live pipe
        writer.flush()
        _time.sleep(1.0)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 143
    assert b"terminated" in proc.stderr.read()
    text = out.read_text()
    assert text == "" or text.endswith("\n")
    for line in text.splitlines():
        json.loads(line)


def test_timeouts_are_shown_apart_on_a_terminal_and_marked_in_json(tmp_path, capsys, monkeypatch):
    pattern = tmp_path / "p.cep"
    pattern.write_text(
        "pattern paid\n  from orders\n  key id\n  time ts\n  match placed then paid within 1h\n"
        "  define\n    placed as s == 'placed'\n    paid as s == 'paid'\n  emit id\n"
        "  on timeout emit id, placed.ts as placed_at\n"
    )
    log = tmp_path / "o.jsonl"
    log.write_text('{"id": 1, "s": "placed", "ts": 0}\n{"id": 1, "s": "paid", "ts": 10}\n'
                   '{"id": 2, "s": "placed", "ts": 20}\n')
    assert main(["replay", str(pattern), "--input", str(log), "--output", str(tmp_path / "a.jsonl"), "--quiet"]) == 0
    records = read_jsonl(tmp_path / "a.jsonl")
    assert [(r["key"], r.get("timeout", False)) for r in records] == [(1, False), (2, True)]
    monkeypatch.setattr(render, "stdout_is_terminal", lambda: True)
    monkeypatch.setenv("COLUMNS", "200")
    assert main(["replay", str(pattern), "--input", str(log), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "paid: 1 alert" in out and "paid: 1 timeout" in out


def test_unreadable_pattern_files_exit_1_naming_the_file(tmp_path, capsys):
    missing = tmp_path / "nope.cep"
    assert main(["replay", str(missing), "--input", str(SAMPLE), "--quiet"]) == 1
    assert f"{missing}: cannot read it" in capsys.readouterr().err
    latin1 = tmp_path / "latin1.cep"
    latin1.write_bytes("pattern caf\xe9\n  from s\n  match a\n".encode("latin-1"))
    assert main(["replay", str(latin1), "--input", str(SAMPLE), "--quiet"]) == 1
    assert f"{latin1}: not UTF-8 text" in capsys.readouterr().err
