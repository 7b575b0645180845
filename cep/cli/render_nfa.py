"""Draw explained NFAs (:class:`cep.cli.explain.PatternView`): a rich tree, Graphviz DOT or Mermaid.

The tree is for people at a terminal (``rich`` lives here and in :mod:`cep.cli.render` only);
DOT and Mermaid are text for other tools, so every label goes through an escaper that knows
that tool's quoting rules. Node names are built from the pattern's position and the state id
(``p0_s2``), never from user text, so only labels need escaping.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from rich.console import Console, Group
from rich.text import Text
from rich.tree import Tree

if TYPE_CHECKING:
    from cep.cli.explain import EdgeView, PatternView, StateView

__all__ = ["print_tree", "tree_of", "to_dot", "to_mermaid", "dot_string", "mermaid_string"]

_ACTION_STYLE = {"take": "green", "ignore": "yellow", "proceed": "cyan"}


# --------------------------------------------------------------------------- rich tree


def print_tree(views: list["PatternView"]) -> None:
    """Print each pattern's settings and state tree to stdout (width from the terminal or COLUMNS)."""
    console = Console(file=sys.stdout, highlight=False)
    for index, view in enumerate(views):
        if index:
            console.print()
        console.print(tree_of(view))


def tree_of(view: "PatternView") -> Group:
    width = max((len(name) for name, _ in view.header), default=0) + 2
    settings = Text("\n").join(
        Text.assemble((name.ljust(width), "dim"), value) for name, value in view.header
    )
    if not view.states:
        return Group(Text(f"pattern {view.name}", style="bold"), settings, Text(view.note, style="italic"))
    states = Tree(Text("states", style="bold"), guide_style="dim")
    for state in view.states:
        branch = states.add(_state_label(state))
        for edge in state.edges:
            branch.add(_edge_label(edge))
    return Group(Text(f"pattern {view.name}", style="bold"), settings, states)


def _state_label(state: "StateView") -> Text:
    label = Text()
    label.append(f"{state.id} ", style="bold")
    label.append(state.name, style="bold magenta" if not state.final else "bold")
    marks = [m for m, on in (("start", state.start), ("final", state.final)) if on]
    if marks:
        label.append(f"  ({', '.join(marks)})", style="dim")
    return label


def _edge_label(edge: "EdgeView") -> Text:
    label = Text()
    label.append(edge.action, style=_ACTION_STYLE.get(edge.action, ""))
    label.append(f" -> {edge.target} {edge.target_name}")
    if edge.condition != "true":
        label.append("  when ", style="dim")
        label.append(edge.condition)
    else:
        label.append("  always", style="dim")
    return label


# --------------------------------------------------------------------------- Graphviz DOT

_DOT_EDGE_STYLE = {"take": "solid", "ignore": "dashed", "proceed": "dotted"}


def dot_string(text: str) -> str:
    """A DOT double-quoted string holding ``text`` literally (label escapes like \\n disarmed)."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\r", "").replace("\n", "\\n")
    return f'"{escaped}"'


def _dot_label(*lines: str, left: bool = False) -> str:
    """A multi-line label: each line escaped, then joined with DOT's own line breaks."""
    escaped = [dot_string(line)[1:-1] for line in lines]
    if left:
        return '"' + "".join(line + "\\l" for line in escaped) + '"'
    return '"' + "\\n".join(escaped) + '"'


def to_dot(views: list["PatternView"]) -> str:
    """One digraph with a cluster per pattern; the cluster's label is the pattern's header."""
    out = ["digraph cep {", "  rankdir=LR;", '  node [shape=circle, fontname="Helvetica"];',
           '  edge [fontname="Helvetica", fontsize=10];']
    for index, view in enumerate(views):
        p = f"p{index}"
        header = [f"pattern {view.name}", *(f"{name}: {value}" for name, value in view.header)]
        out.append(f"  subgraph cluster_{index} {{")
        out.append(f"    label={_dot_label(*header, left=True)};")
        out.append("    labeljust=l;")
        if not view.states:
            out.append(f"    {p}_note [shape=box, label={_dot_label(view.note)}];")
            out.append("  }")
            continue
        out.append(f"    {p}_start [shape=point, label=\"\"];")
        for state in view.states:
            shape = ", shape=doublecircle" if state.final else ""
            out.append(f"    {p}_s{state.id} [label={_dot_label(str(state.id), state.name)}{shape}];")
        start = next((s for s in view.states if s.start), None)
        if start is not None:
            out.append(f"    {p}_start -> {p}_s{start.id};")
        for state in view.states:
            for edge in state.edges:
                lines = (edge.action,) if edge.condition == "true" else (edge.action, edge.condition)
                label = _dot_label(*lines)
                style = _DOT_EDGE_STYLE.get(edge.action, "solid")
                out.append(f"    {p}_s{state.id} -> {p}_s{edge.target} [label={label}, style={style}];")
        out.append("  }")
    out.append("}")
    return "\n".join(out) + "\n"


# --------------------------------------------------------------------------- Mermaid

_MERMAID_ARROW = {"take": "-->", "ignore": "-.->", "proceed": "==>"}
# Mermaid reads `#name;` / `#123;` as character codes inside labels; `#` itself goes first.
_MERMAID_CODES = (("#", "#35;"), ('"', "#quot;"), ("<", "#lt;"), (">", "#gt;"), ("|", "#124;"), ("`", "#96;"))


def mermaid_string(text: str) -> str:
    """A Mermaid double-quoted label holding ``text`` (quotes, ``#``, ``<>``, ``|`` as codes)."""
    for raw, code in _MERMAID_CODES:
        text = text.replace(raw, code)
    return '"' + " ".join(text.split()) + '"'


def to_mermaid(views: list["PatternView"]) -> str:
    """A Mermaid flowchart: one subgraph per pattern, its header as ``%%`` comment lines."""
    out = ["flowchart LR"]
    for index, view in enumerate(views):
        p = f"p{index}"
        out.append(f"  %% pattern {_comment(view.name)}")
        out.extend(f"  %%   {name}: {_comment(value)}" for name, value in view.header)
        out.append(f"  subgraph {p}[{mermaid_string('pattern ' + view.name)}]")
        out.append("    direction LR")
        if not view.states:
            out.append(f"    {p}_note[{mermaid_string(view.note)}]")
        for state in view.states:
            text = f"{state.id}: {state.name}" + (" (start)" if state.start else "")
            node = mermaid_string(text)
            shape = f"((({node})))" if state.final else (f"([{node}])" if state.start else f"[{node}]")
            out.append(f"    {p}_s{state.id}{shape}")
        for state in view.states:
            for edge in state.edges:
                text = edge.action if edge.condition == "true" else f"{edge.action}: {edge.condition}"
                arrow = _MERMAID_ARROW.get(edge.action, "-->")
                out.append(f"    {p}_s{state.id} {arrow}|{mermaid_string(text)}| {p}_s{edge.target}")
        out.append("  end")
    return "\n".join(out) + "\n"


def _comment(text: str) -> str:
    return " ".join(text.split())
