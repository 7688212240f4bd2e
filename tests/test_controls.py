"""Every chapter shows that its checks can fail: cells tagged ``control``.

A control runs a chapter's check on a wrong answer (a constant prompt, another dataset's
bound, the trivial algorithm, a dropped hypothesis) and asserts that the check rejects it,
so that the build fails if a check ever stops discriminating (``shared/REVIEW.md``). The
chapters' execution (``test_chapters``) runs the controls; this file checks that they exist
and that each one asserts its outcome rather than only printing it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import jupytext
import pytest

from booktools import toc_chapters

CHAPTERS = toc_chapters()
CONTROL_TAG = "control"


def control_cells(chapter: Path) -> list[str]:
    """The sources of a chapter's code cells tagged ``control``."""
    nb = jupytext.read(chapter)
    return [
        c.source
        for c in nb.cells
        if c.cell_type == "code" and CONTROL_TAG in c.metadata.get("tags", [])
    ]


def _asserts(source: str) -> bool:
    """Whether the cell's Python (IPython magics dropped) contains an ``assert``, or adds a
    control row to a verdict table (``<table>.control(...)``), which raises when the
    wrong answer passes (``ptheory.verdicts``)."""
    code = "\n".join(
        line for line in source.splitlines() if not line.lstrip().startswith(("%", "!"))
    )
    return any(
        isinstance(node, ast.Assert)
        # ``t.control(...)``, or the method taken to be called (``add = t.control``)
        or (isinstance(node, ast.Attribute) and node.attr == "control")
        for node in ast.walk(ast.parse(code))
    )


@pytest.mark.parametrize("chapter", CHAPTERS, ids=[c.stem for c in CHAPTERS])
def test_chapter_has_a_control(chapter: Path) -> None:
    cells = control_cells(chapter)
    assert cells, f"{chapter.name} has no cell tagged {CONTROL_TAG!r}"
    silent = [c.splitlines()[0] for c in cells if not _asserts(c)]
    assert not silent, f"{chapter.name}: control cells that assert nothing: {silent}"


def test_asserts_detects_an_assert() -> None:
    # The detector itself must be able to fail.
    assert _asserts("x = 1\nassert x == 1")
    assert _asserts("checks = pt.Verdicts('t')\nchecks.control('wrong', 1.0, below=0.5)")
    assert not _asserts("%time x = 1\nprint('assert')")
    assert not _asserts("checks.claim('right', 0.1, below=0.5)\nprint('control')")
