"""Build the book: execute the chapters (cached) and render the HTML into _build/html.

Usage: python scripts/build_book.py [--root DIR] [--builder html]

Jupyter Book caches each chapter's executed outputs under a hash of the chapter's own
code cells, and Sphinx re-reads only source files that changed. A change to ``ptheory``
changes neither, so a plain rebuild would serve outputs computed by the old package.
This script fingerprints the package (every file under ``ptheory/`` and
``pyproject.toml``) and, when the fingerprint differs from the one the cached outputs
were computed with, clears the execution cache so that every chapter is executed again.
With nothing changed, nothing is re-executed.

Warnings are errors (``-W -n --keep-going``) on every build, not only the first: each
build starts from a fresh Sphinx environment (``--all``), reusing only cached executions.
The build time is written to ``_build/reports/build.json``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "book" / "_ext"))

import editions  # noqa: E402  (the book's extension folder, not a package)

COURSE_TOOLS = frozenset({"autograde.py", "course.py", "sandbox.py"})
"""Modules of the instructor's package that build and grade courses: no chapter's output
depends on them, so a change to them re-executes nothing."""


def ptheory_fingerprint(root: Path = ROOT) -> str:
    """SHA-256 over the package's files (paths and bytes), the instructor's graders (the
    exercise checks' verdicts come from them) and ``pyproject.toml``."""
    digest = hashlib.sha256()
    files = sorted(
        p
        for folder in ("ptheory", "grading")
        for p in (root / folder).rglob("*")
        if p.is_file()
        and "__pycache__" not in p.parts
        and ".egg-info" not in str(p)
        and p.name not in COURSE_TOOLS
    )
    files.append(root / "pyproject.toml")
    for path in files:
        digest.update(path.relative_to(root).as_posix().encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()


def invalidate_if_stale(root: Path = ROOT) -> bool:
    """Clear cached executions if they were made with another version of ``ptheory``.

    The stamp records the fingerprint of the package that the cache's outputs were
    computed with; it is written as soon as the cache is cleared, so a build that fails
    half-way still leaves a cache and a stamp that agree. Returns True when cleared.
    """
    build = root / "_build"
    stamp = build / ".ptheory-fingerprint"
    current = ptheory_fingerprint(root)
    if stamp.is_file() and stamp.read_text().strip() == current:
        return False
    # Sphinx's own environment needs no clearing: every build starts fresh (--all).
    shutil.rmtree(build / ".jupyter_cache", ignore_errors=True)
    build.mkdir(exist_ok=True)
    stamp.write_text(current + "\n")
    return True


def jupyter_book_command(root: Path, *options: str) -> list[str]:
    """``jupyter-book build`` of ``root`` as every build of this book runs it.

    ``--all``: a fresh Sphinx environment every time. Sphinx otherwise skips unchanged
    pages, so a warning from the last build would not be raised again and a rebuild would
    pass. Executions still come from the jupyter cache, so this costs seconds. Warnings are
    errors (``-W -n --keep-going``).
    """
    jupyter_book = Path(sys.executable).parent / "jupyter-book"
    return [str(jupyter_book), "build", str(root), "--all", "-W", "-n", "--keep-going", *options]


def build_wheel(root: Path = ROOT) -> Path:
    """Build the ``ptheory`` wheel into ``_build/wheel`` (offline: no build isolation)."""
    out = root / "_build" / "wheel"
    shutil.rmtree(out, ignore_errors=True)
    cmd = [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-index"]
    cmd += ["--no-build-isolation", "--wheel-dir", str(out), str(root)]
    subprocess.run(cmd, cwd=root, check=True)
    # pip leaves setuptools' build folder behind in the source tree
    shutil.rmtree(root / "build", ignore_errors=True)
    (wheel,) = out.glob("ptheory-*.whl")
    return wheel


def publish_downloads(html: Path, root: Path = ROOT, pdf: bool = True) -> list[Path]:
    """Put the site's downloads into ``html/downloads``: the ``ptheory`` wheel, and (with
    ``pdf``) the PDF edition when ``make pdf`` has built it; a PDF left there by an
    earlier build is removed otherwise. The book's introduction links to the PDF under
    the same condition (``book/_ext/book_fixes.py``, :func:`download_substitutions`), so
    the site has no dead link. Returns the files placed."""
    downloads = html / editions.DOWNLOADS
    downloads.mkdir(parents=True, exist_ok=True)
    placed = [Path(shutil.copy2(build_wheel(root), downloads))]
    edition = editions.pdf_edition(root)
    if pdf and edition.is_file():
        placed.append(Path(shutil.copy2(edition, downloads / edition.name)))
    else:
        (downloads / edition.name).unlink(missing_ok=True)
    return placed


def build(root: Path = ROOT, builder: str = "html", downloads: bool = False) -> int:
    """Run the build and record its time in ``_build/reports/build.json``; with
    ``downloads`` (as ``make book`` runs it), also build and publish the site's downloads
    (:func:`publish_downloads`)."""
    stale = invalidate_if_stale(root)
    if stale:
        print("build_book: ptheory changed (or first build): every chapter will be executed")
    else:
        print("build_book: ptheory unchanged: chapters with unchanged code reuse cached outputs")
    cmd = jupyter_book_command(root, "--builder", builder)
    start = time.perf_counter()
    result = subprocess.run(cmd, cwd=root, check=False)
    seconds = time.perf_counter() - start
    reports = root / "_build" / "reports"
    reports.mkdir(parents=True, exist_ok=True)
    (reports / "build.json").write_text(
        json.dumps(
            {
                "builder": builder,
                "seconds": round(seconds, 2),
                "executed_everything": stale,
                "returncode": result.returncode,
            },
            indent=2,
        )
        + "\n"
    )
    if result.returncode == 0 and downloads:
        for path in publish_downloads(root / "_build" / "html", root):
            print(f"build_book: {path.relative_to(root)}")
    print(f"build_book: {builder} build took {seconds:.1f} s (exit status {result.returncode})")
    return result.returncode


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=ROOT, help="the book's root folder")
    parser.add_argument("--builder", default="html", help="Sphinx builder (default: html)")
    args = parser.parse_args(argv)
    return build(args.root.resolve(), args.builder, downloads=args.builder == "html")


if __name__ == "__main__":
    sys.exit(main())
