"""The ``cep`` command: argument parsing and exit codes.

Exit codes: 0 success; 2 usage or pattern error (the diagnostics are printed); 1 runtime
failure (an input cannot be read, a snapshot cannot be restored, ...).
"""

from __future__ import annotations

import argparse
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


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
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
    except KeyboardInterrupt:
        render.print_error("interrupted")
        return 130
    parser.error(f"unknown command {args.command}")
    return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
