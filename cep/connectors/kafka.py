"""Kafka clients for cep: the one module that imports ``confluent_kafka``.

Small helpers that ``cep produce`` uses today and ``cep run`` / ``cep replay --topic`` build on:

* :func:`load_kafka_config` reads a librdkafka properties file (``key=value`` lines, ``#``
  comments), so SASL, TLS and tuning settings pass through unchanged.
* :func:`make_producer`, :func:`make_consumer` and :func:`make_admin` build clients from the
  bootstrap servers plus that configuration, with cep's defaults underneath (idempotent
  producer; consumers that never auto-commit, because offsets are committed only once a
  checkpoint covers them).
* :func:`create_topics` and :func:`topic_partitions` manage topics; :func:`produce_records`
  sends records with back-pressure and reports what was delivered; :func:`read_records` reads
  partitions from the beginning without joining a group.

Every failure a user can meet is raised as :class:`KafkaConnectorError` (a ``CepError``, so the
CLI exits with status 1 and prints the message).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping

from confluent_kafka import Consumer, KafkaException, Message, Producer, TopicPartition
from confluent_kafka import KafkaError as _RdKafkaError
from confluent_kafka.admin import AdminClient, NewTopic

from cep.errors import CepError

__all__ = [
    "ConsumedRecord",
    "DeliveryReport",
    "KafkaConnectorError",
    "KafkaException",  # re-exported so the other Kafka modules need not import confluent_kafka
    "ProducerRecord",
    "TopicPartition",
    "create_topics",
    "load_kafka_config",
    "make_admin",
    "make_consumer",
    "make_producer",
    "produce_records",
    "read_records",
    "topic_partitions",
]

_PRODUCER_DEFAULTS: dict[str, Any] = {
    # No duplicates or reordering from retries within a partition.
    "enable.idempotence": True,
    "linger.ms": 5,
}
_CONSUMER_DEFAULTS: dict[str, Any] = {
    # Offsets are committed by the caller, after the checkpoint that covers them is durable.
    "enable.auto.commit": False,
    "auto.offset.reset": "earliest",
    # Keep prefetching while the application works through what it has: with librdkafka's
    # default (100,000) a consumer doing Python work per record let its queue run low, paused,
    # and then waited on the broker, reading a topic 3-4x slower (measured with Tansu:
    # 1.35 s -> 0.45 s for 200,000 records). Memory stays bounded by
    # queued.max.messages.kbytes (64 MB per partition by default). --kafka-config overrides it.
    "queued.min.messages": 1_000_000,
}


class KafkaConnectorError(CepError, RuntimeError):
    """Kafka cannot be reached, a topic cannot be created, or records were not delivered."""


@dataclass(frozen=True, slots=True)
class ProducerRecord:
    """One record to send.

    ``timestamp_ms`` None (or 0) lets the producer stamp it with its clock; ``partition`` None lets
    the partitioner choose from the key (records with one key go to one partition).
    """

    value: bytes
    key: bytes | None = None
    timestamp_ms: int | None = None
    headers: tuple[tuple[str, bytes], ...] = ()
    partition: int | None = None


@dataclass(frozen=True, slots=True)
class ConsumedRecord:
    """One record read from a topic, detached from the client that read it."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp_ms: int | None
    headers: tuple[tuple[str, bytes | None], ...]

    @classmethod
    def of(cls, message: Message) -> "ConsumedRecord":
        kind, stamp = message.timestamp()
        return cls(
            message.topic(),
            message.partition(),
            message.offset(),
            message.key(),
            message.value(),
            None if kind == 0 else stamp,  # 0 is TIMESTAMP_NOT_AVAILABLE
            tuple(message.headers() or ()),
        )


@dataclass(frozen=True, slots=True)
class DeliveryReport:
    """What :func:`produce_records` sent: ``failed`` counts records the broker never confirmed."""

    sent: int
    delivered: int
    failed: int
    first_error: str | None = None


def load_kafka_config(path: str | Path) -> dict[str, str]:
    """Read a librdkafka properties file: ``key=value`` per line, ``#``/``!`` comments, blanks.

    Values are kept as text (librdkafka parses them); whitespace around keys and values is
    dropped. A line without ``=`` raises :class:`KafkaConnectorError` naming the line.
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise KafkaConnectorError(f"cannot read Kafka config {path}: {exc.strerror or exc}") from exc
    config: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not stripped or stripped.startswith(("#", "!")):
            continue
        key, sep, value = stripped.partition("=")
        if not sep or not key.strip():
            raise KafkaConnectorError(
                f"{path}:{number}: expected key=value, got {stripped!r} (comments start with #)"
            )
        config[key.strip()] = value.strip()
    return config


def _client_config(bootstrap: str | None, defaults: Mapping[str, Any],
                   config: Mapping[str, Any] | None) -> dict[str, Any]:
    """Defaults, then the user's config, then ``bootstrap`` (the command line wins)."""
    merged = {**defaults, **(config or {})}
    if bootstrap:
        merged["bootstrap.servers"] = bootstrap
    if not merged.get("bootstrap.servers"):
        raise KafkaConnectorError("no bootstrap servers: pass --bootstrap-servers HOST:PORT")
    return merged


def _build(kind: type, settings: dict[str, Any]) -> Any:
    try:
        return kind(settings)
    except KafkaException as exc:  # an unknown or invalid property
        raise KafkaConnectorError(f"invalid Kafka configuration: {exc.args[0].str()}") from exc


def make_producer(bootstrap: str | None, config: Mapping[str, Any] | None = None) -> Producer:
    """An idempotent producer; ``config`` (librdkafka properties) overrides the defaults."""
    return _build(Producer, _client_config(bootstrap, _PRODUCER_DEFAULTS, config))


def make_consumer(bootstrap: str | None, group: str, config: Mapping[str, Any] | None = None) -> Consumer:
    """A consumer in ``group`` that never commits on its own and starts at the earliest offset."""
    settings = _client_config(bootstrap, _CONSUMER_DEFAULTS, config)
    settings["group.id"] = group
    return _build(Consumer, settings)


def make_admin(bootstrap: str | None, config: Mapping[str, Any] | None = None) -> AdminClient:
    return _build(AdminClient, _client_config(bootstrap, {}, config))


def topic_partitions(bootstrap: str | None, topic: str, *, config: Mapping[str, Any] | None = None,
                     timeout: float = 10.0) -> int | None:
    """How many partitions ``topic`` has, or None when it does not exist.

    Lists all topics rather than asking for this one: a metadata request naming a missing
    topic can create it on brokers with auto-creation on.
    """
    admin = make_admin(bootstrap, config)
    try:
        metadata = admin.list_topics(timeout=timeout)
    except KafkaException as exc:
        raise KafkaConnectorError(f"cannot reach Kafka at {_servers(bootstrap, config)}: "
                                  f"{exc.args[0].str()}") from exc
    found = metadata.topics.get(topic)
    return None if found is None or found.error is not None else len(found.partitions)


def create_topics(bootstrap: str | None, names: Iterable[str], partitions: int = 4, *,
                  config: Mapping[str, Any] | None = None, replication_factor: int = -1,
                  timeout: float = 10.0) -> list[str]:
    """Create the topics that do not exist yet; return the names created.

    ``replication_factor`` -1 means the broker's default. A topic that already exists is left
    as it is, whatever its partition count.
    """
    names = list(dict.fromkeys(names))
    if not names:
        return []
    admin = make_admin(bootstrap, config)
    futures = admin.create_topics(
        [NewTopic(n, num_partitions=partitions, replication_factor=replication_factor) for n in names],
        operation_timeout=timeout, request_timeout=timeout,
    )
    created: list[str] = []
    for name, future in futures.items():
        try:
            future.result(timeout)
        except KafkaException as exc:
            error = exc.args[0]
            if error.code() == _RdKafkaError.TOPIC_ALREADY_EXISTS:
                continue
            raise KafkaConnectorError(f"cannot create topic {name}: {error.str()}") from exc
        created.append(name)
    return created


def produce_records(producer: Producer, topic: str, records: Iterable[ProducerRecord], *,
                    flush_timeout: float = 30.0) -> DeliveryReport:
    """Send every record to ``topic``, then wait until the broker confirmed them all.

    A full local queue is waited out (the producer is polled until there is room), so any
    number of records can be sent with bounded memory. Records not confirmed within
    ``flush_timeout`` seconds after the last one was queued count as failed.
    """
    sent = delivered = failed = 0
    first_error: str | None = None

    def on_delivery(error: Any, message: Message) -> None:
        nonlocal delivered, failed, first_error
        if error is None:
            delivered += 1
        else:
            failed += 1
            if first_error is None:
                first_error = error.str()

    produce = producer.produce
    for record in records:
        while True:
            try:
                if record.partition is None:
                    produce(topic, record.value, record.key, timestamp=record.timestamp_ms or 0,
                            headers=list(record.headers) or None, on_delivery=on_delivery)
                else:
                    produce(topic, record.value, record.key, record.partition, timestamp=record.timestamp_ms or 0,
                            headers=list(record.headers) or None, on_delivery=on_delivery)
                break
            except BufferError:  # the local queue is full: let deliveries drain it
                producer.poll(0.05)
            except KafkaException as exc:
                raise KafkaConnectorError(f"cannot produce to {topic}: {exc.args[0].str()}") from exc
        sent += 1
        if sent % 1000 == 0:
            producer.poll(0)
    deadline = time.monotonic() + flush_timeout
    remaining = producer.flush(flush_timeout)
    while remaining and time.monotonic() < deadline:
        remaining = producer.flush(max(deadline - time.monotonic(), 0.0))
    if remaining:
        failed += remaining
        first_error = first_error or f"{remaining} record(s) not confirmed within {flush_timeout:g} s"
    return DeliveryReport(sent, delivered, failed, first_error)


def read_records(bootstrap: str | None, topic: str, *, count: int, timeout: float = 10.0,
                 config: Mapping[str, Any] | None = None) -> list[ConsumedRecord]:
    """Read ``topic`` from the start of every partition until ``count`` records or ``timeout``.

    Partitions are assigned directly (no group join, nothing committed), so this is quick and
    does not depend on the broker's "latest" offsets. For tests, demos and small tools.
    """
    partitions = topic_partitions(bootstrap, topic, config=config, timeout=timeout)
    if partitions is None:
        raise KafkaConnectorError(f"topic {topic} does not exist")
    consumer = make_consumer(bootstrap, "cep-read-records", {**(config or {}), "enable.partition.eof": False})
    try:
        consumer.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
        records: list[ConsumedRecord] = []
        deadline = time.monotonic() + timeout
        while len(records) < count and time.monotonic() < deadline:
            batch = consumer.consume(min(count - len(records), 1000), 0.1)
            for message in batch:
                if message.error() is not None:
                    raise KafkaConnectorError(f"reading {topic}: {message.error().str()}")
                records.append(ConsumedRecord.of(message))
        return records
    finally:
        consumer.close()


def _servers(bootstrap: str | None, config: Mapping[str, Any] | None) -> str:
    return bootstrap or str((config or {}).get("bootstrap.servers", "?"))
