"""A real Kafka-compatible broker (Tansu) for the tests in this directory.

``kafka_broker`` starts one broker for the whole session on a free port; ``topic`` makes
topics with unique names, so tests never see each other's records; ``read_topic`` reads a whole
topic without waiting for a timeout. If the broker cannot start the tests fail with the reason
(they are not skipped: CI must run them). The logs the ``cep run`` tests feed are here too: the
sample (``replay``) and a large generated one (``generated_log``), each with its replay.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from cep.connectors.kafka import (
    ConsumedRecord,
    ProducerRecord,
    TopicPartition,
    create_topics,
    make_consumer,
    make_producer,
    produce_records,
    topic_partitions,
)
from cep.testing.kafka_broker import FAST_GROUP_CONFIG, KafkaBroker


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "kafka: runs against the Tansu broker started by the kafka_broker fixture")


@pytest.fixture(scope="session")
def kafka_broker() -> Iterator[KafkaBroker]:
    with KafkaBroker() as broker:
        yield broker


@pytest.fixture
def bootstrap(kafka_broker: KafkaBroker) -> str:
    return kafka_broker.bootstrap_servers


@pytest.fixture
def topic(bootstrap: str, request: pytest.FixtureRequest) -> Callable[..., str]:
    """``topic(partitions=4)`` creates a topic named after the test and returns its name."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", request.node.name)[:80].strip("-")

    def make(partitions: int = 4) -> str:
        name = f"{stem}-{uuid.uuid4().hex[:8]}"
        assert create_topics(bootstrap, [name], partitions) == [name]
        return name

    return make


END_OF_TOPIC = b"cep-test: end of partition"


def read_to_ends(bootstrap: str, name: str, is_end: Callable[[ConsumedRecord], bool],
                 timeout: float = 10.0) -> list[ConsumedRecord]:
    """The records of topic ``name`` from the start of each partition up to and including its
    first record that ``is_end``; fails if a partition's end is not read within ``timeout``."""
    partitions = topic_partitions(bootstrap, name)
    assert partitions, f"topic {name} does not exist"
    consumer = make_consumer(bootstrap, "cep-test-read", {"enable.partition.eof": False})
    records: list[ConsumedRecord] = []
    ends: set[int] = set()
    try:
        consumer.assign([TopicPartition(name, p, 0) for p in range(partitions)])
        deadline = time.monotonic() + timeout
        while len(ends) < partitions and time.monotonic() < deadline:
            for message in consumer.consume(1000, 0.1):
                assert message.error() is None, f"reading {name}: {message.error()}"
                record = ConsumedRecord.of(message)
                if record.partition not in ends:
                    records.append(record)
                    if is_end(record):
                        ends.add(record.partition)
    finally:
        consumer.close()
    assert ends == set(range(partitions)), (
        f"{name}: read {len(records)} records and the end of partitions {sorted(ends)} of {partitions}"
    )
    return records


def read_whole_topic(bootstrap: str, name: str, timeout: float = 10.0) -> list[ConsumedRecord]:
    """Every record of topic ``name``, read to its end.

    The broker's "latest" offsets cannot be trusted, so the end of each partition is marked
    with a record of our own (the topic must be written no more). A marker is only read after
    everything before it in its partition, so seeing all markers proves nothing else is there.
    """
    partitions = topic_partitions(bootstrap, name)
    assert partitions, f"topic {name} does not exist"
    markers = [ProducerRecord(END_OF_TOPIC, partition=p) for p in range(partitions)]
    # Not idempotent: an idempotent producer spends 0.5 s getting its producer id.
    producer = make_producer(bootstrap, {"enable.idempotence": False})
    assert produce_records(producer, name, markers).failed == 0
    records = read_to_ends(bootstrap, name, lambda r: r.value == END_OF_TOPIC, timeout)
    return [r for r in records if r.value != END_OF_TOPIC]


@pytest.fixture
def read_topic(bootstrap: str) -> Callable[..., list[ConsumedRecord]]:
    """``read_topic(name, expected)``: every record of the topic, which must hold ``expected``
    records (``None``: any number)."""

    def read(name: str, expected: int | None = None, timeout: float = 10.0) -> list[ConsumedRecord]:
        records = read_whole_topic(bootstrap, name, timeout)
        assert expected is None or len(records) == expected, f"{name}: {len(records)} records, expected {expected}"
        return records

    return read


# Shared by the `cep run` test modules: the sample log, its pattern, and what replay makes of it.
ROOT = Path(__file__).resolve().parents[2]
PATTERN = ROOT / "patterns" / "small_then_big.cep"
LOG = ROOT / "samples" / "transactions.jsonl"


def replay_log(log: Path, out: Path) -> dict[str, list[dict]]:
    """`cep replay` of ``log`` into the directory ``out``: its alerts and late events."""
    subprocess.run([sys.executable, "-m", "cep.cli.main", "replay", str(PATTERN), "-i", str(log),
                    "-o", str(out / "alerts.jsonl"), "--late", str(out / "late.jsonl"), "-q"], check=True)
    return {name: [json.loads(line) for line in (out / f"{name}.jsonl").read_text().splitlines()]
            for name in ("alerts", "late")}


@pytest.fixture(scope="module")
def replay(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[dict]]:
    """`cep replay` of the sample log: the alerts and late events a live run must reproduce."""
    return replay_log(LOG, tmp_path_factory.mktemp("replay"))


@dataclass(frozen=True)
class GeneratedLog:
    """A large transaction log (``path``, with late and malformed lines) and its replay."""

    path: Path
    alerts: list[dict]
    late: list[dict]


@pytest.fixture(scope="session")
def generated_log(tmp_path_factory: pytest.TempPathFactory) -> GeneratedLog:
    """24,000 transactions by ``samples/make_transactions.py`` (2 % late, 2 % malformed, shuffled
    within the lateness), and `cep replay` of them.

    The log is used as generated. Its late events are minutes behind the newest event of the log,
    so they are also late in their own partition, where a live run judges them (see "Difference
    from `cep replay`" in docs/live.md); the test of the late topic checks exactly that."""
    out = tmp_path_factory.mktemp("generated")
    raw = subprocess.run([sys.executable, str(ROOT / "samples" / "make_transactions.py"), "--count", "24000",
                          "--seed", "2024", "--cards", "200"], check=True, capture_output=True, timeout=60).stdout
    path = out / "transactions.jsonl"
    path.write_bytes(raw)
    replayed = replay_log(path, out)
    assert len(replayed["alerts"]) > 300 and len(replayed["late"]) > 300
    return GeneratedLog(path, replayed["alerts"], replayed["late"])


@pytest.fixture
def kafka_config(tmp_path: Path) -> str:
    """A librdkafka properties file with short group timeouts, so joins and rebalances are quick."""
    path = tmp_path / "kafka.properties"
    path.write_text("".join(f"{k}={v}\n" for k, v in FAST_GROUP_CONFIG.items()))
    return str(path)
