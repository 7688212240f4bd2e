"""Coursework from the book with nbgrader: build a course, grade its submissions.

Usage:
    python scripts/course.py build COURSE.yml [--out DIR]
    python scripts/course.py grade COURSE.yml SUBMISSIONS [--out DIR] [--student ID ...]

``build`` (``make course COURSE=...``) writes an nbgrader course folder (default
``_build/course``): ``nbgrader_config.py``, ``course.json`` (what grading needs),
``source/<assignment>/<chapter>.ipynb`` (``ptheory_grading.course``), the generated
``release/<assignment>/`` and ``handout/<assignment>.zip`` (the release notebooks, the
student wheel of ``ptheory``, a README). The chapters' course edition comes from the
student edition's build (``scripts/student.py``), run first when it is missing or older
than a chapter.

``grade`` (``make grade COURSE=... SUBMISSIONS=...``) takes submissions in nbgrader's
layout, ``SUBMISSIONS/<student>/<assignment>/<chapter>.ipynb``, and the zips an LMS
exports, ``SUBMISSIONS/<assignment>*.zip`` holding ``<student>_<chapter>.ipynb`` files
(``nbgrader zip_collect``); autogrades every submission in a sandbox
(``ptheory_grading.sandbox``, ``ptheory_grading.autograde``), writes per-student HTML
feedback (``nbgrader generate_feedback``) and ``grades.csv``.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "book" / "_ext"))
sys.path.insert(0, str(ROOT / "scripts"))

import build_book  # noqa: E402  (scripts, not a package)
import editions  # noqa: E402

from ptheory_grading import course as C  # noqa: E402
from ptheory_grading.sandbox import kernel_environment, require_bwrap  # noqa: E402

BIN = Path(sys.executable).parent
PREPROCESSORS = [
    "ptheory_grading.autograde.SandboxedExecute",
    "ptheory_grading.autograde.GradeAnswers",
    "nbgrader.preprocessors.IgnorePattern",
    "nbconvert.preprocessors.ClearMetadataPreprocessor",
    "nbgrader.preprocessors.LimitOutput",
    "nbgrader.preprocessors.SaveAutoGrades",
    "nbgrader.preprocessors.AssignLatePenalties",
    "nbgrader.preprocessors.CheckCellMetadata",
]
STUDENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]*$")

README = """\
{course}: {assignment}
{rule}

This folder holds the notebook(s) of the assignment, {notebooks}, and {wheel},
the book's Python package (the same for every assignment).

Installing (once)
-----------------
You need Python 3.10 or newer. In a terminal, in this folder:

    python3 -m venv venv
    . venv/bin/activate            (Windows: venv\\Scripts\\activate)
    pip install torch --index-url https://download.pytorch.org/whl/cpu
    pip install {wheel} jupyterlab

The torch line installs its CPU build (about 200 MB). Without it, pip may
choose a build with GPU libraries of several GB; nothing here needs a GPU.

Working
-------
Start JupyterLab in this folder with `jupyter lab` and open the notebook. Run its cells
from the top. Each exercise has a cell that starts at `answer = ...`: put your answer in
`answer`, run the cell, and read the quick check's feedback (it spots common mistakes;
it does not know the answer). Below a graded exercise is a test cell: leave it as it is.
Write proofs and explanations in the cells marked "Your answer".

Handing in
----------
Write your name in the cell at the top. Then restart the kernel and run every cell
(Kernel, then Restart Kernel and Run All Cells), save, and hand in the .ipynb file(s)
under their own names{due}. The graded tests run again when your work is graded, in a
fresh kernel: an answer only counts if the notebook computes it when run from the top.
"""


def _run(cmd: list[str], cwd: Path, check: bool = True) -> subprocess.CompletedProcess:
    # nbgrader runs `alembic` from the PATH: this environment's first.
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    result = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    if check and result.returncode != 0:
        raise SystemExit(f"course: {' '.join(cmd[:3])} failed:\n{result.stdout[-3000:]}"
                         f"{result.stderr[-6000:]}")  # fmt: skip
    return result


def nbgrader(*args: str, cwd: Path, check: bool = True) -> subprocess.CompletedProcess:
    return _run([str(BIN / "nbgrader"), *args], cwd, check)


# ------------------------------------------------------------------ build
def student_wheel(out: Path, root: Path = ROOT) -> Path:
    """The student wheel of ``ptheory`` kept in ``out/.sandbox/wheel``: built again only
    when the package changed (``build_book.ptheory_fingerprint``), so that grading does not
    rebuild it, nor the students' kernel environment made from it, on every run."""
    folder = out / ".sandbox" / "wheel"
    stamp = folder / "fingerprint"
    fingerprint = build_book.ptheory_fingerprint(root)
    kept = sorted(folder.glob("ptheory-*.whl"))
    if len(kept) == 1 and stamp.is_file() and stamp.read_text().strip() == fingerprint:
        return kept[0]
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    wheel = Path(shutil.copy2(build_book.build_wheel(root), folder))
    stamp.write_text(fingerprint + "\n")
    return wheel


def course_edition(root: Path, chapters: set[str]) -> Path:
    """The folder of the chapters' course edition, built first when stale."""
    folder = root / "_build" / "course-edition"
    stale = [
        c
        for c in chapters
        if not (folder / f"{c}.ipynb").is_file()
        or (folder / f"{c}.ipynb").stat().st_mtime
        < (root / "notebooks" / f"{c}.md").stat().st_mtime
    ]
    if stale:
        print(f"course: building the course edition (the student build) for {sorted(stale)}")
        _run([sys.executable, str(root / "scripts" / "student.py"), "--root", str(root)], root)
    return folder


def collect_regexp(course: C.Course) -> str:
    """How ``nbgrader zip_collect`` reads an LMS's file names: the student id up to the
    first ``_`` of the file name, anything, then a chapter's notebook name
    (``doejane_12345_67890_prompt_tuning_model.ipynb``). A course file may give its own
    ``collect_regexp`` (with the groups ``student_id`` and ``file_id``)."""
    if "collect_regexp" in course.extra:
        return str(course.extra["collect_regexp"])
    chapters = sorted({c.chapter for a in course.assignments for c in a.chapters})
    names = "|".join(re.escape(c) for c in chapters)
    student = r"(?P<student_id>[A-Za-z0-9][A-Za-z0-9.@-]*)"
    return rf"^(?:.*/)?{student}_(?:[^/]*_)?(?P<file_id>(?:{names})\.ipynb)$"


def write_config(course: C.Course, out: Path, kernel_python: Path | None) -> None:
    lines = [
        "# Written by scripts/course.py: the course's nbgrader configuration.",
        "c = get_config()  # noqa: F821",
        f"c.CourseDirectory.root = {str(out)!r}",
        f"c.CourseDirectory.course_id = {course.course_id!r}",
        'c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE"}',
        'c.ClearSolutions.text_stub = "YOUR ANSWER HERE"',
        "c.OverwriteCells.add_missing_cells = True",
        f"c.Autograde.autograde_preprocessors = {PREPROCESSORS!r}",
        f"c.SandboxedExecute.timeout = {course.cell_timeout}",
        f"c.SandboxedExecute.notebook_timeout = {course.notebook_timeout}",
        f"c.GradeAnswers.manifest = {str(out / 'course.json')!r}",
        f"c.FileNameCollectorPlugin.named_regexp = {collect_regexp(course)!r}",
    ]
    if kernel_python is not None:
        lines.append(f"c.SandboxKernelManager.kernel_python = {str(kernel_python)!r}")
    (out / "nbgrader_config.py").write_text("\n".join(lines) + "\n")


def write_handout(course: C.Course, a: C.Assignment, out: Path, wheel: Path) -> Path:
    release = out / "release" / a.name
    notebooks = sorted(release.glob("*.ipynb"))
    due = f" by {a.due}" if a.due else ""
    title = f"{course.course_id}: {a.name}"
    readme = README.format(
        course=course.course_id,
        assignment=a.name,
        rule="=" * len(title),
        notebooks=", ".join(p.name for p in notebooks),
        wheel=wheel.name,
        due=due,
    )
    target = out / "handout" / f"{a.name}.zip"
    target.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(f"{a.name}/README.txt", readme)
        zf.write(wheel, f"{a.name}/{wheel.name}")
        for notebook in notebooks:
            zf.write(notebook, f"{a.name}/{notebook.name}")
    return target


def build(course_file: Path, out: Path, root: Path = ROOT) -> C.Course:
    course = C.load_course(course_file, C.chapter_labels(editions.toc_chapters(root)))
    used = {c.chapter for a in course.assignments for c in a.chapters}
    edition = course_edition(root, used)
    out.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(out / "source", ignore_errors=True)
    shutil.rmtree(out / "release", ignore_errors=True)
    (out / "course.json").write_text(json.dumps(C.manifest(course), indent=2) + "\n")
    shutil.copy2(course_file, out / "course.yml")
    write_config(course, out, None)
    for a in course.assignments:
        for work in a.chapters:
            nb = nbformat.read(edition / f"{work.chapter}.ipynb", as_version=4)
            target = out / "source" / a.name / f"{work.chapter}.ipynb"
            target.parent.mkdir(parents=True, exist_ok=True)
            nbformat.write(C.assignment_notebook(nb, work), target)
        args = ["db", "assignment", "add", a.name]
        if a.due:
            args.append(f"--duedate={a.due}")
        nbgrader(*args, cwd=out)
        nbgrader("generate_assignment", a.name, "--force", cwd=out)
    wheel = student_wheel(out, root)
    for a in course.assignments:
        print(f"course: hand-out {write_handout(course, a, out, wheel)}")
    return course


# ------------------------------------------------------------------ grade
def _utc(seconds: float) -> str:
    from datetime import datetime, timezone

    return datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f UTC")


def prepare_submission(folder: Path, release: Path) -> list[str]:
    """Make a collected submission folder ready for ``nbgrader autograde``.

    Each notebook's graded cells get their nbgrader marks back
    (:func:`ptheory_grading.course.restore_grading_cells`); what was put back is said in
    a note at the top of the notebook, which its feedback shows. ``timestamp.txt`` gets
    the newest notebook's modification time unless the folder has one already (nbgrader
    grades a submission again when its timestamp is newer than the graded one's, so a
    notebook handed in again is graded again, and late ones are marked late). Returns the
    notes, for the grading log."""
    said: list[str] = []
    notebooks = sorted(folder.glob("*.ipynb"))
    for path in notebooks:
        try:
            nb = nbformat.read(path, as_version=4)
            ref = nbformat.read(release / path.name, as_version=4)
        except Exception as error:  # not a notebook: nbgrader reports it
            said.append(f"{path.name}: not readable as a notebook ({type(error).__name__})")
            continue
        notes = C.restore_grading_cells(nb, ref)
        if notes:
            text = "**Note from the grader**: " + "; ".join(notes) + "."
            nb.cells.insert(0, nbformat.v4.new_markdown_cell(text))
            nb.cells[0]["id"] = "grader-note"
            stamp = path.stat().st_mtime
            nbformat.write(nb, path)
            os.utime(path, (stamp, stamp))
            said += [f"{path.name}: {n}" for n in notes]
    if notebooks and not (folder / "timestamp.txt").is_file():
        newest = max(p.stat().st_mtime for p in notebooks)
        (folder / "timestamp.txt").write_text(_utc(newest) + "\n")
    return said


def collect(course: C.Course, submissions: Path, out: Path) -> list[tuple[str, str]]:
    """Copy the submissions into ``out/submitted`` and prepare them
    (:func:`prepare_submission`); return (student, assignment) pairs."""
    names = {a.name: {f"{c.chapter}.ipynb" for c in a.chapters} for a in course.assignments}
    found: list[tuple[str, str]] = []
    for student in sorted(p for p in submissions.iterdir() if p.is_dir()):
        if not STUDENT_ID.match(student.name):
            print(f"course: skipping {student.name!r}: not a student id")
            continue
        for assignment, notebooks in names.items():
            folder = student / assignment
            if not folder.is_dir():
                continue
            target = out / "submitted" / student.name / assignment
            shutil.rmtree(target, ignore_errors=True)
            target.mkdir(parents=True)
            for notebook in folder.glob("*.ipynb"):
                if notebook.name in notebooks and not notebook.is_symlink():
                    shutil.copy2(notebook, target / notebook.name)
            found.append((student.name, assignment))
    for archive in sorted(submissions.glob("*.zip")):
        assignment = next((a for a in names if archive.name.startswith(a)), None)
        if assignment is None:
            print(f"course: skipping {archive.name}: no assignment of that name")
            continue
        downloaded = out / "downloaded" / assignment / "archive"
        downloaded.mkdir(parents=True, exist_ok=True)
        shutil.copy2(archive, downloaded / archive.name)
        nbgrader("zip_collect", assignment, "--force", cwd=out)
        for folder in sorted((out / "submitted").glob(f"*/{assignment}")):
            pair = (folder.parent.name, assignment)
            if pair not in found:
                found.append(pair)
    for student, assignment in found:
        folder = out / "submitted" / student / assignment
        for note in prepare_submission(folder, out / "release" / assignment):
            print(f"course: {student}/{assignment}/{note}")
    return found


def export_grades(course: C.Course, out: Path) -> Path:
    """``out/grades.csv``: one row per student, assignment and exercise."""
    from nbgrader.api import Gradebook, MissingEntry

    cells = C.manifest(course)["cells"]
    rows = []
    with Gradebook(f"sqlite:///{out / 'gradebook.db'}", course.course_id) as gb:
        for a in course.assignments:
            for student in sorted(s.id for s in gb.students):
                try:
                    submission = gb.find_submission(a.name, student)
                except MissingEntry:
                    continue
                per: dict[str, list] = {}
                for notebook in submission.notebooks:
                    for grade in notebook.grades:
                        cell = cells.get(grade.name)
                        if cell is None:
                            continue
                        score, needs = grade.score, bool(grade.needs_manual_grade)
                        entry = per.setdefault(cell["label"], [0.0, 0.0, False])
                        entry[0] += float(score or 0.0)
                        entry[1] += float(grade.max_score)
                        entry[2] = entry[2] or needs or score is None
                for chapter in a.chapters:
                    for e in chapter.exercises:
                        got = per.get(e.label, [0.0, e.max_points, False])
                        rows.append([student, a.name, e.label, f"{got[0]:g}", f"{got[1]:g}",
                                     "yes" if got[2] else "no"])  # fmt: skip
    target = out / "grades.csv"
    with target.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(
            ["student", "assignment", "exercise", "score", "max_score", "needs_manual_grade"]
        )
        writer.writerows(rows)
    write_totals(course, rows, out / "grades_by_student.csv")
    return target


def write_totals(course: C.Course, rows: list[list[str]], target: Path) -> Path:
    """``target``: one row per student, the points of each exercise (a column per
    ``<assignment>/<label>``; 0 where nothing was handed in), the total and its maximum,
    and how many parts still wait for a hand grade. What an LMS's gradebook imports."""
    columns = [(a.name, e.label) for a in course.assignments for c in a.chapters
               for e in c.exercises]  # fmt: skip
    best = sum(e.max_points for a in course.assignments for c in a.chapters for e in c.exercises)
    table: dict[str, dict[tuple[str, str], tuple[float, bool]]] = {}
    for student, assignment, label, score, _, needs in rows:
        table.setdefault(student, {})[(assignment, label)] = (float(score), needs == "yes")
    with target.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["student", *(f"{a}/{label}" for a, label in columns), "total",
                         "max_total", "parts_to_grade_by_hand"])  # fmt: skip
        for student in sorted(table):
            got = [table[student].get(col, (0.0, False)) for col in columns]
            total = sum(score for score, _ in got)
            waiting = sum(needs for _, needs in got)
            writer.writerow([student, *(f"{score:g}" for score, _ in got), f"{total:g}",
                             f"{best:g}", waiting])  # fmt: skip
    return target


def ungraded(a: C.Assignment, students: list[str], out: Path) -> list[str]:
    """The students whose submission of ``a`` has a notebook nbgrader did not grade."""
    return [
        s
        for s in students
        if (out / "submitted" / s / a.name).is_dir()
        and any(
            (out / "submitted" / s / a.name / f"{c.chapter}.ipynb").is_file()
            and not (out / "autograded" / s / a.name / f"{c.chapter}.ipynb").is_file()
            for c in a.chapters
        )
    ]


def grade(
    course_file: Path,
    submissions: Path,
    out: Path,
    students: list[str] | None = None,
    regrade: bool = False,
) -> Path:
    """Autograde the submissions not graded yet (all of them with ``regrade``)."""
    require_bwrap()
    course = C.load_course(course_file)
    if not (out / "course.json").is_file() or not (out / "gradebook.db").is_file():
        build(course_file, out)
    wheel = student_wheel(out)
    python = kernel_environment(wheel, out / ".sandbox" / "env")
    write_config(course, out, python)
    start = time.perf_counter()
    pairs = collect(course, submissions, out)
    print(f"course: {len(pairs)} submissions collected ({time.perf_counter() - start:.1f} s)")
    for a in course.assignments:
        who = sorted({s for s, name in pairs if name == a.name})
        if students:
            who = [s for s in who if s in students]
        if not who:
            continue
        t = time.perf_counter()
        runs = [["--student", s] for s in who] if students else [[]]
        force = ["--force"] if regrade else []
        codes = [nbgrader("autograde", a.name, *force, *r, cwd=out, check=False) for r in runs]
        log = out / "logs" / f"autograde-{a.name}.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_text("".join(r.stdout + r.stderr for r in codes))
        failed = ungraded(a, who, out)
        for student in failed:
            print(f"course: {student}/{a.name}: nbgrader could not grade it (see {log}); "
                  "its parts read 0 with needs_manual_grade=yes")  # fmt: skip
        if not failed and any(r.returncode != 0 for r in codes):
            print(f"course: nbgrader reported failures for {a.name}: see {log}")
        print(f"course: {a.name}: {len(who)} autograded in {time.perf_counter() - t:.1f} s")
        t = time.perf_counter()
        nbgrader("generate_feedback", a.name, "--force", cwd=out, check=False)
        print(f"course: {a.name}: feedback in {time.perf_counter() - t:.1f} s")
    target = export_grades(course, out)
    print(f"course: grades in {target}; feedback in {out / 'feedback'}")
    print(f"course: graded in {time.perf_counter() - start:.1f} s")
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="build the course folder and hand-outs")
    b.add_argument("course", type=Path)
    b.add_argument("--out", type=Path, default=ROOT / "_build" / "course")
    g = sub.add_parser("grade", help="autograde submissions, feedback, grades.csv")
    g.add_argument("course", type=Path)
    g.add_argument("submissions", type=Path)
    g.add_argument("--out", type=Path, default=ROOT / "_build" / "course")
    g.add_argument("--student", action="append", default=None, help="only these students")
    g.add_argument("--regrade", action="store_true", help="grade again what was graded already")
    args = parser.parse_args(argv)
    os.environ.setdefault("MPLBACKEND", "Agg")
    start = time.perf_counter()
    if args.command == "build":
        build(args.course.resolve(), args.out.resolve())
        print(f"course: built {args.out} in {time.perf_counter() - start:.1f} s")
    else:
        grade(
            args.course.resolve(),
            args.submissions.resolve(),
            args.out.resolve(),
            args.student,
            args.regrade,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
