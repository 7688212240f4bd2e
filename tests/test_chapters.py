"""Every chapter in ``_toc.yml`` executes on its own, top to bottom, in a fresh kernel."""

from __future__ import annotations

import time
from pathlib import Path

import jupytext
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from booktools import ROOT, cell_timeout, record_chapter_time, toc_chapters, toc_files

CHAPTERS = toc_chapters()
CELL_TIMEOUT = cell_timeout()  # seconds per cell, the book's own execute.timeout


def test_toc_lists_existing_files() -> None:
    missing = [
        f
        for f in toc_files()
        if not any((ROOT / f"{f}{ext}").is_file() for ext in (".md", ".ipynb"))
    ]
    assert not missing, f"_toc.yml lists files that do not exist: {missing}"
    assert CHAPTERS, "_toc.yml lists no chapter under notebooks/"


def _failed_cell(nb) -> tuple[int, str]:
    code_cells = [c for c in nb.cells if c.cell_type == "code"]
    for number, cell in enumerate(code_cells, start=1):
        if any(out.get("output_type") == "error" for out in cell.get("outputs", [])):
            return number, cell.source.strip().splitlines()[0] if cell.source.strip() else ""
    return -1, ""


@pytest.mark.book
@pytest.mark.parametrize("chapter", CHAPTERS, ids=[c.stem for c in CHAPTERS])
def test_chapter_executes(chapter: Path) -> None:
    nb = jupytext.read(chapter)
    client = NotebookClient(
        nb,
        timeout=CELL_TIMEOUT,
        kernel_name="python3",
        resources={"metadata": {"path": str(chapter.parent)}},
    )
    start = time.perf_counter()
    try:
        client.execute()
    except CellExecutionError as err:
        number, first_line = _failed_cell(nb)
        pytest.fail(
            f"chapter {chapter.relative_to(ROOT)} failed in code cell {number} "
            f"(starting {first_line!r}):\n{err}",
            pytrace=False,
        )
    record_chapter_time(chapter.relative_to(ROOT).as_posix(), time.perf_counter() - start)
