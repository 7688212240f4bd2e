"""The page a reader meets: a textbook, not the record of how it was checked.

Floors, read off the built HTML (and, where it is faster to fail early, the sources):
every chapter opens with an Overview and ends with a Summary and a Limits section, shows
no build code (no cell that calls ``glue``, no shown code line over 88 characters), and
its prose says nothing about how the book was made (tests, machines, earlier versions,
reviewers, what could not be verified of a paper). Every part opens with an introduction
page; every figure is at least 1,200 pixels wide; the notation page lists each symbol once.
"""

from __future__ import annotations

import re
import struct
from pathlib import Path

import jupytext
import pytest
import yaml
from bs4 import BeautifulSoup

from booktools import ROOT, toc_chapters

HTML = ROOT / "_build" / "html"
CHAPTERS = toc_chapters()
IDS = [c.stem for c in CHAPTERS]
MAX_LINE = 88
MIN_FIGURE_PIXELS = 1200

# Prose about the book's own making. Each is a phrase a textbook's reader should never
# meet in the text (code cells and their outputs are not prose).
AUDIT = re.compile(
    r"earlier version|previous version|tests?/test_\w+|\btest_\w+\.py|\bthe tests\b"
    r"|unit-tested|load average|the machine that built|the README|registry"
    r"|reviewer|could not (?:be )?verif|not verified|we have not verified"
    r"|secondary sources|its numbering",
    re.I,
)


def _page(chapter: Path) -> BeautifulSoup:
    page = HTML / chapter.relative_to(ROOT).with_suffix(".html")
    return BeautifulSoup(page.read_text(), "html.parser")


def _article(soup: BeautifulSoup) -> BeautifulSoup:
    return soup.find("article") or soup


def _prose(soup: BeautifulSoup) -> str:
    """The page's text outside code cells, outputs, and exercise and solution boxes."""
    article = _article(soup)
    for node in article.select(
        "div.cell, div.highlight, pre, div.exercise, div.solution, details, "
        "div.dropdown, div.admonition.tip"
    ):
        node.decompose()
    return article.get_text(" ")


def _headings(soup: BeautifulSoup) -> list[str]:
    heads = (re.sub(r"\s+", " ", h.get_text(" ")) for h in _article(soup).find_all(["h2", "h3"]))
    # "2.1.3. Overview#": drop the section number and the permalink sign
    return [re.sub(r"^[\d.\s]+", "", h.replace("#", "")).strip().lower() for h in heads]


# ------------------------------------------------------------------ sources (fast)
def _code_cells(chapter: Path) -> list:
    return [c for c in jupytext.read(chapter).cells if c.cell_type == "code"]


@pytest.mark.parametrize("chapter", CHAPTERS, ids=IDS)
def test_glue_cells_are_removed_from_the_page(chapter: Path) -> None:
    shown = [
        i
        for i, c in enumerate(_code_cells(chapter), start=1)
        if "glue(" in c.source and "remove-cell" not in c.metadata.get("tags", [])
    ]
    assert not shown, f"{chapter.name}: code cells {shown} call glue() and are not remove-cell"


@pytest.mark.parametrize("chapter", CHAPTERS, ids=IDS)
def test_shown_code_lines_fit_the_page(chapter: Path) -> None:
    long = [
        (i, len(line))
        for i, c in enumerate(_code_cells(chapter), start=1)
        if "remove-cell" not in c.metadata.get("tags", [])
        and "remove-input" not in c.metadata.get("tags", [])
        for line in c.source.splitlines()
        if len(line) > MAX_LINE
    ]
    assert not long, f"{chapter.name}: (cell, length) of code lines over {MAX_LINE}: {long}"


@pytest.mark.parametrize("chapter", CHAPTERS, ids=IDS)
def test_chapter_follows_the_template(chapter: Path) -> None:
    """Overview first, then the theorem box; Limits and Summary before the exercises."""
    text = chapter.read_text()
    heads = [h.strip().lower() for h in re.findall(r"^## (.+)$", text, re.M)]
    for needed in ("overview", "limits", "summary", "exercises"):
        assert any(h.startswith(needed) for h in heads), f"{chapter.name}: no '## {needed}'"
    order = [next(i for i, h in enumerate(heads) if h.startswith(n)) for n in
             ("overview", "limits", "summary", "exercises")]  # fmt: skip
    assert order == sorted(order), f"{chapter.name}: sections out of order: {heads}"
    assert heads[0].startswith("overview"), f"{chapter.name}: the first section is {heads[0]}"
    assert re.search(r"\*\*Source:\*\*", text), f"{chapter.name}: no theorem box Source line"


def test_every_part_opens_with_an_introduction() -> None:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    for part in toc["parts"]:
        if not part.get("numbered"):
            continue  # the appendix
        first = part["chapters"][0]
        assert first["file"].startswith("book/parts/"), f"{part['caption']}: no introduction"
        assert first.get("sections"), f"{part['caption']}: introduction without chapters"
        page = ROOT / f"{first['file']}.md"
        words = len(re.sub(r"```.*?```", "", page.read_text(), flags=re.S).split())
        assert words >= 120, f"{page.name}: {words} words is no introduction"


def test_notation_lists_each_symbol_once() -> None:
    rows = re.findall(r"^\| (\$[^|]+\$) \|", (ROOT / "book" / "notation.md").read_text(), re.M)
    assert len(rows) > 20
    seen: dict[str, int] = {}
    for row in rows:
        for symbol in re.findall(r"\$([^$]+)\$", row):
            name = symbol.split("=")[0].split(r"\in")[0].strip()
            seen[name] = seen.get(name, 0) + 1
    twice = sorted(s for s, n in seen.items() if n > 1)
    assert not twice, f"book/notation.md defines these symbols twice: {twice}"


def test_page_headings_have_plain_text() -> None:
    """A heading that is only a role (``### {doc}`...```) is a blank entry in the page's
    "On this page" menu: every heading of the prose pages has words of its own."""
    blank = []
    for page in sorted((ROOT / "book").rglob("*.md")):
        if "node_modules" in page.parts:
            continue
        text = re.sub(r"```.*?```", "", page.read_text(), flags=re.S)
        for line in re.findall(r"^#{1,6} (.+)$", text, re.M):
            if not re.sub(r"\{[\w:]+\}`[^`]*`", "", line).strip():
                blank.append(f"{page.relative_to(ROOT)}: {line}")
    assert not blank, f"headings without text of their own: {blank}"


# ------------------------------------------------------------------ the built pages
@pytest.mark.book
@pytest.mark.parametrize("chapter", CHAPTERS, ids=IDS)
def test_page_shows_no_build_code(built_book: str, chapter: Path) -> None:
    soup = _page(chapter)
    inputs = soup.select("div.cell_input")
    glued = [i for i, c in enumerate(inputs, 1) if "glue(" in c.get_text()]
    assert not glued, f"{chapter.stem}: shown cells {glued} call glue()"
    long = [
        (i, len(line))
        for i, c in enumerate(inputs, 1)
        for line in c.get_text().splitlines()
        if len(line) > MAX_LINE
    ]
    assert not long, f"{chapter.stem}: shown code lines over {MAX_LINE} characters: {long}"


@pytest.mark.book
@pytest.mark.parametrize("chapter", CHAPTERS, ids=IDS)
def test_page_has_overview_limits_and_summary(built_book: str, chapter: Path) -> None:
    heads = _headings(_page(chapter))
    for needed in ("overview", "limits", "summary"):
        assert any(h.startswith(needed) for h in heads), f"{chapter.stem}: no {needed}: {heads}"


@pytest.mark.book
@pytest.mark.parametrize("chapter", CHAPTERS, ids=IDS)
def test_prose_is_about_the_mathematics(built_book: str, chapter: Path) -> None:
    prose = _prose(_page(chapter))
    hits = sorted({m.group(0).lower() for m in AUDIT.finditer(prose)})
    assert not hits, f"{chapter.stem}: prose about the book's own making: {hits}"
    doubled = re.findall(r"\b(exercise|figure|theorem|lemma)\s+\1\b", prose, re.I)
    assert not doubled, f"{chapter.stem}: a reference repeats its own kind: {doubled}"


def _png_width(path: Path) -> int:
    with path.open("rb") as f:
        head = f.read(24)
    assert head[:8] == b"\x89PNG\r\n\x1a\n", f"{path.name} is not a PNG"
    return struct.unpack(">I", head[16:20])[0]


@pytest.mark.book
@pytest.mark.parametrize("chapter", CHAPTERS, ids=IDS)
def test_figures_are_sharp(built_book: str, chapter: Path) -> None:
    page = HTML / chapter.relative_to(ROOT).with_suffix(".html")
    soup = BeautifulSoup(page.read_text(), "html.parser")
    narrow = []
    for img in _article(soup).find_all("img"):
        src = img.get("src", "")
        if not src.endswith(".png"):
            continue
        width = _png_width((page.parent / src).resolve())
        if width < MIN_FIGURE_PIXELS:
            narrow.append((Path(src).name, width))
    assert not narrow, f"{chapter.stem}: figures under {MIN_FIGURE_PIXELS} px: {narrow}"


def test_audit_pattern_catches_what_it_should() -> None:
    for text in (
        "An earlier version of this chapter",
        "(tested in tests/test_real_memorize.py)",
        "load average 1.0 when the cell ran",
        "we could not verify its theorem numbers",
        "the tests check it against the built models",
    ):
        assert AUDIT.search(text), text
    for text in ("the test statistic", "a contest", "the latest run", "verified by enumeration"):
        assert not AUDIT.search(text), text
