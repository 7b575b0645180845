"""``cep explain``: show the NFA a pattern compiles to.

The command builds a plain description of each compiled pattern (:class:`PatternView`: a header
of settings, then the states in the order a run meets them) and hands it to
:mod:`cep.cli.render_nfa`, which draws it as a tree, Graphviz DOT or Mermaid. State ids are the
compiler's own (it numbers states in a fixed order), and edges keep the compiler's order, so the
output is the same on every run.

Only the chosen patterns are checked and compiled, so one unsupported pattern does not stop
another in the same file from being explained; explaining the unsupported pattern itself fails
with its diagnostics (exit 2). A window pattern has no NFA: its settings are shown with a note.
"""

from __future__ import annotations

import argparse
import difflib
import re
from collections import deque
from dataclasses import dataclass, replace
from pathlib import Path

from cep.lang.load import read_pattern_file
from cep.cli.replay import UsageError
from cep.errors import PatternError
from cep.lang import ast
from cep.lang.checks import check
from cep.lang.compiler import CompiledPattern, compile_file
from cep.lang.parser import parse
from cep.lang.printer import format_expr, format_sequence
from cep.nfa.spec import Condition
from cep.nfa.states import NFA, State

HELP = "show the compiled NFA of a pattern"

FORMATS = ("tree", "dot", "mermaid")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", metavar="FILE", help="a pattern file (.cep)")
    parser.add_argument("--pattern", "-p", metavar="NAME", help="explain only this pattern (default: all)")
    parser.add_argument("--format", "-f", choices=FORMATS, default="tree", help="output format (default: tree)")


@dataclass(frozen=True, slots=True)
class EdgeView:
    action: str  # take, ignore or proceed
    target: int
    target_name: str
    condition: str  # "true" when the edge has no condition


@dataclass(frozen=True, slots=True)
class StateView:
    id: int
    name: str  # the pattern variable; "end" for the final state
    start: bool
    final: bool
    edges: tuple[EdgeView, ...]


@dataclass(frozen=True, slots=True)
class PatternView:
    name: str
    header: tuple[tuple[str, str], ...]  # (setting, value), in a fixed order
    states: tuple[StateView, ...]  # from the start state, breadth first; () for a window pattern
    note: str = ""  # said instead of the states when there is no NFA


def run(args: argparse.Namespace) -> int:
    from cep.cli import render_nfa  # rich is only needed once there is something to draw

    path = Path(args.file)
    if not path.is_file():
        raise UsageError(f"{args.file}: no such file")
    text = read_pattern_file(path)
    views = [describe(p, text) for p in load_patterns(text, str(path), args.pattern)]
    if args.format == "dot":
        print(render_nfa.to_dot(views), end="")
    elif args.format == "mermaid":
        print(render_nfa.to_mermaid(views), end="")
    else:
        render_nfa.print_tree(views)
    return 0


def load_patterns(text: str, path: str, only: str | None) -> list[CompiledPattern]:
    """Parse, check and compile the patterns to explain; PatternError lists their problems."""
    file = parse(text, path)
    chosen = file.patterns
    if only is not None:
        chosen = tuple(p for p in file.patterns if p.name == only)
        if not chosen:
            names = [p.name for p in file.patterns]
            close = difflib.get_close_matches(only, names, n=1)
            hint = f"did you mean `{close[0]}`? " if close else ""
            have = ", ".join(names) or "none"
            raise UsageError(f"{path} has no pattern named `{only}`; {hint}it has: {have}")
    if not chosen:
        raise UsageError(f"{path} has no patterns to explain")
    subset = replace(file, patterns=chosen, tests=())
    problems = [d for d in check(subset) if d.severity == "error"]
    if problems:
        raise PatternError(problems)
    return compile_file(subset)


# --------------------------------------------------------------------------- the view


def describe(pattern: CompiledPattern, source: str = "") -> PatternView:
    """What to draw for one compiled pattern; ``source`` is its file's text (for define texts)."""
    if pattern.nfa is None:
        return PatternView(pattern.name, _window_header(pattern), (), "a window pattern: no NFA; "
                           "events are aggregated per window and `having` is tested when a window closes")
    texts = _define_texts(pattern.source, source)
    states = _reachable(pattern.nfa)
    views = tuple(
        StateView(
            id=s.id,
            name=_state_name(s),
            start=s is pattern.nfa.start,
            final=s.is_final,
            edges=tuple(
                EdgeView(e.action.name.lower(), e.target.id, _state_name(e.target),
                         condition_text(e.condition, texts))
                for e in s.edges
            ),
        )
        for s in states
    )
    return PatternView(pattern.name, _header(pattern), views)


def _state_name(state: State) -> str:
    return "end" if state.is_final else state.name


def _reachable(nfa: NFA) -> list[State]:
    """States breadth first from the start, edges in order; unreachable ones (none today) last."""
    seen: dict[int, State] = {}
    queue = deque([nfa.start])
    while queue:
        state = queue.popleft()
        if state.id in seen:
            continue
        seen[state.id] = state
        queue.extend(e.target for e in state.edges)
    return [*seen.values(), *(s for s in nfa.states if s.id not in seen)]


def _define_texts(pattern: ast.Pattern | None, source: str) -> dict[str, str]:
    """Each define's condition as the user wrote it (canonical text when it spans lines).

    Keyed by the texts the compiler may have put in the NFA's conditions: its placeholder
    ``VAR as ...`` and the canonical text of the expression.
    """
    if pattern is None:
        return {}
    out: dict[str, str] = {}
    for define in pattern.defines:
        span = define.condition.span
        written = source[span.start : span.end] if source and span.end > span.start else ""
        canonical = format_expr(define.condition)
        shown = written if written and "\n" not in written else canonical
        out[f"{define.var} as ..."] = shown
        out.setdefault(canonical, shown)
    return out


def condition_text(condition: Condition | None, defines: dict[str, str]) -> str:
    """The text of an edge's condition (its define as written, or its negation)."""
    if condition is None:
        return "true"
    text = condition.text
    if text in defines:
        return defines[text]
    negated = re.fullmatch(r"not \((.*)\)", text)
    if negated and negated.group(1) in defines:
        return f"not ({defines[negated.group(1)]})"
    return re.sub(r"\b\w+ as \.\.\.", lambda m: defines.get(m.group(0), m.group(0)), text)


def _header(pattern: CompiledPattern) -> tuple[tuple[str, str], ...]:
    p = pattern.source
    nfa = pattern.nfa
    assert nfa is not None
    rows = _common_rows(pattern)
    if p is not None and p.match is not None:
        rows.insert(len(rows) - 2, ("match", format_sequence(p.match.sequence)))
    within = p.match.within if p is not None and p.match is not None else None
    rows.append(("within", (within.text or f"{within.millis}ms") if within is not None else "unbounded"))
    skip = nfa.skip.kind.value + (f" {nfa.skip.var}" if nfa.skip.var else "")
    rows.append(("skip", skip))
    return tuple(rows)


def _window_header(pattern: CompiledPattern) -> tuple[tuple[str, str], ...]:
    p = pattern.source
    rows = _common_rows(pattern)
    window = p.window if p is not None else None
    if window is not None:
        rows.insert(len(rows) - 2, ("window", _window_text(window)))
    if p is not None and p.having is not None:
        rows.append(("having", format_expr(p.having)))
    return tuple(rows)


def _window_text(w: ast.Window) -> str:
    def size(d: ast.Duration | None) -> str:
        return "?" if d is None else (d.text or f"{d.millis}ms")

    if w.kind == "count":
        return f"count {w.count}" + (f" every {w.count_every}" if w.count_every is not None else "")
    if w.kind == "sliding":
        return f"sliding {size(w.size)} every {size(w.every)}"
    return f"{w.kind} {size(w.size)}"


def _common_rows(pattern: CompiledPattern) -> list[tuple[str, str]]:
    """from, key and time: what sequence and window patterns share."""
    p = pattern.source
    rows: list[tuple[str, str]] = []
    if p is not None and p.description is not None:
        rows.append(("about", p.description))
    where = f" where {format_expr(p.source.where)}" if p is not None and p.source.where is not None else ""
    rows.append(("from", pattern.stream + where))
    rows.append(("key", ", ".join(pattern.key_names) or "none (all events together)"))
    if p is not None and p.time is not None:
        t = p.time
        unit = f" ({t.unit})" if t.unit != "auto" else ""
        lateness = (t.lateness.text or f"{t.lateness.millis}ms") if t.lateness is not None else "0ms"
        rows.append(("time", f"{format_expr(t.field)}{unit}, lateness {lateness}"))
    else:
        rows.append(("time", "arrival order (no time clause)"))
    return rows
