"""The ``cep`` command: argument parsing and exit codes.

Exit codes: 0 success; 2 usage or pattern error (the diagnostics are printed); 1 runtime
failure (an input cannot be read, a snapshot cannot be restored, ...).
"""

from __future__ import annotations

import argparse
import importlib
import signal
import sys
from types import ModuleType

from cep.cli import render
from cep.cli.replay import UsageError
from cep.errors import CepError, PatternError

EXIT_OK = 0
EXIT_RUNTIME = 1
EXIT_USAGE = 2


# Each command is a module of cep.cli with HELP (one line), add_arguments(parser) and
# run(args) -> exit code. The module is imported only when its command runs, so `cep replay`
# does not pay for the imports of `cep explain`.
COMMANDS: dict[str, str] = {
    "replay": "replay historical logs through pattern files",
    "check": "check pattern files and list every problem",
    "fmt": "rewrite pattern files in canonical layout",
    "explain": "show the compiled NFA of a pattern",
    "test": "run the test blocks of pattern files",
    "produce": "load a log into a Kafka topic",
    "run": "detect patterns live on Kafka topics",
}


def _command_module(name: str) -> ModuleType | None:
    module_name = "test_command" if name == "test" else name
    try:
        return importlib.import_module(f"cep.cli.{module_name}")
    except ModuleNotFoundError as exc:
        if exc.name == f"cep.cli.{module_name}":
            return None  # a command not shipped in this build
        raise


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cep",
        description="Complex event processing: detect patterns in event streams.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, help_text in COMMANDS.items():
        sub = commands.add_parser(name, help=help_text, description=help_text[0].upper() + help_text[1:] + ".")
        if only is None or name == only:
            module = _command_module(name)
            if module is not None:
                module.add_arguments(sub)
    return parser


class Terminated(Exception):
    """SIGTERM arrived: unwind like Ctrl-C, so outputs are flushed and closed whole."""


def _on_sigterm(signum: int, frame: object) -> None:
    raise Terminated()


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    first = next((a for a in argv if not a.startswith("-")), None)
    parser = build_parser(first if first in COMMANDS else None)
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
    module = _command_module(args.command)
    if module is None:
        parser.error(f"the {args.command} command is not available in this build")
    try:
        return int(module.run(args))
    except PatternError as exc:
        render.print_pattern_error(exc)
        return EXIT_USAGE
    except UsageError as exc:
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


if __name__ == "__main__":
    sys.exit(main())
