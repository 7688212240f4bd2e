"""The contents manager of ``make lab``: the book's MathJax macros for jupyterlab-myst.

jupyterlab-myst renders a notebook's math with the macros of its first cell's front
matter (``math:``), and knows nothing of ``_config.yml``: the chapters' ``\\R``, ``\\Att``,
``\\norm{...}`` would show as errors. This jupytext contents manager puts a front-matter
cell with the book's macros (``mathjax3_config`` in ``_config.yml``) at the top of every
notebook it opens, and takes it out again before saving, so that the chapter files never
change. ``make lab`` and ``tests/test_lab.py`` run JupyterLab with it.

jupyterlab-myst (2.7) cannot resolve citations: its lab extension ships no BibTeX reader
(citation-js is not in its bundle; jupyter-book/jupyterlab-myst#127), so a ``{cite:p}``
shows its key (e.g. ``hu2025fundamental``) with a warning mark. So the manager also
appends a *References* cell (:func:`references_markdown`, also never saved) that lists
every key the notebook cites with its author-year citation and full reference, from
``references.bib``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import mystmd
import nbformat
import yaml
from jupytext import AsyncTextFileContentsManager

ROOT = Path(__file__).resolve().parents[2]
MARK = "ptheory-lab-macros"
"""The tag of the front-matter cell (never saved)."""


_FENCE_LINE = re.compile(r"^[ \t]*(?:`{3,}|:{3,}).*$", re.M)


def references_markdown(sources: list[str], root: Path = ROOT) -> str:
    """The works that the Markdown ``sources`` cite, one line per key (sorted), as the
    notebook shows them in JupyterLab; ``""`` when they cite nothing."""
    keys: list[str] = []
    for source in sources:
        # a directive's fence lines (```{prf:lemma}, :::{admonition}) go, its body stays:
        # citations inside theorem boxes count
        source = _FENCE_LINE.sub("", source)
        for match in mystmd._ROLE_OR_CODE.finditer(source):
            if (match["name"] or "").split(":")[0] == "cite":
                keys += [k.strip() for k in match["body"].split(",") if k.strip()]
    if not keys:
        return ""
    bib = mystmd.read_bibliography(root / "references.bib")
    rows = []
    for key in sorted(set(keys)):
        entry = bib.get(key)
        work = f"({entry.short()}, {entry.year}): {entry.reference}" if entry else "not found"
        rows.append(f"- `{key}` {work}")
    note = (
        "JupyterLab shows each citation as its key; the keys are these works (the HTML "
        "book, its PDF and its downloaded notebooks show them as author-year)."
    )
    return "## References\n\n" + note + "\n\n" + "\n".join(rows)


def frontmatter(root: Path = ROOT) -> str:
    """A MyST front matter declaring the book's MathJax macros."""
    config = yaml.safe_load((root / "_config.yml").read_text())
    mathjax = config["sphinx"]["config"].get("mathjax3_config", {})
    macros = {f"\\{name}": body for name, (body, _) in mystmd.mathjax_macros(mathjax).items()}
    return "---\n" + yaml.safe_dump({"math": macros}, sort_keys=False) + "---"


class BookContentsManager(AsyncTextFileContentsManager):
    """jupytext's contents manager, with the macro cell (first) and the references cell
    (last) added on reading and removed on saving."""

    async def get(self, path: str, content: bool = True, type: Any = None, **kwargs: Any) -> dict:
        model = await super().get(path, content=content, type=type, **kwargs)
        if content and model.get("type") == "notebook" and model.get("content"):
            cell = nbformat.v4.new_markdown_cell(frontmatter())
            cell.metadata.update({"tags": [MARK], "editable": False, "deletable": False})
            cell["id"] = MARK
            cells = model["content"].cells
            cells.insert(0, cell)
            references = references_markdown(
                [c.source for c in cells if c.cell_type == "markdown" and c is not cell]
            )
            if references:
                end = nbformat.v4.new_markdown_cell(references)
                end.metadata.update({"tags": [MARK], "editable": False, "deletable": False})
                end["id"] = f"{MARK}-references"
                cells.append(end)
        return model

    async def save(self, model: dict, path: str = "") -> dict:
        if model.get("type") == "notebook" and model.get("content"):
            model["content"]["cells"] = [
                c for c in model["content"]["cells"] if MARK not in c["metadata"].get("tags", [])
            ]
        return await super().save(model, path)
