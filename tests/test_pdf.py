"""The PDF edition (``make pdf``, XeLaTeX): one file with every chapter and every box.

Read back with ``pdftotext``: every chapter's title, every section title with math in it
(``$B$``, ``$n$``: math in titles must not break the build) and every theorem, lemma,
definition and proposition title of the sources is in the text; no reference is left
unresolved ("??"); the bibliography is there. The page count and size land in
``_build/reports/pdf.json``.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from booktools import REPORTS, ROOT, toc_files

pytestmark = pytest.mark.book

_BOX_TITLE = re.compile(r"^[`:]{3,}\{prf:(?:theorem|lemma|definition|proposition)\}\s*(.+)$", re.M)


def _words(text: str) -> str:
    """Lower-case words of letters, math and hyphenation removed, for comparing."""
    text = re.sub(r"\$[^$]*\$", " ", text)
    text = re.sub(r"-\n", "", text)
    return " ".join(re.findall(r"[a-z]{2,}", text.lower()))


def _title_in(title: str, text: str) -> bool:
    """Whether the title's words are in ``text`` (already reduced by :func:`_words`), in
    order; where the title has math, the PDF may show a few words of it (``$d_p$`` reads
    ``dp``), so up to three words are allowed there."""
    segments = [_words(s) for s in re.split(r"\$[^$]*\$", title)]
    pattern = r"(?: [a-z]+){0,3} ".join(re.escape(s) for s in segments if s)
    return re.search(rf"(?:^| ){pattern}(?: |$)", text) is not None


def _titles() -> dict[str, list[str]]:
    """Per source page: its title, its section titles with math, and its box titles."""
    found = {}
    for page in toc_files():
        source = next(ROOT.glob(page + ".md")).read_text()
        title = re.search(r"^# (.+)$", source, re.M)
        math_sections = re.findall(r"^#{2,3} (.*\$.+)$", source, re.M)
        found[page] = [title.group(1), *math_sections, *_BOX_TITLE.findall(source)]
    return found


@pytest.fixture(scope="module")
def pdf_text(built_pdf: Path) -> str:
    if shutil.which("pdftotext") is None:
        pytest.fail("pdftotext is missing (apt-get install poppler-utils; .ci/run does)")
    assert built_pdf.is_file()
    return subprocess.run(
        ["pdftotext", str(built_pdf), "-"], capture_output=True, text=True, check=True
    ).stdout


def test_every_title_is_in_the_pdf(pdf_text: str, built_pdf: Path) -> None:
    text = _words(pdf_text)
    titles = _titles()
    assert sum(len(t) for t in titles.values()) >= 25, "too few titles to check"
    assert any("$" in t for ts in titles.values() for t in ts), "no title with math to check"
    missing = [(page, t) for page, ts in titles.items() for t in ts if not _title_in(t, text)]
    assert not missing, f"titles missing from the PDF: {missing}"
    info = subprocess.run(["pdfinfo", str(built_pdf)], capture_output=True, text=True).stdout
    pages = int(re.search(r"^Pages:\s+(\d+)", info, re.M).group(1))
    REPORTS.mkdir(parents=True, exist_ok=True)
    (REPORTS / "pdf.json").write_text(
        json.dumps({"pages": pages, "bytes": built_pdf.stat().st_size}, indent=2) + "\n"
    )
    assert pages >= 50, f"only {pages} pages"


def test_no_unresolved_reference_in_the_pdf(pdf_text: str) -> None:
    assert "??" not in pdf_text, [line for line in pdf_text.splitlines() if "??" in line][:5]


def test_the_pdf_has_the_bibliography_and_the_figures(pdf_text: str, built_pdf: Path) -> None:
    assert "Fundamental Limits of Prompt Tuning Transformers" in pdf_text
    images = subprocess.run(
        ["pdfimages", "-list", str(built_pdf)], capture_output=True, text=True, check=True
    ).stdout.splitlines()[2:]
    figures = sum(
        len(re.findall(r"^[`:]{3,}\{glue:figure\}", (ROOT / f"{p}.md").read_text(), re.M))
        for p in toc_files()
        if p.startswith("notebooks/")
    )
    assert len(images) >= figures, f"{len(images)} images in the PDF, {figures} figures"


def test_chapters_are_numbered_as_in_the_html(pdf_text: str, built_pdf: Path) -> None:
    """Chapter N of the PDF is the HTML's chapter N (the introduction's sections are not
    chapters 1 to 5 that push "The prompt-tuning model" to Chapter 6), and the appendix
    pages, unnumbered in the HTML, have no number in the PDF either."""
    html = ROOT / "_build" / "html"
    footers = dict(re.findall(r"^Chapter (\d+)\. (.+)$", pdf_text, re.M))
    numbered = 0
    for page in toc_files():
        found = re.search(
            r'<h1>\s*<span class="section-number">(\d+(?:\.\d+)?)\. </span>',
            (html / f"{page}.html").read_text(),
        )
        title = re.search(r"^# (.+)$", next(ROOT.glob(page + ".md")).read_text(), re.M).group(1)
        if not found:  # an unnumbered page (the introduction, the appendix): so in the PDF
            wrong = [n for n, shown in footers.items() if _words(title) == _words(shown)]
            assert not wrong, f"{page} is unnumbered in the HTML, Chapter {wrong} in the PDF"
            continue
        numbered += 1
        number = found.group(1)
        if "." not in number:  # a part's introduction: a chapter of the PDF
            shown = footers.get(number, "")
            assert _words(title) in _words(shown), f"PDF Chapter {number} is {shown!r}"
        else:  # a chapter of the part: the PDF's section with the same number
            heads = re.findall(rf"^{re.escape(number)} (.+)$", pdf_text, re.M)
            assert any(_words(title) == _words(h) for h in heads), (
                f"PDF section {number} is none of {heads!r}, not {title!r}"
            )
    assert numbered >= 15


def test_contents_are_named_contents(pdf_text: str) -> None:
    """The table of contents and the introduction's running footer said "FOUNDATIONS"
    (Sphinx names the contents after the root page's first part caption)."""
    assert "CONTENTS" in pdf_text
    lines = [line.strip() for line in pdf_text.splitlines() if line.strip()]
    numbers = {"ONE", "TWO", "THREE", "FOUR", "FIVE", "SIX", "SEVEN", "EIGHT", "NINE", "TEN"}
    for part in re.findall(r"^\s*- caption: (.+)$", (ROOT / "_toc.yml").read_text(), re.M):
        # a part's introduction is a chapter titled like the part ("ONE", "FOUNDATIONS"):
        # that heading is its own; any other page headed by the caption is the old slip
        heads = [i for i, line in enumerate(lines) if line == part.upper()]
        stray = [i for i in heads if i == 0 or lines[i - 1] not in numbers]
        assert not stray, f"the part caption {part!r} heads a page"


def test_make_pdf_without_tex_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """On a machine without TeX ``make pdf`` fails with the packages to install, the same
    list ``.ci/run`` installs; it neither builds nor half-builds anything."""
    import sys

    sys.path.insert(0, str(ROOT / "scripts"))
    import build_pdf

    monkeypatch.setattr(build_pdf.shutil, "which", lambda tool: None)
    monkeypatch.setattr(build_pdf.subprocess, "run", lambda *a, **k: pytest.fail("it ran"))
    assert build_pdf.build(ROOT) == 1
    out = capsys.readouterr().out
    assert "xelatex, latexmk, xindy not found" in out and "sudo apt-get install" in out
    ci = re.search(r"tex=\(([^)]*)\)", (ROOT / ".ci" / "run").read_text()).group(1)
    assert build_pdf.PACKAGES.split() == ci.split()


def test_title_in_allows_rendered_math_only() -> None:
    text = _words("4.4 The dp bound, and what it cannot tell")
    assert _title_in("The $d_p$ bound, and what it cannot tell", text)
    assert not _title_in("The $d_p$ bound, and what it can tell", text)
    assert not _title_in("A $d_p$ bound, and what it cannot tell", "the dp bound")
