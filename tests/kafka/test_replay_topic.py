"""``cep replay --topic`` on the real broker: a topic loaded with ``cep produce`` replays to the
alerts of ``cep replay`` on the file, and ``--from``/``--to`` keep only matches inside the range.

Lateness: a topic replay runs one detector per partition (as ``cep run`` does), each with its
own watermark driven by its partition's events in offset order, while a file replay has one
watermark for the whole file. Since a partition's events are a subsequence of the file (``cep
produce`` keeps file order within a partition), every event late in its partition is late in
the file; the converse can fail: an event more than the lateness behind the file's newest event,
but not behind its own partition's newest, is late in the file and on time in the topic. So the
two can differ in general. ``samples/transactions.jsonl`` is safe: each of its 6 late events is
more than the lateness (5 s) older than an earlier event of the same card, and a card's events
are all in one partition (keyed by card), so it is late in its partition too; the late sets,
and so the alerts, are the same. The order of alerts differs (partitions interleave), hence
multisets. The same argument holds for the ``--from``/``--to`` subset, compared with the file
replay of the same subset.
"""

from __future__ import annotations

import collections
import json
import subprocess
import sys
from pathlib import Path

import pytest

from cep.connectors.kafka import ProducerRecord, make_producer, produce_records
from cep.stream.timestamps import parse_timestamp

pytestmark = pytest.mark.kafka

ROOT = Path(__file__).resolve().parents[2]
PATTERN = ROOT / "patterns" / "small_then_big.cep"
LOG = ROOT / "samples" / "transactions.jsonl"


def cep(*args: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([sys.executable, "-m", "cep.cli.main", *args], capture_output=True, text=True,
                            timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    return result


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def multiset(items: list[dict]) -> collections.Counter:
    return collections.Counter(json.dumps(i, sort_keys=True) for i in items)


def replay_file(log: Path, out: Path) -> dict[str, list[dict]]:
    out.mkdir()
    cep("replay", str(PATTERN), "-i", str(log), "-o", str(out / "alerts.jsonl"), "--late", str(out / "late.jsonl"),
        "-q")
    return {name: lines(out / f"{name}.jsonl") for name in ("alerts", "late")}


def replay_topic(bootstrap: str, topic: str, out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    out.mkdir()
    return cep("replay", str(PATTERN), "--topic", topic, "-b", bootstrap, "--idle-end", "1s",
               "-o", str(out / "alerts.jsonl"), "--late", str(out / "late.jsonl"),
               "--dead-letter", str(out / "dead.jsonl"), *extra)


@pytest.fixture
def loaded(bootstrap: str, topic) -> str:
    """A 4-partition topic: one garbage record in partition 0, then the sample log."""
    name = topic(4)
    producer = make_producer(bootstrap, {"enable.idempotence": False})
    assert produce_records(producer, name, [ProducerRecord(b"not json", partition=0)]).failed == 0
    cep("produce", str(LOG), "--topic", name, "-b", bootstrap, "--pattern", str(PATTERN), "-q")
    return name


def test_topic_replay_gives_the_files_alerts(bootstrap, loaded, tmp_path):
    expected = replay_file(LOG, tmp_path / "file")
    assert expected["alerts"], "the sample should have alerts"
    result = replay_topic(bootstrap, loaded, tmp_path / "topic")
    out = tmp_path / "topic"
    assert multiset(lines(out / "alerts.jsonl")) == multiset(expected["alerts"])
    assert multiset(lines(out / "late.jsonl")) == multiset(expected["late"])
    [letter] = lines(out / "dead.jsonl")
    assert (letter["topic"], letter["partition"], letter["offset"], letter["raw"]) == (loaded, 0, 0, "not json")
    assert letter["reason"].startswith("invalid JSON")
    assert "events 295 " in result.stderr  # 294 usable lines of the sample + the garbage record


def test_from_and_to_keep_only_matches_inside_the_range(bootstrap, loaded, tmp_path):
    low, high = "2024-01-01T00:01:00Z", "2024-01-01T00:06:00Z"
    low_ms, high_ms = parse_timestamp(low), parse_timestamp(high)
    # The file replay of the same range: the sample's lines whose time is in [low, high).
    subset = tmp_path / "subset.jsonl"
    kept = []
    for line in LOG.read_text().splitlines():
        try:
            event = json.loads(line)
            at = parse_timestamp(event["ts"])
        except (ValueError, KeyError, TypeError):
            continue
        if low_ms <= at < high_ms:
            kept.append(line)
    subset.write_text("\n".join(kept) + "\n")
    expected = replay_file(subset, tmp_path / "file")
    everything = replay_file(LOG, tmp_path / "all")
    assert 0 < len(expected["alerts"]) < len(everything["alerts"]), "the range should cut some alerts"

    # --from as epoch ms, --to as ISO-8601: both forms are accepted.
    result = replay_topic(bootstrap, loaded, tmp_path / "topic", "--from", str(low_ms), "--to", high)
    alerts = lines(tmp_path / "topic" / "alerts.jsonl")
    assert multiset(alerts) == multiset(expected["alerts"])
    for alert in alerts:
        for field in ("small_ts", "big_ts"):
            assert low_ms <= parse_timestamp(alert[field]) < high_ms
    assert "outside --from/--to were skipped" in result.stderr


def test_topic_replay_usage_errors(tmp_path):
    def fails(*args: str) -> str:
        result = subprocess.run([sys.executable, "-m", "cep.cli.main", "replay", str(PATTERN), *args],
                                capture_output=True, text=True, timeout=30, check=False)
        assert result.returncode == 2, result.stderr
        return result.stderr

    assert "--input" in fails()
    assert "not both" in fails("-i", str(LOG), "--topic", "t", "-b", "x:1")
    assert "--topic" in fails("-i", str(LOG), "--from", "2024-01-01T00:00:00Z")
    assert "before --to" in fails("--topic", "t", "-b", "x:1", "--from", "2024-01-02T00:00:00Z",
                                  "--to", "2024-01-01T00:00:00Z")
    assert "not a time" in fails("--topic", "t", "-b", "x:1", "--from", "yesterday")
