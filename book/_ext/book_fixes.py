"""Small Sphinx fixes for the built book, each found by the browser test.

- ``sphinx-thebe`` registers its inline configuration script once per reading pass, and
  Jupyter Book's build triggers two passes, so every page declared ``const THEBE_JS_URL``
  twice and the browser raised "Identifier 'THEBE_JS_URL' has already been declared".
  (once with no file spelled ``None``, once ``""``). :func:`drop_duplicate_scripts` keeps
  the first copy of every script.
- The theme offers a chapter's executed notebook for download only when a launch
  service (Binder, Colab, ...) is configured, and those open the chapter's ``.md`` source,
  which Colab cannot read. :func:`offer_executed_notebook` puts the executed ``.ipynb``
  beside the sources and in the download menu without any launch button.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any


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


def offer_executed_notebook(
    app: Any, pagename: str, templatename: str, context: dict, doctree: Any
) -> None:
    """Copy the page's executed notebook to ``_sources`` and list it for download."""
    executed = Path(app.outdir).parent / "jupyter_execute" / f"{pagename}.ipynb"
    if not executed.is_file():
        return  # not a notebook page
    target = Path(app.outdir) / "_sources" / f"{pagename}.ipynb"
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(executed, target)
    context["ipynb_source"] = f"{pagename}.ipynb"


def setup(app: Any) -> dict[str, Any]:
    app.connect("html-page-context", drop_duplicate_scripts)
    # Before the theme builds its download menu (default priority 500).
    app.connect("html-page-context", offer_executed_notebook, priority=400)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
