"""Build the student edition into ``_build/student``: the book without solutions.

Usage: python scripts/student.py [--root DIR] [--no-html]

- ``_build/student/notebooks/<chapter>.ipynb``: one notebook per chapter in ``_toc.yml``,
  with every solution removed, the exercise cells left as starting points (each runs as it
  is and reports "no answer yet"), no outputs, and a setup cell that installs ``ptheory``
  at the book's version where it is missing (Colab). See ``book/_ext/editions.py``.
- ``_build/student/html``: the HTML book built with ``hide_solutions``, without the page
  sources, offering the student notebook for download on every chapter page.

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
from pathlib import Path

import jupytext
import nbformat
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "book" / "_ext"))
sys.path.insert(0, str(ROOT / "scripts"))

import build_book  # noqa: E402  (scripts, not a package)
import editions  # noqa: E402


def write_notebooks(root: Path, out: Path) -> list[Path]:
    """Write the student notebook of every chapter into ``out``; return their paths."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for chapter in editions.toc_chapters(root):
        notebook = editions.student_notebook(jupytext.read(chapter), root)
        path = out / f"{chapter.stem}.ipynb"
        nbformat.validate(notebook)
        nbformat.write(notebook, path)
        written.append(path)
    return written


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
    return config


def build_html(root: Path, out: Path, notebooks: Path) -> int:
    """Build the HTML edition into ``out / "html"``; return the build's exit status."""
    staging = root / "_build" / ".student"
    shutil.rmtree(staging / "_build" / "html", ignore_errors=True)
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=ROOT, help="the book's root folder")
    parser.add_argument("--no-html", action="store_true", help="write the notebooks only")
    args = parser.parse_args(argv)
    root = args.root.resolve()
    out = root / "_build" / "student"
    start = time.perf_counter()
    notebooks = write_notebooks(root, out / "notebooks")
    print(f"student: {len(notebooks)} notebooks in {out / 'notebooks'}")
    status = 0
    if not args.no_html:
        if build_book.invalidate_if_stale(root):
            print("student: ptheory changed (or first build): every chapter will be executed")
        status = build_html(root, out, out / "notebooks")
        if status == 0:
            print(f"student: the HTML edition is in {out / 'html' / 'index.html'}")
    print(f"student: took {time.perf_counter() - start:.1f} s (exit status {status})")
    return status


if __name__ == "__main__":
    sys.exit(main())
