"""Small Sphinx fixes for the built book, each found by the browser test.

- ``sphinx-thebe`` registers its inline configuration script once per reading pass, and
  Jupyter Book's build triggers two passes, so every page declared ``const THEBE_JS_URL``
  twice and the browser raised "Identifier 'THEBE_JS_URL' has already been declared".
  (once with no file spelled ``None``, once ``""``). :func:`drop_duplicate_scripts` keeps
  the first copy of every script.
"""

from __future__ import annotations

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


def setup(app: Any) -> dict[str, Any]:
    app.connect("html-page-context", drop_duplicate_scripts)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
