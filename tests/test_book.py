"""The book builds with warnings as errors, offline, with reproducible executed outputs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from booktools import (
    EXECUTED,
    NETWORK_LOG,
    ROOT,
    cached_execution,
    code_cell_tags,
    execute_chapter,
    text_outputs,
    toc_chapters,
)

HTML = ROOT / "_build" / "html"
CHAPTERS = toc_chapters()


@pytest.mark.book
def test_book_builds_offline(built_book: str) -> None:
    assert (HTML / "index.html").is_file()
    assert (HTML / "genindex.html").is_file()
    # Every process of the build ran with the network guard (tests/offline).
    attempts = NETWORK_LOG.read_text() if NETWORK_LOG.is_file() else ""
    assert not attempts, f"the build or a chapter tried to reach the network:\n{attempts}"


@pytest.mark.book
@pytest.mark.parametrize("chapter", CHAPTERS, ids=[c.stem for c in CHAPTERS])
def test_chapter_page_has_outputs(built_book: str, chapter: Path) -> None:
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
    # A reader sees stderr (warnings) and tracebacks as boxes on the page: none allowed.
    assert not re.search(r'class="output (stderr|error|traceback)', html), (
        f"{page.name}: a cell printed a warning or an error"
    )
    # The executed notebook is offered for download beside the source.
    ipynb = HTML / "_sources" / chapter.relative_to(ROOT).with_suffix(".ipynb")
    assert ipynb.is_file(), f"no downloadable notebook {ipynb.relative_to(HTML)}"
    assert f'_sources/{ipynb.relative_to(HTML / "_sources").as_posix()}"' in html, (
        f"{page.name}: the download menu does not offer the .ipynb"
    )


@pytest.mark.book
@pytest.mark.parametrize("chapter", CHAPTERS, ids=[c.stem for c in CHAPTERS])
def test_two_fresh_executions_agree(built_book: str, chapter: Path) -> None:
    """The book build's execution and the test's own give the same text outputs.

    Both ran in fresh kernels. Figures are left out (their bytes may carry metadata) and so
    are cells tagged ``timing``, which report wall-clock measurements.
    """
    book_run = cached_execution(chapter)
    assert book_run is not None, f"the build left no cached execution of {chapter.name}"
    test_run = EXECUTED.get(chapter)
    if test_run is None:  # test_chapters did not run in this session: execute it here
        test_run, _ = execute_chapter(chapter)
    tags = code_cell_tags(chapter)
    first, second = text_outputs(book_run, tags), text_outputs(test_run, tags)
    for number, (a, b) in enumerate(zip(first, second, strict=True), start=1):
        assert a == b, f"{chapter.name}: code cell {number} printed different text:\n{a}\n{b}"


def test_text_outputs_joins_the_chunks_of_one_stream() -> None:
    """A print flushed in two chunks reads as one text, and a change of text is still seen."""
    import nbformat

    def nb_with(*outputs):
        cell = nbformat.v4.new_code_cell("print(...)")
        cell.outputs = [nbformat.v4.new_output("stream", name=n, text=t) for n, t in outputs]
        return nbformat.v4.new_notebook(cells=[cell])

    one = text_outputs(nb_with(("stdout", "a\nb\n")), [set()])
    two = text_outputs(nb_with(("stdout", "a\n"), ("stdout", "b\n")), [set()])
    assert one == two
    assert text_outputs(nb_with(("stdout", "a\n"), ("stderr", "b\n")), [set()]) != one
    assert text_outputs(nb_with(("stdout", "a\nc\n")), [set()]) != one
