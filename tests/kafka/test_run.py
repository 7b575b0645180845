"""``cep run`` end to end on the real broker: same alerts as ``cep replay``, crash recovery
without losing or inventing alerts, and bad records dead-lettered while detection goes on.

Each test runs ``cep run`` as a subprocess (``python -m cep.cli.run``). A run stops either by
itself (``--max-events``, or the test-only ``--crash-after-events N``, which SIGKILLs the
process right after the batch that reaches N records, once that batch's alerts are delivered
and before its checkpoint: the worst moment, since a restart repeats those alerts) or by
SIGTERM once the output topic holds what the test waits for.

Lateness: the live run keeps one watermark per source partition, replay one for the whole
file, so an event behind the file's newest event by more than the lateness but not behind its
own partition's newest one is late in replay and on time live. ``samples/transactions.jsonl``
has no such event (its 6 late events are late within their own card's partition too: each is
more than 5 s older than an earlier event of the same card), so its live alerts and late records
equal replay's exactly, and the tests compare with replay of the very same log.
"""

from __future__ import annotations

import collections
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cep.connectors.kafka import ProducerRecord, make_producer, produce_records, read_records
from cep.stream.timestamps import parse_timestamp

pytestmark = pytest.mark.kafka

ROOT = Path(__file__).resolve().parents[2]
PATTERN = ROOT / "patterns" / "small_then_big.cep"
LOG = ROOT / "samples" / "transactions.jsonl"
USABLE = 294  # lines of LOG that cep produce sends (6 are malformed)


def produce_log(bootstrap: str, topic: str, log: Path = LOG) -> None:
    subprocess.run([sys.executable, "-m", "cep.cli.main", "produce", str(log), "--topic", topic,
                    "-b", bootstrap, "--pattern", str(PATTERN), "-q"], check=True)


def start_run(bootstrap: str, config: str, topic: str, output: str, *extra: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "cep.cli.run", str(PATTERN), "-b", bootstrap, "--input", topic,
         "--output-topic", output, "--kafka-config", config, *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )


def wait_for(bootstrap: str, topic: str, done, timeout: float = 20.0) -> list:
    """Read ``topic`` from the start until ``done(records)``; the records then."""
    deadline = time.monotonic() + timeout
    records: list = []
    while time.monotonic() < deadline:
        try:
            records = read_records(bootstrap, topic, count=10_000, timeout=0.3)
        except Exception:  # the topic may not exist yet
            records = []
        if done(records):
            return records
    raise AssertionError(f"{topic}: condition not met within {timeout:g} s; {len(records)} records")


def stop(process: subprocess.Popen[bytes]) -> str:
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=20)
    text = err.decode()
    assert process.returncode == 0, text
    return text


def values(records) -> list[dict]:
    return [json.loads(r.value) for r in records]


def multiset(items: list[dict]) -> collections.Counter:
    return collections.Counter(json.dumps(i, sort_keys=True) for i in items)


def test_run_gives_replays_alerts_and_dead_letters_bad_records(bootstrap, topic, read_topic, kafka_config, replay,
                                                                tmp_path):
    source, output, dead, late = topic(4), topic(4), topic(1), topic(1)
    garbage = [
        ProducerRecord(b"not json at all", partition=0),
        ProducerRecord(bytes([0xFF, 0x00, 0x9C, 0x81]), partition=1),
        ProducerRecord(b'{"card_id": "c0001", "amount": 5}', partition=2),  # no time
        ProducerRecord(b"[1, 2, 3]", partition=3),
    ]
    producer = make_producer(bootstrap, {"enable.idempotence": False})
    assert produce_records(producer, source, garbage).failed == 0
    produce_log(bootstrap, source)  # the good records come after the bad ones in every partition

    run = start_run(bootstrap, kafka_config, source, output, "--checkpoint-dir", str(tmp_path / "ckpt"),
                    "--dead-letter-topic", dead, "--late-topic", late, "--idle-advance", "1s")
    expected = len(replay["alerts"])
    wait_for(bootstrap, output, lambda rs: len(rs) >= expected)
    summary = stop(run)
    assert f"records {USABLE + len(garbage)}" in summary

    alerts = read_topic(output, expected)
    assert multiset(values(alerts)) == multiset(replay["alerts"])
    for record in alerts:
        headers = dict(record.headers)
        assert headers["cep-pattern"] == b"small_then_big"
        assert len(headers["cep-match-id"]) == 64
        assert json.loads(record.key) == json.loads(record.value)["key"]
        # The record's Kafka timestamp is the alert's event time, not when it was produced.
        assert record.timestamp_ms == parse_timestamp(json.loads(record.value)["time"])
    assert len({dict(r.headers)["cep-match-id"] for r in alerts}) == expected

    assert multiset(values(read_topic(late, len(replay["late"])))) == multiset(replay["late"])

    letters = sorted(values(read_topic(dead, len(garbage))), key=lambda d: d["partition"])
    assert [(d["topic"], d["partition"], d["offset"]) for d in letters] == [(source, p, 0) for p in range(4)]
    assert letters[0]["raw"] == "not json at all" and letters[0]["reason"].startswith("not JSON")
    assert letters[1]["reason"].startswith("not JSON")
    assert "time field 'ts'" in letters[2]["reason"]
    assert "not a JSON object" in letters[3]["reason"]


def test_sigkill_and_restart_loses_and_invents_nothing(bootstrap, topic, read_topic, kafka_config, replay, tmp_path):
    source, output = topic(4), topic(4)
    produce_log(bootstrap, source)
    common = ("--checkpoint-dir", str(tmp_path / "ckpt"), "--group", f"g-{source}", "--batch-size", "20")

    # 1. A clean stop after 100 records: checkpointed and committed.
    first = start_run(bootstrap, kafka_config, source, output, *common, "--max-events", "100")
    _, err = first.communicate(timeout=30)
    assert first.returncode == 0, err.decode()
    after_first = len(read_records(bootstrap, output, count=10_000, timeout=1.0))

    # 2. Resumes there, delivers alerts, and dies by SIGKILL before any further checkpoint.
    second = start_run(bootstrap, kafka_config, source, output, *common, "--checkpoint-interval", "1h",
                       "--crash-after-events", "90")
    second.communicate(timeout=30)
    assert second.returncode == -signal.SIGKILL
    after_second = len(read_records(bootstrap, output, count=10_000, timeout=1.0))
    assert after_second > after_first, "the crash should come after some alerts"
    assert after_second < len(replay["alerts"]), "the crash should come before all alerts"

    # 3. Resumes from the first checkpoint again: repeats the second run's alerts, then the rest.
    third = start_run(bootstrap, kafka_config, source, output, *common, "--idle-advance", "1s")

    def complete(records) -> bool:
        return len({dict(r.headers)["cep-match-id"] for r in records}) >= len(replay["alerts"])

    wait_for(bootstrap, output, complete)
    summary = stop(third)
    assert f"records {USABLE - 100} " in summary  # it read from the checkpoint's offsets

    total = len(read_records(bootstrap, output, count=10_000, timeout=1.0))
    records = read_topic(output, total)
    by_id: dict[bytes, list[bytes]] = collections.defaultdict(list)
    for record in records:
        by_id[dict(record.headers)["cep-match-id"]].append(record.value)
    assert total > len(by_id), "the alerts of the killed run are repeated"
    assert all(len(set(v)) == 1 for v in by_id.values()), "one id, two different alerts"
    deduplicated = [json.loads(v[0]) for v in by_id.values()]
    assert multiset(deduplicated) == multiset(replay["alerts"])


def test_an_absence_fires_on_a_quiet_stream_with_idle_advance(bootstrap, topic, read_topic, kafka_config, tmp_path):
    # Two orders, one shipped; then the input stops. Event time never reaches the unshipped
    # order's deadline (a day later): only the clock (idle advance) lets its absence fire.
    pattern = ROOT / "patterns" / "order_not_shipped.cep"
    log = tmp_path / "orders.jsonl"
    log.write_text(
        '{"order_id": "o1", "status": "placed", "customer": "ann", "total": 42.5, "ts": "2024-03-01T09:00:00Z"}\n'
        '{"order_id": "o2", "status": "placed", "customer": "bob", "total": 7, "ts": "2024-03-01T09:30:00Z"}\n'
        '{"order_id": "o2", "status": "shipped", "ts": "2024-03-01T10:00:00Z"}\n'
    )
    source, output = topic(4), topic(4)
    subprocess.run([sys.executable, "-m", "cep.cli.main", "produce", str(log), "--topic", source,
                    "-b", bootstrap, "--pattern", str(pattern), "-q"], check=True)
    run = subprocess.Popen(
        [sys.executable, "-m", "cep.cli.run", str(pattern), "-b", bootstrap, "--input", source,
         "--output-topic", output, "--kafka-config", kafka_config, "--idle-advance", "1s"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    wait_for(bootstrap, output, lambda rs: len(rs) >= 1)
    stop(run)
    [alert] = values(read_topic(output, 1))
    assert alert["order_id"] == "o1" and alert["customer"] == "ann"


def test_idle_timeout_moves_a_quiet_partition_up_to_the_busy_ones():
    """Engine level, no broker: partition 1 goes quiet with an order placed; partition 0 keeps
    going. After --idle-timeout, partition 1's watermark follows partition 0's, so its absence
    fires without any new data of its own."""
    from dataclasses import dataclass

    from cep.lang.load import load_files
    from cep.live.engine import LiveEngine

    @dataclass
    class Rec:
        topic: str
        partition: int
        offset: int
        key: bytes | None
        value: bytes | None

    clock = [0.0]
    alerts = []
    engine = LiveEngine(
        load_files([ROOT / "patterns" / "order_not_shipped.cep"]), {"orders": "orders"},
        on_alert=alerts.append, on_dead_letter=lambda r, v: None, on_late=lambda r: None,
        flush=lambda: None, commit=lambda offsets: None, idle_timeout_ms=5000, monotonic=lambda: clock[0],
    )
    engine.assign([("orders", 0), ("orders", 1)])

    def order(partition: int, offset: int, order_id: str, status: str, ts: str) -> Rec:
        value = json.dumps({"order_id": order_id, "status": status, "ts": ts}).encode()
        return Rec("orders", partition, offset, None, value)

    engine.process([order(1, 0, "quiet", "placed", "2024-03-01T09:00:00Z"),
                    order(0, 0, "busy", "placed", "2024-03-01T09:00:00Z")])
    clock[0] = 10.0
    engine.process([order(0, 1, "busy", "shipped", "2024-03-01T10:00:00Z"),
                    order(0, 2, "other", "paid", "2024-03-03T00:00:00Z")])
    assert alerts == []  # partition 1 has no data of its own past the deadline
    engine.tick()
    assert [json.loads(a.value)["order_id"] for a in alerts] == ["quiet"]
    assert alerts[0].source == ("orders", 1)
