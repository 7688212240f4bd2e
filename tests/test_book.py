"""The book builds with warnings as errors, and the built chapters hold their outputs."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from booktools import ROOT, toc_chapters

HTML = ROOT / "_build" / "html"


@pytest.fixture(scope="module")
def built_book() -> None:
    """Build the book as ``make book`` does (``-W -n --keep-going``, cached executions)."""
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "build_book.py")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        pytest.fail(
            "the book build failed (warnings are errors):\n"
            + (result.stdout + result.stderr)[-6000:],
            pytrace=False,
        )


@pytest.mark.book
def test_book_builds(built_book: None) -> None:
    assert (HTML / "index.html").is_file()
    assert (HTML / "genindex.html").is_file()


@pytest.mark.book
@pytest.mark.parametrize("chapter", toc_chapters(), ids=[c.stem for c in toc_chapters()])
def test_chapter_page_has_outputs(built_book: None, chapter) -> None:
    page = HTML / chapter.relative_to(ROOT).with_suffix(".html")
    html = page.read_text()
    images = re.findall(r'<img[^>]+src="([^"]+\.(?:png|svg|jpg))"', html)
    assert images, f"{page.name} shows no figure"
    for src in images:
        assert (page.parent / src).resolve().is_file(), f"{page.name}: missing image {src}"
    assert re.search(r'class="[^"]*\bproof (theorem|lemma)\b', html), (
        f"{page.name} has no theorem or lemma box"
    )
    assert "cell_output" in html, f"{page.name} shows no executed output"
    # The executed notebook is offered for download beside the source.
    ipynb = HTML / "_sources" / chapter.relative_to(ROOT).with_suffix(".ipynb")
    assert ipynb.is_file(), f"no downloadable notebook {ipynb.relative_to(HTML)}"
