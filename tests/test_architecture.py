"""The layering rules of the project, checked on the source: dependencies point one way
(lang -> nfa -> stream/state), and the heavy edges stay at the edges."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "cep"


def imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def modules(*folders: str) -> list[Path]:
    return sorted(p for folder in folders for p in (PACKAGE / folder).rglob("*.py"))


@pytest.mark.parametrize(
    ("folders", "forbidden"),
    [
        (("stream", "state"), ("cep.nfa", "cep.lang", "cep.cli", "cep.connectors", "cep.detector")),
        (("nfa",), ("cep.lang", "cep.cli", "cep.connectors", "cep.detector")),
        (("lang",), ("cep.cli", "cep.connectors", "cep.detector")),
        (("connectors",), ("cep.cli",)),
        (("live",), ("cep.cli", "cep.connectors")),
    ],
)
def test_dependencies_point_one_way(folders, forbidden):
    offenders = [
        f"{path.relative_to(PACKAGE)} imports {name}"
        for path in modules(*folders)
        for name in imports(path)
        if name.startswith(forbidden)
    ]
    assert not offenders, offenders


@pytest.mark.parametrize(
    ("library", "allowed"),
    [
        ("rich", {"cli/render.py", "cli/render_nfa.py", "cli/render_tests.py"}),
        ("lark", {"lang/parser.py"}),
        ("confluent_kafka", {"connectors/kafka.py"}),
    ],
)
def test_edges_stay_at_the_edges(library, allowed):
    users = {
        str(path.relative_to(PACKAGE))
        for path in PACKAGE.rglob("*.py")
        if any(name == library or name.startswith(library + ".") for name in imports(path))
    }
    assert users <= allowed, users - allowed
