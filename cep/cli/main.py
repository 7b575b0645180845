"""The ``cep`` command: argument parsing and exit codes.

Exit codes: 0 success; 2 usage or pattern error (the diagnostics are printed); 1 runtime
failure (an input cannot be read, a snapshot cannot be restored, ...).
"""

from __future__ import annotations

import argparse
import signal
import sys

from cep.cli import render, replay
from cep.errors import CepError, PatternError

EXIT_OK = 0
EXIT_RUNTIME = 1
EXIT_USAGE = 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cep",
        description="Complex event processing: detect patterns in event streams.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    replay.add_arguments(
        commands.add_parser(
            "replay",
            help="replay historical logs through pattern files",
            description="Replay historical logs through pattern files, in event-time order.",
        )
    )
    return parser


class Terminated(Exception):
    """SIGTERM arrived: unwind like Ctrl-C, so outputs are flushed and closed whole."""


def _on_sigterm(signum: int, frame: object) -> None:
    raise Terminated()


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        previous = signal.signal(signal.SIGTERM, _on_sigterm)
    except ValueError:  # not the main thread (embedded use): leave signals alone
        previous = None
    try:
        return _dispatch(parser, args)
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _dispatch(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    try:
        if args.command == "replay":
            return replay.run(args)
    except PatternError as exc:
        render.print_pattern_error(exc)
        return EXIT_USAGE
    except replay.UsageError as exc:
        render.print_error(str(exc))
        return EXIT_USAGE
    except CepError as exc:
        render.print_error(str(exc))
        return EXIT_RUNTIME
    except OSError as exc:
        render.print_error(f"{exc.filename or ''}: {exc.strerror or exc}".lstrip(": "))
        return EXIT_RUNTIME
    except EOFError as exc:  # a truncated gzip file
        render.print_error(f"input ended unexpectedly: {exc}")
        return EXIT_RUNTIME
    except KeyboardInterrupt:
        render.print_error("interrupted; outputs hold every line written so far")
        return 130
    except Terminated:
        render.print_error("terminated; outputs hold every line written so far")
        return 143
    parser.error(f"unknown command {args.command}")
    return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
