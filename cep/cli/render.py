"""Everything the terminal shows: the one module that imports ``rich``.

Progress goes to stderr so stdout stays clean for alerts; a table is only drawn when stdout is
a terminal (piped output gets JSON lines).
"""

from __future__ import annotations

import sys
from typing import Any, Iterable

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from cep.errors import PatternError
from cep.match import Match

stderr = Console(stderr=True, highlight=False, soft_wrap=True)  # never break a caret line


def stdout_is_terminal() -> bool:
    return sys.stdout.isatty()


def print_pattern_error(error: PatternError) -> None:
    for diagnostic in error.diagnostics:
        stderr.print(diagnostic.format(), markup=False)
        stderr.print()
    count = len(error.diagnostics)
    stderr.print(f"[bold red]{count} problem{'s' if count != 1 else ''} found[/]")


def print_error(message: str) -> None:
    stderr.print(f"[bold red]error:[/] {message}", highlight=False)


class ReplayProgress:
    """A progress bar over bytes when the size is known, else a running count of lines."""

    def __init__(self, label: str, total_bytes: int | None, enabled: bool) -> None:
        self.enabled = enabled and stderr.is_terminal
        if total_bytes is not None:
            columns: list[Any] = [
                TextColumn("{task.description}"),
                BarColumn(),
                TaskProgressColumn(),
                DownloadColumn(),
                TransferSpeedColumn(),
                TimeRemainingColumn(),
            ]
        else:
            columns = [TextColumn("{task.description}"), MofNCompleteColumn(), TimeElapsedColumn()]
        self._progress = Progress(*columns, console=stderr, transient=True, disable=not self.enabled)
        self._task = self._progress.add_task(label, total=total_bytes)
        self._by_bytes = total_bytes is not None

    def __enter__(self) -> "ReplayProgress":
        self._progress.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._progress.__exit__(*exc)

    def update(self, bytes_read: int, lines: int) -> None:
        if self.enabled:
            self._progress.update(self._task, completed=bytes_read if self._by_bytes else lines)


def print_matches_table(matches: Iterable[Match]) -> None:
    rows = list(matches)
    console = Console()
    if not rows:
        console.print("[dim]no alerts[/]")
        return
    # Matches and timeouts of a pattern are shown apart: a timeout is a partial match that
    # expired, not an alert of the same kind.
    by_pattern: dict[tuple[str, bool], list[Match]] = {}
    for m in rows:
        by_pattern.setdefault((m.pattern, m.timeout), []).append(m)
    for (pattern, timeout), items in sorted(by_pattern.items(), key=lambda kv: kv[0][1]):
        fields = list(dict.fromkeys(name for m in items for name in m.fields))
        noun = "timeout" if timeout else "alert"
        title = f"{pattern}: {len(items)} {noun}{'s' if len(items) != 1 else ''}"
        table = Table(title=title, title_justify="left", title_style="yellow" if timeout else None)
        # Values wrap rather than being cut with an ellipsis: a truncated time or id is useless.
        table.add_column("key", style="bold", overflow="fold")
        table.add_column("time", overflow="fold")
        for name in fields:
            table.add_column(name, overflow="fold")
        for m in items:
            table.add_row(_cell(m.key), _cell(m.time_value), *(_cell(m.fields.get(n)) for n in fields))
        console.print(table)


def _cell(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, tuple):
        return ", ".join(map(str, value))
    return str(value)


def print_summary(stats: dict[str, Any]) -> None:
    parts = [
        f"events [bold]{stats['events']:,}[/]",
        f"alerts [bold green]{stats['alerts']:,}[/]",
        f"late [bold yellow]{stats['late']:,}[/]",
        f"dead-lettered [bold red]{stats['dead_lettered']:,}[/]",
        f"{stats['events_per_second']:,.0f} events/s",
    ]
    stderr.print(" · ".join(parts))
    for note in stats.get("notes", ()):
        stderr.print(f"[dim]{note}[/]")
