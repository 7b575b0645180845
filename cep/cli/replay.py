"""``cep replay``: run pattern files over historical logs, with the same results as live.

Input lines that cannot be used go to the dead-letter output with their line number and the
reason; late events (older than the watermark) never reach a pattern and go to the late
output; the run always goes on. Alerts are written as JSON lines (to ``--output``, or to
stdout when it is not a terminal) or shown as a table on a terminal.
"""

from __future__ import annotations

import argparse
import gc
import os
import time
from dataclasses import dataclass
from cep.cli import render
from cep.connectors import InputRecord, JsonLinesWriter, dead_letter_record, open_input
from cep.detector import Detector
from cep.errors import CepError
from cep.lang.compiler import CompiledPattern
from cep.lang.load import load_files
from cep.match import Match
from cep.nfa.runtime import DEFAULT_MAX_PARTIAL_MATCHES

HELP = "replay historical logs through pattern files"


class UsageError(CepError):
    """The command line does not make sense (exit code 2)."""


@dataclass(frozen=True, slots=True)
class InputBinding:
    stream: str
    path: str


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("patterns", nargs="+", metavar="PATTERN_FILE", help="pattern files (.cep)")
    parser.add_argument(
        "--input",
        "-i",
        action="append",
        required=True,
        metavar="[STREAM=]PATH",
        help="a log to replay: JSON lines (.jsonl, .gz), CSV, or - for stdin; "
        "a bare PATH binds to the single stream the patterns read",
    )
    parser.add_argument("--output", "-o", metavar="PATH", help="write alerts as JSON lines here")
    parser.add_argument("--dead-letter", metavar="PATH", help="write unusable input lines here, with the reason")
    parser.add_argument("--late", metavar="PATH", help="write late events (behind the watermark) here")
    parser.add_argument("--format", choices=["jsonl", "csv"], help="input format when the extension does not tell")
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
    inputs = {os.path.realpath(spec.partition("=")[2] or spec) for spec in args.input}
    for flag, path in named:
        if os.path.realpath(path) in inputs:
            raise UsageError(f"{flag} {path} is also an input; it would be overwritten while being read")


def run(args: argparse.Namespace) -> int:
    check_outputs(args)
    patterns = load_files(args.patterns)
    if not patterns:
        raise UsageError("the pattern files hold no pattern")
    bindings = bind_inputs(args.input, patterns)
    unbound = sorted({p.stream for p in patterns} - {b.stream for b in bindings} - {p.name for p in patterns})

    table_rows: list[Match] = []
    to_table = args.output is None and render.stdout_is_terminal()
    alerts = None if to_table else JsonLinesWriter(args.output)
    dead = JsonLinesWriter(args.dead_letter) if args.dead_letter else None
    late = JsonLinesWriter(args.late) if args.late else None
    dead_count = 0
    lines = 0

    def on_match(match: Match) -> None:
        if alerts is None:
            table_rows.append(match)
        else:
            alerts.write(match.to_record())

    detector = Detector(patterns, on_match, max_partial_matches=args.max_partial_matches or None)
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
        for binding in bindings:
            read, dead_lettered = _replay_one(detector, binding, args, dead, late)
            lines += read
            dead_count += dead_lettered
        detector.finish()
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()
        for writer in (alerts, dead, late):
            if writer is not None:
                writer.close()
    elapsed = max(time.perf_counter() - started, 1e-9)

    if to_table:
        render.print_matches_table(table_rows)
    if not args.quiet:
        stats = detector.stats
        notes = [f"no --input for stream(s): {', '.join(unbound)}"] if unbound else []
        if stats.late and late is None:
            notes.append("late events were counted but not kept; use --late PATH to keep them")
        if stats.dropped:
            notes.append(f"{stats.dropped:,} partial matches were dropped by the per-key bound "
                         "(--max-partial-matches); a pattern may need `within` or a narrower condition")
        if dead_count and dead is None:
            notes.append("unusable lines were counted but not kept; use --dead-letter PATH to keep them")
        render.print_summary(
            {
                "events": lines,
                "alerts": stats.matches,
                "late": stats.late,
                "dead_lettered": dead_count,
                "events_per_second": lines / elapsed,
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
) -> tuple[int, int]:
    """Feed one input to the detector; returns (lines read, lines dead-lettered)."""
    dead_count = 0

    def on_error(line: int, raw: bytes | str, reason: str) -> None:
        nonlocal dead_count
        dead_count += 1
        if dead is not None:
            dead.write(dead_letter_record(InputRecord(line, raw, None, reason)))

    with open_input(binding.path, format=args.format) as source:
        label = "stdin" if binding.path == "-" else binding.path
        show = not (args.no_progress or args.quiet)
        with render.ReplayProgress(label, source.total_bytes, show) as progress:
            lines = source.pump(
                detector.batch_feeder(binding.stream),
                on_error,
                late.write if late is not None else None,
                progress.update,
            )
    return lines, dead_count
