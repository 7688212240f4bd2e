"""Every chapter in ``_toc.yml`` executes on its own, top to bottom, in a fresh kernel."""

from __future__ import annotations

from pathlib import Path

import pytest

from booktools import (
    EXECUTED,
    ROOT,
    ChapterFailed,
    execute_chapter,
    record_chapter_time,
    toc_chapters,
)

CHAPTERS = toc_chapters()


@pytest.mark.book
@pytest.mark.parametrize("chapter", CHAPTERS, ids=[c.stem for c in CHAPTERS])
def test_chapter_executes(chapter: Path) -> None:
    try:
        nb, seconds = execute_chapter(chapter)
    except ChapterFailed as err:
        pytest.fail(f"chapter {chapter.relative_to(ROOT)} failed: {err}", pytrace=False)
    record_chapter_time(chapter.relative_to(ROOT).as_posix(), seconds)
    # The book build executes each chapter once more; test_book compares the two runs.
    EXECUTED[chapter] = nb
