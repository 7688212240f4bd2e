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
  With ``book_course_notebooks`` set (the student edition's build), it also writes each
  chapter's course edition there (:func:`write_course_notebook`).
- Every exercise shows its label, its one name, beside its title
  (:func:`exercise_labels`).
- ``sphinx-exercise``'s ``hide_solutions`` drops a ``{solution}`` block, but a gated
  ``{solution-start}`` ... ``{solution-end}`` block leaves its content (code cells
  included) on the page and an end marker that no writer knows. With ``hide_solutions``
  :class:`HiddenSolutionStart` leaves a marker and :class:`DropHiddenSolutions` removes
  everything from it to the matching end.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from typing import Any

import jupytext
import nbformat
import yaml
from docutils import nodes
from sphinx import addnodes
from sphinx.errors import ExtensionError
from sphinx.transforms import SphinxTransform
from sphinx.transforms.post_transforms import SphinxPostTransform
from sphinx_exercise.directive import SolutionStartDirective
from sphinx_exercise.nodes import exercise_latex_number_reference, solution_end_node

sys.path.insert(0, str(Path(__file__).parent))
import editions  # the folder is this extension's (Jupyter Book puts it on the path)
import mystmd

ASSETS = Path(__file__).resolve().parent.parent / "assets" / "node_modules"
"""The npm packages of ``book/assets/package.json`` (``make assets``: ``npm ci`` there)."""

VENDOR = {
    # what the pages load: source under ASSETS -> place under _static/vendor
    "mathjax/es5/tex-mml-chtml.js": "mathjax/tex-mml-chtml.js",
    "mathjax/es5/output/chtml": "mathjax/output/chtml",
    "mathjax/es5/input": "mathjax/input",
    "mathjax/es5/a11y": "mathjax/a11y",
    "mathjax/es5/adaptors": "mathjax/adaptors",
    "mathjax/es5/ui": "mathjax/ui",
    "mathjax/es5/sre": "mathjax/sre",
    "requirejs/require.js": "require.js",
    "@jupyter-widgets/html-manager/dist": "html-manager",
}
"""MathJax (with its fonts and the components it loads on demand), require.js and the
widgets' HTML manager: the book's pages load them from ``_static/vendor``, never from a
CDN (``mathjax_path`` and ``nb_ipywidgets_js`` in ``_config.yml`` point there)."""


def place_vendor_assets(app: Any) -> None:
    """Copy :data:`VENDOR` from the pinned npm packages into a static folder of the build."""
    if app.builder.format != "html":
        return
    missing = [src for src in VENDOR if not (ASSETS / src).exists()]
    if missing:
        raise ExtensionError(
            f"the book's JavaScript assets are missing ({missing[0]} under {ASSETS}): run "
            "`make assets` (npm ci in book/assets), which `make book` does"
        )
    static = Path(app.outdir).parent / ".vendor"
    for src, dest in VENDOR.items():
        source, target = ASSETS / src, static / "vendor" / dest
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(
                source, target, dirs_exist_ok=True, ignore=shutil.ignore_patterns("*.map")
            )
        else:
            shutil.copy2(source, target)
    app.config.html_static_path.extend([str(static), str(Path(__file__).parent / "static")])
    app.add_css_file("ptheory-book.css")


def bibliography_list_roles(
    app: Any, pagename: str, templatename: str, context: dict, doctree: Any
) -> None:
    """docutils writes the bibliography as ``role="list"`` whose entries have the role
    ``doc-biblioentry``, which ARIA does not allow in a list (axe-core: critical,
    "aria-required-children"): make the entries list items."""
    body = context.get("body")
    if body and 'role="doc-biblioentry"' in body:
        context["body"] = body.replace('role="doc-biblioentry"', 'role="listitem"')


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


def context_for(app: Any, docname: str) -> tuple[mystmd.Context, dict[str, dict]]:
    """What converting ``docname``'s MyST to plain Markdown needs, from the build, and the
    page's glued outputs (``<page>.glue.json``)."""
    env = app.env
    fignumbers = getattr(env, "toc_fignumbers", {})
    formats = app.config.numfig_format or {}
    numbered_ids: dict[tuple[str, str], str] = {}  # (docname, id) -> "Fig. 3"
    numbers: dict[str, list[str]] = {}
    for doc, kinds in fignumbers.items():
        for kind, ids in kinds.items():
            fmt = formats.get(kind, kind.title() + " %s")
            for node_id, number in ids.items():
                numbered_ids[(doc, node_id)] = fmt % ".".join(map(str, number))
            if doc == docname:
                numbers[kind] = [
                    ".".join(map(str, n)) for n in sorted(ids.values(), key=lambda n: tuple(n))
                ]
    refs: dict[str, mystmd.Ref] = {}
    numbered: dict[str, mystmd.Ref] = {}
    std = env.domaindata["std"]
    for label, (doc, anchor, title) in std["labels"].items():
        refs[label] = mystmd.Ref(title, doc, anchor)
    for label, (doc, anchor) in std["anonlabels"].items():
        if (doc, anchor) in numbered_ids:
            numbered[label] = mystmd.Ref(numbered_ids[(doc, anchor)], doc, anchor)
    for label, info in getattr(env, "proof_list", {}).items():
        doc, kind = info["docname"], info["realtype"]
        number = ".".join(
            map(str, fignumbers.get(doc, {}).get(info["countertype"], {}).get(label, ()))
        )
        text = f"{kind.title()} {number}".strip()
        refs[label] = numbered[label] = mystmd.Ref(text, doc, label)
    equations = {
        label: str(number)
        for label, (doc, number) in env.domaindata.get("math", {}).get("objects", {}).items()
    }
    mathjax = app.config.mathjax3_config or {}
    glue_file = Path(app.outdir).parent / "jupyter_execute" / f"{docname}.glue.json"
    glue = json.loads(glue_file.read_text()) if glue_file.is_file() else {}
    return mystmd.Context(
        docname=docname,
        glue={name: output.get("data", {}) for name, output in glue.items()},
        refs=refs,
        numbered=numbered,
        equations=equations,
        docs={doc: title.astext() for doc, title in env.titles.items()},
        numbers=numbers,
        bib=_bibliography(app),
        baseurl=editions.book_baseurl(Path(app.srcdir)),
        macros=mystmd.mathjax_macros(mathjax),
        figure_format=formats.get("figure", "Fig. %s"),
    ), glue


def _bibliography(app: Any) -> dict[str, mystmd.BibEntry]:
    entries: dict[str, mystmd.BibEntry] = {}
    for name in app.config.bibtex_bibfiles:
        entries.update(mystmd.read_bibliography(Path(app.srcdir) / name))
    return entries


def offer_notebook(app: Any, pagename: str, templatename: str, context: dict, doctree: Any) -> None:
    """Put the page's notebook, in plain Markdown, in ``_sources`` and list it for download.

    In the student edition (``book_student_notebooks`` set) it is the student notebook,
    also written into that folder.
    """
    executed = Path(app.outdir).parent / "jupyter_execute" / f"{pagename}.ipynb"
    if not executed.is_file():
        return  # not a notebook page
    target = Path(app.outdir) / "_sources" / f"{pagename}.ipynb"
    target.parent.mkdir(parents=True, exist_ok=True)
    ctx, glue = context_for(app, pagename)
    student = app.config.book_student_notebooks
    try:
        if student:
            source = jupytext.read(Path(app.srcdir) / f"{pagename}.md")
            notebook = editions.student_notebook(source, ctx, glue, Path(app.srcdir))
        else:
            executed_nb = nbformat.read(executed, as_version=4)
            notebook = editions.reader_notebook(executed_nb, ctx, glue, Path(app.srcdir))
    except mystmd.UnknownMyST as err:
        raise ExtensionError(f"the notebook edition of {pagename}: {err}") from err
    nbformat.validate(notebook)
    nbformat.write(notebook, target)
    if student:
        Path(student).mkdir(parents=True, exist_ok=True)
        shutil.copy2(target, Path(student) / f"{Path(pagename).name}.ipynb")
    context["ipynb_source"] = f"{pagename}.ipynb"
    write_course_notebook(app, pagename)


def write_course_notebook(app: Any, pagename: str) -> None:
    """With ``book_course_notebooks`` set, write the page's course edition there
    (``editions.course_notebook``: what ``scripts/course.py`` builds assignments from)."""
    folder = app.config.book_course_notebooks
    if not folder:
        return
    ctx, glue = context_for(app, pagename)  # a fresh context: numbering starts again
    source = jupytext.read(Path(app.srcdir) / f"{pagename}.md")
    try:
        notebook = editions.course_notebook(source, ctx, glue, Path(app.srcdir))
    except mystmd.UnknownMyST as err:
        raise ExtensionError(f"the course edition of {pagename}: {err}") from err
    nbformat.validate(notebook)
    Path(folder).mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, Path(folder) / f"{Path(pagename).name}.ipynb")


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


def caption_alt_text(app: Any, doctree: Any, docname: str) -> None:
    """Give every figure's image its caption as alt text (screen readers), instead of the
    file name Sphinx writes; an image outside a figure (a plain cell output) gets a plain
    description rather than a file name."""
    for figure in doctree.findall(nodes.figure):
        captions = list(figure.findall(nodes.caption))
        text = " ".join(captions[0].astext().split()) if captions else ""
        for image in figure.findall(nodes.image):
            image["alt"] = text or "Figure"
    for image in doctree.findall(nodes.image):
        if not image.get("alt") or image["alt"] == image.get("uri"):
            image["alt"] = "Figure made by the code cell above"


def exercise_labels(app: Any, doctree: Any, docname: str) -> None:
    """Show each exercise's label, its one name, beside its title ("Exercise 5 (Repetition
    in code) ex-model-repeat"): the name the notebook's check, its feedback, a course
    file and the grades use."""
    from sphinx_exercise.nodes import exercise_enumerable_node, exercise_node

    for node in doctree.findall(lambda n: isinstance(n, exercise_node | exercise_enumerable_node)):
        label = node.get("label", "")
        # sphinx-exercise's post-transform has made its title a plain title node by now
        titles = [t for t in node.children if isinstance(t, nodes.title)]
        if not label.startswith("ex-") or not titles:
            continue
        if any(
            "ptheory-exercise-label" in c.get("classes", [])
            for c in titles[0].findall(nodes.literal)
        ):
            continue
        titles[0] += nodes.Text(" ")
        titles[0] += nodes.literal(label, label, classes=["ptheory-exercise-label"])


def latex_macros(app: Any, config: Any) -> None:
    """Define the book's MathJax macros (``mathjax3_config``) for the PDF edition too."""
    lines = []
    for name, (body, nargs) in mystmd.mathjax_macros(config.mathjax3_config or {}).items():
        args = f"[{nargs}]" if nargs else ""
        lines.append(f"\\providecommand{{\\{name}}}{{}}\\renewcommand{{\\{name}}}{args}{{{body}}}")
    elements = dict(config.latex_elements or {})
    elements["preamble"] = elements.get("preamble", "") + "\n" + "\n".join(lines) + "\n"
    # Sphinx names the table of contents after the root page's first toctree caption: the
    # PDF's contents were headed "FOUNDATIONS" (the first part), and so was the running
    # footer of the introduction. Name it Contents (set after babel's captions), and clear
    # the marks it leaves for the pages that follow it.
    elements.setdefault(
        "tableofcontents",
        "\\renewcommand{\\contentsname}{Contents}\\sphinxtableofcontents\\markboth{}{}",
    )
    config.latex_elements = elements


class UnnumberedIntroductionInLatex(SphinxPostTransform):
    """In the PDF the root page's sections ("Who it is for", "Reading it", ...) became
    numbered chapters 1 to 5, so the book's first chapter was "Chapter 6" where the HTML
    (and every chapter's section numbers there) says 1. The introduction's chapters are
    left unnumbered (``secnumdepth`` -1) up to the first page of the table of contents,
    where the numbering starts again at 1 (sphinxmanual's ``secnumdepth`` of 2)."""

    default_priority = 998
    formats = ("latex",)

    def run(self, **kwargs: Any) -> None:
        files = list(self.document.findall(addnodes.start_of_file))
        if not files:
            return  # not the assembled book
        self.document.insert(0, nodes.raw("", "\\setcounter{secnumdepth}{-1}\n", format="latex"))
        restart = "\\setcounter{secnumdepth}{2}\\setcounter{chapter}{0}\n"
        files[0].insert(0, nodes.raw("", restart, format="latex"))
        # The pages of a part without ``numbered: true`` (the appendix) have no number in
        # the HTML: none in the PDF either.
        unnumbered = _unnumbered_pages(Path(self.env.srcdir))
        for node in files:
            if node["docname"] in unnumbered:
                stop = "\\setcounter{secnumdepth}{-1}\n"
                node.insert(0, nodes.raw("", stop, format="latex"))


def name_sidebar_toggles(
    app: Any, pagename: str, templatename: str, context: dict, doctree: Any
) -> None:
    """Give the sidebar's fold toggles an accessible name.

    A part's introduction has its chapters folded under it; the theme draws the toggle as
    a ``<summary>`` holding only an icon, which screen readers announce without a name
    (axe-core: summary-name, serious)."""
    make = context.get("generate_toctree_html")
    if make is None:
        return
    from markupsafe import Markup

    bare = '<summary><span class="toctree-toggle"'
    named = '<summary aria-label="Chapters of this part"><span class="toctree-toggle"'

    def generate(*args: Any, **kwargs: Any) -> Markup:
        return Markup(str(make(*args, **kwargs)).replace(bare, named))

    context["generate_toctree_html"] = generate


def _unnumbered_pages(root: Path) -> set[str]:
    """The pages of ``_toc.yml``'s parts that are not ``numbered``."""
    toc = yaml.safe_load((root / "_toc.yml").read_text())
    return {
        chapter["file"]
        for part in toc.get("parts", [])
        if not part.get("numbered")
        for chapter in part.get("chapters", [])
    }


class ExerciseReferencesInLatex(SphinxPostTransform):
    """In the PDF, a reference to an exercise on another page ("Exercise 11" in the
    instructor guide) became ``Exercise \\ref{page:label}``, a label that sphinx-exercise
    never defines (it writes ``exercise:label``), so LaTeX printed "Exercise ??". Write the
    number the HTML shows, linked to the label that exists."""

    default_priority = 999
    formats = ("latex",)

    def run(self, **kwargs: Any) -> None:
        registry = getattr(self.env, "sphinx_exercise_registry", {})
        for node in list(self.document.findall(addnodes.number_reference)):
            if isinstance(node, exercise_latex_number_reference):
                continue  # same page: sphinx-exercise links it right
            target = node.get("refid") or node.get("refuri", "").rsplit("#", 1)[-1]
            if target in registry:
                text = node.astext()
                latex = f"\\hyperref[exercise:{target}]{{{text}}}"
                node.replace_self(nodes.raw("", latex, format="latex"))


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


def download_substitutions(root: Path, pdf: bool = True, html: bool = True) -> dict[str, str]:
    """The introduction's links to the site's downloads, as MyST substitutions.

    ``{{ ptheory_wheel }}``: a link to the wheel that ``make book`` publishes, named from
    ``pyproject.toml``'s version (one source). ``{{ pdf_edition }}``: a link to the PDF when
    ``make pdf`` has built it (and ``pdf``: the student edition offers none, the PDF has
    the solutions), else a sentence saying how to get one: the same condition under which
    ``scripts/build_book.py`` publishes the PDF, so no page links to a missing file.
    Without ``html`` (the PDF edition itself), plain text instead of links.
    """
    wheel = editions.wheel_name(root)
    edition = editions.pdf_edition(root)
    here = f"../{editions.DOWNLOADS}"  # the introduction is book/intro.html
    if not html:
        return {"ptheory_wheel": f"`{wheel}`", "pdf_edition": "you are reading it."}
    if pdf and edition.is_file():
        offer = f'this site offers it: <a href="{here}/{edition.name}">{edition.name}</a>.'
    elif pdf:
        offer = "this build of the site has none (run `make pdf`, then `make book`)."
    else:
        offer = "the student edition has none (the PDF edition includes the solutions)."
    return {"ptheory_wheel": f'<a href="{here}/{wheel}">{wheel}</a>', "pdf_edition": offer}


def offer_downloads(app: Any) -> None:
    """Give the pages :func:`download_substitutions` (``builder-inited``: before reading)."""
    config = app.config
    substitutions = dict(config.myst_substitutions or {})
    pdf = not getattr(config, "hide_solutions", False)
    html = app.builder.format == "html"
    substitutions.update(download_substitutions(Path(app.srcdir), pdf=pdf, html=html))
    config.myst_substitutions = substitutions


def setup(app: Any) -> dict[str, Any]:
    app.setup_extension("sphinx_exercise")
    app.add_config_value("book_student_notebooks", "", "env")
    app.add_config_value("book_course_notebooks", "", "env")
    app.add_node(_HiddenSolution)
    app.add_directive("solution-start", HiddenSolutionStart, override=True)
    app.add_transform(DropHiddenSolutions)
    app.add_post_transform(ExerciseReferencesInLatex)
    app.add_post_transform(UnnumberedIntroductionInLatex)
    app.connect("config-inited", latex_macros)
    # Before myst-parser reads its configuration (builder-inited, default priority 500).
    app.connect("builder-inited", offer_downloads, priority=100)
    app.connect("builder-inited", place_vendor_assets)
    app.connect("doctree-resolved", caption_alt_text)
    app.connect("doctree-resolved", exercise_labels)
    app.connect("html-page-context", drop_duplicate_scripts)
    app.connect("html-page-context", bibliography_list_roles)
    # Before the theme builds its download menu (default priority 500).
    app.connect("html-page-context", offer_notebook, priority=400)
    # After the theme has built it (default priority 500).
    app.connect("html-page-context", drop_dead_source_link, priority=600)
    app.connect("html-page-context", name_sidebar_toggles, priority=600)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
