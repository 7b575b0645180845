"""Every example in docs/language.md is real.

The doc's fenced blocks are tagged by what they are:

* ```` ```cep ````: a whole file that must parse, pass the checks (``cep.lang.check_source``) and
  compile (what ``cep replay`` does before running);
* ```` ```cep-error ````: a file cep must refuse with a :class:`~cep.errors.PatternError`, from the
  checks or the compiler. With the extra word ``not-yet`` (```` ```cep-error not-yet ````) every
  problem must be a "not yet supported" one, so the example shows only the unsupported construct.
  When a ```` ```text ```` block starting with ``docs/language.md:`` follows straight after, it is
  what cep says, and must be exactly the formatted diagnostics;
* ```` ```text ````: fragments and output, not checked here.

Any other tag on a block is a mistake in the doc (a misspelt tag would skip a check silently).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from cep.errors import PatternError
from cep.lang import check_source
from cep.lang.checks import NOT_YET
from cep.lang.load import compile_source

DOC = Path(__file__).resolve().parents[2] / "docs" / "language.md"
DOC_NAME = "docs/language.md"
KNOWN_TAGS = {"cep", "cep-error", "text"}

_FENCE = re.compile(r"^```([^\n`]*)\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)


@dataclass(frozen=True)
class Block:
    tag: str
    flags: tuple[str, ...]
    text: str
    line: int  # line of the opening fence in the doc
    said: str | None = None  # the ```text block right after a cep-error block, if it shows output

    @property
    def id(self) -> str:
        return f"{self.tag}@line{self.line}"


def _blocks() -> list[Block]:
    doc = DOC.read_text(encoding="utf-8")
    found: list[tuple[str, tuple[str, ...], str, int, int, int]] = []
    for m in _FENCE.finditer(doc):
        info = m.group(1).split()
        tag, flags = (info[0], tuple(info[1:])) if info else ("", ())
        found.append((tag, flags, m.group(2), doc.count("\n", 0, m.start()) + 1, m.start(), m.end()))
    blocks = []
    for i, (tag, flags, text, line, _start, end) in enumerate(found):
        said = None
        if tag == "cep-error" and i + 1 < len(found):
            next_tag, _, next_text, _, next_start, _ = found[i + 1]
            if next_tag == "text" and not doc[end:next_start].strip() and next_text.startswith(DOC_NAME + ":"):
                said = next_text
        blocks.append(Block(tag, flags, text, line, said))
    return blocks


BLOCKS = _blocks()


def _of(tag: str) -> list[Block]:
    return [b for b in BLOCKS if b.tag == tag]


def test_the_doc_has_examples_of_each_kind() -> None:
    assert len(_of("cep")) >= 10
    assert len([b for b in _of("cep-error") if b.said is not None]) >= 5


def test_every_block_has_a_known_tag() -> None:
    bad = [b.id for b in BLOCKS if b.tag not in KNOWN_TAGS]
    assert not bad, f"untagged or unknown code blocks in {DOC_NAME}: {bad}"
    flags = {f for b in BLOCKS for f in b.flags}
    assert flags <= {"not-yet"}, flags


@pytest.mark.parametrize("block", _of("cep"), ids=lambda b: b.id)
def test_cep_examples_parse_check_and_compile(block: Block) -> None:
    try:
        check_source(block.text, DOC_NAME)
        compile_source(block.text, DOC_NAME)
    except PatternError as exc:
        shown = "\n\n".join(d.format() for d in exc.diagnostics)
        pytest.fail(f"example at {DOC_NAME} line {block.line} is refused:\n{shown}")


@pytest.mark.parametrize("block", _of("cep-error"), ids=lambda b: b.id)
def test_cep_error_examples_are_refused(block: Block) -> None:
    with pytest.raises(PatternError) as raised:
        compile_source(block.text, DOC_NAME)
    diagnostics = raised.value.diagnostics
    assert diagnostics
    if "not-yet" in block.flags:
        # Caught by the checks themselves (check_source), and nothing else is wrong in the example.
        with pytest.raises(PatternError) as checked:
            check_source(block.text, DOC_NAME)
        messages = [d.message for d in checked.value.diagnostics]
        assert all(m.startswith(NOT_YET) for m in messages), messages
        assert "not yet supported" in str(checked.value)
    if block.said is not None:
        shown = "\n\n".join(d.format() for d in diagnostics)
        assert shown == block.said.rstrip("\n"), f"{DOC_NAME} line {block.line} shows another message"
