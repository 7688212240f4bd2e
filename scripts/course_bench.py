"""Time a course for a class: build it, then grade N simulated submissions.

Usage: python scripts/course_bench.py [--students 60] [--course book/course_example.yml]
                                      [--out _build/course-bench]

The submissions are the first assignment's release notebooks with the book's solutions
in the answer cells (two in three), wrong answers (one in six) or nothing (one in six),
as a class hands them in. Prints and writes ``_build/reports/course_bench.json``: the
build's and the grading's seconds, per submission, and the load average before and after
(the machine's other work slows both: compare runs on an idle machine).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

import course as tools  # noqa: E402  (scripts/course.py)

from ptheory_grading.course import load_course  # noqa: E402


def simulate(release: Path, source: Path, kind: str, target: Path) -> None:
    """One student's notebook: ``kind`` is correct, wrong or blank."""
    nb = nbformat.read(release, as_version=4)
    solutions = {
        c.metadata["nbgrader"]["grade_id"]: c.source
        for c in nbformat.read(source, as_version=4).cells
        if c.metadata.get("nbgrader", {}).get("solution") and c.cell_type == "code"
    }
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id", "")
        if kind == "correct" and grade_id in solutions:
            cell.source = (
                solutions[grade_id]
                .replace("### BEGIN SOLUTION\n", "")
                .replace("### END SOLUTION\n", "")
            )
        elif kind == "wrong" and grade_id in solutions:
            cell.source = "answer = 0.5\n" + cell.source.split("# YOUR CODE HERE", 1)[-1]
    target.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, target)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=60)
    parser.add_argument("--course", type=Path, default=ROOT / "book" / "course_example.yml")
    parser.add_argument("--out", type=Path, default=ROOT / "_build" / "course-bench")
    args = parser.parse_args(argv)
    out = args.out.resolve()
    shutil.rmtree(out, ignore_errors=True)
    load = {"before": os.getloadavg()}
    start = time.perf_counter()
    tools.build(args.course.resolve(), out / "course")
    built = time.perf_counter() - start
    course = load_course(args.course)
    assignment = course.assignments[0]
    submissions = out / "submissions"
    kinds = ["correct", "correct", "correct", "correct", "wrong", "blank"]
    for number in range(args.students):
        for work in assignment.chapters:
            name = f"{work.chapter}.ipynb"
            simulate(
                out / "course" / "release" / assignment.name / name,
                out / "course" / "source" / assignment.name / name,
                kinds[number % len(kinds)],
                submissions / f"student{number:03d}" / assignment.name / name,
            )
    start = time.perf_counter()
    tools.grade(args.course.resolve(), submissions, out / "course")
    graded = time.perf_counter() - start
    load["after"] = os.getloadavg()
    report = {
        "students": args.students,
        "assignment": assignment.name,
        "build_s": round(built, 1),
        "grade_s": round(graded, 1),
        "grade_per_submission_s": round(graded / args.students, 2),
        "cpus": os.cpu_count(),
        "load_average_1_5_15": load,
    }
    reports = ROOT / "_build" / "reports"
    reports.mkdir(parents=True, exist_ok=True)
    (reports / "course_bench.json").write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
