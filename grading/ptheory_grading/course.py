"""A course built from the book: the course file, and nbgrader's source notebooks.

The instructor writes a small YAML file (``book/course_example.yml``)::

    course: prompt-tuning-2026          # nbgrader's course id
    cell_timeout: 120                   # seconds per cell when grading (optional)
    notebook_timeout: 900               # seconds per notebook when grading (optional)
    assignments:
      - name: week1-model
        due: 2026-10-05 23:59:00 UTC    # optional
        chapters:
          - chapter: prompt_tuning_model
            exercises:
              - {label: ex-model-logistic, points: 3}           # a proof: by hand
              - {label: ex-model-repeat, points: 2}             # graded automatically
              - {label: ex-model-break, points: 2, written: 2}  # code, and an explanation

Each exercise is named by its label, its one name in the book. An exercise with a grader
(``ptheory_grading.graders()``) is graded automatically, worth ``points``; ``written``
adds an answer cell graded by hand (a "break" exercise's explanation). An exercise
without a grader (a proof) is graded by hand, worth ``points``: in an answer cell, or,
for a coding exercise not yet moved to graded checks, in its code cell.

:func:`assignment_notebook` turns a chapter's course edition (``editions.course_notebook``)
into nbgrader's source notebook: a name cell at the top; for each chosen exercise the
book's solution between nbgrader's solution markers, then a locked test cell whose hidden
part records the answer (``ptheory.exercises.handin.submit``), or an answer cell graded
by hand; the solutions of the other exercises removed.
"""

from __future__ import annotations

import copy
import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat
import yaml

from ptheory.exercises import exercises

from ._core import graders

__all__ = [
    "Assignment",
    "ChapterWork",
    "Course",
    "CourseError",
    "ExerciseWork",
    "assignment_notebook",
    "load_course",
    "manifest",
    "restore_grading_cells",
]

KEY = "ptheory"  # the course edition's cell metadata (editions.COURSE_KEY)
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
WRITTEN = "-written"
"""Suffix of the grade id of an exercise's answer cell graded by hand."""


class CourseError(ValueError):
    """The course file asks for something the book does not have."""


@dataclass(frozen=True)
class ExerciseWork:
    label: str
    points: float
    written: float = 0.0
    auto: bool = True
    """Graded automatically (it has a grader); otherwise by hand."""

    @property
    def max_points(self) -> float:
        return self.points + self.written


@dataclass(frozen=True)
class ChapterWork:
    chapter: str
    exercises: tuple[ExerciseWork, ...]


@dataclass(frozen=True)
class Assignment:
    name: str
    chapters: tuple[ChapterWork, ...]
    due: str | None = None


@dataclass(frozen=True)
class Course:
    course_id: str
    assignments: tuple[Assignment, ...]
    cell_timeout: int = 120
    extra: dict[str, Any] = field(default_factory=dict)
    notebook_timeout: int = 900

    def exercise(self, label: str) -> ExerciseWork:
        for a in self.assignments:
            for c in a.chapters:
                for e in c.exercises:
                    if e.label == label:
                        return e
        raise KeyError(label)


def _number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise CourseError(f"{what} must be a number of points >= 0, got {value!r}")
    return float(value)


def _name(value: Any, what: str) -> str:
    if not isinstance(value, str) or not _NAME.match(value):
        raise CourseError(
            f"{what} must be a name of letters, digits, '-', '_' or '.', got {value!r}"
        )
    return value


_EXERCISE = re.compile(r"^[`:]{3,}\{exercise\}[^\n]*\n(?::[\w-]+:[^\n]*\n)*?:label:\s*(\S+)", re.M)


def chapter_labels(chapters: list[Path]) -> dict[str, set[str]]:
    """The exercise labels of each chapter source (``notebooks/<stem>.md``), by stem."""
    return {c.stem: set(_EXERCISE.findall(c.read_text())) for c in chapters}


def load_course(path: Path | str, chapters: dict[str, set[str]] | None = None) -> Course:
    """Read and check a course file. With ``chapters`` (each chapter's exercise labels,
    :func:`chapter_labels`), every chapter must be the book's and every label one of its
    chapter's exercises."""
    data = yaml.safe_load(Path(path).read_text())
    if not isinstance(data, dict):
        raise CourseError(f"{path}: a course file is a mapping (course:, assignments:)")
    course_id = _name(data.get("course"), "course")
    timeout = data.get("cell_timeout", 120)
    if isinstance(timeout, bool) or not isinstance(timeout, int) or timeout < 5:
        raise CourseError(f"cell_timeout must be a whole number of seconds >= 5, got {timeout!r}")
    budget = data.get("notebook_timeout", max(900, timeout))
    if isinstance(budget, bool) or not isinstance(budget, int) or budget < timeout:
        raise CourseError(
            f"notebook_timeout must be a whole number of seconds >= cell_timeout, got {budget!r}"
        )
    auto_labels = set(graders())
    assignments = []
    seen: set[str] = set()
    for raw in data.get("assignments") or []:
        name = _name(raw.get("name"), "an assignment's name")
        if name in {a.name for a in assignments}:
            raise CourseError(f"assignment {name} is listed twice")
        due = raw.get("due")
        if due is not None:
            due = str(due)
            try:
                dt.datetime.fromisoformat(due.replace(" UTC", "+00:00"))
            except ValueError:
                raise CourseError(f"{name}: due must read like 2026-10-05 23:59:00 UTC") from None
        parts = []
        for chapter in raw.get("chapters") or []:
            stem = _name(chapter.get("chapter"), "a chapter")
            if chapters is not None and stem not in chapters:
                raise CourseError(f"{name}: {stem} is not a chapter of the book")
            works = []
            for ex in chapter.get("exercises") or []:
                label = ex.get("label")
                if not isinstance(label, str) or not label.startswith("ex-"):
                    raise CourseError(f"{name}/{stem}: an exercise needs its label (ex-...)")
                if label in seen:
                    raise CourseError(f"{label} is assigned twice")
                seen.add(label)
                points = _number(ex.get("points"), f"{label}: points")
                written = _number(ex.get("written", 0), f"{label}: written")
                auto = label in auto_labels
                if not auto and written:
                    raise CourseError(
                        f"{label} is graded by hand: give it points, not written points"
                    )
                registered = exercises().get(label)
                known = chapters[stem] if chapters is not None else {label}
                if label not in known or (auto and getattr(registered, "chapter", "") != stem):
                    raise CourseError(f"{label} is not an exercise of {stem}")
                works.append(ExerciseWork(label, points, written, auto))
            if not works:
                raise CourseError(f"{name}/{stem}: no exercises")
            parts.append(ChapterWork(stem, tuple(works)))
        if not parts:
            raise CourseError(f"{name}: no chapters")
        assignments.append(Assignment(name, tuple(parts), due))
    if not assignments:
        raise CourseError(f"{path}: no assignments")
    known = ("course", "cell_timeout", "notebook_timeout", "assignments")
    extra = {k: v for k, v in data.items() if k not in known}
    return Course(course_id, tuple(assignments), timeout, extra, budget)


def manifest(course: Course) -> dict[str, Any]:
    """What grading needs to know of the course (``course.json``): the auto-graded labels,
    and every grade id with its exercise's label, assignment and chapter."""
    cells: dict[str, dict[str, str]] = {}
    for a in course.assignments:
        for c in a.chapters:
            for e in c.exercises:
                where = {"label": e.label, "assignment": a.name, "chapter": c.chapter}
                cells[e.label] = {**where, "part": "auto" if e.auto else "hand"}
                if e.written:
                    cells[e.label + WRITTEN] = {**where, "part": "written"}
    auto = sorted(label for label, cell in cells.items() if cell["part"] == "auto")
    return {"course": course.course_id, "auto": auto, "cells": cells}


# ------------------------------------------------------------------ notebooks
def _role(cell: nbformat.NotebookNode) -> tuple[str, str]:
    meta = cell.get("metadata", {}).get(KEY, {})
    return meta.get("role", ""), meta.get("label", "")


def _nbgrader(
    cell: nbformat.NotebookNode,
    grade_id: str,
    *,
    grade: bool = False,
    solution: bool = False,
    locked: bool = False,
    points: float = 0.0,
) -> nbformat.NotebookNode:
    meta = {
        "grade": grade,
        "grade_id": grade_id,
        "locked": locked,
        "schema_version": 3,
        "solution": solution,
        "task": False,
    }
    if grade:
        meta["points"] = points
    cell.metadata["nbgrader"] = meta
    if locked:
        cell.metadata["deletable"] = False
        cell.metadata["editable"] = False
    return cell


def _check_call(label: str) -> re.Pattern:
    return re.compile(rf"^\s*ex\.check\(\s*[\"']{re.escape(label)}[\"']\s*,\s*answer\s*\)\s*$")


def _points(value: float) -> str:
    return f"{value:g} point" + ("" if value == 1 else "s")


def hidden_test_source(label: str, points: float) -> str:
    """The source of an exercise's test cell (the hidden part records the answer)."""
    return (
        f"# Graded test of {label} ({_points(points)}): it records your `answer` above,\n"
        "# which is graded after you hand the notebook in. Leave this cell as it is.\n"
        "### BEGIN HIDDEN TESTS\n"
        "from ptheory.exercises.handin import submit\n\n"
        f'submit("{label}", answer)\n'
        "### END HIDDEN TESTS"
    )


def _answer_cell(label: str, grade_id: str, points: float, solution: str) -> Any:
    text = (
        f"**Your answer** to `{label}` ({_points(points)}, graded by hand): write it in "
        "this cell.\n\n### BEGIN SOLUTION\n"
        f"{solution.strip() or '(The book gives no written solution.)'}\n### END SOLUTION"
    )
    cell = nbformat.v4.new_markdown_cell(text)
    return _nbgrader(cell, grade_id, grade=True, solution=True, points=points)


def assignment_notebook(course_nb: nbformat.NotebookNode, work: ChapterWork) -> Any:
    """nbgrader's source notebook of one chapter of an assignment (see the module)."""
    chosen = {e.label: e for e in work.exercises}
    solutions: dict[str, dict[str, list[str]]] = {}
    stubs: dict[str, nbformat.NotebookNode] = {}
    statements: set[str] = set()
    for cell in course_nb.cells:
        role, label = _role(cell)
        if role == "solution":
            kind = "code" if cell.cell_type == "code" else "text"
            solutions.setdefault(label, {"code": [], "text": []})[kind].append(cell.source)
        elif role == "stub":
            stubs[label] = cell
        elif role == "exercise":
            statements.add(label)
    missing = sorted(set(chosen) - statements)
    if missing:
        raise CourseError(f"{work.chapter} has no exercise {missing}")
    for label, e in chosen.items():
        if e.auto and label not in stubs:
            raise CourseError(f"{label} has a grader but no exercise cell in {work.chapter}")
        if e.auto and not solutions.get(label, {}).get("code"):
            raise CourseError(f"{label}: the book has no solution code to put in the notebook")

    cells: list[nbformat.NotebookNode] = []
    for cell in course_nb.cells:
        role, label = _role(cell)
        cell = copy.deepcopy(cell)
        cell.metadata.pop(KEY, None)
        if role == "solution":
            continue
        e = chosen.get(label)
        if role == "setup":
            cells.append(_nbgrader(cell, "setup", locked=True))
        elif role == "exercise" and e is not None:
            if e.auto:
                how = f"{_points(e.points)}, graded when you hand the notebook in"
                if e.written:
                    how += f"; your explanation, {_points(e.written)}, by hand"
            else:
                how = f"{_points(e.points)}, graded by hand"
            cell.source += f"\n\n*`{label}`: {how}.*"
            cells.append(_nbgrader(cell, f"{label}-statement", locked=True))
            if not e.auto and label not in stubs:
                text = "\n\n".join(solutions.get(label, {}).get("text", []))
                cells.append(_answer_cell(label, label, e.points, text))
        elif role == "stub" and e is not None:
            code = solutions.get(label, {}).get("code", [])
            check = _check_call(label)
            body = [line for c in code for line in c.split("\n") if not check.match(line)]
            lines = cell.source.split("\n")
            head = [line for line in lines if not check.match(line)]
            tail = [line for line in lines if check.match(line)]
            cell.source = "\n".join(
                [*head, "### BEGIN SOLUTION", *body, "### END SOLUTION", *tail]
            ).strip("\n")
            if e.auto:
                cells.append(_nbgrader(cell, f"{label}-code", solution=True))
                test = nbformat.v4.new_code_cell(hidden_test_source(label, e.points))
                cells.append(_nbgrader(test, label, grade=True, locked=True, points=e.points))
            else:
                cells.append(_nbgrader(cell, label, grade=True, solution=True, points=e.points))
            if e.written:
                text = "\n\n".join(solutions.get(label, {}).get("text", []))
                cells.append(_answer_cell(label, label + WRITTEN, e.written, text))
        else:
            cells.append(cell)
    at = 1 if cells and cells[0].cell_type == "markdown" else 0
    intro = nbformat.v4.new_markdown_cell(
        "**Before you hand this notebook in**: write your name in the cell below, then "
        "restart the kernel and run every cell (*Kernel → Restart Kernel and Run All "
        "Cells*). Hand in this file under its own name. Do not delete, copy or move cells: "
        "the graded cells (each exercise's test, hidden here, and the answer cells) must "
        "stay where they are."
    )
    name = nbformat.v4.new_code_cell('NAME = ""\nCOLLABORATORS = ""')
    out = copy.deepcopy(course_nb)
    out.cells = [*cells[:at], _nbgrader(intro, "instructions", locked=True), name, *cells[at:]]
    for number, cell in enumerate(out.cells):
        cell["id"] = f"cell-{number}"
    return out


# ------------------------------------------------------------------ submissions
def restore_grading_cells(nb: nbformat.NotebookNode, release: nbformat.NotebookNode) -> list[str]:
    """Put back, in a submitted notebook, nbgrader's marks of the graded cells as the
    release notebook has them; returns a sentence for each thing put back.

    nbgrader itself restores a locked cell's source, type and points, but not its
    ``grade`` and ``solution`` flags or its ``grade_id``: a submission where they were
    changed (by hand, or by an editor) stops nbgrader with an error, and the student gets
    no grade and no feedback for the whole notebook. Here a cell whose ``grade_id`` is one
    of the release's gets the release's marks (and cell type) back; the first cell with
    that ``grade_id`` keeps it, and a copy, or a cell marked with an id the release does
    not have, becomes one of the student's own cells. A graded cell the student deleted
    is left to nbgrader, which adds it back.
    """
    marks: dict[str, tuple[str, dict]] = {}
    for cell in release.cells:
        meta = cell.get("metadata", {}).get("nbgrader")
        if isinstance(meta, dict) and isinstance(meta.get("grade_id"), str):
            marks[meta["grade_id"]] = (cell.cell_type, copy.deepcopy(dict(meta)))
    notes: list[str] = []
    seen: set[str] = set()
    for i, cell in enumerate(nb.cells):
        metadata = cell.setdefault("metadata", nbformat.NotebookNode())
        if "nbgrader" not in metadata:
            continue
        meta = metadata["nbgrader"]
        grade_id = meta.get("grade_id") if isinstance(meta, dict) else None
        if not isinstance(grade_id, str) or grade_id not in marks or grade_id in seen:
            del metadata["nbgrader"]
            for key in ("editable", "deletable"):
                metadata.pop(key, None)
            what = "a copy of" if grade_id in seen else "a cell marked as"
            name = grade_id if isinstance(grade_id, str) else "?"
            notes.append(f"{what} the graded cell {name!r} was graded as one of your own cells")
            continue
        seen.add(grade_id)
        kind, want = marks[grade_id]
        have = {k: v for k, v in dict(meta).items() if k != "checksum"}
        if have != {k: v for k, v in want.items() if k != "checksum"} or cell.cell_type != kind:
            notes.append(f"the grading marks of the cell {grade_id!r} were changed: put back")
        if cell.cell_type != kind:
            new = (nbformat.v4.new_code_cell if kind == "code" else nbformat.v4.new_markdown_cell)(
                cell.get("source", "")
            )
            new["metadata"] = metadata
            if "id" in cell:
                new["id"] = cell["id"]
            nb.cells[i] = cell = new
        cell.metadata["nbgrader"] = nbformat.from_dict(copy.deepcopy(want))
        if want.get("locked"):
            cell.metadata["editable"] = False
            cell.metadata["deletable"] = False
    return notes
