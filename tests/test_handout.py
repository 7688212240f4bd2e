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


def test_handout_contents(student_edition: Path) -> None:
    with zipfile.ZipFile(student_edition / "handout.zip") as zf:
        names = set(zf.namelist())
        readme = zf.read("handout/README.txt").decode()
    wheel = editions.wheel_name()
    expected = {f"handout/{c.stem}.ipynb" for c in toc_chapters()}
    assert names == expected | {"handout/README.txt", f"handout/{wheel}"}
    assert wheel in readme and "git+" not in readme


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
