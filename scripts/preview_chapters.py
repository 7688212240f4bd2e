"""Build a small book of a few chapters, to preview them while writing.

Usage: python scripts/preview_chapters.py notebooks/a.md [notebooks/b.md ...] [--out DIR]

The full build (``make book``) executes and renders every chapter in ``_toc.yml``. While a
chapter is being written it is quicker, and it keeps ``_build`` untouched, to build just
that chapter with the book's own configuration, bibliography and notation page, with
warnings as errors, as the real build does. The chapters need not be in ``_toc.yml`` yet;
the foundation chapter, whose labels the others cite, is always included.
The HTML lands in ``DIR/_build/html`` (default: a fresh temporary folder, printed).
Exit status is the build's.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def stage(chapters: list[Path], out: Path) -> None:
    """Copy the configuration, the appendix pages and ``chapters`` into ``out``."""
    for name in ("_config.yml", "references.bib", "pyproject.toml"):
        shutil.copy(ROOT / name, out / name)
    (out / "book").mkdir(exist_ok=True)
    shutil.copytree(ROOT / "book" / "_ext", out / "book" / "_ext", dirs_exist_ok=True)
    # The pinned JavaScript (MathJax, ...) the build copies into every page's static files.
    assets = out / "book" / "assets"
    if not assets.exists():
        assets.symlink_to(ROOT / "book" / "assets", target_is_directory=True)
    for page in ("notation.md", "bibliography.md", "about_sources.md"):
        shutil.copy(ROOT / "book" / page, out / "book" / page)
    (out / "book" / "intro.md").write_text("# Preview\n\nA preview build of a few chapters.\n")
    (out / "notebooks").mkdir(exist_ok=True)
    for chapter in chapters:
        shutil.copy(chapter, out / "notebooks" / chapter.name)
    # The other chapters as one-line stubs (their label and title), so that a {doc} or a
    # chapter label pointing at them resolves without executing them.
    others = [c for c in sorted((ROOT / "notebooks").glob("*.md")) if c.name not in
              {p.name for p in chapters}]  # fmt: skip
    for other in others:
        text = other.read_text()
        label = re.search(r"^\((chapter-[\w-]+)\)=$", text, re.M)
        title = re.search(r"^# (.+)$", text, re.M)
        stub = (f"({label.group(1)})=\n" if label else "") + (
            f"# {title.group(1) if title else other.stem}\n\n(Not in this preview.)\n"
        )
        (out / "notebooks" / other.name).write_text(stub)
    entries = "".join(f"      - file: notebooks/{c.stem}\n" for c in chapters)
    stubs = "".join(f"      - file: notebooks/{c.stem}\n" for c in others)
    (out / "_toc.yml").write_text(
        "format: jb-book\nroot: book/intro\nparts:\n"
        "  - caption: Preview\n    numbered: true\n    chapters:\n"
        + entries
        + ("  - caption: Not in this preview\n    chapters:\n" + stubs if stubs else "")
        + "  - caption: Appendix\n    chapters:\n"
        "      - file: book/about_sources\n"
        "      - file: book/notation\n      - file: book/bibliography\n"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("chapters", nargs="+", type=Path, help="chapter files (.md)")
    parser.add_argument("--out", type=Path, default=None, help="folder for the preview")
    args = parser.parse_args(argv)
    chapters = [c.resolve() for c in args.chapters]
    # Every chapter may refer to the foundation's definitions and lemma: stage it first.
    foundation = (ROOT / "notebooks" / "prompt_tuning_model.md").resolve()
    chapters = [foundation, *(c for c in chapters if c != foundation)]
    for chapter in chapters:
        if chapter.suffix != ".md" or not chapter.is_file():
            parser.error(f"chapters: {chapter} is not an existing .md file")
    out = args.out or Path(tempfile.mkdtemp(prefix="ptheory-preview-"))
    out.mkdir(parents=True, exist_ok=True)
    stage(chapters, out)
    jupyter_book = Path(sys.executable).parent / "jupyter-book"
    cmd = [str(jupyter_book), "build", str(out), "--all", "-W", "-n", "--keep-going"]
    result = subprocess.run(cmd, cwd=ROOT, check=False)
    print(f"preview: {out / '_build' / 'html' / 'index.html'} (exit {result.returncode})")
    return result.returncode


if __name__ == "__main__":
    sys.exit(main())
