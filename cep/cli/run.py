"""``cep run``: detect patterns live on Kafka topics, with checkpoints and crash recovery.

Records of the ``--input`` topics are read with a consumer group (offsets committed only after
a durable checkpoint), fed to one detector per source partition, and every alert is written to
``--output-topic`` as one JSON record, keyed by the match key, with the headers ``cep-pattern``
and ``cep-match-id``, and/or appended to the ``--output`` file as a JSON line (exactly-once with
``--checkpoint-dir``: its length is in every checkpoint, and on restart it is cut back to it;
with ``{topic}`` and ``{partition}`` in its name, one file per source partition, exactly-once
across processes; see :mod:`cep.live.outputs`). See docs/live.md for the design and the
delivery guarantees.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import socket
import string
import sys
import time
from typing import Any

import orjson

from cep.cli.replay import UsageError
from cep.connectors.kafka import create_topics, load_kafka_config, topic_partitions
from cep.connectors.kafka_source import START_POLICIES, KafkaSink, KafkaSource, common_config
from cep.errors import CepError
from cep.lang.compiler import CompiledPattern
from cep.lang.fingerprint import pattern_fingerprint
from cep.lang.load import load_files
from cep.live.engine import Alert, LiveEngine
from cep.live.outputs import PLACEHOLDERS, OutputRefused, PartitionFiles, SingleFile
from cep.nfa.runtime import DEFAULT_MAX_PARTIAL_MATCHES
from cep.state.store import DirectoryStore

HELP = "detect patterns live on Kafka topics"

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNIT_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, None: 1000}


def duration_ms(text: str) -> int:
    """``250ms``, ``10s``, ``1m``, ``2h``, ``1d``; a bare number is seconds."""
    found = _DURATION.match(text)
    if not found:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration: write 250ms, 10s, 1m, 2h, 1d")
    return int(float(found.group(1)) * _UNIT_MS[found.group(2)])


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("patterns", nargs="+", metavar="PATTERN_FILE", help="pattern files (.cep)")
    parser.add_argument("--bootstrap-servers", "-b", metavar="HOST:PORT[,...]",
                        help="Kafka brokers (or bootstrap.servers in --kafka-config)")
    parser.add_argument("--input", "-i", action="append", required=True, metavar="[STREAM=]TOPIC",
                        help="a topic to read; a bare TOPIC binds to the single stream the patterns read")
    parser.add_argument("--output-topic", "-o", metavar="TOPIC", help="where alerts go (a topic)")
    parser.add_argument("--output", metavar="PATH",
                        help="also (or instead) append alerts to this file as JSON lines; exactly-once "
                        "with --checkpoint-dir (cut back to its checkpointed length on restart); with "
                        "{topic} and {partition} in PATH, one file per source partition, exactly-once "
                        "across the processes of a group")
    parser.add_argument("--group", "-g", metavar="ID",
                        help="consumer group; processes with one group share the partitions "
                        "(default: cep-run- and the patterns' fingerprint)")
    parser.add_argument("--checkpoint-dir", metavar="DIR",
                        help="keep checkpoints here (shared by every process of the group); without it "
                        "nothing is committed and state is lost on restart")
    parser.add_argument("--checkpoint-interval", type=duration_ms, default=5000, metavar="D",
                        help="checkpoint this often (default 5s; 0: after every batch)")
    parser.add_argument("--checkpoints-kept", type=int, default=3, metavar="N",
                        help="checkpoints kept per partition (default 3)")
    parser.add_argument("--dead-letter-topic", metavar="TOPIC", help="unusable records go here, with the reason")
    parser.add_argument("--late-topic", metavar="TOPIC", help="late records (behind the watermark) go here")
    parser.add_argument("--match-id-field", metavar="NAME",
                        help="also put the match id into each alert under this field "
                        "(it is always in the cep-match-id header)")
    parser.add_argument("--kafka-config", metavar="FILE",
                        help="librdkafka properties (key=value lines) for every client, e.g. SASL or TLS")
    parser.add_argument("--start", choices=list(START_POLICIES), default="committed",
                        help="where a partition without checkpoint starts (default committed, "
                        "else earliest)")
    parser.add_argument("--idle-timeout", type=duration_ms, metavar="D",
                        help="a partition without data for D stops holding time back: its watermark "
                        "follows the other partitions'")
    parser.add_argument("--watermark", choices=["partition", "source"], default="partition",
                        help="what judges lateness and fires timers: each partition's own watermark (default), or "
                             "the minimum over the partitions this process owns, as Flink's Kafka source")
    parser.add_argument("--idle-advance", type=duration_ms, metavar="D",
                        help="when the whole input is quiet for D of wall-clock time, watermarks follow "
                        "the clock, so absences and windows fire on a quiet stream (off by default)")
    parser.add_argument("--max-partial-matches", type=int, default=DEFAULT_MAX_PARTIAL_MATCHES, metavar="N",
                        help=f"per key, keep at most N live partial matches (default "
                        f"{DEFAULT_MAX_PARTIAL_MATCHES}; 0 for no bound)")
    parser.add_argument("--max-events", type=int, metavar="N",
                        help="stop (checkpointing first) after N input records; for tests and demos")
    parser.add_argument("--quiet", "-q", action="store_true", help="no summary")
    # Test-only knobs.
    parser.add_argument("--batch-size", type=int, default=1000, help=argparse.SUPPRESS)
    parser.add_argument("--crash-after-events", type=int, help=argparse.SUPPRESS)


def bind_topics(specs: list[str], patterns: list[CompiledPattern]) -> dict[str, str]:
    """``--input`` values as ``{topic: stream}``."""
    produced = {p.name for p in patterns}
    streams = list(dict.fromkeys(p.stream for p in patterns if p.stream not in produced))
    topics: dict[str, str] = {}
    for spec in specs:
        stream, sep, topic = spec.partition("=")
        if not sep:
            if len(streams) != 1:
                raise UsageError(f"--input {spec}: the patterns read {len(streams)} streams "
                                 f"({', '.join(streams)}); say which one this topic is, e.g. --input "
                                 f"{streams[0] if streams else 'STREAM'}={spec}")
            stream, topic = streams[0], spec
        if stream not in streams:
            raise UsageError(f"--input {spec}: no pattern reads stream '{stream}' (they read: {', '.join(streams)})")
        if not topic:
            raise UsageError(f"--input {spec}: no topic")
        if topic in topics:
            raise UsageError(f"topic {topic} is bound to more than one stream; give each stream its own topic")
        topics[topic] = stream
    bound = list(topics.values())
    twice = sorted({s for s in bound if bound.count(s) > 1})
    if twice:
        raise UsageError(f"stream(s) bound to more than one --input: {', '.join(twice)}")
    return topics


def output_template(path: str, topics: list[str], checkpoint_dir: str | None) -> bool:
    """Whether ``--output`` names one file per source partition (``{topic}``, ``{partition}``);
    refuses templates that could not give each partition its own file, and unknown names."""
    try:
        names = {name for _, name, _, _ in string.Formatter().parse(path) if name is not None}
    except ValueError as exc:
        raise UsageError(f"--output {path}: {exc} (write {{{{ and }}}} for literal braces)") from None
    unknown = sorted(names - set(PLACEHOLDERS))
    if unknown:
        raise UsageError(f"--output {path}: unknown placeholder {{{unknown[0]}}}; the file name may use "
                         "{topic} and {partition} (one file per source partition)")
    if not names:
        return False
    if "partition" not in names:
        raise UsageError(f"--output {path}: {{topic}} needs {{partition}} too: each source partition "
                         "has its own file")
    if "topic" not in names and len(topics) > 1:
        raise UsageError(f"--output {path}: {len(topics)} input topics share partition numbers; put "
                         "{topic} in the file name too")
    if not checkpoint_dir:
        raise UsageError(f"--output {path}: one file per partition needs --checkpoint-dir, where each "
                         "file's length is recorded with its partition")
    return True


EXIT_SESSION_LOST = 75  # EX_TEMPFAIL: start again, recovery resumes from the last checkpoint


class SessionLost(CepError):
    """Partitions were lost while a single --output file holds their uncheckpointed alerts."""


def _writer_name() -> str:
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", socket.gethostname())[:40] or "host"
    return f"{name}-{os.getpid()}"


class _Stop:
    """First SIGTERM/SIGINT: stop after the batch; second: exit at once."""

    def __init__(self) -> None:
        self.requested = False
        self._previous: dict[int, Any] = {}

    def install(self) -> None:
        for sig in (signal.SIGTERM, signal.SIGINT):
            try:
                self._previous[sig] = signal.signal(sig, self._handle)
            except ValueError:  # not the main thread
                pass

    def restore(self) -> None:
        for sig, previous in self._previous.items():
            signal.signal(sig, previous)

    def _handle(self, signum: int, frame: object) -> None:
        if self.requested:
            os._exit(128 + signum)
        self.requested = True
        print("cep run: stopping after this batch (signal again to exit at once)", file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    patterns = load_files(args.patterns)
    if not patterns:
        raise UsageError("the pattern files hold no pattern")
    topics = bind_topics(args.input, patterns)
    config = load_kafka_config(args.kafka_config) if args.kafka_config else {}
    bootstrap = args.bootstrap_servers
    if not (bootstrap or config.get("bootstrap.servers")):
        raise UsageError("say where Kafka is: --bootstrap-servers HOST:PORT (or bootstrap.servers in --kafka-config)")
    if not (args.output_topic or args.output):
        raise UsageError("say where alerts go: --output-topic TOPIC and/or --output PATH")
    per_partition = bool(args.output) and output_template(args.output, list(topics), args.checkpoint_dir)
    outputs = [t for t in (args.output_topic, args.dead_letter_topic, args.late_topic) if t]
    clash = sorted(set(outputs) & set(topics))
    if clash:
        raise UsageError(f"topic {clash[0]} is both an input and an output; it would read its own alerts")
    for flag in ("checkpoint_interval", "idle_timeout", "idle_advance"):
        value = getattr(args, flag)
        if value is not None and value < 0:
            raise UsageError(f"--{flag.replace('_', '-')} cannot be negative")
    if args.idle_timeout == 0 or args.idle_advance == 0:
        raise UsageError("--idle-timeout and --idle-advance need a duration above zero")

    fingerprint = pattern_fingerprint(patterns)
    group = args.group or f"cep-run-{fingerprint.split(':')[-1][:12]}"
    for topic in topics:
        if topic_partitions(bootstrap, topic, config=common_config(config)) is None:
            raise UsageError(f"input topic {topic} does not exist")
    create_topics(bootstrap, list(dict.fromkeys(outputs)), config=common_config(config))

    store = None
    if args.checkpoint_dir:
        store = DirectoryStore(args.checkpoint_dir, keep=max(args.checkpoints_kept, 2),
                               writer=_writer_name(), fingerprint=fingerprint)
    files = _output_files(args.output, per_partition, store, fingerprint)
    sink = KafkaSink(bootstrap, config)
    output_topic, dead_topic, late_topic = args.output_topic, args.dead_letter_topic, args.late_topic
    id_field = args.match_id_field

    def on_alert(alert: Alert) -> None:
        value = alert.value
        if id_field:
            value = value[:-1] + b"," + orjson.dumps(id_field) + b":" + orjson.dumps(alert.match_id) + b"}"
        if files is not None:
            files.write(alert.source, value)
        if output_topic:
            sink.send(output_topic, value, alert.key,
                      (("cep-pattern", alert.pattern.encode()), ("cep-match-id", alert.match_id.encode())),
                      timestamp=alert.time)

    def flush() -> None:
        sink.flush()
        if files is not None:
            files.flush()

    def on_dead_letter(record: Any, value: bytes) -> None:
        if dead_topic:
            sink.send(dead_topic, value, record.key)

    def on_late(record: Any) -> None:
        if late_topic and record.value is not None:
            sink.send(late_topic, record.value, record.key)

    source: KafkaSource | None = None

    def commit(offsets: Any) -> None:
        assert source is not None
        source.commit(offsets)

    engine = LiveEngine(
        patterns, topics,
        on_alert=on_alert, on_dead_letter=on_dead_letter, on_late=on_late,
        flush=flush, commit=commit, store=store, fingerprint=fingerprint, outputs=files,
        idle_timeout_ms=args.idle_timeout, idle_advance_ms=args.idle_advance,
        source_watermark=args.watermark == "source",
        max_partial_matches=args.max_partial_matches or None,
    )
    def on_lost(partitions: list[tuple[str, int]]) -> None:
        engine.lose(partitions)
        if isinstance(files, SingleFile):
            raise SessionLost(
                f"this process missed its session timeout and lost {', '.join(f'{t}[{p}]' for t, p in partitions)}; "
                f"{args.output} holds their alerts since the last checkpoint, which another process or a "
                "later assignment writes again, and one file shared by every partition cannot take back just "
                "theirs, so the run stops here: start it again and it resumes exactly once from the checkpoint "
                "(with one file per partition, --output '...{topic}-{partition}...', a run keeps going)")

    stop = _Stop()
    stop.install()
    started = time.monotonic()
    try:
        source = KafkaSource(bootstrap, group, list(topics), config=config, start=args.start,
                             on_assign=engine.assign, on_revoke=engine.revoke, on_lost=on_lost)
        _loop(args, engine, source, sink, stop, files)
        engine.checkpoint(force=True)  # shutdown: flush, snapshot, save, commit
    except OutputRefused as exc:  # a partition's file, refused when the partition was assigned
        raise UsageError(str(exc)) from exc
    except SessionLost as exc:
        print(f"cep run: {exc}", file=sys.stderr)
        return EXIT_SESSION_LOST
    finally:
        stop.restore()
        if source is not None:
            source.close()
        if files is not None:
            files.close()
    sink.flush()
    if not args.quiet:
        s = engine.stats
        elapsed = max(time.monotonic() - started, 1e-9)
        print(f"records {s.records:,} · alerts {s.alerts:,} · late {s.late:,} · dead-lettered "
              f"{s.dead_lettered:,} · checkpoints {s.checkpoints:,} · {s.records / elapsed:,.0f} records/s",
              file=sys.stderr)
    return 0


def _output_files(path: str | None, per_partition: bool, store: DirectoryStore | None,
                  fingerprint: str) -> SingleFile | PartitionFiles | None:
    """The ``--output`` file(s); a single file is resumed at once, before anything is read."""
    if not path:
        return None

    def note(message: str) -> None:
        print(f"cep run: {message}", file=sys.stderr)

    if per_partition:
        assert store is not None  # output_template requires --checkpoint-dir
        return PartitionFiles(path, store, fingerprint, note)
    try:
        return SingleFile(path, store, fingerprint, note)
    except OutputRefused as exc:
        raise UsageError(str(exc)) from exc


def _loop(args: argparse.Namespace, engine: LiveEngine, source: KafkaSource, sink: KafkaSink, stop: _Stop,
          files: SingleFile | PartitionFiles | None = None) -> None:
    interval = args.checkpoint_interval / 1000
    last_checkpoint = time.monotonic()
    remaining = args.max_events
    crash_at = args.crash_after_events
    batch_size = max(args.batch_size, 1)
    while not stop.requested:
        want = batch_size if remaining is None else min(batch_size, remaining)
        records = source.poll(want, 0.1)
        if remaining is not None:
            records = records[:remaining]
            remaining -= len(records)
        engine.process(records)
        engine.tick()
        sink.poll()
        if files is not None:
            files.flush()  # whole lines, once per batch; fsynced at checkpoints
        if crash_at is not None and engine.stats.records >= crash_at:
            sink.flush()  # the alerts since the last checkpoint are out: a restart repeats them
            os.kill(os.getpid(), signal.SIGKILL)
        now = time.monotonic()
        if engine.dirty and now - last_checkpoint >= interval:
            engine.checkpoint()
            last_checkpoint = time.monotonic()
        if remaining is not None and remaining <= 0:
            break


if __name__ == "__main__":  # `python -m cep.cli.run ...`, the same as `cep run ...`
    from cep.cli import main as _main

    _main.COMMANDS.setdefault("run", HELP)
    sys.exit(_main.main(["run", *sys.argv[1:]]))
