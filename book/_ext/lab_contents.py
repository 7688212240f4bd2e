"""The contents manager of ``make lab``: the book's MathJax macros for jupyterlab-myst.

jupyterlab-myst renders a notebook's math with the macros of its first cell's front
matter (``math:``), and knows nothing of ``_config.yml``: the chapters' ``\\R``, ``\\Att``,
``\\norm{...}`` would show as errors. This jupytext contents manager puts a front-matter
cell with the book's macros (``mathjax3_config`` in ``_config.yml``) at the top of every
notebook it opens, and takes it out again before saving, so that the chapter files never
change. ``make lab`` and ``tests/test_lab.py`` run JupyterLab with it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import mystmd
import nbformat
import yaml
from jupytext import AsyncTextFileContentsManager

ROOT = Path(__file__).resolve().parents[2]
MARK = "ptheory-lab-macros"
"""The tag of the front-matter cell (never saved)."""


def frontmatter(root: Path = ROOT) -> str:
    """A MyST front matter declaring the book's MathJax macros."""
    config = yaml.safe_load((root / "_config.yml").read_text())
    mathjax = config["sphinx"]["config"].get("mathjax3_config", {})
    macros = {f"\\{name}": body for name, (body, _) in mystmd.mathjax_macros(mathjax).items()}
    return "---\n" + yaml.safe_dump({"math": macros}, sort_keys=False) + "---"


class BookContentsManager(AsyncTextFileContentsManager):
    """jupytext's contents manager, with the macro cell added on reading."""

    async def get(self, path: str, content: bool = True, type: Any = None, **kwargs: Any) -> dict:
        model = await super().get(path, content=content, type=type, **kwargs)
        if content and model.get("type") == "notebook" and model.get("content"):
            cell = nbformat.v4.new_markdown_cell(frontmatter())
            cell.metadata.update({"tags": [MARK], "editable": False, "deletable": False})
            cell["id"] = MARK
            model["content"].cells.insert(0, cell)
        return model

    async def save(self, model: dict, path: str = "") -> dict:
        if model.get("type") == "notebook" and model.get("content"):
            model["content"]["cells"] = [
                c for c in model["content"]["cells"] if MARK not in c["metadata"].get("tags", [])
            ]
        return await super().save(model, path)
