"""Small Sphinx fixes for the built book, most of them found by the browser test.

- ``sphinx-thebe`` registers its inline configuration script once per reading pass, and
  Jupyter Book's build triggers two passes, so every page declared ``const THEBE_JS_URL``
  twice and the browser raised "Identifier 'THEBE_JS_URL' has already been declared".
  (once with no file spelled ``None``, once ``""``). :func:`drop_duplicate_scripts` keeps
  the first copy of every script.
- The theme offers a chapter's executed notebook for download only when a launch
  service (Binder, Colab, ...) is configured, and those open the chapter's ``.md`` source,
  which Colab cannot read. :func:`offer_notebook` puts the executed ``.ipynb``, with the
  setup cell that installs ``ptheory`` where it is missing (see ``editions.py``), beside
  the sources and in the download menu without any launch button. In the student
  edition (``book_student_notebooks`` set) it offers the student notebook instead, and
  :func:`drop_dead_source_link` removes the ``.md`` download that has no file there.
- ``sphinx-exercise``'s ``hide_solutions`` drops a ``{solution}`` block, but a gated
  ``{solution-start}`` ... ``{solution-end}`` block leaves its content (code cells
  included) on the page and an end marker that no writer knows. With ``hide_solutions``
  :class:`HiddenSolutionStart` leaves a marker and :class:`DropHiddenSolutions` removes
  everything from it to the matching end.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import Any

import nbformat
from docutils import nodes
from sphinx.transforms import SphinxTransform
from sphinx_exercise.directive import SolutionStartDirective
from sphinx_exercise.nodes import solution_end_node

sys.path.insert(0, str(Path(__file__).parent))
import editions  # the folder is this extension's (Jupyter Book puts it on the path)


def drop_duplicate_scripts(
    app: Any, pagename: str, templatename: str, context: dict, doctree: Any
) -> None:
    """Remove scripts identical (same file and same inline body) to an earlier one."""
    scripts = context.get("script_files")
    if not scripts:
        return
    seen: set[tuple[str, str]] = set()
    unique = []
    for script in scripts:
        # The copies differ only in how they spell "no file": None and "".
        attributes = dict(getattr(script, "attributes", {}))
        key = (str(getattr(script, "filename", script) or ""), str(sorted(attributes.items())))
        if key not in seen:
            seen.add(key)
            unique.append(script)
    context["script_files"] = unique


def offer_notebook(app: Any, pagename: str, templatename: str, context: dict, doctree: Any) -> None:
    """Put the page's notebook in ``_sources`` and list it for download."""
    executed = Path(app.outdir).parent / "jupyter_execute" / f"{pagename}.ipynb"
    if not executed.is_file():
        return  # not a notebook page
    target = Path(app.outdir) / "_sources" / f"{pagename}.ipynb"
    target.parent.mkdir(parents=True, exist_ok=True)
    student = app.config.book_student_notebooks
    if student:
        shutil.copy2(Path(student) / f"{Path(pagename).name}.ipynb", target)
    else:
        notebook = nbformat.read(executed, as_version=4)
        nbformat.write(editions.with_bootstrap(notebook, Path(app.srcdir)), target)
    context["ipynb_source"] = f"{pagename}.ipynb"


def drop_dead_source_link(
    app: Any, pagename: str, templatename: str, context: dict, doctree: Any
) -> None:
    """Without copied sources (the student edition) the theme still offers a ``.md``
    download pointing at the ``_sources`` folder: remove that button."""
    if context.get("sourcename"):
        return
    for group in context.get("header_buttons", []):
        if group.get("label") == "download-buttons":
            group["buttons"] = [
                b for b in group["buttons"] if b.get("label") != "download-source-button"
            ]


class _HiddenSolution(nodes.Element):
    """Marks where a hidden gated solution starts; removed with its content."""


class HiddenSolutionStart(SolutionStartDirective):
    """``{solution-start}`` that leaves a marker when solutions are hidden."""

    def run(self) -> list[nodes.Node]:
        result = super().run()
        if self.env.app.config.hide_solutions:
            return [_HiddenSolution()]
        return result


class DropHiddenSolutions(SphinxTransform):
    """Remove each hidden gated solution: the marker, its content, its end marker."""

    default_priority = 9  # before sphinx-exercise merges gated solutions (10)

    def apply(self, **kwargs: Any) -> None:
        for marker in list(self.document.findall(_HiddenSolution)):
            parent = marker.parent
            start = parent.index(marker)
            end = start
            while end < len(parent) and not isinstance(parent[end], solution_end_node):
                end += 1
            if end == len(parent):
                raise ValueError(f"{self.env.docname}: a solution-start has no solution-end")
            for child in list(parent.children[start : end + 1]):
                parent.remove(child)


def setup(app: Any) -> dict[str, Any]:
    app.setup_extension("sphinx_exercise")
    app.add_config_value("book_student_notebooks", "", "env")
    app.add_node(_HiddenSolution)
    app.add_directive("solution-start", HiddenSolutionStart, override=True)
    app.add_transform(DropHiddenSolutions)
    app.connect("html-page-context", drop_duplicate_scripts)
    # Before the theme builds its download menu (default priority 500).
    app.connect("html-page-context", offer_notebook, priority=400)
    # After the theme has built it (default priority 500).
    app.connect("html-page-context", drop_dead_source_link, priority=600)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
