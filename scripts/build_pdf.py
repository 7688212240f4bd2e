"""Build the PDF edition: the whole book through XeLaTeX into ``_build/pdf/book.pdf``.

Usage: python scripts/build_pdf.py [--root DIR]

Jupyter Book's ``pdflatex`` builder with ``latex_engine: xelatex`` (``_config.yml``):
executed outputs and figures from the execution cache (cleared first if ``ptheory``
changed, as ``make book`` does), theorem boxes, the bibliography. Needs XeLaTeX, latexmk
and fonts (Debian: texlive-xetex texlive-latex-extra texlive-fonts-recommended tex-gyre
fonts-freefont-otf latexmk xindy; ``.ci/run`` installs them). Sphinx warnings are errors,
as in the HTML build. ``make book`` afterwards offers the PDF on the site.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

import build_book  # noqa: E402  (scripts, not a package)

NEEDED = ("xelatex", "latexmk", "xindy")
PACKAGES = (
    "texlive-xetex texlive-latex-recommended texlive-latex-extra texlive-fonts-recommended "
    "tex-gyre fonts-freefont-otf latexmk xindy"
)
"""Debian's packages for :data:`NEEDED` and the fonts (as ``.ci/run`` installs them)."""


def build(root: Path = ROOT) -> int:
    missing = [tool for tool in NEEDED if shutil.which(tool) is None]
    if missing:
        print(
            f"build_pdf: {', '.join(missing)} not found, so no PDF. Install TeX (Debian: "
            f"sudo apt-get install {PACKAGES}) and run make pdf again. The HTML book needs "
            "none of it: make book builds a site that offers no PDF."
        )
        return 1
    if build_book.invalidate_if_stale(root):
        print("build_pdf: ptheory changed (or first build): every chapter will be executed")
    start = time.perf_counter()
    cmd = build_book.jupyter_book_command(root, "--builder", "pdflatex")
    result = subprocess.run(cmd, cwd=root, check=False)
    pdf = root / "_build" / "latex" / "book.pdf"
    if result.returncode == 0 and not pdf.is_file():
        print(f"build_pdf: the build ended without {pdf}")
        return 1
    if result.returncode == 0:
        out = root / "_build" / "pdf"
        out.mkdir(parents=True, exist_ok=True)
        shutil.copy2(pdf, out / "book.pdf")
        print(f"build_pdf: {out / 'book.pdf'} ({pdf.stat().st_size / 1e6:.1f} MB)")
    seconds = time.perf_counter() - start
    print(f"build_pdf: took {seconds:.1f} s (exit status {result.returncode})")
    return result.returncode


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=ROOT, help="the book's root folder")
    args = parser.parse_args(argv)
    return build(args.root.resolve())


if __name__ == "__main__":
    sys.exit(main())
