"""The course tools without a book build: the course file, nbgrader's source and release
notebooks made from a chapter's course edition, the verdicts written into test cells, the
glue stripped from code, and the sandbox's picture of the file system."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from ptheory.exercises.handin import ANSWER_MIME, answer_bundle
from ptheory_grading import course as C
from ptheory_grading.autograde import GradeAnswers, verdict_outputs
from ptheory_grading.sandbox import bwrap_command

from booktools import ROOT, editions

EXAMPLE = ROOT / "book" / "course_example.yml"


def att_exp(layer, x, Z):
    import torch

    return layer.W_O[0] @ layer.W_V[0] @ Z @ torch.exp(layer.scores(x, Z)[0])


# ------------------------------------------------------------------ the course file
def test_example_course_file_reads() -> None:
    labels = C.chapter_labels(editions.toc_chapters())
    assert labels["prompt_tuning_model"] == {
        "ex-model-logistic",
        "ex-model-repeat",
        "ex-model-break",
    }
    course = C.load_course(EXAMPLE, labels)
    (a,) = course.assignments
    works = {e.label: e for e in a.chapters[0].exercises}
    assert works["ex-model-repeat"].auto and works["ex-model-break"].auto
    assert not works["ex-model-logistic"].auto  # a proof: by hand
    assert works["ex-model-break"].max_points == 4
    cells = C.manifest(course)["cells"]
    assert C.manifest(course)["auto"] == ["ex-model-break", "ex-model-repeat"]
    assert cells["ex-model-break-written"] == {
        "label": "ex-model-break",
        "assignment": "week1-model",
        "chapter": "prompt_tuning_model",
        "part": "written",
    }


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        ({"label": "ex-no-such"}, "not an exercise of"),
        ({"points": -1}, "points"),
        ({"points": True}, "points"),
        ({"label": "ex-model-logistic", "written": 2}, "graded by hand"),
    ],
)
def test_bad_course_files_are_refused(tmp_path: Path, edit: dict, message: str) -> None:
    exercise = {"label": "ex-model-repeat", "points": 2, **edit}
    data = {
        "course": "c1",
        "assignments": [
            {
                "name": "a1",
                "chapters": [{"chapter": "prompt_tuning_model", "exercises": [exercise]}],
            }
        ],
    }
    path = tmp_path / "c.yml"
    path.write_text(json.dumps(data))
    with pytest.raises(C.CourseError, match=message):
        C.load_course(path, C.chapter_labels(editions.toc_chapters()))


def test_notebook_timeout(tmp_path: Path) -> None:
    text = EXAMPLE.read_text()
    assert C.load_course(EXAMPLE).notebook_timeout == 900
    path = tmp_path / "c.yml"
    path.write_text(text.replace("notebook_timeout: 900", "notebook_timeout: 60"))
    with pytest.raises(C.CourseError, match="notebook_timeout"):
        C.load_course(path)  # shorter than a cell's limit
    path.write_text(
        text.replace("notebook_timeout: 900", "").replace("cell_timeout: 120", "cell_timeout: 1000")
    )
    assert C.load_course(path).notebook_timeout == 1000  # by default at least a cell's


def test_names_cannot_climb_out_of_the_course(tmp_path: Path) -> None:
    path = tmp_path / "c.yml"
    path.write_text("course: ../x\nassignments: []\n")
    with pytest.raises(C.CourseError, match="course must be a name"):
        C.load_course(path)


# ------------------------------------------------------------------ notebooks
def _cell(cell, role: str = "", label: str = ""):
    if role:
        cell.metadata["ptheory"] = {"role": role, **({"label": label} if label else {})}
    return cell


def chapter_edition() -> nbformat.NotebookNode:
    """A small course edition: a proof, a graded coding exercise with a written part."""
    return new_notebook(
        cells=[
            new_markdown_cell("# A chapter"),
            _cell(new_code_cell("import ptheory"), "setup"),
            new_code_cell("import torch\nfrom ptheory import exercises as ex"),
            _cell(
                new_markdown_cell("**Exercise 1** (Prove it). Show x."),
                "exercise",
                "ex-model-logistic",
            ),
            _cell(new_markdown_cell("Because y."), "solution", "ex-model-logistic"),
            _cell(
                new_markdown_cell("**Exercise 2** (Code it). Write att_exp."),
                "exercise",
                "ex-model-break",
            ),
            _cell(
                new_code_cell('answer = ...  # a function\nex.check("ex-model-break", answer)'),
                "stub",
                "ex-model-break",
            ),
            _cell(new_markdown_cell("The prompt adds a vector."), "solution", "ex-model-break"),
            _cell(
                new_code_cell(
                    'SOLUTION_CODE = 1\nanswer = SOLUTION_CODE\nex.check("ex-model-break", answer)'
                ),
                "solution",
                "ex-model-break",
            ),
            _cell(
                new_markdown_cell("**Exercise 3** (Other). Not assigned."),
                "exercise",
                "ex-model-repeat",
            ),
            _cell(
                new_code_cell('answer = ...\nex.check("ex-model-repeat", answer)'),
                "stub",
                "ex-model-repeat",
            ),
            _cell(new_code_cell("OTHER_SOLUTION = 2"), "solution", "ex-model-repeat"),
        ],
        metadata={
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}
        },
    )


WORK = C.ChapterWork(
    "prompt_tuning_model",
    (
        C.ExerciseWork("ex-model-logistic", 3, 0, False),
        C.ExerciseWork("ex-model-break", 2, 2, True),
    ),
)


def _grade_cells(nb) -> dict[str, nbformat.NotebookNode]:
    return {
        c.metadata["nbgrader"]["grade_id"]: c
        for c in nb.cells
        if c.metadata.get("nbgrader", {}).get("grade")
    }


def test_source_notebook_has_the_graded_cells() -> None:
    nb = C.assignment_notebook(chapter_edition(), WORK)
    text = "\n".join(c.source for c in nb.cells)
    assert "OTHER_SOLUTION" not in text  # an unassigned exercise's solution is gone
    graded = _grade_cells(nb)
    assert set(graded) == {"ex-model-logistic", "ex-model-break", "ex-model-break-written"}
    test = graded["ex-model-break"]
    assert test.metadata["nbgrader"]["locked"] and test.metadata["nbgrader"]["points"] == 2
    assert 'submit("ex-model-break", answer)' in test.source
    assert "### BEGIN HIDDEN TESTS" in test.source
    code = nb.cells[nb.cells.index(test) - 1]
    assert code.metadata["nbgrader"]["solution"] and "SOLUTION_CODE = 1" in code.source
    assert code.source.startswith("answer = ...") and code.source.count("ex.check(") == 1
    assert "Because y." in graded["ex-model-logistic"].source
    assert "The prompt adds a vector." in graded["ex-model-break-written"].source
    assert graded["ex-model-break-written"].metadata["nbgrader"]["points"] == 2
    assert 'NAME = ""' in nb.cells[2].source  # the name cell, after the title


def test_release_notebook_holds_no_solution_and_no_hidden_test(tmp_path: Path) -> None:
    """nbgrader generate_assignment with the course's configuration, as make course runs it."""
    course_dir = tmp_path / "course"
    (course_dir / "source" / "a1").mkdir(parents=True)
    nbformat.write(
        C.assignment_notebook(chapter_edition(), WORK),
        course_dir / "source" / "a1" / "prompt_tuning_model.ipynb",
    )
    (course_dir / "nbgrader_config.py").write_text(
        "c = get_config()\n"
        f"c.CourseDirectory.root = {str(course_dir)!r}\n"
        'c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE"}\n'
        'c.ClearSolutions.text_stub = "YOUR ANSWER HERE"\n'
    )
    nbgrader = Path(sys.executable).parent / "nbgrader"
    for args in (["db", "assignment", "add", "a1"], ["generate_assignment", "a1", "--force"]):
        env = {**os.environ, "PATH": f"{nbgrader.parent}:{os.environ['PATH']}"}
        done = subprocess.run(
            [nbgrader, *args], cwd=course_dir, env=env, capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr[-3000:]
    release = nbformat.read(course_dir / "release" / "a1" / "prompt_tuning_model.ipynb", 4)
    text = "\n".join(c.source for c in release.cells)
    for secret in ("SOLUTION_CODE", "Because y.", "adds a vector", "submit(", "HIDDEN TESTS"):
        assert secret not in text, secret
    stub = next(c for c in release.cells if 'ex.check("ex-model-break"' in c.source)
    assert (
        stub.source
        == 'answer = ...  # a function\n# YOUR CODE HERE\nex.check("ex-model-break", answer)'
    )
    assert "YOUR ANSWER HERE" in text and "graded test of ex-model-break" in text.lower()


# ------------------------------------------------------------------ submissions
def _marks(nb) -> list[tuple[str, str, dict]]:
    return [
        (c.cell_type, c.metadata["nbgrader"]["grade_id"], dict(c.metadata["nbgrader"]))
        for c in nb.cells
        if "nbgrader" in c.metadata
    ]


def test_tampered_grading_marks_are_put_back() -> None:
    """A submission whose graded cells lost or changed their nbgrader marks (which stops
    nbgrader with an error, and the student gets no grade and no feedback at all) gets
    the release's marks back; copies and made-up graded cells become the student's own."""
    import copy

    release = C.assignment_notebook(chapter_edition(), WORK)
    nb = copy.deepcopy(release)
    cells = {c.metadata.get("nbgrader", {}).get("grade_id"): c for c in nb.cells}
    test = cells["ex-model-break"]
    test.metadata["nbgrader"]["grade"] = False  # nbgrader: "Inconsistent checksums"
    test.metadata["nbgrader"]["solution"] = True
    written = cells["ex-model-break-written"]
    written.metadata["nbgrader"]["points"] = 100
    code = cells["ex-model-break-code"]
    code.cell_type = "markdown"  # and back to code, its answer kept
    code.pop("outputs"), code.pop("execution_count")
    fake = copy.deepcopy(test)  # a copy after it: nbgrader keeps the last of two ids
    fake.source, fake["id"] = "pass", "student-copy"
    made_up = new_code_cell("print('mine')")
    made_up.metadata["nbgrader"] = {"grade": True, "grade_id": "zzz", "points": 5}
    nb.cells += [fake, made_up]
    notes = C.restore_grading_cells(nb, release)
    assert _marks(nb) == _marks(release)
    restored = next(c for c in nb.cells if c.get("id") == code["id"])
    assert restored.cell_type == "code" and "SOLUTION_CODE" in restored.source
    assert restored.outputs == []
    assert nb.cells[-2].source == "pass" and "nbgrader" not in nb.cells[-2].metadata
    assert "editable" not in nb.cells[-2].metadata
    assert len(notes) == 5 and sum("put back" in n for n in notes) == 3, notes
    nbformat.validate(nb)
    assert C.restore_grading_cells(copy.deepcopy(release), release) == []  # honest: no note


def test_prepare_submission_notes_and_stamps(tmp_path: Path) -> None:
    """What `make grade` does to a collected submission before nbgrader: the marks put back
    with a note the feedback shows, and the hand-in time, so that a notebook handed in
    again (newer) is graded again instead of being skipped."""
    import copy

    sys.path.insert(0, str(ROOT / "scripts"))
    import course as course_tools

    release = tmp_path / "release"
    release.mkdir()
    ref = C.assignment_notebook(chapter_edition(), WORK)
    nbformat.write(ref, release / "prompt_tuning_model.ipynb")
    folder = tmp_path / "submitted" / "jane" / "a1"
    folder.mkdir(parents=True)
    nb = copy.deepcopy(ref)
    next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "ex-model-break"
         ).metadata["nbgrader"]["grade"] = False  # fmt: skip
    path = folder / "prompt_tuning_model.ipynb"
    nbformat.write(nb, path)
    os.utime(path, (1_700_000_000, 1_700_000_000))
    notes = course_tools.prepare_submission(folder, release)
    assert len(notes) == 1 and "'ex-model-break'" in notes[0]
    done = nbformat.read(path, 4)
    assert done.cells[0].source.startswith("**Note from the grader**")
    assert done.cells[0].metadata.get("nbgrader") is None
    assert _marks(done) == _marks(ref)
    assert (folder / "timestamp.txt").read_text().startswith("2023-11-14 22:13:20")
    assert path.stat().st_mtime == 1_700_000_000  # the hand-in time is kept
    assert course_tools.prepare_submission(folder, release) == []  # nothing more to say


def test_grades_by_student_has_one_row_per_student_and_a_total(tmp_path: Path) -> None:
    """The table an LMS imports: a column per exercise, the total and its maximum, what
    still waits for a hand grade; a student without a hand-in of an assignment gets 0."""
    import csv

    sys.path.insert(0, str(ROOT / "scripts"))
    import course as course_tools

    course = C.load_course(EXAMPLE)
    a = course.assignments[0].name
    rows = [
        ["ann", a, "ex-model-logistic", "2.5", "3", "no"],
        ["ann", a, "ex-model-repeat", "2", "2", "no"],
        ["ann", a, "ex-model-break", "2", "4", "yes"],
        ["bob", a, "ex-model-repeat", "0", "2", "no"],
    ]
    target = course_tools.write_totals(course, rows, tmp_path / "totals.csv")
    with target.open() as f:
        table = list(csv.DictReader(f))
    assert [r["student"] for r in table] == ["ann", "bob"]
    ann, bob = table
    assert ann[f"{a}/ex-model-logistic"] == "2.5" and ann["total"] == "6.5"
    assert ann["max_total"] == "9" and ann["parts_to_grade_by_hand"] == "1"
    assert bob["total"] == "0" and bob[f"{a}/ex-model-break"] == "0"


# ------------------------------------------------------------------ verdicts
def _test_cell(label: str, outputs: list, points: float = 2) -> nbformat.NotebookNode:
    cell = new_code_cell("...")
    cell.metadata["nbgrader"] = {"grade": True, "grade_id": label, "points": points,
                                 "solution": False, "locked": True}  # fmt: skip
    cell.outputs = outputs
    return cell


def _grade(tmp_path: Path, *cells) -> list:
    manifest = tmp_path / "course.json"
    manifest.write_text(json.dumps({"auto": ["ex-model-break", "ex-model-repeat"]}))
    nb = new_notebook(cells=list(cells))
    GradeAnswers(manifest=str(manifest)).preprocess(nb, {})
    return [c.outputs for c in nb.cells]


def _recorded(label: str, answer) -> dict:
    return new_output("display_data", data=answer_bundle(label, answer))


def test_grade_answers_scores_only_what_was_recorded(tmp_path: Path) -> None:
    from nbgrader.utils import determine_grade

    right = _test_cell("ex-model-break", [_recorded("ex-model-break", att_exp)])
    wrong = _test_cell("ex-model-break", [_recorded("ex-model-break", lambda l, x, Z: x)])
    # A patched kernel printed "Correct" and nothing else: no record, zero.
    fake = _test_cell("ex-model-break", [new_output("stream", name="stdout", text="✔ Correct")])
    # A record for another exercise, or two records, earn nothing.
    other = _test_cell("ex-model-break", [_recorded("ex-model-repeat", ...)])
    twice = _test_cell("ex-model-break", [_recorded("ex-model-break", att_exp)] * 2)

    # The record is only data: a forged one earns what its data earns.
    def record(data):
        payload = {"label": "ex-model-break", "answer": data}
        return [new_output("display_data", data={ANSWER_MIME: payload})]

    forged = _test_cell("ex-model-break", record([[1.0]] * 6))
    huge = _test_cell("ex-model-break", record([0.5] * 400_000))
    cells = [right, wrong, fake, other, twice, forged, huge]
    _grade(tmp_path, *cells)
    scores = [determine_grade(c)[0] for c in cells]
    assert scores == [2, 0, 0, 0, 0, 0, 0]
    assert "✔" in right.outputs[0]["data"]["text/plain"]
    assert "no answer was recorded" in fake.outputs[0]["evalue"]
    assert "more than one" in twice.outputs[0]["evalue"]
    assert "too large" in huge.outputs[0]["evalue"]


def test_partial_credit_is_the_cells_result() -> None:
    from nbgrader.utils import determine_grade

    cell = _test_cell("ex-model-break", verdict_outputs("ex-model-break", 0.25, 4, "partly"), 4)
    assert determine_grade(cell) == (1.0, 4.0)


# ------------------------------------------------------------------ glue and the sandbox
def test_strip_glue_leaves_the_code() -> None:
    source = (
        "import torch\nfrom myst_nb import glue\n\nx = 1\nglue('x', x, display=False)\n"
        "for k, v in {'a': 1}.items():  # glue each\n    glue(k, v, display=False)\n"
        "def f():\n    glue('y', 2)\nprint(x)"
    )
    out = editions.strip_glue(source)
    assert out == "import torch\n\nx = 1\ndef f():\n    glue('y', 2)\nprint(x)"
    assert editions.strip_glue("%timeit x\nglue('a', 1)") == "%timeit x\nglue('a', 1)"


def test_course_setup_cell_needs_no_myst_nb() -> None:
    source = editions.bootstrap_source(myst=False)
    assert "myst" not in source and "ptheory" in source


def test_sandbox_binds_only_what_it_is_given(tmp_path: Path) -> None:
    cmd = bwrap_command(
        "bwrap",
        readable=[Path("/opt/py"), tmp_path / "env"],
        private=tmp_path / "priv",
        tmp_bytes=1 << 20,
    )
    binds = [cmd[i + 1] for i, a in enumerate(cmd) if a in ("--bind", "--ro-bind")]
    system = {"/usr", "/etc", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"}
    assert set(binds) <= system | {"/opt/py", str(tmp_path / "env"), str(tmp_path / "priv")}
    assert cmd[cmd.index(str(tmp_path / "priv")) - 1] == "--bind"  # only this one writable
    assert "--unshare-net" in cmd and "--die-with-parent" in cmd
    assert str(ROOT) not in " ".join(cmd)


def test_workflow_publishes_the_student_edition_when_asked() -> None:
    import yaml

    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "book.yml").read_text())
    steps = workflow["jobs"]["test-and-build"]["steps"]
    student = [s for s in steps if s.get("run") == "make student"]
    assert len(student) == 1 and student[0]["if"] == "vars.PUBLISH_EDITION == 'student'"
    (upload,) = [s for s in steps if str(s.get("uses", "")).startswith("actions/upload-pages")]
    path = upload["with"]["path"]
    assert "vars.PUBLISH_EDITION == 'student' && '_build/student/html'" in path
    assert path.endswith("|| '_build/html' }}")
    assert steps.index(student[0]) < steps.index(upload)
