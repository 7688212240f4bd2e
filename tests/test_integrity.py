"""The chapters and the table of contents agree, chapters store no outputs and fetch nothing."""

from __future__ import annotations

import re
from pathlib import Path

import jupytext
import pytest

from booktools import ROOT, toc_chapters, toc_files

NOTEBOOKS = ROOT / "notebooks"


def test_toc_lists_existing_files() -> None:
    missing = [
        f
        for f in toc_files()
        if not any((ROOT / f"{f}{ext}").is_file() for ext in (".md", ".ipynb"))
    ]
    assert not missing, f"_toc.yml lists files that do not exist: {missing}"
    assert toc_chapters(), "_toc.yml lists no chapter under notebooks/"


def test_every_chapter_is_in_the_toc() -> None:
    listed = set(toc_chapters())
    on_disk = set(NOTEBOOKS.glob("*.md"))
    assert on_disk - listed == set(), f"chapters missing from _toc.yml: {on_disk - listed}"
    assert len(toc_files()) == len(set(toc_files())), "_toc.yml lists a file twice"


def test_chapters_are_myst_text_without_outputs() -> None:
    assert not list(NOTEBOOKS.glob("*.ipynb")), "store chapters as .md only (outputs in git)"
    for chapter in toc_chapters():
        nb = jupytext.read(chapter)
        assert nb.metadata["jupytext"]["text_representation"]["format_name"] == "myst"
        assert nb.metadata["kernelspec"]["name"] == "python3", chapter.name
        code = [c for c in nb.cells if c.cell_type == "code"]
        assert code, f"{chapter.name} has no code cell"
        assert all(not c.get("outputs") for c in code), f"{chapter.name} stores outputs"


# What downloading looks like in a code cell. The network guard (tests/offline) is the real
# check, at run time; this one names the cell before anything runs.
_FETCHERS = re.compile(
    r"https?://|urllib|requests\.|urlretrieve|torch\.hub|from_pretrained|load_dataset"
    r"|fetch_openml|wget|curl\b|pip install"
)


def test_no_chapter_code_downloads() -> None:
    offenders = []
    for chapter in toc_chapters():
        for number, cell in enumerate(
            (c for c in jupytext.read(chapter).cells if c.cell_type == "code"), start=1
        ):
            if match := _FETCHERS.search(cell.source):
                offenders.append(f"{chapter.name} code cell {number}: {match.group()!r}")
    assert not offenders, offenders


_ROLE = re.compile(r"\{glue:(?:text|md|math)\}`([^`]*)`")


@pytest.mark.parametrize("chapter", toc_chapters(), ids=lambda c: c.stem)
def test_glue_roles_are_well_formed(chapter: Path) -> None:
    """Every ``{glue:text}`key:fmt``` role of the chapter has a plain key and format spec:
    a role whose closing backtick is missing swallows the prose after it."""
    stem = chapter.stem
    text = chapter.read_text()
    for body in _ROLE.findall(text):
        key, _, spec = body.partition(":")
        assert re.fullmatch(r"[\w-]+", key), f"{stem}: malformed glue role `{body}`"
        assert re.fullmatch(r"[-+ #0-9.,_a-zA-Z%]*", spec), f"{stem}: bad format in `{body}`"


# The roles the notebook edition (book/_ext/mystmd.py) turns into Markdown; any other one
# stops the book build at the last step, after every chapter has executed.
_KNOWN_ROLES = re.compile(
    r"glue(:text|:md|:any|:math)?|cite(:[a-z]+)?|prf:ref|numref|ref|doc|eq|any|term|download"
    r"|math|sup|sub|abbr|kbd|code|literal|samp|file|command|program|emphasis|dfn|strong|index"
)


@pytest.mark.parametrize("chapter", toc_chapters(), ids=lambda c: c.stem)
def test_roles_are_known_to_the_notebook_edition(chapter: Path) -> None:
    """A role such as ``{func}`` or ``{mod}`` renders nothing in the notebook edition, which
    refuses it: caught here in a second instead of at the end of a book build."""
    text = re.sub(r"^(`{3,}|~{3,})[^\n]*\n.*?^\1\s*$", "", chapter.read_text(), flags=re.M | re.S)
    roles = set(re.findall(r"(?<![\w`])\{([\w:-]+)\}`", text))
    unknown = sorted(r for r in roles if not _KNOWN_ROLES.fullmatch(r))
    assert not unknown, f"{chapter.stem}: roles the notebook edition does not know: {unknown}"


@pytest.mark.parametrize("chapter", toc_chapters(), ids=lambda c: c.stem)
def test_box_titles_hold_no_roles(chapter: Path) -> None:
    """A role in a theorem box's title (``{prf:lemma} Title ({prf:ref}`x`)``) leaves the
    box unrendered in the HTML and its title missing from the PDF."""
    titles = re.findall(r"^[`:]{3,}\{prf:\w+\}(.*)$", chapter.read_text(), re.M)
    bad = [t.strip() for t in titles if re.search(r"\{[\w:-]+\}`", t)]
    assert not bad, f"{chapter.stem}: box titles with a role: {bad}"


def test_bibliography_parses_and_every_citation_resolves() -> None:
    """references.bib is valid BibTeX (a missing brace stops every build) and every key the
    chapters cite is in it."""
    from pybtex.database import parse_file

    entries = parse_file(ROOT / "references.bib").entries
    cited = set()
    for path in [*NOTEBOOKS.glob("*.md"), *(ROOT / "book").glob("*.md")]:
        for keys in re.findall(r"\{cite(?::[a-z]+)?\}`([^`]*)`", path.read_text()):
            cited.update(k.strip() for k in keys.split(","))
    assert cited, "no citation found: the pattern is wrong"
    assert cited <= set(entries), f"cited but not in references.bib: {sorted(cited - set(entries))}"
