"""``cep produce`` against a real Tansu broker: what arrives, keyed and timed by the pattern."""

from __future__ import annotations

import argparse
import gzip
import json
import shutil
import uuid
from datetime import datetime
from pathlib import Path

import pytest

from cep.cli import produce as produce_command
from cep.cli.replay import UsageError
from cep.connectors.kafka import topic_partitions
from cep.errors import PatternError

pytestmark = pytest.mark.kafka

ROOT = Path(__file__).resolve().parents[2]
PATTERN = str(ROOT / "patterns" / "small_then_big.cep")
SAMPLE = ROOT / "samples" / "transactions.jsonl"
MALFORMED = [32, 35, 50, 93, 196, 272]  # see samples/README.md
NOT_JSON_OBJECTS = [35, 50, 272]


def produce(*argv: str) -> int:
    parser = argparse.ArgumentParser()
    produce_command.add_arguments(parser)
    return produce_command.run(parser.parse_args(argv))


def epoch_ms(text: str) -> int:
    return round(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)


def sample_lines() -> list[bytes]:
    return SAMPLE.read_bytes().splitlines()


def test_the_sample_arrives_keyed_by_card_and_timed_by_ts(bootstrap, topic, read_topic, capsys):
    name = topic()
    assert produce(str(SAMPLE), "--topic", name, "--bootstrap-servers", bootstrap, "--pattern", PATTERN) == 0

    lines = sample_lines()
    expected = [line for number, line in enumerate(lines, 1) if number not in MALFORMED]
    got = read_topic(name, len(expected))
    assert sorted(r.value for r in got) == sorted(expected)  # every good line, once, as written
    for record in got:
        event = json.loads(record.value)
        assert record.key == json.dumps(event["card_id"]).encode()
        assert record.timestamp_ms == epoch_ms(event["ts"])
    # A card's records share a partition and keep the file's order.
    for card in {r.key for r in got}:
        same = sorted((r for r in got if r.key == card), key=lambda r: r.offset)
        assert len({r.partition for r in same}) == 1
        assert [r.value for r in same] == [v for v in expected if json.loads(v)["card_id"] == json.loads(card)]

    summary = capsys.readouterr().err
    assert f"produced {len(expected)} records to {name} (4 partitions); skipped 6 malformed lines" in summary
    assert "line 32: missing key field 'card_id'" in summary
    assert "and 3 more" in summary


def test_without_a_pattern_every_json_object_is_sent_unkeyed(bootstrap, topic, read_topic, capsys):
    name = topic(partitions=2)
    assert produce(str(SAMPLE), "--topic", name, "--bootstrap-servers", bootstrap, "--quiet") == 0
    expected = [line for number, line in enumerate(sample_lines(), 1) if number not in NOT_JSON_OBJECTS]
    got = read_topic(name, len(expected))
    assert sorted(r.value for r in got) == sorted(expected)
    assert all(r.key is None and r.timestamp_ms is not None for r in got)
    assert capsys.readouterr().err == ""


def test_gzip_and_csv_logs_are_read_like_replay_reads_them(bootstrap, topic, read_topic, tmp_path):
    packed = tmp_path / "transactions.jsonl.gz"
    with SAMPLE.open("rb") as src, gzip.open(packed, "wb") as dst:
        shutil.copyfileobj(src, dst)
    name = topic()
    assert produce(str(packed), "-t", name, "-b", bootstrap, "-p", PATTERN, "-q") == 0
    assert len(read_topic(name, 300 - len(MALFORMED))) == 300 - len(MALFORMED)

    table = tmp_path / "transactions.csv"
    table.write_text("card_id,amount,ts\nc1,0.05,2024-01-01T00:00:00Z\n,12,2024-01-01T00:00:01Z\nc2,900,1704067202000\n")
    name = topic()
    assert produce(str(table), "-t", name, "-b", bootstrap, "-p", PATTERN, "-q") == 0
    got = sorted(read_topic(name, 2), key=lambda r: r.timestamp_ms)
    assert [(r.key, r.timestamp_ms, json.loads(r.value)) for r in got] == [
        (b'"c1"', 1_704_067_200_000, {"card_id": "c1", "amount": 0.05, "ts": "2024-01-01T00:00:00Z"}),
        (b'"c2"', 1_704_067_202_000, {"card_id": "c2", "amount": 900, "ts": 1_704_067_202_000}),
    ]


def test_a_missing_topic_is_created_with_the_partitions_asked_for(bootstrap, capsys):
    name = f"created-by-produce-{uuid.uuid4().hex[:8]}"
    assert produce(str(SAMPLE), "-t", name, "-b", bootstrap, "--partitions", "3") == 0
    assert topic_partitions(bootstrap, name) == 3
    assert f"created topic {name} with 3 partitions" in capsys.readouterr().err

    assert produce(str(SAMPLE), "-t", name, "-b", bootstrap, "--partitions", "5") == 0
    assert "already exists with 3 partitions; --partitions ignored" in capsys.readouterr().err
    assert topic_partitions(bootstrap, name) == 3


def test_usage_and_pattern_problems_are_reported_before_connecting(tmp_path):
    with pytest.raises(UsageError, match="--bootstrap-servers"):
        produce(str(SAMPLE), "--topic", "t")
    with pytest.raises(UsageError, match="at least one partition"):
        produce(str(SAMPLE), "--topic", "t", "-b", "127.0.0.1:1", "--partitions", "0")
    with pytest.raises(FileNotFoundError):  # before any attempt to reach the (absent) broker
        produce(str(tmp_path / "missing.jsonl"), "--topic", "t", "-b", "127.0.0.1:1")
    broken = tmp_path / "broken.cep"
    broken.write_text("pattern p\n  from transactions\n  match a b\n")
    with pytest.raises(PatternError):
        produce(str(SAMPLE), "--topic", "t", "-b", "127.0.0.1:1", "--pattern", str(broken))
