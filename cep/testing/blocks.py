"""Running the ``test`` blocks of pattern files.

A test block is run on a fresh :class:`~cep.testing.Harness` over every pattern of its file
(buffered, as ``cep replay`` runs), step by step:

1. ``given STREAM`` feeds its events in order. A late event (behind the watermark) is dropped
   as in replay and listed in the failure report; an event the engine cannot use (no key, no
   readable time) fails the test, since in a test it is almost always a typo.
2. ``advance D`` moves event time D past the newest event time seen (or past the previous
   ``advance``): the watermark becomes ``now + D − 1 ms``, so every buffered event and timer
   before ``now + D`` is processed and an event stamped exactly ``now + D`` is still on time.
3. The input ends after the last ``given``/``advance``: the ``expect`` steps after it are
   checked after end of input (every buffered event processed, every timer fired).
4. Each ``expect NAME`` compares the records NAME emitted since the previous ``expect`` of
   NAME (or since the start), projected onto the fields each expected record names, in order.
   ``expect timeout NAME`` does the same for expired partial matches, and ``expect no NAME``
   says NAME emitted neither since its previous ``expect``. An ``expect`` placed before a later
   ``given`` therefore sees only what the engine had emitted at that point — with lateness,
   events newer than the watermark are still buffered; use ``advance`` to settle them.

Every failing ``expect`` of a block is reported, not only the first.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

from cep.errors import EventError
from cep.lang import ast
from cep.lang.checks import check_source
from cep.lang.compiler import CompiledPattern, compile_file
from cep.lang.load import read_pattern_file
from cep.match import Match
from cep.testing.compare import diff_records, records_equal, show
from cep.testing.harness import Harness

__all__ = ["TestResult", "TestFile", "run_file", "find_files"]


@dataclass(frozen=True, slots=True)
class TestResult:
    """The outcome of one test block; ``failures`` holds one text per failing step."""

    __test__ = False  # not a pytest test class

    file: str
    line: int
    name: str
    failures: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def passed(self) -> bool:
        return not self.failures

    @property
    def location(self) -> str:
        return f"{self.file}:{self.line}"

    @property
    def report(self) -> str:
        """The failure text: every failing step, then notes (late events); '' when passed."""
        if self.passed:
            return ""
        return "\n".join([*self.failures, *self.notes])


@dataclass(frozen=True)
class TestFile:
    """A checked, compiled pattern file and its test blocks."""

    __test__ = False

    path: str
    file: ast.File
    patterns: tuple[CompiledPattern, ...] = field(repr=False)

    @classmethod
    def from_source(cls, text: str, path: str = "<string>") -> "TestFile":
        """Parse, check and compile; raises PatternError listing every problem of the file."""
        parsed = check_source(text, path)
        return cls(path, parsed, tuple(compile_file(parsed)))

    @classmethod
    def load(cls, path: str | Path) -> "TestFile":
        return cls.from_source(read_pattern_file(path), str(path))

    @property
    def tests(self) -> tuple[ast.PatternTest, ...]:
        return self.file.tests

    def run(self, test: ast.PatternTest) -> TestResult:
        return _BlockRun(self, test).run()

    def run_all(self) -> list[TestResult]:
        return [self.run(t) for t in self.tests]


def run_file(path: str | Path) -> list[TestResult]:
    """Run every test block of one file; raises PatternError when the file has problems."""
    return TestFile.load(path).run_all()


def find_files(paths: Iterable[str | Path]) -> Iterator[Path]:
    """The ``.cep`` files named, and those under the folders named (recursively, sorted)."""
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            yield from sorted(p for p in path.rglob("*.cep") if p.is_file())
        elif path.exists():
            yield path
        else:
            raise FileNotFoundError(2, "no such file or folder", str(path))


class _BlockRun:
    def __init__(self, test_file: TestFile, test: ast.PatternTest) -> None:
        self.test_file = test_file
        self.test = test
        self.harness = Harness(test_file.patterns, path=test_file.path)
        self.sources = {p.name: p for p in test_file.file.patterns}
        # Per pattern, how many of its matches / timeouts earlier expects have consumed.
        self.seen: dict[tuple[str, bool], int] = {}
        self.failures: list[str] = []

    def run(self) -> TestResult:
        steps = self.test.steps
        last_input = max((i for i, s in enumerate(steps) if not isinstance(s, ast.Expect)), default=-1)
        if last_input == -1:
            self.harness.finish()
        for index, step in enumerate(steps):
            if isinstance(step, ast.Given):
                if not self._given(step):
                    break
            elif isinstance(step, ast.Advance):
                if not self._advance(step):
                    break
            else:
                self._expect(step)
            if index == last_input:
                self.harness.finish()
        notes = ()
        if self.harness.late:
            late = self.harness.late
            notes = (f"note: {len(late)} event{'s were' if len(late) != 1 else ' was'} late (at or behind the "
                     "watermark) and never reached a pattern:", *("    " + show(e) for e in late))
        return TestResult(self.test_file.path, self.test.span.line, self.test.name, tuple(self.failures), notes)

    def _given(self, step: ast.Given) -> bool:
        for number, event in enumerate(step.events, 1):
            try:
                self.harness.feed([event], stream=step.stream)
            except EventError as exc:
                reason = exc.__cause__ or exc
                self.failures.append(
                    f"given {step.stream} (line {step.span.line}), event {number}: the engine cannot use it: "
                    f"{reason}\n    {show(event)}")
                return False
        return True

    def _advance(self, step: ast.Advance) -> bool:
        if self.harness.now is None:
            timed = any(p.time_of is not None for p in self.harness.patterns)
            why = ("no event has been given yet, so there is no time to move on from" if timed else
                   "no pattern of the file has a `time` clause, so events only have arrival order")
            self.failures.append(f"advance {step.by.text or step.by.millis} (line {step.span.line}): {why}")
            return False
        self.harness.advance(by=step.by.millis)
        return True

    def _emitted(self, name: str, timeout: bool) -> list[Match]:
        mine = [m for m in self.harness.outputs if m.pattern == name and m.timeout == timeout]
        start = self.seen.get((name, timeout), 0)
        self.seen[(name, timeout)] = len(mine)
        return mine[start:]

    def _expect(self, step: ast.Expect) -> None:
        name, line = step.output, step.span.line
        if step.none:
            emitted = [m.to_record() for m in (*self._emitted(name, False), *self._emitted(name, True))]
            if emitted:
                self.failures.append("\n".join([
                    f"expect no {name} (line {line}): {_count(len(emitted))} emitted",
                    *("  " + d for d in diff_records([], emitted))]))
            return
        label = f"expect timeout {name}" if step.timeout else f"expect {name}"
        emitted = [m.to_record() for m in self._emitted(name, step.timeout)]
        expected = [dict(r) for r in step.records]
        if len(expected) == len(emitted) and all(map(records_equal, expected, emitted)):
            return
        head = f"{label} (line {line}): expected {_count(len(expected))}, emitted {len(emitted)}"
        source = self.sources.get(name)
        if step.timeout and source is not None and source.timeout_emit is None:
            head += f"\n  `{name}` emits no timeouts: it has no `on timeout emit` clause"
        self.failures.append("\n".join([head, *("  " + d for d in diff_records(expected, emitted))]))


def _count(n: int) -> str:
    return f"{n} record{'s' if n != 1 else ''}"
