"""An instructor's course, end to end, on the foundation chapter: ``make course`` builds it,
a corpus of submissions (correct, blank, wrong, and cheats of every kind) is graded as
``make grade`` grades it, each gets exactly the score it earns, and one hand-graded answer
is scored through nbgrader's formgrader in headless Chromium.

The cheats: patching the checks and the error display (and un-marking a test cell),
forging the recorded answer,
reading the graders (installed in the grader's environment), looping (interruptible, and
deaf to interrupts), allocating without bound, the network, reading the course's source
and gradebook and other students' work, and writing outside the working folder. Without
the sandbox several of them would earn full marks (the graders are importable in the
grader's environment, the course folder is readable): each must earn zero on what it
cheated, and leave every other row of the gradebook as it was.

The sandbox needs bubblewrap (Linux); without it these tests are skipped, and with
``PTHEORY_REQUIRE_SANDBOX=1`` (as ``.ci/run`` sets) they fail.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import nbformat
import pytest

from ptheory_grading.sandbox import unavailable_reason

from booktools import REPORTS, ROOT

COURSE_ID = "ptheory-test"
ASSIGNMENT = "week1-model"
CHAPTER = "prompt_tuning_model"
AUTO = ("ex-model-repeat", "ex-model-break")


_REASON = unavailable_reason()
if _REASON and os.environ.get("PTHEORY_REQUIRE_SANDBOX") == "1":
    raise RuntimeError(f"PTHEORY_REQUIRE_SANDBOX=1 but the sandbox cannot run: {_REASON}")
pytestmark = [
    pytest.mark.book,
    pytest.mark.skipif(_REASON is not None, reason=f"grading sandbox: {_REASON}"),
]

COURSE_FILE = f"""\
course: {COURSE_ID}
cell_timeout: 30
assignments:
  - name: {ASSIGNMENT}
    chapters:
      - chapter: {CHAPTER}
        exercises:
          - {{label: ex-model-logistic, points: 3}}
          - {{label: ex-model-repeat, points: 2}}
          - {{label: ex-model-break, points: 2, written: 2}}
"""


def course_script(*args: str) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "course.py"), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-6000:]
    return result


# ------------------------------------------------------------------ the corpus
REPEAT = (
    "def repeated_weight(weight, k):\n"
    "    odds = weight / (1 - weight)\n"
    "    return k * odds / (1 + k * odds)\n"
    "answer = repeated_weight\n"
)
BREAK = (
    "def att_exp(layer, x, Z):\n"
    "    return layer.W_O[0] @ layer.W_V[0] @ Z @ torch.exp(layer.scores(x, Z)[0])\n"
    "answer = att_exp\n"
)
PATCH = """\
import IPython, ptheory.exercises as E, ptheory.exercises._core as core
import ptheory.exercises.handin as handin
core.Feedback.__bool__ = lambda self: True
E.check = lambda label, answer: core.Feedback(label, "correct", "yes")
IPython.core.interactiveshell.InteractiveShell.showtraceback = lambda *a, **k: None
get_ipython().showtraceback = lambda *a, **k: None
handin.submit = lambda label, answer: print("✔ Correct: full marks")
"""
FORGE = """\
from IPython.display import display
import ptheory.exercises.handin as handin
def forged(label, answer):
    data = [[[0.5]] * 2] * 8 if label == "ex-model-repeat" else [[[1.0]]] * 6
    display({handin.ANSWER_MIME: {"label": label, "answer": data}, "text/plain": "ok"}, raw=True)
handin.submit = forged
"""
# Look for the graders wherever they might be: installed, or on disk near anything known.
STEAL = """\
import os, sys, importlib
found = []
try:
    import ptheory_grading
    found.append(ptheory_grading.__file__)
except ImportError:
    pass
for top in ["/", os.path.expanduser("~")]:
    for root, dirs, files in os.walk(top):
        dirs[:] = [d for d in dirs if d not in ("proc", "sys", "dev")]
        if "ptheory_grading" in dirs or "foundation.py" in files and "grading" in root:
            found.append(root)
        if len(found) > 3:
            break
print("found graders:", found)
for where in found:
    sys.path.insert(0, where if os.path.isdir(where) else os.path.dirname(os.path.dirname(where)))
try:
    from ptheory_grading import foundation as G
    answer = G._exp_attention
except Exception as error:
    print("no reference:", type(error).__name__)
    answer = ...
"""
LOOP = "while True:\n    pass\n"
DEAF_LOOP = "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    pass\n"
MEMORY = "hog = bytearray(64 * 2**30)  # 64 GiB\n"
NETWORK = """\
import socket, urllib.request
for attempt in (lambda: socket.create_connection(("1.1.1.1", 80), timeout=3),
                lambda: urllib.request.urlopen("http://example.org/answers", timeout=3)):
    try:
        attempt()
        print("NETWORK REACHED")
    except OSError as error:
        print("network:", error)
answer = ...
"""


def steal_files(course: Path) -> str:
    """Read the course's source notebook (with solutions), its gradebook and another
    student's submission, and run the solution found there."""
    return textwrap.dedent(f"""\
        import json, glob
        course = {str(course)!r}
        answer = ...
        for path in [course + "/source/{ASSIGNMENT}/{CHAPTER}.ipynb",
                     *glob.glob(course + "/submitted/*/{ASSIGNMENT}/{CHAPTER}.ipynb"),
                     *glob.glob(course + "/autograded/*/{ASSIGNMENT}/{CHAPTER}.ipynb")]:
            try:
                cells = json.load(open(path))["cells"]
            except OSError as error:
                print("cannot read:", type(error).__name__)
                continue
            for cell in cells:
                if "def att_exp" in "".join(cell["source"]):
                    exec("".join(cell["source"]).replace("ex.check", "print"))
        try:
            open(course + "/gradebook.db", "rb").read(16)
            print("READ THE GRADEBOOK")
        except OSError as error:
            print("gradebook:", type(error).__name__)
        """)


def write_outside(course: Path, marker: str) -> str:
    targets = [
        f"{course}/{marker}",
        f"{course}/gradebook.db",
        f"{ROOT}/{marker}",
        f"/tmp/{marker}",
        f"/usr/{marker}",
        f"{course}/autograded/correct/{ASSIGNMENT}/{marker}",
    ]
    return textwrap.dedent(f"""\
        import os
        for path in {targets!r}:
            try:
                with open(path, "ab") as f:
                    f.write(b"pwned")
                print("wrote", path)
            except OSError as error:
                print("cannot write:", type(error).__name__)
        answer = ...
        """)


def corpus(course: Path, marker: str) -> dict[str, dict[str, str]]:
    """Student -> {cell: code}: what each puts in the answer cells (``<label>-code``), or
    ``before`` (a cell of their own at the top)."""
    return {
        "correct": {"ex-model-repeat-code": REPEAT, "ex-model-break-code": BREAK},
        "blank": {},
        "wrong": {
            "ex-model-repeat-code": "answer = lambda weight, k: weight\n",
            "ex-model-break-code": "answer = lambda layer, x, Z: layer.attend(x, Z)\n",
        },
        "patcher": {  # also un-marks the test of ex-model-break (see make_submission)
            "before": PATCH,
            "ex-model-repeat-code": "answer = lambda weight, k: weight\n",
            "ex-model-break-code": "answer = 0.5\n",
        },
        "forger": {"before": FORGE},
        "stealer": {"ex-model-break-code": STEAL},
        "looper": {"ex-model-repeat-code": LOOP, "ex-model-break-code": BREAK},
        "deaf": {"ex-model-repeat-code": DEAF_LOOP, "ex-model-break-code": BREAK},
        "hog": {"ex-model-repeat-code": MEMORY + "answer = ...\n", "ex-model-break-code": BREAK},
        # the network and writes outside first, then the course's files (one kernel)
        "snooper": {
            "before": NETWORK + write_outside(course, marker),
            "ex-model-break-code": steal_files(course),
        },
    }


EXPECTED = {  # auto-graded points: repeat, break
    "correct": (2, 2),
    "looper": (0, 2),  # an interrupted loop breaks its own exercise only
    "hog": (0, 2),  # so does a failed allocation
}


def make_submission(
    release: Path, answers: dict[str, str], folder: Path, whole: bool = False
) -> None:
    """A student's notebook: ``answers`` in its cells. Unless ``whole``, the chapter's
    own computations are deleted, as a student may (only the graded cells must stay):
    what is graded runs as in the whole notebook, in seconds instead of a minute."""
    nb = nbformat.read(release, as_version=4)
    if not whole:
        first = next(i for i, c in enumerate(nb.cells) if "import ptheory as pt" in c.source)
        nb.cells = [
            c
            for i, c in enumerate(nb.cells)
            if i <= first or c.cell_type == "markdown" or "nbgrader" in c.metadata
        ]
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id", "")
        if grade_id in answers:
            cell.source = answers[grade_id] + cell.source.split("# YOUR CODE HERE", 1)[1]
        if grade_id == "ex-model-logistic" and answers:
            cell.source = "The odds multiply by k, so lambda = 1 / (1 + e^{-(l_P - l_X)})."
        if grade_id == "ex-model-break-written" and answers:
            cell.source = "The prompt now adds a vector; the shift depends on the query only."
    if "before" in answers:
        at = next(i for i, c in enumerate(nb.cells) if "import ptheory as pt" in c.source)
        nb.cells.insert(at + 1, nbformat.v4.new_code_cell(answers["before"]))
        nb.cells[at + 1]["id"] = "student-own-cell"
    if answers.get("before") == PATCH:
        # An edited test cell's marks (here its grade flag) stopped nbgrader with an error
        # (no grade and no feedback at all); make grade puts them back, with a note.
        test = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id")
                    == "ex-model-break")  # fmt: skip
        test.metadata["nbgrader"]["grade"] = False
    folder.mkdir(parents=True)
    nbformat.write(nb, folder / f"{CHAPTER}.ipynb")


def read_grades(course: Path) -> dict[tuple[str, str], dict[str, str]]:
    with (course / "grades.csv").open() as f:
        return {(r["student"], r["exercise"]): r for r in csv.DictReader(f)}


# ------------------------------------------------------------------ the course
@pytest.fixture(scope="module")
def graded(student_edition: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The course built and the corpus graded; what was measured."""
    base = tmp_path_factory.mktemp("course")
    course, submissions = base / "course", base / "submissions"
    course_file = base / "course.yml"
    course_file.write_text(COURSE_FILE)
    marker = f"PWNED-{os.getpid()}"
    start = time.perf_counter()
    course_script("build", str(course_file), "--out", str(course))
    built = time.perf_counter() - start
    release = course / "release" / ASSIGNMENT / f"{CHAPTER}.ipynb"
    students = corpus(course, marker)
    for student, answers in students.items():
        whole = student == "correct"  # the honest student runs the whole chapter
        make_submission(release, answers, submissions / student / ASSIGNMENT, whole)
    # 1. the honest student first, and the instructor scores one answer by hand
    t = time.perf_counter()
    course_script("grade", str(course_file), str(submissions), "--out", str(course),
                  "--student", "correct")  # fmt: skip
    first = time.perf_counter() - t
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", COURSE_ID) as gb:
        grade = gb.find_grade("ex-model-logistic", CHAPTER, ASSIGNMENT, "correct")
        grade.manual_score = 2.5
        gb.db.commit()
    before = _rows(course, "correct")
    # 2. everyone else
    t = time.perf_counter()
    output = course_script("grade", str(course_file), str(submissions), "--out", str(course))
    rest = time.perf_counter() - t
    REPORTS.mkdir(parents=True, exist_ok=True)
    times = {"build_s": round(built, 1), "grade_one_s": round(first, 1),
             "grade_rest_s": round(rest, 1), "students": len(students)}  # fmt: skip
    (REPORTS / "course.json").write_text(json.dumps(times, indent=2) + "\n")
    return {
        "course": course,
        "course_file": course_file,
        "marker": marker,
        "before": before,
        "output": output.stdout,
        "students": list(students),
    }


def _rows(course: Path, student: str) -> list[tuple]:
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", COURSE_ID) as gb:
        submission = gb.find_submission(ASSIGNMENT, student)
        return sorted(
            (g.name, g.auto_score, g.manual_score, g.needs_manual_grade)
            for nb in submission.notebooks
            for g in nb.grades
        )


def test_each_submission_earns_what_it_earns(graded: dict) -> None:
    grades = read_grades(graded["course"])
    for student in graded["students"]:
        want = EXPECTED.get(student, (0, 0))
        got = tuple(float(grades[(student, label)]["score"]) for label in AUTO)
        assert got == want, f"{student}: {got}, want {want}"
        for label in AUTO:
            assert grades[(student, label)]["max_score"] == ("2" if label == AUTO[0] else "4")
    # the hand-graded parts: waiting for the instructor where something was written
    assert grades[("correct", "ex-model-break")]["needs_manual_grade"] == "yes"
    assert grades[("correct", "ex-model-logistic")]["score"] == "2.5"  # scored by hand
    assert grades[("blank", "ex-model-logistic")]["score"] == "0"  # nothing written
    with (graded["course"] / "grades_by_student.csv").open() as f:  # what an LMS imports
        totals = {r["student"]: r for r in csv.DictReader(f)}
    assert set(totals) == set(graded["students"])
    assert (totals["correct"]["total"], totals["correct"]["max_total"]) == ("6.5", "9")


def test_the_other_rows_are_untouched(graded: dict) -> None:
    assert _rows(graded["course"], "correct") == graded["before"]


def test_the_cheats_found_nothing(graded: dict) -> None:
    course = graded["course"]

    def shown(student: str) -> str:
        path = course / "autograded" / student / ASSIGNMENT / f"{CHAPTER}.ipynb"
        nb = nbformat.read(path, as_version=4)
        return json.dumps([c.get("outputs", []) for c in nb.cells])

    assert "found graders: []" in shown("stealer") and "no reference" in shown("stealer")
    snooper = shown("snooper")
    assert "NETWORK REACHED" not in snooper and "network:" in snooper
    assert "READ THE GRADEBOOK" not in snooper and "cannot read" in snooper
    assert "cannot write" in snooper  # (its own /tmp is private and writable)
    marker = graded["marker"]
    for place in (course, ROOT, Path("/tmp"), course / "autograded" / "correct" / ASSIGNMENT):
        assert not (place / marker).exists(), place
    # the patched traceback display and fake "Correct" are replaced by the verdict
    patcher = shown("patcher")
    assert "0 of 2 points" in patcher and "full marks" not in patcher
    # the loops: one interrupted, one stopped with the rest of its notebook
    assert "KeyboardInterrupt" in shown("looper")
    assert "time limit" in shown("deaf")


def test_feedback_for_every_student(graded: dict) -> None:
    for student in graded["students"]:
        page = graded["course"] / "feedback" / student / ASSIGNMENT / f"{CHAPTER}.html"
        assert page.is_file(), page
    patcher = graded["course"] / "feedback" / "patcher" / ASSIGNMENT / f"{CHAPTER}.html"
    assert "Note from the grader" in patcher.read_text()  # its test cell's marks put back
    wrong = (graded["course"] / "feedback" / "wrong" / ASSIGNMENT / f"{CHAPTER}.html").read_text()
    assert "ex-model-repeat" in wrong and "too small" in wrong  # the grader's message
    # feedback shows the student's work and the verdicts, never the book's solutions
    for solution in ("odds / (1 - weight)", "W_O[0] @ layer.W_V[0]", "divide numerator"):
        assert solution not in wrong, solution


def test_lms_zips_and_a_second_hand_in(graded: dict, tmp_path: Path) -> None:
    """An LMS's export: one zip with <student>_<chapter>.ipynb files (nbgrader zip_collect).
    And a student who hands in again (a newer notebook) is graded again, where nbgrader
    alone would skip a submission it has graded."""
    course = graded["course"]
    release = course / "release" / ASSIGNMENT / f"{CHAPTER}.ipynb"
    make_submission(release, corpus(course, "x")["correct"], tmp_path / "one")
    folder = tmp_path / "lms"
    folder.mkdir()
    with __import__("zipfile").ZipFile(folder / f"{ASSIGNMENT}-export.zip", "w") as zf:
        zf.write(tmp_path / "one" / f"{CHAPTER}.ipynb", f"lmsstudent_{CHAPTER}.ipynb")
    again = folder / "wrong" / ASSIGNMENT
    again.mkdir(parents=True)
    shutil.copy(tmp_path / "one" / f"{CHAPTER}.ipynb", again)  # now newer than the first
    course_script("grade", str(graded["course_file"]), str(folder), "--out", str(course))
    grades = read_grades(course)
    assert grades[("lmsstudent", "ex-model-repeat")]["score"] == "2"
    assert [grades[("wrong", label)]["score"] for label in AUTO] == ["2", "2"]
    assert _rows(course, "correct") == graded["before"]


# ------------------------------------------------------------------ the hand-out
def test_course_handout(graded: dict) -> None:
    """What a student receives: the release notebook, the wheel, a README that says how to
    install (torch's CPU build, Windows), start JupyterLab and hand in; no answer anywhere.
    (The wheel check fails while chapters still have old-style checks holding answers.)"""
    import zipfile

    from test_handout import student_wheels, wheel_leaks

    archive = graded["course"] / "handout" / f"{ASSIGNMENT}.zip"
    with zipfile.ZipFile(archive) as zf:
        names = set(zf.namelist())
        readme = zf.read(f"{ASSIGNMENT}/README.txt").decode()
        notebook = nbformat.reads(zf.read(f"{ASSIGNMENT}/{CHAPTER}.ipynb").decode(), 4)
    assert f"{ASSIGNMENT}/{CHAPTER}.ipynb" in names and len(names) == 3
    for must in ("download.pytorch.org/whl/cpu", "venv\\Scripts\\activate", "jupyter lab",
                 "Handing in", "Restart Kernel and Run All"):  # fmt: skip
        assert must in readme, must
    text = json.dumps(notebook)
    for secret in ("def att_exp", "odds / (1 - weight)", "submit(", "HIDDEN TESTS"):
        assert secret not in text, secret
    assert "myst_nb" not in text and "{glue" not in text and "{prf:" not in text
    assert "ex-model-repeat" in text  # the one name, in the notebook too
    leaks = [x for n, data in student_wheels(archive).items() for x in wheel_leaks(data, n)]
    assert not leaks, "\n".join(leaks)


# ------------------------------------------------------------------ the formgrader
def _chromium() -> str | None:
    for candidate in (os.environ.get("PTHEORY_CHROMIUM"), "chromium", "chromium-browser"):
        if candidate and (found := shutil.which(candidate)):
            return found
    return None


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_formgrader_scores_a_written_answer(graded: dict) -> None:
    """nbgrader's manual-grading page in headless Chromium (no request leaves the machine):
    one student's written explanation scored by hand, and the score in the grades."""
    chromium = _chromium()
    if chromium is None:
        if os.environ.get("PTHEORY_REQUIRE_BROWSER") == "1":
            pytest.fail("PTHEORY_REQUIRE_BROWSER=1 but no Chromium is installed")
        pytest.skip("no Chromium (apt-get install chromium)")
    from nbgrader.api import Gradebook
    from playwright.sync_api import sync_playwright

    course = graded["course"]
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", COURSE_ID) as gb:
        notebook_id = gb.find_submission_notebook(CHAPTER, ASSIGNMENT, "looper").id
    port, token = _free_port(), "formgrader-test"
    jupyter = Path(sys.executable).parent / "jupyter"
    env = {**os.environ, "PATH": f"{jupyter.parent}:{os.environ['PATH']}"}
    server = subprocess.Popen(
        [str(jupyter), "server", "--no-browser", f"--port={port}", "--ServerApp.ip=127.0.0.1",
         f"--IdentityProvider.token={token}",
         "--ServerApp.jpserver_extensions={'nbgrader.server_extensions.formgrader': True}",
         *(["--allow-root"] if os.geteuid() == 0 else [])],
        cwd=course, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    blocked: list[str] = []
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
            context = browser.new_context()

            def route(r: object) -> None:
                if r.request.url.startswith(base):
                    r.continue_()
                else:
                    blocked.append(r.request.url)
                    r.abort()

            context.route("**/*", route)
            page = context.new_page()
            deadline = time.monotonic() + 120
            while True:
                try:  # log in (a cookie for the page's own API calls), then the page
                    response = page.goto(f"{base}/login?token={token}")
                    if response is not None and response.status == 200:
                        with page.expect_response(lambda r: "/api/grades?" in r.url) as grades:
                            response = page.goto(f"{base}/formgrader/submissions/{notebook_id}/")
                        assert grades.value.ok
                    if response is not None and response.status == 200:
                        break
                except Exception:  # the server is still starting
                    pass
                assert time.monotonic() < deadline, "the formgrader did not start"
                assert server.poll() is None, server.stderr.read()[-3000:]
                time.sleep(1)
            score = page.locator("input.score#ex-model-break-written")
            score.wait_for(timeout=60_000)
            page.wait_for_timeout(1000)  # the page draws its score boxes from the grades
            assert "ex-model-break" in page.content()
            with page.expect_response(lambda r: "/formgrader/api/grade/" in r.url) as saved:
                score.fill("1.5")
                score.press("Tab")
            assert saved.value.ok
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=30)
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", COURSE_ID) as gb:
        grade = gb.find_grade("ex-model-break-written", CHAPTER, ASSIGNMENT, "looper")
        assert grade.manual_score == 1.5
    sys.path.insert(0, str(ROOT / "scripts"))
    import course as course_tools

    from ptheory_grading.course import load_course

    course_tools.export_grades(load_course(graded["course_file"]), course)
    row = read_grades(course)[("looper", "ex-model-break")]
    assert (row["score"], row["max_score"]) == ("3.5", "4")  # 2 graded + 1.5 by hand
    # nbgrader's page asks a CDN for MathJax (math in answers shows as TeX without it);
    # nothing else leaves the machine
    assert all("mathjax" in u.lower() for u in blocked), blocked
