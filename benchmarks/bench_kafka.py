"""End-to-end speed of ``cep run`` on Kafka, beside the raw consume rate of the same topic.

Starts its own broker (Tansu, through ``cep.testing.kafka_broker``), produces N transactions
(``small_then_big`` traffic, keyed by card, 4 partitions) and measures:

(a) **raw consume**: confluent-kafka alone, a plain consumer assigned to every partition from
    the beginning, reading all N records and parsing each value with ``orjson.loads``: the
    ceiling for anything written in Python on this client;
(b) **cep run**: the real command in a subprocess, from the topic to an output topic (with a
    checkpoint directory, the default 5 s checkpoint interval, and ``--max-events N`` so it stops
    by itself once everything is read). Its wall time includes interpreter start-up, the group
    join and the final checkpoint; to take those fixed costs out, the same command is also timed
    with ``--max-events 1`` and the rate is N / (T(N) - T(1)). Both figures are printed.

    python benchmarks/bench_kafka.py                 # 200,000 transactions, best of 3
    python benchmarks/bench_kafka.py --events 50000 --repeat 1

The broker runs on the same machine and shares its CPUs with the clients, so the numbers are
for this machine only; the ratio is the useful part.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson

from cep.connectors.kafka import (
    ProducerRecord,
    TopicPartition,
    create_topics,
    make_consumer,
    make_producer,
    produce_records,
)
from cep.testing.kafka_broker import FAST_GROUP_CONFIG, KafkaBroker

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from bench_replay import make_log  # (benchmarks/bench_replay.py: the same traffic)

PATTERN = HERE.parent / "patterns" / "small_then_big.cep"
PARTITIONS = 4


def produce(bootstrap: str, topic: str, log: Path) -> float:
    records = [ProducerRecord(line, orjson.dumps(orjson.loads(line)["card_id"]))
               for line in log.read_bytes().splitlines() if line]
    create_topics(bootstrap, [topic], PARTITIONS)
    producer = make_producer(bootstrap, {"linger.ms": 20, "batch.num.messages": 10000})
    started = time.perf_counter()
    report = produce_records(producer, topic, records)
    elapsed = time.perf_counter() - started
    if report.failed:
        raise SystemExit(f"producing failed: {report.first_error}")
    return len(records) / elapsed


def raw_consume(bootstrap: str, topic: str, count: int) -> tuple[float, int]:
    """Seconds to read and parse ``count`` records with a bare consumer; and the records read."""
    consumer = make_consumer(bootstrap, f"bench-raw-{os.getpid()}", {"enable.partition.eof": False})
    loads = orjson.loads
    read = 0
    started = time.perf_counter()
    consumer.assign([TopicPartition(topic, p, 0) for p in range(PARTITIONS)])
    deadline = time.monotonic() + 300
    while read < count and time.monotonic() < deadline:
        for message in consumer.consume(1000, 0.1):
            if message.error() is None:
                loads(message.value())
                read += 1
    elapsed = time.perf_counter() - started
    consumer.close()
    return elapsed, read


def cep_run(bootstrap: str, topic: str, events: int, config: Path, work: Path, tag: str) -> tuple[float, str]:
    """Wall seconds of one ``cep run`` that stops after ``events`` records; and its summary."""
    command = [sys.executable, "-m", "cep.cli.run", str(PATTERN), "-b", bootstrap, "--input", topic,
               "--output-topic", f"{topic}-alerts-{tag}", "--group", f"bench-{tag}-{os.getpid()}",
               "--checkpoint-dir", str(work / f"ckpt-{tag}"), "--kafka-config", str(config),
               "--max-events", str(events)]
    started = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, timeout=900, check=False)
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"cep run failed:\n{result.stderr}")
    return elapsed, result.stderr.strip().splitlines()[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each side; the best counts")
    args = parser.parse_args()
    n = args.events
    with tempfile.TemporaryDirectory() as tmp, KafkaBroker() as broker:
        work = Path(tmp)
        bootstrap = broker.bootstrap_servers
        log = work / "tx.jsonl"
        make_log(log, n)
        config = work / "kafka.properties"
        config.write_text("".join(f"{k}={v}\n" for k, v in FAST_GROUP_CONFIG.items()))
        topic = "bench-tx"
        produce_rate = produce(bootstrap, topic, log)
        print(f"{n:,} transactions produced to {topic} ({PARTITIONS} partitions) at {produce_rate:,.0f} records/s")

        # Best of --repeat, interleaved: the same read of the same topic takes 0.2 s or 1.3 s
        # from one run to the next on this broker (its fetch timing, whoever reads), which
        # would otherwise decide the ratio.
        raws, fixeds, runs = [], [], []
        for attempt in range(args.repeat):
            seconds, read = raw_consume(bootstrap, topic, n)
            if read < n:
                raise SystemExit(f"the raw consumer read only {read:,} of {n:,} records")
            raws.append(seconds)
            fixeds.append(cep_run(bootstrap, topic, 1, config, work, f"fixed{attempt}")[0])
            seconds, summary = cep_run(bootstrap, topic, n, config, work, f"full{attempt}")
            runs.append(seconds)
        raw_seconds, fixed_seconds, run_seconds = min(raws), min(fixeds), min(runs)
        print("seconds per run: raw " + " ".join(f"{x:.2f}" for x in raws) + " · cep run "
              + " ".join(f"{x:.2f}" for x in runs) + " · cep run (1 record) " + " ".join(f"{x:.2f}" for x in fixeds))

    raw = n / raw_seconds
    wall = n / run_seconds
    net = n / max(run_seconds - fixed_seconds, 1e-9)
    print(f"cep run summary: {summary}")
    print()
    print(f"{'':34}{'events/s':>12}{'vs raw':>10}")
    print(f"{'raw consume + JSON parse':34}{raw:>12,.0f}{1:>10.2f}")
    print(f"{'cep run, wall clock':34}{wall:>12,.0f}{wall / raw:>10.2f}")
    print(f"{'cep run, fixed costs taken out':34}{net:>12,.0f}{net / raw:>10.2f}")
    print(f"(fixed costs of cep run: start-up, group join, final checkpoint: {fixed_seconds:.2f} s)")


if __name__ == "__main__":
    main()
