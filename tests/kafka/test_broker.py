"""The test broker and the Kafka client helpers, against a real Tansu broker."""

from __future__ import annotations

import socket
import time

import pytest

from cep.connectors.kafka import (
    KafkaConnectorError,
    ProducerRecord,
    create_topics,
    make_consumer,
    make_producer,
    produce_records,
    read_records,
    topic_partitions,
)
from cep.testing.kafka_broker import FAST_GROUP_CONFIG, BrokerStartError, KafkaBroker, find_tansu

pytestmark = pytest.mark.kafka

BASE_MS = 1_704_067_200_000  # 2024-01-01T00:00:00Z


def accepts_connections(host: str, port: int) -> bool:
    try:
        socket.create_connection((host, port), timeout=0.5).close()
        return True
    except OSError:
        return False


def unused_port() -> int:
    """A local port nothing listens on (a client there never gets an answer)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def consume_group(bootstrap: str, topic: str, group: str, count: int, timeout: float = 10.0) -> list:
    """Join ``group``, read ``count`` records, commit them and leave; the records as (key, value)."""
    consumer = make_consumer(bootstrap, group, FAST_GROUP_CONFIG)
    consumer.subscribe([topic])
    got = []
    deadline = time.monotonic() + timeout
    try:
        while len(got) < count and time.monotonic() < deadline:
            message = consumer.poll(0.1)
            if message is None:
                continue
            assert message.error() is None, message.error()
            got.append((message.key(), message.value()))
        if got:
            consumer.commit(asynchronous=False)
    finally:
        consumer.close()
    return got


def test_a_broker_starts_on_a_free_port_and_stops():
    with KafkaBroker() as broker:
        host, port = broker.bootstrap_servers.split(":")
        assert broker.running and accepts_connections(host, int(port))
        assert "ready" in broker.output()
    assert not broker.running
    assert not accepts_connections(host, int(port))
    with pytest.raises(BrokerStartError, match="not running"):
        broker.bootstrap_servers


def test_a_broker_that_cannot_start_says_why(tmp_path):
    fake = tmp_path / "tansu"
    fake.write_text("#!/bin/sh\necho 'cannot open storage: boom' >&2\nexit 3\n")
    fake.chmod(0o755)
    with pytest.raises(BrokerStartError, match="(?s)did not start.*cannot open storage: boom"):
        KafkaBroker(binary=str(fake)).start()


def test_a_bad_binary_override_is_reported(monkeypatch, tmp_path):
    monkeypatch.setenv("CEP_TANSU_BIN", str(tmp_path / "missing"))
    with pytest.raises(BrokerStartError, match="CEP_TANSU_BIN"):
        find_tansu()


def test_topics_are_created_once(bootstrap, topic):
    name = topic(partitions=3)
    assert topic_partitions(bootstrap, name) == 3
    assert create_topics(bootstrap, [name], partitions=5) == []  # exists: left alone
    assert topic_partitions(bootstrap, name) == 3
    assert topic_partitions(bootstrap, name + "-missing") is None


def test_records_round_trip_with_keys_headers_and_timestamps(bootstrap, topic):
    name = topic()
    sent = [
        ProducerRecord(f'{{"n": {i}}}'.encode(), f"k{i % 5}".encode(), BASE_MS + i * 1000,
                       (("source", b"test"), ("n", str(i).encode())))
        for i in range(50)
    ]
    report = produce_records(make_producer(bootstrap), name, sent)
    assert (report.sent, report.delivered, report.failed) == (50, 50, 0)

    got = read_records(bootstrap, name, count=50)
    assert len(got) == 50
    by_value = {r.value: r for r in got}
    for record in sent:
        received = by_value[record.value]
        assert (received.key, received.timestamp_ms, received.headers) == (
            record.key, record.timestamp_ms, record.headers)
    # One key, one partition, in the order sent.
    for key in {r.key for r in sent}:
        partitions = {r.partition for r in got if r.key == key}
        assert len(partitions) == 1
        received = sorted((r for r in got if r.key == key), key=lambda r: r.offset)
        assert [r.value for r in received] == [r.value for r in sent if r.key == key]


def test_a_consumer_group_resumes_from_its_committed_offsets(bootstrap, topic):
    name = topic(partitions=2)
    producer = make_producer(bootstrap)
    produce_records(producer, name, [ProducerRecord(b"first-%d" % i, b"k%d" % i) for i in range(10)])
    group = f"group-{name}"

    started = time.monotonic()
    first = consume_group(bootstrap, name, group, 10)
    assert sorted(v for _, v in first) == sorted(b"first-%d" % i for i in range(10))
    assert time.monotonic() - started < 8  # the join takes about half of session.timeout.ms

    produce_records(producer, name, [ProducerRecord(b"second-%d" % i, b"k%d" % i) for i in range(5)])
    second = consume_group(bootstrap, name, group, 5)
    assert sorted(v for _, v in second) == sorted(b"second-%d" % i for i in range(5))


def test_an_unreachable_broker_is_a_clear_error():
    port = unused_port()
    with pytest.raises(KafkaConnectorError, match=f"cannot reach Kafka at 127.0.0.1:{port}"):
        topic_partitions(f"127.0.0.1:{port}", "anything", timeout=0.5)


def test_records_never_confirmed_are_counted_as_failed():
    producer = make_producer(f"127.0.0.1:{unused_port()}", {"message.timeout.ms": 300})
    report = produce_records(producer, "anything", [ProducerRecord(b"lost")] * 3, flush_timeout=5)
    assert (report.sent, report.delivered, report.failed) == (3, 0, 3)
    assert "timed out" in report.first_error.lower()


def test_a_bad_client_setting_is_a_clear_error(bootstrap):
    with pytest.raises(KafkaConnectorError, match="invalid Kafka configuration"):
        make_producer(bootstrap, {"no.such.setting": "1"})
