"""``cep produce``: load a log (JSON lines, gzip, CSV) into a Kafka topic, for demos and tests.

Each usable line becomes one record whose value is the line itself (JSON lines) or the row as a
JSON object (CSV). With ``--pattern``, the record key is the pattern's key value, JSON-encoded
(``"c0042"``, or ``["eu", 7]`` for a composite key), and the Kafka timestamp is the pattern's
time field in epoch milliseconds, so a consumer sees the same keys and times ``cep run`` will.
Lines that are not JSON objects, or lack the pattern's key or time, are skipped and counted.

The topic is created with ``--partitions`` partitions when it does not exist. Exit status: 0 when
every record was delivered, 1 when some were not or Kafka cannot be reached, 2 for a usage or
pattern error.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field
from typing import Iterator

import orjson

from cep.cli.replay import UsageError
from cep.connectors import InputSource, open_input
from cep.connectors.kafka import (
    ProducerRecord,
    create_topics,
    load_kafka_config,
    make_producer,
    produce_records,
    topic_partitions,
)
from cep.errors import EventError
from cep.lang.compiler import CompiledPattern
from cep.lang.load import load_files

HELP = "load a log into a Kafka topic"

_EXAMPLES = 3  # malformed lines shown in the summary


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", metavar="FILE", help="the log: JSON lines (.jsonl, .gz), CSV, or - for stdin")
    parser.add_argument("--topic", "-t", required=True, help="the topic to write to")
    parser.add_argument("--bootstrap-servers", "-b", metavar="HOST:PORT[,...]",
                        help="Kafka brokers (or bootstrap.servers in --kafka-config)")
    parser.add_argument("--pattern", "-p", metavar="PATTERN_FILE",
                        help="take each record's key and timestamp from this pattern's key and time fields")
    parser.add_argument("--kafka-config", metavar="FILE",
                        help="librdkafka properties (key=value lines), e.g. for SASL or TLS")
    parser.add_argument("--partitions", type=int, metavar="N",
                        help="partitions of the topic when it has to be created (default 4)")
    parser.add_argument("--format", choices=["jsonl", "csv"], help="input format when the extension does not tell")
    parser.add_argument("--quiet", "-q", action="store_true", help="no summary")


@dataclass(slots=True)
class _Skipped:
    """Malformed lines: how many, and the first few with their reason."""

    count: int = 0
    examples: list[tuple[int, str]] = field(default_factory=list)

    def add(self, line: int, reason: str) -> None:
        self.count += 1
        if len(self.examples) < _EXAMPLES:
            self.examples.append((line, reason))


def run(args: argparse.Namespace) -> int:
    if args.partitions is not None and args.partitions < 1:
        raise UsageError(f"--partitions {args.partitions}: a topic needs at least one partition")
    pattern = _pattern(args.pattern) if args.pattern else None
    config = load_kafka_config(args.kafka_config) if args.kafka_config else {}
    if not (args.bootstrap_servers or config.get("bootstrap.servers")):
        raise UsageError("say where Kafka is: --bootstrap-servers HOST:PORT (or bootstrap.servers in --kafka-config)")
    bootstrap = args.bootstrap_servers

    notes: list[str] = []
    skipped = _Skipped()
    with open_input(args.file, format=args.format) as source:  # a missing file fails before Kafka is touched
        partitions = topic_partitions(bootstrap, args.topic, config=config)
        if partitions is None:
            partitions = args.partitions or 4
            create_topics(bootstrap, [args.topic], partitions, config=config)
            notes.append(f"created topic {args.topic} with {partitions} partitions")
        elif args.partitions is not None and args.partitions != partitions:
            notes.append(f"topic {args.topic} already exists with {partitions} partitions; --partitions ignored")
        producer = make_producer(bootstrap, config)
        report = produce_records(producer, args.topic, _records(source, pattern, skipped))

    if not args.quiet:
        err = sys.stderr
        print(f"produced {report.delivered:,} record{'s' if report.delivered != 1 else ''} to {args.topic} "
              f"({partitions} partitions); skipped {skipped.count:,} malformed line"
              f"{'s' if skipped.count != 1 else ''}", file=err)
        for line, reason in skipped.examples:
            print(f"  line {line}: {reason}", file=err)
        if skipped.count > len(skipped.examples):
            print(f"  ... and {skipped.count - len(skipped.examples):,} more", file=err)
        for note in notes:
            print(note, file=err)
    if report.failed:
        print(f"error: {report.failed:,} of {report.sent:,} records were not delivered: {report.first_error}",
              file=sys.stderr)
        return 1
    return 0


def _pattern(path: str) -> CompiledPattern:
    """The pattern giving keys and times; every pattern in the file must agree on both."""
    patterns = load_files([path])
    if not patterns:
        raise UsageError(f"--pattern {path}: the file holds no pattern")
    first = patterns[0]
    for other in patterns[1:]:
        if (other.key_names, other.time_path) != (first.key_names, first.time_path):
            raise UsageError(
                f"--pattern {path}: patterns {first.name} and {other.name} have different key or time "
                "fields; put the pattern whose fields the records should carry in a file of its own"
            )
    return first


def _records(source: InputSource, pattern: CompiledPattern | None, skipped: _Skipped) -> Iterator[ProducerRecord]:
    """The records to send, one per usable line; malformed lines go to ``skipped``."""
    dumps = orjson.dumps
    key_of = pattern.key_of if pattern is not None and pattern.key_names else None
    time_of = pattern.time_of if pattern is not None else None
    for record in source:
        event = record.event
        if event is None:
            skipped.add(record.line, record.error or "unusable line")
            continue
        try:
            key = dumps(key_of(event)) if key_of is not None else None
            timestamp = time_of(event) if time_of is not None else None
        except EventError as exc:
            skipped.add(record.line, str(exc))
            continue
        value = record.raw if isinstance(record.raw, bytes) else dumps(event)
        yield ProducerRecord(value, key, timestamp)
