"""Scale-out on the real broker: two ``cep run`` in one group (one shared checkpoint directory)
split a 4-partition topic; one is killed with SIGKILL while the other goes on; the survivor
takes over the dead one's partitions from its checkpoints, and the union of all output,
de-duplicated by match id, is exactly ``cep replay`` of the same log.

How the test stays bounded and robust on Tansu (whose group API shows no members, so the
membership cannot be asked directly):

* both processes start on an empty topic, and the first part of the log is fed in small
  chunks while they join, until the shared checkpoint directory shows checkpoints written by
  *each* process (the writer name ends in its pid) with progress on disjoint sets of partitions:
  proof that both consumed and that the partitions were split;
* then one process is SIGKILLed mid-stream (its work since its last checkpoint is redone by
  the survivor, with the same match ids), and the rest of the log is produced;
* the live run never ends time by itself (no ``finish()``), so the last pending events of each
  partition are released by one sentinel record per partition, far in the future, that matches
  nothing; ``--idle-advance`` is not used, because a pause while the test waits would move the
  watermarks to the wall clock and make the rest of the (2024) log late.

The log is generated in event-time order (``make_transactions.py --in-order``), so nothing is
late either in the file or in a partition, and per-partition watermarks give replay's alerts.
"""

from __future__ import annotations

import collections
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest

from cep.connectors.kafka import (
    ProducerRecord,
    make_producer,
    produce_records,
    read_records,
)
from cep.errors import SnapshotError
from cep.state.store import DirectoryStore
from cep.testing.kafka_broker import FAST_GROUP_CONFIG

pytestmark = pytest.mark.kafka

ROOT = Path(__file__).resolve().parents[2]
PATTERN = ROOT / "patterns" / "small_then_big.cep"
EVENTS = 10_000
FIRST_PART = 7_000  # at most this much is fed before the kill
CHUNK = 200


@pytest.fixture(params=["range,roundrobin", "cooperative-sticky"])
def kafka_config(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Short group timeouts, and each rebalance protocol: eager (librdkafka's default
    assignors: all partitions revoked, then reassigned) and cooperative (only moved partitions
    are revoked and assigned, through incremental assign/unassign)."""
    path = tmp_path / "kafka.properties"
    settings = {**FAST_GROUP_CONFIG, "partition.assignment.strategy": request.param}
    path.write_text("".join(f"{k}={v}\n" for k, v in settings.items()))
    return str(path)


def start_run(bootstrap: str, config: str, topic: str, output: str, *extra: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "cep.cli.run", str(PATTERN), "-b", bootstrap, "--input", topic,
         "--output-topic", output, "--kafka-config", config, *extra],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )


def records_of(lines: list[bytes]) -> list[ProducerRecord]:
    """What ``cep produce --pattern`` sends: key = the card id as JSON, so a card is in one partition."""
    return [ProducerRecord(line, orjson.dumps(orjson.loads(line)["card_id"])) for line in lines]


def progress(store: DirectoryStore, pid: int) -> set[int]:
    """Partitions with progress (offset > 0) in the newest checkpoint ``pid`` wrote."""
    for id in reversed(store.list()):
        if id.writer.endswith(f"-{pid}"):
            try:
                checkpoint = store.load(id)
            except (OSError, SnapshotError):  # pruned meanwhile by the other process: try an older one
                continue
            return {p.partition for p in checkpoint.partitions if p.offset > 0}
    return set()


def test_two_detectors_split_a_topic_and_the_survivor_takes_over(bootstrap, topic, kafka_config, tmp_path):
    log = tmp_path / "tx.jsonl"
    subprocess.run([sys.executable, str(ROOT / "samples" / "make_transactions.py"), "--count", str(EVENTS),
                    "--seed", "11", "--cards", "200", "--in-order", "--malformed-fraction", "0",
                    "--out", str(log)], check=True, capture_output=True, timeout=60)
    subprocess.run([sys.executable, "-m", "cep.cli.main", "replay", str(PATTERN), "-i", str(log),
                    "-o", str(tmp_path / "replay.jsonl"), "-q"], check=True, timeout=60)
    expected = [json.loads(line) for line in (tmp_path / "replay.jsonl").read_text().splitlines()]
    assert len(expected) > 100
    lines = [line for line in log.read_bytes().splitlines() if line.strip()]

    source, output = topic(4), topic(4)
    checkpoints = tmp_path / "ckpt"
    common = ("--checkpoint-dir", str(checkpoints), "--group", f"g-{source}", "--checkpoint-interval", "200ms",
              "--batch-size", "50")
    first = start_run(bootstrap, kafka_config, source, output, *common)
    second = start_run(bootstrap, kafka_config, source, output, *common)
    producer = make_producer(bootstrap)
    try:
        # 1. Feed the first part in chunks until both processes have checkpointed progress.
        store = DirectoryStore(checkpoints)
        sent = 0
        deadline = time.monotonic() + 30
        while True:
            owned = progress(store, first.pid), progress(store, second.pid)
            if all(owned) or time.monotonic() > deadline:
                break
            if sent < FIRST_PART:
                report = produce_records(producer, source, records_of(lines[sent:sent + CHUNK]))
                assert report.failed == 0, report.first_error
                sent += CHUNK
            time.sleep(0.2)
            assert first.poll() is None and second.poll() is None, "a detector stopped"
        assert all(owned), f"both detectors should consume: partitions with progress {owned}"
        assert not (owned[0] & owned[1]), f"the partitions should be split: {owned}"

        # 2. Kill one mid-stream; the other goes on with the rest of the log.
        os.kill(second.pid, signal.SIGKILL)
        second.wait(timeout=10)
        report = produce_records(producer, source, records_of(lines[sent:]))
        assert report.failed == 0, report.first_error
        sentinels = [ProducerRecord(orjson.dumps({"card_id": f"end-{p}", "amount": 100,
                                                  "ts": "2030-01-01T00:00:00Z"}), partition=p) for p in range(4)]
        assert produce_records(producer, source, sentinels).failed == 0

        # 3. The survivor takes over the dead one's partitions and completes the output.
        def alerts_by_id() -> dict[bytes, list[bytes]]:
            by_id: dict[bytes, list[bytes]] = collections.defaultdict(list)
            for record in read_records(bootstrap, output, count=100_000, timeout=0.5):
                by_id[dict(record.headers)["cep-match-id"]].append(record.value)
            return by_id

        deadline = time.monotonic() + 30
        while len(by_id := alerts_by_id()) < len(expected) and time.monotonic() < deadline:
            assert first.poll() is None, first.stderr.read().decode() if first.stderr else "survivor died"
        first.send_signal(signal.SIGTERM)
        _, err = first.communicate(timeout=20)
        assert first.returncode == 0, err.decode()
    finally:
        for process in (first, second):
            if process.poll() is None:
                process.kill()
                process.wait()

    by_id = alerts_by_id()  # everything, now that the survivor has stopped
    assert all(len(set(values)) == 1 for values in by_id.values()), "one match id, two different alerts"
    deduplicated = collections.Counter(json.dumps(json.loads(v[0]), sort_keys=True) for v in by_id.values())
    assert deduplicated == collections.Counter(json.dumps(a, sort_keys=True) for a in expected)
    summary = err.decode()
    processed = int(summary.split("records ")[1].split(" ")[0].replace(",", ""))
    assert processed < EVENTS + 4, "the survivor resumed the dead one's partitions from its checkpoints"
