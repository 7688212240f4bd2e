"""The hand-out (``make student`` writes ``_build/student/handout.zip``) works without the
repository: unzipped into an empty folder, a student notebook's setup cell installs
``ptheory`` from the wheel next to it into a fresh virtual environment, and the notebook
runs top to bottom behind the network guard.

The fresh environment gets ``ptheory``'s dependencies (numpy, torch, matplotlib, seaborn,
myst-nb, ipykernel; nothing can be downloaded here) by a path entry to a folder of links
to this environment's installed packages, *without* ``ptheory``: pip sees them as
installed and resolves the wheel's requirements against them with ``--no-index``. The
test checks that the notebook imported ``ptheory`` from the fresh environment, installed
from the hand-out's wheel, never from this repository.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import time
import zipfile
from pathlib import Path

import nbformat
import pytest

from booktools import OFFLINE, REPORTS, ROOT, cell_timeout, editions, toc_chapters

pytestmark = pytest.mark.book

NOTEBOOK = "prompt_tuning_model"
"""The hand-out notebook the test runs (the first chapter)."""

_RUNNER = """
import json, sys
import nbformat
from nbclient import NotebookClient

path, timeout = sys.argv[1], int(sys.argv[2])
nb = nbformat.read(path, as_version=4)
nb.cells.append(nbformat.v4.new_code_cell(
    "import ptheory, importlib.metadata as m\\n"
    "print(ptheory.__file__)\\n"
    "print(m.distribution('ptheory').read_text('direct_url.json'))"))
folder = path.rsplit("/", 1)[0]
NotebookClient(
    nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": folder}}
).execute()
print(json.dumps(nb.cells[-1].outputs[0]["text"]))
"""


def _dependency_view(target: Path) -> Path:
    """A folder of links to this environment's packages, ``ptheory`` left out."""
    site = Path(sysconfig.get_paths()["purelib"])
    target.mkdir()
    for entry in site.iterdir():
        name = entry.name.lower()
        if name.startswith(("ptheory", "__editable__")) or name.endswith(".pth"):
            continue
        (target / entry.name).symlink_to(entry)
    return target


# ------------------------------------------------------------------ no answers in a wheel
KNOWN_LEAKS = (
    # reference solutions, answers and revealing tolerances once shipped to students
    "_largest_index_level",
    "_SAW_EXACT",
    "_reference_exp_attention",
    "_lookup_errors",
    "_radius_reference",
    "_query_update_reference",
    "HALF_RANGE",
    "_reference_share",
    "_first_paying",
)
"""Names of answers that earlier student wheels held (issue 21): none may come back."""

HIDDEN_TESTS = ("BEGIN HIDDEN TESTS", "BEGIN SOLUTION", "ptheory_grading.grade(")


def _grader_names() -> dict[str, str]:
    """Private functions and constants the instructor's grader modules define (the
    references), each with its code (an AST dump), to recognise a copy in a wheel."""
    import ast

    import ptheory_grading

    names: dict[str, str] = {}
    for module in Path(ptheory_grading.__file__).parent.glob("*.py"):
        if module.stem in ("__init__", "_core", "autograde", "sandbox", "course"):
            continue  # the machinery, which no student file imports or copies
        for node in ast.parse(module.read_text()).body:
            if isinstance(node, ast.FunctionDef | ast.ClassDef):
                names[node.name] = _code(node)
            elif isinstance(node, ast.Assign) and not isinstance(
                node.value, ast.Attribute | ast.Name
            ):  # an alias (`F64 = torch.float64`) holds no answer
                names.update({t.id: _code(node) for t in node.targets if isinstance(t, ast.Name)})
    # the registered graders are public wrappers (`repeat`); references are their private
    # helpers (`_exp_attention`) and constants (`TOLERANCE`)
    return {n: c for n, c in names.items() if n.startswith("_") or n.isupper()}


def _code(node: object) -> str:
    """A definition's code without its name and docstring: what a copy would share."""
    import ast
    import copy

    node = copy.deepcopy(node)
    if isinstance(node, ast.FunctionDef | ast.ClassDef):
        node.name = ""
        body = node.body
        if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
            node.body = body[1:]
        node.decorator_list = []
    elif isinstance(node, ast.Assign):
        node.targets = []
    return ast.dump(node)


def wheel_leaks(wheel: bytes, name: str = "wheel") -> list[str]:
    """What a student wheel (its bytes) holds that it must not: the instructor's package,
    a grader or reference function, an old-style check that judges in the student's
    kernel (it must hold the answer to do so), a name of a known answer, a hidden test."""
    import ast
    import io
    import re

    leaks: list[str] = []
    graders = _grader_names()
    with zipfile.ZipFile(io.BytesIO(wheel)) as zf:
        for member in zf.namelist():
            if "ptheory_grading" in member or member.startswith(("grading/", "tests/")):
                leaks.append(f"{name}: {member} (the instructor's files)")
            if not member.endswith((".py", ".txt", ".json", ".ipynb", ".md")):
                continue
            text = zf.read(member).decode(errors="replace")
            for marker in HIDDEN_TESTS:
                if marker in text:
                    leaks.append(f"{name}: {member} holds {marker!r}")
            if not member.endswith(".py"):
                continue
            if re.search(r"^@exercise_check\(", text, re.M):
                leaks.append(f"{name}: {member} has checks that judge in the student's kernel")
            defined: dict[str, str] = {}
            for node in ast.walk(ast.parse(text)):
                if isinstance(node, ast.FunctionDef | ast.ClassDef):
                    defined[node.name] = _code(node)
                elif isinstance(node, ast.Assign):
                    for target in node.targets:
                        if isinstance(target, ast.Name):
                            defined[target.id] = _code(node)
                elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                    defined.setdefault(node.id, "")
            for leaked in sorted(defined):
                # a known answer's name, or a grader's reference copied (same code: a
                # helper that only shares a grader's name, `_lookup`, is no leak)
                if leaked in KNOWN_LEAKS or graders.get(leaked, None) == defined[leaked]:
                    leaks.append(f"{name}: {member} defines {leaked}")
    return leaks


def student_wheels(archive: Path) -> dict[str, bytes]:
    """Every wheel inside a hand-out zip, by name."""
    with zipfile.ZipFile(archive) as zf:
        return {m: zf.read(m) for m in zf.namelist() if m.endswith(".whl")}


def test_wheel_leak_detector_finds_what_it_must(tmp_path: Path) -> None:
    """The detector itself: an instructor's module, an old check, a reference function, a
    known answer name and a hidden test are each reported; a clean module is not."""
    import io

    def wheel(files: dict[str, str]) -> bytes:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as zf:
            for path, text in files.items():
                zf.writestr(path, text)
        return buffer.getvalue()

    import ast

    import ptheory_grading

    clean = {"ptheory/exercises/x.py": "def _quick(answer):\n    return None\n"}
    assert wheel_leaks(wheel(clean)) == []
    # a helper that only shares a grader helper's name is no leak; a copy of it is
    same_name = {"ptheory/exercises/z.py": "def _exp_attention(l, x, Z):\n    return 1\n"}
    assert wheel_leaks(wheel({**clean, **same_name})) == []
    source = (Path(ptheory_grading.__file__).parent / "foundation.py").read_text()
    node = next(
        n
        for n in ast.parse(source).body
        if isinstance(n, ast.FunctionDef) and n.name == "_exp_attention"
    )
    copied = ast.unparse(node) + "\n"
    for files, what in [
        ({"ptheory_grading/foundation.py": "x = 1\n"}, "instructor"),
        (
            {"ptheory/exercises/y.py": "@exercise_check('ex-a')\ndef check_a(x):\n    pass\n"},
            "judge",
        ),
        ({"ptheory/exercises/y.py": copied}, "_exp_attention"),
        ({"ptheory/exercises/y.py": "HALF_RANGE = (14.0, 40.0)\n"}, "HALF_RANGE"),
        ({"a/notes.txt": "### BEGIN HIDDEN TESTS\n"}, "HIDDEN"),
    ]:
        found = wheel_leaks(wheel({**clean, **files}))
        assert len(found) == 1 and what in found[0], (what, found)


def test_make_student_wheel_holds_no_answers(student_edition: Path) -> None:
    """Every wheel a student receives from `make student`. (Fails while chapters still
    have old-style checks, which hold their answers: the migration removes them.)"""
    wheels = student_wheels(student_edition / "handout.zip")
    assert len(wheels) == 1
    leaks = [leak for name, data in wheels.items() for leak in wheel_leaks(data, name)]
    assert not leaks, "\n".join(leaks)


def test_handout_contents(student_edition: Path) -> None:
    with zipfile.ZipFile(student_edition / "handout.zip") as zf:
        names = set(zf.namelist())
        readme = zf.read("handout/README.txt").decode()
    wheel = editions.wheel_name()
    expected = {f"handout/{c.stem}.ipynb" for c in toc_chapters()}
    assert names == expected | {"handout/README.txt", f"handout/{wheel}"}
    assert wheel in readme and "git+" not in readme
    # how to install (torch's CPU build, on Windows too) and how to start
    for must in ("download.pytorch.org/whl/cpu", "venv\\Scripts\\activate", "jupyter lab"):
        assert must in readme, must


def test_handout_notebook_runs_in_a_fresh_environment(
    student_edition: Path, tmp_path: Path
) -> None:
    start = time.perf_counter()
    with zipfile.ZipFile(student_edition / "handout.zip") as zf:
        zf.extractall(tmp_path / "class")
    folder = tmp_path / "class" / "handout"
    venv = tmp_path / "venv"
    base = getattr(sys, "_base_executable", sys.executable)
    subprocess.run([base, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    (Path(site) / "dependencies.pth").write_text(f"{_dependency_view(tmp_path / 'deps')}\n")
    probe = subprocess.run(
        [python, "-c", "import ptheory"], cwd=folder, capture_output=True, text=True, check=False
    )
    assert probe.returncode != 0, "the fresh environment sees ptheory before installing it"
    kernels = venv / "share" / "jupyter"
    subprocess.run(
        [python, "-m", "ipykernel", "install", "--prefix", str(venv), "--name", "python3"],
        check=True,
        capture_output=True,
    )
    env = {
        **os.environ,
        "PYTHONPATH": str(OFFLINE),  # the network guard, and nothing of the repository
        "PIP_NO_INDEX": "1",
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "JUPYTER_PATH": str(kernels),
        "MPLBACKEND": "Agg",
    }
    notebook = folder / f"{NOTEBOOK}.ipynb"
    result = subprocess.run(
        [python, "-c", _RUNNER, str(notebook), str(cell_timeout())],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-6000:]
    shown = json.loads(result.stdout.strip().splitlines()[-1])
    installed_at, origin = shown.split("\n", 1)
    assert installed_at.startswith(str(venv)), f"ptheory imported from {installed_at}"
    assert editions.wheel_name() in origin and str(folder) in origin, origin
    assert str(ROOT) not in installed_at
    nbformat.validate(nbformat.read(notebook, as_version=4))
    REPORTS.mkdir(parents=True, exist_ok=True)
    (REPORTS / "handout.json").write_text(
        json.dumps(
            {
                "zip_bytes": (student_edition / "handout.zip").stat().st_size,
                "notebook": NOTEBOOK,
                "seconds": round(time.perf_counter() - start, 1),
                "installed_into_fresh_venv": ["ptheory (from the hand-out's wheel)"],
            },
            indent=2,
        )
        + "\n"
    )
