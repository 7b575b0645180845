"""``cep replay --checkpoint-dir``: killed and resumed, a replay writes what an uninterrupted one does.

Real files, the real engine, real processes. A replay is SIGKILLed again and again (by the
test-only ``--crash-after-events N``, which dies right after the batch reaching N events with
that batch's lines already in the output files, and by a real ``kill -9`` at a random moment)
and started again with the same command until it finishes; its output, dead-letter and late
files must then be byte for byte those of a replay that was never interrupted. And a checkpoint
is refused when it is not of this replay: a changed input, other patterns, other inputs, or a
replay that finished already.
"""

from __future__ import annotations

import fcntl
import json
import os
import random
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SMALL_THEN_BIG = str(ROOT / "patterns" / "small_then_big.cep")
OVERHEATING = str(ROOT / "patterns" / "overheating.cep")
OUTPUTS = ("alerts", "dead", "late")


# -- logs ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def logs(tmp_path_factory) -> dict[str, Path]:
    """~20k lines each, with late and malformed lines, made by the samples' generators."""
    folder = tmp_path_factory.mktemp("logs")
    transactions, sensors = folder / "transactions.jsonl", folder / "sensors.jsonl"
    subprocess.run([sys.executable, str(ROOT / "samples" / "make_transactions.py"), "--count", "20000",
                    "--seed", "11", "--cards", "300", "--late-fraction", "0.03", "--malformed-fraction", "0.02",
                    "--out", str(transactions)], check=True, capture_output=True)
    subprocess.run([sys.executable, str(ROOT / "samples" / "make_sensors.py"), "--count", "20000",
                    "--seed", "11", "--sensors", "40", "--late-fraction", "0.03", "--malformed-fraction", "0.02",
                    "--out", str(sensors)], check=True, capture_output=True)
    csv = folder / "transactions.csv"
    write_csv(transactions, csv)
    return {"transactions": transactions, "sensors": sensors, "csv": csv}


def write_csv(log: Path, csv: Path) -> None:
    """The transactions as CSV with CRLF line ends, ragged rows, quoted fields spanning lines."""
    rows = ["card_id,amount,ts,merchant"]
    for n, line in enumerate(log.read_text().splitlines()):
        try:
            event = json.loads(line)
        except ValueError:
            rows.append('ragged,"row that spans\r\ntwo lines"')
            continue
        if not isinstance(event, dict):
            rows.append("not,enough")
            continue
        merchant = str(event.get("merchant", "")) + ("\r\nsecond line" if n % 97 == 0 else "")
        merchant = '"' + merchant.replace('"', '""') + '"'
        rows.append(f"{event.get('card_id', '')},{event.get('amount', '')},{event.get('ts', '')},{merchant}")
    csv.write_bytes("\r\n".join(rows).encode() + b"\r\n")


# -- running ---------------------------------------------------------------------------------------


def cep(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "cep.cli.main", *args], capture_output=True, text=True,
                          cwd=ROOT, timeout=300)


def replay_args(patterns: list[str], inputs: list[str], out: dict[str, Path], *extra: str) -> list[str]:
    return ["replay", *patterns, *(a for i in inputs for a in ("--input", i)), "--output", str(out["alerts"]),
            "--dead-letter", str(out["dead"]), "--late", str(out["late"]), "--quiet", *extra]


def outputs_in(folder: Path) -> dict[str, Path]:
    folder.mkdir(exist_ok=True)
    return {name: folder / f"{name}.jsonl" for name in OUTPUTS}


def contents(out: dict[str, Path]) -> dict[str, bytes]:
    return {name: path.read_bytes() for name, path in out.items()}


def reference(tmp_path: Path, patterns: list[str], inputs: list[str]) -> dict[str, bytes]:
    """The files of a replay that was never interrupted (and has no checkpoints at all)."""
    out = outputs_in(tmp_path / "reference")
    done = cep(*replay_args(patterns, inputs, out))
    assert done.returncode == 0, done.stderr
    files = contents(out)
    assert all(files.values()), "every output should have lines for the test to mean something"
    return files


def newest_seq(directory: Path) -> int:
    names = [re.match(r"(\d+)-", n) for n in os.listdir(directory)] if directory.exists() else []
    return max((int(m.group(1)) for m in names if m), default=0)


SCENARIOS = {
    "small_then_big": ([SMALL_THEN_BIG], ["transactions"]),
    "overheating": ([OVERHEATING], ["sensors"]),
    "csv_and_two_streams": ([SMALL_THEN_BIG, OVERHEATING], ["transactions=csv", "sensors=sensors"]),
}


def scenario(name: str, logs: dict[str, Path]) -> tuple[list[str], list[str]]:
    patterns, inputs = SCENARIOS[name]
    bound = []
    for spec in inputs:
        stream, _, log = spec.rpartition("=")
        bound.append(f"{stream}={logs[log]}" if stream else str(logs[log]))
    return patterns, bound


# -- crashes ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_crashes_at_random_points_then_resumes_to_identical_files(tmp_path, logs, name):
    patterns, inputs = scenario(name, logs)
    expected = reference(tmp_path, patterns, inputs)
    out = outputs_in(tmp_path / "resumed")
    checkpoints = tmp_path / "checkpoints"
    rng = random.Random(f"crash-{name}")
    crashes: list[int] = []
    for _ in range(60):
        # Every batch is checkpointed (interval 0) and a batch is under 1,100 events, so each run
        # gets past a checkpoint before it dies: the replay always makes progress.
        at = rng.randrange(1500, 7000)
        run = cep(*replay_args(patterns, inputs, out, "--checkpoint-dir", str(checkpoints),
                               "--checkpoint-interval", "0", "--crash-after-events", str(at)))
        if run.returncode == 0:
            break
        assert run.returncode == -signal.SIGKILL, run.stderr
        crashes.append(at)
    else:
        pytest.fail(f"the replay did not finish after crashes at {crashes}")
    assert len(crashes) >= 3, f"the log should be long enough for several crashes, got {crashes}"
    assert contents(out) == expected, f"crashed after {crashes} events of each run"


@pytest.mark.parametrize("name", ["small_then_big", "overheating"])
def test_real_sigkill_at_random_moments_then_resumes_to_identical_files(tmp_path, logs, name):
    patterns, inputs = scenario(name, logs)
    expected = reference(tmp_path, patterns, inputs)
    out = outputs_in(tmp_path / "resumed")
    checkpoints = tmp_path / "checkpoints"
    command = [sys.executable, "-m", "cep.cli.main",
               *replay_args(patterns, inputs, out, "--checkpoint-dir", str(checkpoints), "--checkpoint-interval", "0")]
    rng = random.Random(f"kill-{name}")
    kills = 0
    for attempt in range(20):
        before = newest_seq(checkpoints)
        process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        if kills < 3:
            # Wait until this run has saved a random number of checkpoints of its own (it is
            # reading), then kill it a random moment later: in a batch, a save, or a write.
            target = before + rng.randrange(2, 8)
            deadline = time.monotonic() + 60
            while newest_seq(checkpoints) < target and process.poll() is None and time.monotonic() < deadline:
                time.sleep(0.002)
            time.sleep(rng.uniform(0, 0.02))
            if process.poll() is None:
                process.kill()
        _, stderr = process.communicate(timeout=300)
        if process.returncode == 0:
            break
        if process.returncode == 2 and b"finished already" in stderr:
            break  # the last kill came after the final checkpoint: the replay was complete
        assert process.returncode == -signal.SIGKILL, stderr.decode()
        kills += 1
    else:
        pytest.fail("the replay did not finish")
    assert kills >= 1, "no kill landed while the replay was running"
    assert contents(out) == expected, f"after {kills} kills"


# -- refusals --------------------------------------------------------------------------------------


def crashed_replay(tmp_path: Path, patterns: list[str], inputs: list[str]) -> tuple[dict[str, Path], Path]:
    """A replay of ``inputs`` killed part-way, with its checkpoint directory."""
    out = outputs_in(tmp_path / "out")
    checkpoints = tmp_path / "checkpoints"
    run = cep(*replay_args(patterns, inputs, out, "--checkpoint-dir", str(checkpoints),
                           "--checkpoint-interval", "0", "--crash-after-events", "5000"))
    assert run.returncode == -signal.SIGKILL, run.stderr
    return out, checkpoints


@pytest.mark.parametrize("change", ["append", "same_size_edit"])
def test_a_changed_input_is_refused_and_the_outputs_are_left_alone(tmp_path, logs, change):
    log = tmp_path / "log.jsonl"
    log.write_bytes(logs["transactions"].read_bytes())
    out, checkpoints = crashed_replay(tmp_path, [SMALL_THEN_BIG], [str(log)])
    before = contents(out)
    data = bytearray(log.read_bytes())
    if change == "append":
        data += b'{"card_id": "c1", "amount": 1.0, "ts": "2024-01-01T00:00:00Z"}\n'
    else:  # far past the first 64 KiB, same size: only the modification time tells
        at = data.index(b'"amount": ', len(data) // 2) + len('"amount": ')
        data[at] = ord("9") if data[at] != ord("9") else ord("8")
    log.write_bytes(bytes(data))
    run = cep(*replay_args([SMALL_THEN_BIG], [str(log)], out, "--checkpoint-dir", str(checkpoints)))
    assert run.returncode == 1
    assert "changed since checkpoint" in run.stderr and "--restart" in run.stderr
    assert contents(out) == before  # nothing was cut back or written
    assert cep(*replay_args([SMALL_THEN_BIG], [str(log)], out, "--checkpoint-dir", str(checkpoints),
                            "--restart")).returncode == 0


def test_other_patterns_are_refused(tmp_path, logs):
    out, checkpoints = crashed_replay(tmp_path, [SMALL_THEN_BIG], [str(logs["transactions"])])
    other = tmp_path / "other.cep"
    other.write_text(Path(SMALL_THEN_BIG).read_text().replace("amount > 500", "amount > 600"))
    run = cep(*replay_args([str(other)], [str(logs["transactions"])], out, "--checkpoint-dir", str(checkpoints)))
    assert run.returncode == 1
    assert "other patterns" in run.stderr and "--restart" in run.stderr
    # Comments and layout are not a change: the same patterns, reformatted, resume.
    same = tmp_path / "same.cep"
    same.write_text("# a comment\n\n" + Path(SMALL_THEN_BIG).read_text().replace("  match", "   match"))
    run = cep(*replay_args([str(same)], [str(logs["transactions"])], out, "--checkpoint-dir", str(checkpoints)))
    assert run.returncode == 0, run.stderr
    assert contents(out) == reference(tmp_path, [SMALL_THEN_BIG], [str(logs["transactions"])])


def test_other_inputs_or_outputs_are_refused(tmp_path, logs):
    out, checkpoints = crashed_replay(tmp_path, [SMALL_THEN_BIG], [str(logs["transactions"])])
    copy = tmp_path / "copy.jsonl"
    copy.write_bytes(logs["transactions"].read_bytes())
    run = cep(*replay_args([SMALL_THEN_BIG], [str(copy)], out, "--checkpoint-dir", str(checkpoints)))
    assert run.returncode == 1 and "other inputs" in run.stderr
    run = cep("replay", SMALL_THEN_BIG, "--input", str(logs["transactions"]), "--output", str(out["alerts"]),
              "--quiet", "--checkpoint-dir", str(checkpoints))
    assert run.returncode == 1 and "--dead-letter" in run.stderr


def test_a_finished_replay_says_so_and_restart_replays_it(tmp_path, logs):
    inputs = [str(logs["transactions"])]
    out = outputs_in(tmp_path / "out")
    checkpoints = tmp_path / "checkpoints"
    args = replay_args([SMALL_THEN_BIG], inputs, out, "--checkpoint-dir", str(checkpoints))
    assert cep(*args).returncode == 0
    expected = reference(tmp_path, [SMALL_THEN_BIG], inputs)
    assert contents(out) == expected
    again = cep(*args)
    assert again.returncode == 2
    assert "finished already" in again.stderr and "--restart" in again.stderr
    assert contents(out) == expected
    assert cep(*args, "--restart").returncode == 0
    assert contents(out) == expected


def test_one_replay_per_checkpoint_directory(tmp_path, logs):
    checkpoints = tmp_path / "checkpoints"
    checkpoints.mkdir()
    with open(checkpoints / "replay.lock", "ab") as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)
        run = cep(*replay_args([SMALL_THEN_BIG], [str(logs["transactions"])], outputs_in(tmp_path / "out"),
                               "--checkpoint-dir", str(checkpoints)))
    assert run.returncode == 2 and "another cep replay" in run.stderr


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (("--restart",), "goes with --checkpoint-dir"),
        (("--checkpoint-interval", "1s"), "goes with --checkpoint-dir"),
        (("--checkpoint-dir", "CK", "--late", "-"), "--late - (stdout) cannot be resumed"),
        (("--checkpoint-dir", "CK", "--checkpoint-interval", "soon"), "is not a duration"),
    ],
)
def test_usage_errors(tmp_path, logs, extra, message):
    out = outputs_in(tmp_path / "out")
    args = ["replay", SMALL_THEN_BIG, "--input", str(logs["transactions"]), "--output", str(out["alerts"]),
            *(str(tmp_path / "ck") if a == "CK" else a for a in extra)]
    run = cep(*args)
    assert run.returncode == 2 and message in run.stderr, run.stderr


def test_checkpoints_need_an_output_file_and_a_file_input(tmp_path, logs):
    run = cep("replay", SMALL_THEN_BIG, "--input", str(logs["transactions"]), "--checkpoint-dir", str(tmp_path))
    assert run.returncode == 2 and "needs --output FILE" in run.stderr
    run = cep("replay", SMALL_THEN_BIG, "--input", "-", "--output", str(tmp_path / "a.jsonl"),
              "--checkpoint-dir", str(tmp_path))
    assert run.returncode == 2 and "cannot resume stdin" in run.stderr
