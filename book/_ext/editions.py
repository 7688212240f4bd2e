"""The book's two notebook editions, built from the same chapter sources.

- The **reader's notebook** (offered for download on every chapter page) is the executed
  chapter with a setup cell in front: :func:`bootstrap_cell` installs ``ptheory``, pinned
  to the book's version, where it is missing (a fresh Colab runtime), and does nothing
  where it is installed.
- The **student notebook** (:func:`student_notebook`, built by ``make student``) has every
  solution removed (the ``{solution}`` blocks, and everything between ``{solution-start}``
  and ``{solution-end}``, code cells included), exercise blocks rewritten as plain
  Markdown that Jupyter and Colab render, no outputs, and the same setup cell. The
  exercise cells (tag ``exercise``) stay as starting points: they run as they are and
  report "no answer yet".

This module has no dependency beyond the standard library and ``nbformat``: the Sphinx
extension ``book_fixes``, ``scripts/student.py`` and the tests all use it.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import NamedTuple

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
def book_release(root: Path = ROOT) -> tuple[str, str]:
    """The book's version and repository address, from ``pyproject.toml``."""
    text = (root / "pyproject.toml").read_text()  # tomllib is Python 3.11+ only
    version = re.search(r'^version\s*=\s*"([^"]+)"', text, re.M)
    url = re.search(r'^Homepage\s*=\s*"([^"]+)"', text, re.M)
    if not (version and url):
        raise ValueError("pyproject.toml must give the project's version and Homepage url")
    return version.group(1), url.group(1)


def install_spec(root: Path = ROOT) -> str:
    """What ``pip`` installs: ``ptheory`` at the release tag of the book's version."""
    version, url = book_release(root)
    return f"ptheory @ git+{url}@v{version}"


def bootstrap_source(root: Path = ROOT) -> str:
    """The setup cell's code: install ``ptheory`` (and ``myst-nb``) only where missing."""
    version, _ = book_release(root)
    return f'''\
# Setup, for Colab or any fresh environment: installs what this chapter imports, with
# ptheory pinned to the book's version ({version}). Where both are installed it does nothing.
import importlib.metadata as _metadata


def _needs(distribution, version=None):
    try:
        installed = _metadata.version(distribution)
    except _metadata.PackageNotFoundError:
        return True
    return version is not None and installed != version


_install = []
if _needs("ptheory", "{version}"):
    _install.append("{install_spec(root)}")
if _needs("myst-nb"):  # the chapters' `glue` comes from myst-nb
    _install.append("myst-nb>=1.1,<2")
if _install:
    _requirements = " ".join(f'"{{r}}"' for r in _install)
    %pip install --quiet {{_requirements}}'''


def bootstrap_cell(root: Path = ROOT) -> nbformat.NotebookNode:
    """The setup cell (tagged ``bootstrap``)."""
    cell = nbformat.v4.new_code_cell(bootstrap_source(root))
    cell.metadata["tags"] = [BOOTSTRAP_TAG]
    cell.pop("id", None)
    return cell


def with_bootstrap(nb: nbformat.NotebookNode, root: Path = ROOT) -> nbformat.NotebookNode:
    """A copy of ``nb`` with the setup cell after the title cell (or first, without one)."""
    nb = copy.deepcopy(nb)
    cells = [c for c in nb.cells if BOOTSTRAP_TAG not in c.get("metadata", {}).get("tags", [])]
    at = 1 if cells and cells[0].cell_type == "markdown" else 0
    nb.cells = [*cells[:at], bootstrap_cell(root), *cells[at:]]
    return _renumber_ids(nb)


# ---------------------------------------------------------------- removing solutions
_TARGET = re.compile(r"^\([\w:-]+\)=\s*$")
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


def _exercise_markdown(number: int, title: str, body: list[str]) -> list[str]:
    heading = f"**Exercise {number}** ({title})." if title else f"**Exercise {number}.**"
    while body and not body[0].strip():
        body = body[1:]
    return ["---", "", heading, "", *body]


def student_notebook(nb: nbformat.NotebookNode, root: Path = ROOT) -> nbformat.NotebookNode:
    """The student edition of a chapter notebook (see the module docstring)."""
    cells: list[nbformat.NotebookNode] = []
    in_gated = False
    exercise_number = 0
    for cell in nb.cells:
        tags = cell.get("metadata", {}).get("tags", [])
        if cell.cell_type != "markdown":
            if not in_gated and SOLUTION_TAG not in tags:
                cells.append(copy.deepcopy(cell))
            continue
        kept: list[str] = []
        for block in _blocks(cell.source):
            if not block.name:
                if not in_gated:  # MyST targets such as "(chapter-x)=" mean nothing in Jupyter
                    kept.extend(line for line in block.body if not _TARGET.match(line))
            elif block.name == "solution-start":
                in_gated = True
            elif block.name == "solution-end":
                in_gated = False
            elif in_gated or block.name == "solution":
                continue
            elif block.name == "exercise":
                exercise_number += 1
                kept.extend(_exercise_markdown(exercise_number, block.argument, block.body))
            else:
                kept.extend(block.lines())
        text = re.sub(r"\n{3,}", "\n\n", "\n".join(kept)).strip("\n")
        if text.strip():
            new = copy.deepcopy(cell)
            new.source = text
            cells.append(new)
    if in_gated:
        raise ValueError("a {solution-start} block has no {solution-end}")
    out = copy.deepcopy(nb)
    out.cells = cells
    for cell in out.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    out.metadata.pop("jupytext", None)
    out = with_bootstrap(out, root)
    out.cells.insert(
        1,
        nbformat.v4.new_markdown_cell(
            "*Student edition: the solutions are removed. Each coding exercise has a cell "
            "that ends with a check: put your answer in `answer` and run the cell for "
            "feedback.*"
        ),
    )
    return _renumber_ids(out)


def _renumber_ids(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Give every cell a fresh, unique id (nbformat 4.5 requires them)."""
    nb.nbformat, nb.nbformat_minor = 4, max(nb.get("nbformat_minor", 5), 5)
    for number, cell in enumerate(nb.cells):
        cell["id"] = f"cell-{number}"
    return nb
