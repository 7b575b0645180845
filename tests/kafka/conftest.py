"""A real Kafka-compatible broker (Tansu) for the tests in this directory.

``kafka_broker`` starts one broker for the whole session on a free port; ``topic`` makes
topics with unique names, so tests never see each other's records; ``read_topic`` reads a whole
topic without waiting for a timeout. If the broker cannot start the tests fail with the reason
(they are not skipped: CI must run them).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import uuid
from pathlib import Path
from collections.abc import Callable, Iterator

import pytest

from cep.connectors.kafka import (
    ConsumedRecord,
    ProducerRecord,
    create_topics,
    make_producer,
    produce_records,
    read_records,
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


@pytest.fixture
def read_topic(bootstrap: str) -> Callable[..., list[ConsumedRecord]]:
    """``read_topic(name, expected)``: every record of the topic, when it holds ``expected``.

    The broker's "latest" offsets cannot be trusted, so the end of each partition is marked
    with a record of our own. Reading stops after ``expected`` records plus one marker per
    partition; a marker is only read after everything before it in its partition, so seeing
    all markers proves nothing else is there. Fewer records fail after ``timeout``.
    """

    def read(name: str, expected: int, timeout: float = 10.0) -> list[ConsumedRecord]:
        partitions = topic_partitions(bootstrap, name)
        assert partitions, f"topic {name} does not exist"
        markers = [ProducerRecord(END_OF_TOPIC, partition=p) for p in range(partitions)]
        # Not idempotent: an idempotent producer spends 0.5 s getting its producer id.
        producer = make_producer(bootstrap, {"enable.idempotence": False})
        assert produce_records(producer, name, markers).failed == 0
        records = read_records(bootstrap, name, count=expected + partitions, timeout=timeout)
        ends = sorted(r.partition for r in records if r.value == END_OF_TOPIC)
        data = [r for r in records if r.value != END_OF_TOPIC]
        assert ends == list(range(partitions)), (
            f"{name}: read {len(data)} records and the end of partitions {ends} of {partitions}; "
            f"expected {expected} records"
        )
        return data

    return read


# Shared by the `cep run` test modules: the sample log, its pattern, and what replay makes of it.
ROOT = Path(__file__).resolve().parents[2]
PATTERN = ROOT / "patterns" / "small_then_big.cep"
LOG = ROOT / "samples" / "transactions.jsonl"


@pytest.fixture(scope="module")
def replay(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[dict]]:
    """`cep replay` of the sample log: the alerts and late events a live run must reproduce."""
    out = tmp_path_factory.mktemp("replay")
    subprocess.run([sys.executable, "-m", "cep.cli.main", "replay", str(PATTERN), "-i", str(LOG),
                    "-o", str(out / "alerts.jsonl"), "--late", str(out / "late.jsonl"), "-q"], check=True)
    return {name: [json.loads(line) for line in (out / f"{name}.jsonl").read_text().splitlines()]
            for name in ("alerts", "late")}


@pytest.fixture
def kafka_config(tmp_path: Path) -> str:
    """A librdkafka properties file with short group timeouts, so joins and rebalances are quick."""
    path = tmp_path / "kafka.properties"
    path.write_text("".join(f"{k}={v}\n" for k, v in FAST_GROUP_CONFIG.items()))
    return str(path)
