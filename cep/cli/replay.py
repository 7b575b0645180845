"""``cep replay``: run pattern files over historical logs, with the same results as live.

Input lines that cannot be used go to the dead-letter output with their line number and the
reason; late events (older than the watermark) never reach a pattern and go to the late
output; the run always goes on. Alerts are written as JSON lines (to ``--output``, or to
stdout when it is not a terminal) or shown as a table on a terminal. With ``--checkpoint-dir``
a replay of files checkpoints as it goes and resumes after a crash (:mod:`cep.cli.replay_resume`).
"""

from __future__ import annotations

import argparse
import gc
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cep.cli import render
from cep.connectors import InputRecord, JsonLinesWriter, dead_letter_record, open_input
from cep.detector import Detector, Stats
from cep.errors import CepError, EventError
from cep.lang.compiler import CompiledPattern
from cep.lang.load import load_files
from cep.match import Match
from cep.nfa.runtime import DEFAULT_MAX_PARTIAL_MATCHES
from cep.stream.timestamps import parse_timestamp

if TYPE_CHECKING:
    from cep.cli.replay_resume import ReplayCheckpoints

HELP = "replay historical logs through pattern files"


class UsageError(CepError):
    """The command line does not make sense (exit code 2)."""


@dataclass(frozen=True, slots=True)
class InputBinding:
    stream: str
    path: str


@dataclass(slots=True)
class Tally:
    """The summary's counters of a replay; a resumed replay starts from the checkpoint's."""

    events: int = 0
    dead_lettered: int = 0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("patterns", nargs="+", metavar="PATTERN_FILE", help="pattern files (.cep)")
    parser.add_argument(
        "--input",
        "-i",
        action="append",
        metavar="[STREAM=]PATH",
        help="a log to replay: JSON lines (.jsonl, .gz), CSV, or - for stdin; "
        "a bare PATH binds to the single stream the patterns read",
    )
    kafka = parser.add_argument_group("replaying Kafka topics (instead of --input)")
    kafka.add_argument("--topic", "-t", action="append", metavar="[STREAM=]TOPIC",
                       help="replay a topic's history (every partition, from the start until it has "
                       "been quiet for --idle-end); a bare TOPIC binds to the single stream the patterns read")
    kafka.add_argument("--bootstrap-servers", "-b", metavar="HOST:PORT[,...]",
                       help="Kafka brokers (or bootstrap.servers in --kafka-config)")
    kafka.add_argument("--kafka-config", metavar="FILE", help="librdkafka properties (key=value lines)")
    kafka.add_argument("--from", dest="from_time", type=_time_arg, metavar="TIME",
                       help="only events at or after TIME (ISO-8601 or epoch ms), by the pattern's time field")
    kafka.add_argument("--to", dest="to_time", type=_time_arg, metavar="TIME",
                       help="only events before TIME (ISO-8601 or epoch ms), by the pattern's time field")
    kafka.add_argument("--idle-end", type=_duration_arg, default=None, metavar="D",
                       help="the topics have ended when no record came for D (default 2s)")
    kafka.add_argument("--no-seek", action="store_true",
                       help="with --from, read from the start instead of seeking by Kafka timestamps "
                       "(for topics whose timestamps may be earlier than their events' times)")
    parser.add_argument("--output", "-o", metavar="PATH", help="write alerts as JSON lines here")
    parser.add_argument("--dead-letter", metavar="PATH", help="write unusable input lines here, with the reason")
    parser.add_argument("--late", metavar="PATH", help="write late events (behind the watermark) here")
    parser.add_argument("--format", choices=["jsonl", "csv"], help="input format when the extension does not tell")
    resume = parser.add_argument_group("checkpoints (files only)")
    resume.add_argument("--checkpoint-dir", metavar="DIR",
                        help="checkpoint the replay here as it goes; run the same command again after a crash "
                        "and it resumes, the output files ending up as if it had never stopped (needs --output)")
    resume.add_argument("--checkpoint-interval", type=_duration_arg, metavar="D",
                        help="checkpoint this often, in wall-clock time (default 5s; 0: after every batch)")
    resume.add_argument("--restart", action="store_true",
                        help="replay from the start even though the directory holds a checkpoint (of a "
                        "finished replay, or of other inputs or patterns)")
    resume.add_argument("--crash-after-events", type=int, help=argparse.SUPPRESS)  # test-only: SIGKILL itself
    parser.add_argument(
        "--max-partial-matches",
        type=int,
        default=DEFAULT_MAX_PARTIAL_MATCHES,
        metavar="N",
        help=f"per key, keep at most N live partial matches; the oldest are dropped and counted "
        f"(default {DEFAULT_MAX_PARTIAL_MATCHES}; 0 for no bound)",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress bar and no summary")


def _time_arg(text: str) -> int:
    try:
        return parse_timestamp(text.strip())
    except (EventError, ValueError) as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not a time: write ISO-8601 "
                                         f"(2024-01-01T00:00:00Z) or epoch milliseconds ({exc})") from None


def _duration_arg(text: str) -> int:
    from cep.cli.run import duration_ms  # the same durations as `cep run`

    return duration_ms(text)


def bind_inputs(specs: list[str], patterns: list[CompiledPattern]) -> list[InputBinding]:
    produced = {p.name for p in patterns}  # streams that are other patterns' outputs
    streams = list(dict.fromkeys(p.stream for p in patterns if p.stream not in produced))
    bindings: list[InputBinding] = []
    for spec in specs:
        stream, sep, path = spec.partition("=")
        if not sep or "/" in stream or stream.endswith((".jsonl", ".csv", ".gz")):
            if len(streams) != 1:
                raise UsageError(
                    f"--input {spec}: the patterns read {len(streams)} streams ({', '.join(streams)}); "
                    "say which one this file is, e.g. --input transactions=PATH"
                )
            stream, path = streams[0], spec
        if stream not in streams:
            raise UsageError(
                f"--input {spec}: no pattern reads stream '{stream}' (they read: {', '.join(streams)})"
            )
        bindings.append(InputBinding(stream, path))
    bound = [b.stream for b in bindings]
    twice = sorted({s for s in bound if bound.count(s) > 1})
    if twice:
        raise UsageError(f"stream(s) bound to more than one --input: {', '.join(twice)}")
    return bindings


def check_outputs(args: argparse.Namespace) -> None:
    """Two writers on one file would overwrite each other's lines."""
    named = [(flag, path) for flag, path in (("--output", args.output), ("--dead-letter", args.dead_letter),
                                              ("--late", args.late)) if path and path != "-"]
    seen: dict[str, str] = {}
    for flag, path in named:
        real = os.path.realpath(path)
        if real in seen:
            raise UsageError(f"{seen[real]} and {flag} name the same file {path}; give each its own file")
        seen[real] = flag
    inputs = {os.path.realpath(spec.partition("=")[2] or spec) for spec in args.input or ()}
    for flag, path in named:
        if os.path.realpath(path) in inputs:
            raise UsageError(f"{flag} {path} is also an input; it would be overwritten while being read")


def _check_sources(args: argparse.Namespace) -> None:
    if args.topic and args.input:
        raise UsageError("give either --input (files) or --topic (Kafka), not both")
    if not (args.topic or args.input):
        raise UsageError("say what to replay: --input PATH (a log) or --topic TOPIC (Kafka)")
    if not args.topic:
        used = [flag for flag, value in (("--from", args.from_time), ("--to", args.to_time),
                                         ("--bootstrap-servers", args.bootstrap_servers),
                                         ("--kafka-config", args.kafka_config), ("--idle-end", args.idle_end))
                if value is not None]
        if used or args.no_seek:
            raise UsageError(f"{(used or ['--no-seek'])[0]} is for replaying Kafka topics (--topic)")
    if args.from_time is not None and args.to_time is not None and args.from_time >= args.to_time:
        raise UsageError("--from must be before --to")
    if args.idle_end is not None and args.idle_end <= 0:
        raise UsageError("--idle-end needs a duration above zero")


def run(args: argparse.Namespace) -> int:
    _check_sources(args)
    check_outputs(args)
    if args.checkpoint_dir or args.restart or args.checkpoint_interval is not None:
        from cep.cli.replay_resume import check_arguments  # only checkpointed replays import it

        check_arguments(args)
    patterns = load_files(args.patterns)
    if not patterns:
        raise UsageError("the pattern files hold no pattern")
    bindings = bind_inputs(args.topic or args.input, patterns)
    topic_replay = None
    if args.topic:
        topic_replay = _TopicReplay(args, patterns, bindings)
    unbound = sorted({p.stream for p in patterns} - {b.stream for b in bindings} - {p.name for p in patterns})

    table_rows: list[Match] = []
    to_table = args.output is None and render.stdout_is_terminal()
    alerts: JsonLinesWriter | None = None

    def on_match(match: Match) -> None:
        if alerts is None:
            table_rows.append(match)
        else:
            alerts.write(match.to_record())

    detectors = []
    resume: ReplayCheckpoints | None = None
    if topic_replay is None:
        detector = Detector(patterns, on_match, max_partial_matches=args.max_partial_matches or None)
        detectors.append(detector)
        if args.checkpoint_dir:
            from cep.cli.replay_resume import ReplayCheckpoints

            # Restores the detector and cuts the outputs back when resuming, before they are opened.
            resume = ReplayCheckpoints.open(args, patterns, bindings, detector)
    append = resume is not None and resume.resumed is not None
    try:
        alerts = None if to_table else JsonLinesWriter(args.output, append=append)
        dead = JsonLinesWriter(args.dead_letter, append=append) if args.dead_letter else None
        late = JsonLinesWriter(args.late, append=append) if args.late else None
    except BaseException:
        if resume is not None:
            resume.close()
        raise
    tally = Tally()
    if resume is not None:
        resume.attach((alerts, dead, late))
        tally = resume.tally
    events_before = tally.events
    # Replay is a batch job: move everything built so far (modules, grammar, compiled patterns)
    # out of the collector's sight, so full collections only scan what the replay allocates.
    gc.freeze()
    # ... and collect less often: the engine's own structures (buffer nodes, runs, events) hold
    # no reference cycles, so reference counting frees them and the cyclic collector mostly
    # rescans young objects for nothing. Restored when the replay ends.
    thresholds = gc.get_threshold()
    gc.set_threshold(50_000, thresholds[1], thresholds[2])
    started = time.perf_counter()
    try:
        if topic_replay is not None:
            tally.events, tally.dead_lettered = topic_replay.run(on_match, dead, late)
            detectors = topic_replay.detectors()
        else:
            for index, binding in enumerate(bindings):
                if resume is None or not resume.is_done(index):
                    _replay_one(detector, binding, args, dead, late, tally, resume, index)
            detector.finish()
            if resume is not None:
                resume.finish()
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()
        try:
            for writer in (alerts, dead, late):
                if writer is not None:
                    writer.close()
        finally:
            if resume is not None:
                resume.close()
    elapsed = max(time.perf_counter() - started, 1e-9)

    if to_table:
        render.print_matches_table(table_rows)
    if not args.quiet:
        counts = [d.stats for d in detectors]
        stats = Stats(matches=sum(c.matches for c in counts), late=sum(c.late for c in counts),
                      dropped=sum(c.dropped for c in counts))
        flag = "--topic" if args.topic else "--input"
        notes = [f"no {flag} for stream(s): {', '.join(unbound)}"] if unbound else []
        if topic_replay is not None:
            notes += topic_replay.notes()
        if resume is not None:
            notes += resume.notes()
        if stats.late and late is None:
            notes.append("late events were counted but not kept; use --late PATH to keep them")
        if stats.dropped:
            notes.append(f"{stats.dropped:,} partial matches were dropped by the per-key bound "
                         "(--max-partial-matches); a pattern may need `within` or a narrower condition")
        if tally.dead_lettered and dead is None:
            notes.append("unusable lines were counted but not kept; use --dead-letter PATH to keep them")
        render.print_summary(
            {
                "events": tally.events,
                "alerts": stats.matches,
                "late": stats.late,
                "dead_lettered": tally.dead_lettered,
                "events_per_second": (tally.events - events_before) / elapsed,
                "notes": notes,
            }
        )
    return 0


def _replay_one(
    detector: Detector,
    binding: InputBinding,
    args: argparse.Namespace,
    dead: JsonLinesWriter | None,
    late: JsonLinesWriter | None,
    tally: Tally,
    resume: ReplayCheckpoints | None = None,
    index: int = 0,
) -> None:
    """Feed one input to the detector, counting its lines and dead letters in ``tally``.

    With ``resume`` the input starts where the checkpoint left it, and a checkpoint may be
    taken between two of the reader's batches; without, the progress bar is the only callback
    between batches, so the hot path is that of a plain replay.
    """

    def on_error(line: int, raw: bytes | str, reason: str) -> None:
        tally.dead_lettered += 1
        if dead is not None:
            dead.write(dead_letter_record(InputRecord(line, raw, None, reason)))

    start = resume.start_of(index) if resume is not None else None
    with open_input(binding.path, format=args.format, start=start) as source:
        label = "stdin" if binding.path == "-" else binding.path
        show = not (args.no_progress or args.quiet)
        with render.ReplayProgress(label, source.total_bytes, show) as progress:
            on_progress = progress.update if resume is None else resume.watch(index, source, progress.update)
            lines = source.pump(
                detector.batch_feeder(binding.stream),
                on_error,
                late.write if late is not None else None,
                on_progress,
            )
        tally.events += lines
        if resume is not None:
            resume.input_done(index, source.position)


class _TopicReplay:
    """``cep replay --topic``: one detector per source partition, as ``cep run`` has.

    Each partition is fed in offset order to its own detector, so its watermark is driven by its
    own events only: the results are those of the live run (plus ``finish()`` at the end), and
    they do not depend on how the broker interleaves partitions. Against ``cep replay`` of the
    file the topic was loaded from, alerts are the same whenever every late event of the file
    is also late within its own partition (see "Difference from cep replay" in docs/live.md).

    ``--from``/``--to`` keep the events whose time (the time field of the patterns reading the
    stream) is in ``[from, to)``; the filter is applied here to every record, the optional seek
    by Kafka timestamps only saves reading. Events whose time cannot be read are not filtered:
    the detector dead-letters them with the reason.
    """

    def __init__(self, args: argparse.Namespace, patterns: list[CompiledPattern],
                 bindings: list[InputBinding]) -> None:
        self.args = args
        self.patterns = patterns
        self.streams = {b.path: b.stream for b in bindings}  # topic -> stream
        self.low, self.high = args.from_time, args.to_time
        self.time_of: dict[str, Callable[[Any], int] | None] = {}
        for stream in set(self.streams.values()):
            timed = [p for p in patterns if p.stream == stream and p.time_of is not None]
            paths = {p.time_path for p in timed}
            if (self.low is not None or self.high is not None) and not timed:
                raise UsageError(f"--from/--to: no pattern reading stream '{stream}' has a time field")
            if len(paths) > 1:
                raise UsageError(f"--from/--to: the patterns reading stream '{stream}' use different time "
                                 f"fields ({', '.join('.'.join(p) for p in sorted(paths))}); replay them separately")
            self.time_of[stream] = timed[0].time_of if timed else None
        self._detectors: dict[tuple[str, int], tuple[Detector, Callable[..., Any]]] = {}
        self.filtered = 0
        self.seeked = 0

    def detectors(self) -> list[Detector]:
        return [d for d, _ in self._detectors.values()]

    def notes(self) -> list[str]:
        notes = []
        if self.filtered:
            notes.append(f"{self.filtered:,} events outside --from/--to were skipped")
        if self.seeked:
            notes.append(f"{self.seeked} partition(s) started past their beginning (offsets for --from)")
        return notes

    def run(self, on_match: Callable[[Match], None], dead: JsonLinesWriter | None,
            late: JsonLinesWriter | None) -> tuple[int, int]:
        """Read the topics to their end, feed, finish; returns (records read, dead-lettered)."""
        import orjson

        from cep.connectors.kafka import load_kafka_config
        from cep.connectors.kafka_reader import DEFAULT_IDLE_END_MS, TopicReader

        args = self.args
        config = load_kafka_config(args.kafka_config) if args.kafka_config else {}
        if not (args.bootstrap_servers or config.get("bootstrap.servers")):
            raise UsageError("say where Kafka is: --bootstrap-servers HOST:PORT (or bootstrap.servers in --kafka-config)")
        max_partial = args.max_partial_matches or None
        loads, decode_error = orjson.loads, orjson.JSONDecodeError
        low, high = self.low, self.high
        records = dead_count = 0

        def dead_letter(r: Any, reason: str) -> None:
            nonlocal dead_count
            dead_count += 1
            if dead is not None:
                raw = r.value.decode("utf-8", "replace") if r.value is not None else None
                dead.write({"topic": r.topic, "partition": r.partition, "offset": r.offset, "raw": raw,
                            "reason": reason})

        reader = TopicReader(args.bootstrap_servers, list(self.streams), config=config, start_ms=low,
                             seek=not args.no_seek, idle_end_ms=args.idle_end or DEFAULT_IDLE_END_MS)
        with reader:
            self.seeked = len(reader.stats.seeked)
            for batch in reader.batches():
                records += len(batch)
                groups: dict[tuple[str, int], list[Any]] = {}
                for r in batch:
                    groups.setdefault((r.topic, r.partition), []).append(r)
                for part, group in groups.items():
                    entry = self._detectors.get(part)
                    stream = self.streams[part[0]]
                    if entry is None:
                        detector = Detector(self.patterns, on_match, max_partial_matches=max_partial)
                        entry = self._detectors[part] = (detector, detector.batch_feeder(stream))
                    time_of = self.time_of[stream] if (low is not None or high is not None) else None
                    events: list[dict[str, Any]] = []
                    sources: list[Any] = []
                    for r in group:
                        if r.value is None:
                            dead_letter(r, "the record has no value")
                            continue
                        try:
                            event = loads(r.value)
                        except decode_error as exc:
                            dead_letter(r, f"invalid JSON: {exc}")
                            continue
                        if event.__class__ is not dict:
                            dead_letter(r, f"not a JSON object (got {type(event).__name__})")
                            continue
                        if time_of is not None:
                            try:
                                at = time_of(event)
                            except EventError:
                                at = None  # the detector dead-letters it with the reason
                            if at is not None and ((low is not None and at < low) or (high is not None and at >= high)):
                                self.filtered += 1
                                continue
                        events.append(event)
                        sources.append(r)
                    if events:
                        for index, reason in entry[1](events):
                            if reason is None:
                                if late is not None:
                                    late.write(events[index])
                            else:
                                dead_letter(sources[index], reason)
                for writer in (dead, late):
                    if writer is not None:
                        writer.flush()
        for part in sorted(self._detectors):
            self._detectors[part][0].finish()
        return records, dead_count
