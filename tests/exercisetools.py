"""What the exercise tests read: each chapter's exercises and the instructor guide's table."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import jupytext
import nbformat

from booktools import ROOT, editions, toc_chapters

GUIDE = ROOT / "book" / "instructor_guide.md"
KINDS = ("proof", "coding", "break")


@dataclass(frozen=True)
class GuideRow:
    label: str
    kind: str
    trains: str
    minutes: int
    check: str | None


def chapter_exercises(chapter: Path) -> list[tuple[str, str]]:
    """``(label, title)`` of every ``{exercise}`` of a chapter, in order."""
    found = []
    for cell in jupytext.read(chapter).cells:
        if cell.cell_type != "markdown":
            continue
        for block in editions._blocks(cell.source):
            if block.name == "exercise":
                labels = [
                    o.split(":", 2)[2].strip() for o in block.options if o.startswith(":label:")
                ]
                found.append((labels[0] if labels else "", block.argument))
    return found


def gated_solution_cells(chapter: Path) -> dict[str, list[nbformat.NotebookNode]]:
    """The code cells inside each ``{solution-start} <label>`` ... ``{solution-end}`` span."""
    spans: dict[str, list[nbformat.NotebookNode]] = {}
    current: str | None = None
    for cell in jupytext.read(chapter).cells:
        if cell.cell_type == "code":
            if current is not None:
                spans[current].append(cell)
            continue
        for block in editions._blocks(cell.source):
            if block.name == "solution-start":
                current = block.argument
                spans[current] = []
            elif block.name == "solution-end":
                current = None
    return spans


def solution_texts(chapter: Path) -> list[str]:
    """The text of every solution of a chapter: ``{solution}`` bodies and gated spans."""
    texts: list[str] = []
    gated: list[str] | None = None
    for cell in jupytext.read(chapter).cells:
        if cell.cell_type == "code":
            if gated is not None:
                gated.append(cell.source)
            continue
        for block in editions._blocks(cell.source):
            if block.name == "solution":
                texts.append("\n".join(block.body))
            elif block.name == "solution-start":
                gated = []
            elif block.name == "solution-end":
                texts.append("\n".join(gated or []))
                gated = None
            elif gated is not None:
                gated.extend(block.lines())
    return texts


def guide_rows() -> list[GuideRow]:
    """The rows of the instructor guide's exercise tables."""
    rows = []
    pattern = re.compile(
        r"^\|\s*\{ref\}`(?P<label>ex-[\w-]+)`\s*\|\s*(?P<kind>\w+)\s*\|\s*(?P<trains>[^|]+?)\s*"
        r"\|\s*(?P<minutes>\d+)\s*min\s*\|\s*(?P<check>[^|]+?)\s*\|\s*$"
    )
    for line in GUIDE.read_text().splitlines():
        if match := pattern.match(line):
            check = match["check"].strip("`")
            rows.append(
                GuideRow(
                    match["label"],
                    match["kind"],
                    match["trains"],
                    int(match["minutes"]),
                    None if check in ("—", "-", "") else check,
                )
            )
    return rows


CHAPTERS = toc_chapters()


def passes(feedback: object) -> None:
    """The check accepted the answer."""
    assert feedback.status == "correct", feedback.message
    assert feedback


def fails(feedback: object, *fragments: str, hidden: tuple[float, ...] = ()) -> None:
    """The check rejected the answer, saying ``fragments``, and showing none of ``hidden``
    (reference numbers, in any of the usual formats)."""
    assert feedback.status == "wrong", feedback.message
    assert not feedback
    for fragment in fragments:
        assert fragment in feedback.message, feedback.message
    for number in hidden:
        for text in (f"{number:g}", f"{number:.3g}", f"{number:.4g}", f"{number:.6g}"):
            assert text not in feedback.message, (text, feedback.message)
