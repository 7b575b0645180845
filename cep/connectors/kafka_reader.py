"""Read a topic's history once, from the start to its end, for ``cep replay --topic``.

:class:`TopicReader` assigns every partition of the topics directly (no group join, nothing
committed: replay leaves no trace on the cluster) and hands out batches of records until the
topics are exhausted.

**Where the end is.** A Kafka consumer normally learns the end of a partition from its high
watermark ("latest" offset), through partition-EOF events. Some Kafka-compatible brokers
answer that wrongly (Tansu does), and a replay that stops early silently drops alerts. So the
end is decided by time, not by offsets: the reader stops when no record at all has arrived for
``idle_end_ms`` (default 2 s) of polling. The clock starts when the partitions are assigned, so
a slow first fetch counts against the same limit. On a topic that is still being written to,
the replay therefore reads until the producers pause for that long; raise ``--idle-end`` for a
slow or distant cluster.

**Starting at a time.** With ``start_ms``, each partition is looked up with offsets-for-times
(the first offset whose *Kafka timestamp* is at or after ``start_ms``) and assigned there; a
failed lookup, or an answer of "no such record" (-1), starts at the beginning instead. This only
saves reading: the caller filters every record by its *event time* anyway, so a lookup that
answers too early (Tansu always answers 0) costs time but never changes the result. It is exact
when the Kafka timestamps are not earlier than the event times: ``cep produce --pattern`` stamps
records with their event time, and a producer's own clock stamps them after the event happened.
For a topic whose timestamps may be earlier than its events' times, pass ``seek=False``
(``--no-seek``).

Only :mod:`cep.connectors.kafka` imports ``confluent_kafka``; this module uses its helpers.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from cep.connectors.kafka import (
    KafkaConnectorError,
    KafkaException,
    TopicPartition,
    make_consumer,
    topic_partitions,
)
from cep.connectors.kafka_source import _PRODUCER_ONLY, LiveRecord, close_quietly, common_config, live_records

__all__ = ["DEFAULT_IDLE_END_MS", "ReaderStats", "TopicReader"]

DEFAULT_IDLE_END_MS = 2000
_OFFSET_BEGINNING = -2  # librdkafka's logical offset
_REPLAY_GROUP = "cep-replay"  # never joined, never committed: assign() needs a group.id only
# Properties a user's --kafka-config may hold for `cep run` that must not change a replay.
_IGNORED = frozenset({"group.id", "group.instance.id", "enable.auto.commit", "auto.offset.reset",
                      "enable.partition.eof"})


@dataclass(slots=True)
class ReaderStats:
    partitions: int = 0
    records: int = 0
    #: partitions that started later than the beginning thanks to offsets-for-times
    seeked: dict[tuple[str, int], int] = field(default_factory=dict)


class TopicReader:
    """Every record of ``topics`` (all partitions, each in offset order) in batches.

    Use as a context manager, or call :meth:`close`. Records of different partitions
    interleave as the broker delivers them.
    """

    def __init__(
        self,
        bootstrap: str | None,
        topics: Sequence[str],
        *,
        config: Mapping[str, Any] | None = None,
        start_ms: int | None = None,
        seek: bool = True,
        idle_end_ms: int = DEFAULT_IDLE_END_MS,
        lookup_timeout: float = 10.0,
    ) -> None:
        if idle_end_ms <= 0:
            raise ValueError("idle_end_ms must be positive")
        self.idle_end_ms = idle_end_ms
        self.stats = ReaderStats()
        partitions: list[tuple[str, int]] = []
        for topic in dict.fromkeys(topics):
            count = topic_partitions(bootstrap, topic, config=common_config(config), timeout=lookup_timeout)
            if count is None:
                raise KafkaConnectorError(f"topic {topic} does not exist")
            partitions += [(topic, p) for p in range(count)]
        settings = {k: v for k, v in (config or {}).items() if k not in _PRODUCER_ONLY and k not in _IGNORED}
        settings.update({"enable.auto.commit": False, "auto.offset.reset": "earliest",
                         "enable.partition.eof": False})
        self._consumer = make_consumer(bootstrap, _REPLAY_GROUP, settings)
        self._closed = False
        try:
            starts = self._start_offsets(partitions, start_ms, lookup_timeout) if seek and start_ms is not None else {}
            self._consumer.assign([TopicPartition(t, p, starts.get((t, p), _OFFSET_BEGINNING))
                                   for t, p in partitions])
        except KafkaException as exc:
            self.close()
            raise KafkaConnectorError(f"cannot read {', '.join(topics)}: {exc.args[0].str()}") from exc
        self.stats.partitions = len(partitions)
        self.stats.seeked = {tp: o for tp, o in starts.items() if o > 0}

    def _start_offsets(self, partitions: list[tuple[str, int]], start_ms: int,
                       timeout: float) -> dict[tuple[str, int], int]:
        """offsets-for-times; anything doubtful (an error, -1, a negative offset) is left out,
        so those partitions start at the beginning."""
        try:
            found = self._consumer.offsets_for_times([TopicPartition(t, p, start_ms) for t, p in partitions],
                                                     timeout=timeout)
        except (KafkaException, RuntimeError):
            return {}
        starts: dict[tuple[str, int], int] = {}
        for tp in found:
            if tp.error is None and tp.offset >= 0:
                starts[(tp.topic, tp.partition)] = tp.offset
        return starts

    def batches(self, max_records: int = 1000, poll_timeout: float = 0.1) -> Iterator[list[LiveRecord]]:
        """Batches of records until no record has come for ``idle_end_ms``."""
        consume = self._consumer.consume
        idle_end = self.idle_end_ms / 1000
        last = time.monotonic()
        while True:
            try:
                messages = consume(max_records, poll_timeout)
            except KafkaException as exc:
                raise KafkaConnectorError(f"reading failed: {exc.args[0].str()}") from exc
            if not messages:
                if time.monotonic() - last >= idle_end:
                    return
                continue
            last = time.monotonic()
            records = live_records(messages, "reading")
            if records:
                self.stats.records += len(records)
                yield records

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        close_quietly(self._consumer)

    def __enter__(self) -> TopicReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
