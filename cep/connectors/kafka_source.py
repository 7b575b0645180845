"""The Kafka ends of ``cep run``: a group consumer that hands out batches and obeys the
checkpoint protocol, and a producer that can prove every record was delivered.

Only :mod:`cep.connectors.kafka` imports ``confluent_kafka``; the few client types needed here
(``TopicPartition``, ``KafkaException``) are taken from it, so the dependency stays confined
to the connector package.

:class:`KafkaSource` subscribes with a consumer group and never commits on its own. When the
group assigns partitions it asks ``on_assign(partitions)`` where each one should start (an
offset, or None for "the --start policy") and assigns them at those offsets (the reliable way
to start somewhere else than the committed offset: seeking right after an assignment races the
fetcher). Before partitions are taken away, ``on_revoke(partitions)`` runs, so the caller can
checkpoint them; it runs inside :meth:`KafkaSource.poll`, between batches.

:class:`KafkaSink` produces records and counts delivery reports; :meth:`KafkaSink.flush` waits
until every record sent so far is confirmed and raises if one was not.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping, Sequence

from cep.connectors.kafka import (
    KafkaConnectorError,
    KafkaException,
    TopicPartition,
    make_consumer,
    make_producer,
)

__all__ = ["KafkaSink", "KafkaSource", "LiveRecord", "START_POLICIES", "common_config"]

# librdkafka's logical offsets
_OFFSET_BEGINNING = -2
_OFFSET_END = -1
_OFFSET_STORED = -1000

START_POLICIES = {"earliest": _OFFSET_BEGINNING, "latest": _OFFSET_END, "committed": _OFFSET_STORED}

Partition = tuple[str, int]

# One --kafka-config file serves every client; librdkafka warns about properties of the other
# kind of client, so each gets only what concerns it.
_CONSUMER_ONLY = frozenset({
    "group.id", "group.instance.id", "session.timeout.ms", "heartbeat.interval.ms", "max.poll.interval.ms",
    "partition.assignment.strategy", "group.protocol", "group.remote.assignor", "auto.offset.reset",
    "enable.auto.commit", "auto.commit.interval.ms", "enable.auto.offset.store", "enable.partition.eof",
    "isolation.level", "fetch.min.bytes", "fetch.max.bytes", "fetch.wait.max.ms", "fetch.error.backoff.ms",
    "max.partition.fetch.bytes", "fetch.message.max.bytes", "queued.min.messages", "queued.max.messages.kbytes",
    "check.crcs", "coordinator.query.interval.ms", "group.protocol.type",
})
_PRODUCER_ONLY = frozenset({
    "acks", "request.required.acks", "enable.idempotence", "linger.ms", "queue.buffering.max.ms",
    "batch.size", "batch.num.messages", "compression.type", "compression.codec", "compression.level",
    "message.send.max.retries", "retries", "retry.backoff.ms", "queue.buffering.max.messages",
    "queue.buffering.max.kbytes", "delivery.timeout.ms", "message.timeout.ms", "request.timeout.ms",
    "partitioner", "transactional.id", "transaction.timeout.ms", "enable.gapless.guarantee",
    "max.in.flight.requests.per.connection", "max.in.flight",
})


def common_config(config: Mapping[str, Any] | None) -> dict[str, Any]:
    """``config`` without the properties only consumers or only producers use (for admin clients)."""
    return _only(config, _CONSUMER_ONLY | _PRODUCER_ONLY)


def _only(config: Mapping[str, Any] | None, drop: frozenset[str]) -> dict[str, Any]:
    return {k: v for k, v in (config or {}).items() if k not in drop}


@dataclass(slots=True)
class LiveRecord:
    """One consumed record: where it came from, and its bytes.

    Not frozen: one is made per consumed record, and a frozen dataclass's ``__init__`` (one
    ``object.__setattr__`` per field) costs about four times as much. Nothing modifies it."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None


def live_records(messages: Sequence[Any], doing: str) -> list[LiveRecord]:
    """The records among consumed ``messages``; a fatal error is raised (``doing`` names the
    work in its message), transient ones are skipped (librdkafka retries them)."""
    records = []
    for m in messages:
        error = m.error()
        if error is not None:
            if error.fatal():
                raise KafkaConnectorError(f"{doing} failed: {error.str()}")
            continue
        records.append(LiveRecord(m.topic(), m.partition(), m.offset(), m.key(), m.value()))
    return records


def close_quietly(consumer: Any) -> None:
    """Close a consumer that may be closed already or broken: nothing is left to report."""
    try:
        consumer.close()
    except (KafkaException, RuntimeError):
        pass


class KafkaSource:
    """A group consumer over ``topics`` with manual commits and assignment callbacks.

    ``on_assign(partitions) -> {partition: offset or None}``: where each newly assigned
    partition starts (None: the ``start`` policy: ``earliest``, ``latest`` or ``committed``,
    which falls back to earliest). ``on_revoke(partitions)`` runs before partitions go away
    ``on_lost(partitions)`` (default ``on_revoke``) runs when the group took them away already
    (session timed out): committing would fail, and another member may own them now.
    """

    def __init__(
        self,
        bootstrap: str | None,
        group: str,
        topics: Sequence[str],
        *,
        config: Mapping[str, Any] | None = None,
        start: str = "committed",
        on_assign: Callable[[list[Partition]], Mapping[Partition, int | None]],
        on_revoke: Callable[[list[Partition]], None],
        on_lost: Callable[[list[Partition]], None] | None = None,
    ) -> None:
        if start not in START_POLICIES:
            raise ValueError(f"start must be one of {', '.join(START_POLICIES)}")
        self._start = START_POLICIES[start]
        self._on_assign = on_assign
        self._on_revoke = on_revoke
        self._on_lost = on_lost or on_revoke
        settings = {**_only(config, _PRODUCER_ONLY), "enable.auto.offset.store": False}
        self._consumer = make_consumer(bootstrap, group, settings)
        # The rebalance protocol follows from the assignors (librdkafka requires all of them to
        # be of one kind); confluent-kafka has no call to ask the consumer.
        self._cooperative = "cooperative-sticky" in str(settings.get("partition.assignment.strategy", ""))
        self._closed = False
        try:
            self._consumer.subscribe(list(topics), on_assign=self._assigned, on_revoke=self._revoked,
                                     on_lost=self._lost)
        except KafkaException as exc:
            raise KafkaConnectorError(f"cannot subscribe to {', '.join(topics)}: {exc.args[0].str()}") from exc

    def _assigned(self, consumer: Any, partitions: list[Any]) -> None:
        wanted = [(p.topic, p.partition) for p in partitions]
        offsets = self._on_assign(wanted) if wanted else {}
        targets = []
        for tp in partitions:
            offset = offsets.get((tp.topic, tp.partition))
            targets.append(TopicPartition(tp.topic, tp.partition, self._start if offset is None else offset))
        if self._cooperative:
            consumer.incremental_assign(targets)
        else:
            consumer.assign(targets)

    def _revoked(self, consumer: Any, partitions: list[Any]) -> None:
        self._give_up(consumer, partitions, self._on_revoke)

    def _lost(self, consumer: Any, partitions: list[Any]) -> None:
        self._give_up(consumer, partitions, self._on_lost)

    def _give_up(self, consumer: Any, partitions: list[Any], callback: Callable[[list[Partition]], None]) -> None:
        """Tell the caller, then unassign — also when the caller raises (to stop the run), so the
        group is not left waiting on this member's rebalance."""
        gone = [(p.topic, p.partition) for p in partitions]
        try:
            if gone and not self._closed:
                callback(gone)
        finally:
            if self._cooperative:
                consumer.incremental_unassign(partitions)
            else:
                consumer.unassign()

    def poll(self, max_records: int, timeout: float) -> list[LiveRecord]:
        """Up to ``max_records`` records (fewer after ``timeout`` seconds); broker-side errors
        on single partitions are raised as :class:`KafkaConnectorError` when fatal, else
        skipped (librdkafka retries them)."""
        try:
            messages = self._consumer.consume(max_records, timeout)
        except KafkaException as exc:
            raise KafkaConnectorError(f"consuming failed: {exc.args[0].str()}") from exc
        return live_records(messages, "consuming")

    def commit(self, offsets: Mapping[Partition, int]) -> None:
        """Commit ``offsets`` (next offsets to read) synchronously."""
        if not offsets:
            return
        targets = [TopicPartition(t, p, o) for (t, p), o in offsets.items()]
        try:
            self._consumer.commit(offsets=targets, asynchronous=False)
        except KafkaException as exc:
            raise KafkaConnectorError(f"committing offsets failed: {exc.args[0].str()}") from exc

    def close(self) -> None:
        """Leave the group without calling ``on_revoke`` (the caller has checkpointed)."""
        if self._closed:
            return
        self._closed = True
        close_quietly(self._consumer)


class KafkaSink:
    """A producer that counts delivery reports; :meth:`flush` proves delivery."""

    def __init__(self, bootstrap: str | None, config: Mapping[str, Any] | None = None) -> None:
        self._producer = make_producer(bootstrap, _only(config, _CONSUMER_ONLY))
        self.sent = 0
        self.delivered = 0
        self.failed = 0
        self.first_error: str | None = None

    def _on_delivery(self, error: Any, message: Any) -> None:
        if error is None:
            self.delivered += 1
        else:
            self.failed += 1
            if self.first_error is None:
                self.first_error = f"{message.topic()}: {error.str()}"

    def send(self, topic: str, value: bytes, key: bytes | None = None,
             headers: Iterable[tuple[str, bytes]] = (), timestamp: int | None = None) -> None:
        """Queue one record; ``timestamp`` (epoch ms) is its Kafka timestamp (default: now)."""
        while True:
            try:
                self._producer.produce(topic, value, key, headers=list(headers) or None,
                                       on_delivery=self._on_delivery, timestamp=timestamp or 0)
                break
            except BufferError:  # the local queue is full: let deliveries drain it
                self._producer.poll(0.05)
            except KafkaException as exc:
                raise KafkaConnectorError(f"cannot produce to {topic}: {exc.args[0].str()}") from exc
        self.sent += 1

    def poll(self) -> None:
        """Serve delivery reports without waiting."""
        self._producer.poll(0)

    def flush(self, timeout: float = 30.0) -> None:
        """Wait until every record sent so far is confirmed; raise if any failed or timed out."""
        deadline = time.monotonic() + timeout
        remaining = self._producer.flush(timeout)
        while remaining and time.monotonic() < deadline:
            remaining = self._producer.flush(max(deadline - time.monotonic(), 0.0))
        if self.failed:
            raise KafkaConnectorError(f"{self.failed} output record(s) were not delivered: {self.first_error}")
        if remaining:
            raise KafkaConnectorError(f"{remaining} output record(s) not confirmed within {timeout:g} s")
