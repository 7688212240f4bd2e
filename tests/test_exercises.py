"""Every chapter's exercises, their checks, the chapters' exercise cells and the instructor
guide agree with each other."""

from __future__ import annotations

import re
from pathlib import Path

import jupytext
import pytest

import ptheory.exercises as ex

from exercisetools import (
    CHAPTERS,
    GUIDE,
    KINDS,
    chapter_exercises,
    gated_solution_cells,
    guide_rows,
)

IDS = [c.stem for c in CHAPTERS]


def _rows_by_label():
    rows = guide_rows()
    labels = [r.label for r in rows]
    assert len(labels) == len(set(labels)), "the instructor guide lists an exercise twice"
    return {r.label: r for r in rows}


def test_guide_lists_every_exercise_once() -> None:
    in_chapters = {label for c in CHAPTERS for label, _ in chapter_exercises(c)}
    assert GUIDE.is_file()
    listed = set(_rows_by_label())
    assert listed == in_chapters, (
        f"in chapters, not in the guide: {sorted(in_chapters - listed)}; "
        f"in the guide, not in chapters: {sorted(listed - in_chapters)}"
    )


@pytest.mark.parametrize("chapter", CHAPTERS, ids=IDS)
def test_chapter_has_three_kinds_of_exercise(chapter: Path) -> None:
    exercises = chapter_exercises(chapter)
    assert len(exercises) >= 3, f"{chapter.name} has {len(exercises)} exercises"
    assert all(label for label, _ in exercises), f"{chapter.name}: an exercise has no label"
    rows = _rows_by_label()
    kinds = [rows[label].kind for label, _ in exercises]
    assert set(kinds) <= set(KINDS), kinds
    for kind in KINDS:
        assert kind in kinds, f"{chapter.name} has no {kind} exercise"
    for label, _ in exercises:
        row = rows[label]
        assert 5 <= row.minutes <= 90, f"{label}: {row.minutes} min"
        if row.kind == "coding":
            assert row.check, f"{label} is a coding exercise without a check"


@pytest.mark.parametrize("chapter", CHAPTERS, ids=IDS)
def test_checks_are_named_and_wired(chapter: Path) -> None:
    """Every checked exercise is called by its one name: ``ex.check("<label>", answer)``
    in its exercise cell and in its gated solution; its quick check is registered for the
    chapter and its grader in the instructor's package."""
    from ptheory_grading import graders

    rows = _rows_by_label()
    code = [c for c in jupytext.read(chapter).cells if c.cell_type == "code"]
    solutions = gated_solution_cells(chapter)
    for label, _ in chapter_exercises(chapter):
        name = rows[label].check
        if name is None:
            continue
        assert name == "graded", f"{label}: the guide's check column says {name!r}, not graded"
        registered = ex.exercises().get(label)
        assert registered is not None, f"{label}: no quick check registered"
        assert registered.chapter == chapter.stem, (label, registered.chapter)
        assert label in graders(), f"{label}: no grader in ptheory_grading"
        call = re.compile(rf"\bex\.check\(\"{re.escape(label)}\", answer\)")
        stubs = [c for c in code if "exercise" in c.metadata.get("tags", [])]
        stub = [c for c in stubs if call.search(c.source)]
        assert len(stub) == 1, f"{label}: want one exercise cell calling its check on answer"
        assert re.search(r"^answer = \.\.\.", stub[0].source, re.M), (
            f"{label}: the exercise cell must start the reader at `answer = ...`"
        )
        assert label in solutions, f"{label} has a check but no gated solution"
        tagged = [c for c in solutions[label] if "solution" in c.metadata.get("tags", [])]
        assert any(call.search(c.source) for c in tagged), (
            f"{label}: no solution cell (tag `solution`) runs its check on answer"
        )
        assert len(tagged) == len(solutions[label]), f"{label}: untagged code cell in solution"


def test_every_graded_exercise_is_listed_in_the_guide() -> None:
    """The guide's graded rows are exactly the registered exercises."""
    listed = {r.label for r in guide_rows() if r.check == "graded"}
    registered = set(ex.exercises())
    assert registered == listed, (
        f"registered, not graded in the guide: {sorted(registered - listed)}; "
        f"graded in the guide, not registered: {sorted(listed - registered)}"
    )
    assert not [n for n in ex.__all__ if n.startswith("check_")]


def test_no_solution_cell_outside_a_gated_solution() -> None:
    for chapter in CHAPTERS:
        cells = jupytext.read(chapter).cells
        tagged = [c for c in cells if "solution" in c.metadata.get("tags", [])]
        inside = [c for span in gated_solution_cells(chapter).values() for c in span]
        assert len(tagged) == len(inside), (
            f"{chapter.name}: a `solution` cell outside solution-start/end, or an untagged "
            "code cell inside one"
        )
