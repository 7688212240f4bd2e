"""The MyST-to-Markdown conversion of the notebook editions (``book/_ext/mystmd.py``).

Every role and directive kind the chapters use (or are likely to use) becomes plain
Markdown, and one it does not know fails loudly instead of reaching a reader raw.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from booktools import ROOT, editions

mystmd = editions.mystmd


def _ctx(**changes: object) -> mystmd.Context:
    ctx = mystmd.Context(
        docname="notebooks/a",
        glue={
            "n": {"text/plain": "12414"},
            "err": {"text/plain": "1.2345e-11"},
            "name": {"text/plain": "'sine'"},
            "table": {"text/markdown": "| a |\n| - |\n| 1 |", "text/plain": "x"},
            "fig": {"image/png": "iVBOR", "text/plain": "<Figure>"},
        },
        refs={
            "sec-x": mystmd.Ref("The idea", "notebooks/b", "sec-x"),
            "thm-a": mystmd.Ref("Theorem 3", "notebooks/a", "thm-a"),
        },
        numbered={
            "thm-a": mystmd.Ref("Theorem 3", "notebooks/a", "thm-a"),
            "fig-a": mystmd.Ref("Fig. 5", "notebooks/a", "fig-a"),
        },
        equations={"eq-a": "2"},
        docs={"notebooks/a": "Chapter A", "notebooks/b": "Chapter B"},
        numbers={"theorem": ["3", "4"], "figure": ["5"], "lemma": ["1"], "exercise": ["11"]},
        bib=mystmd.read_bibliography(ROOT / "references.bib"),
        macros={"R": ("\\mathbb{R}", 0), "norm": ("\\lVert #1 \\rVert", 1)},
    )
    for key, value in changes.items():
        setattr(ctx, key, value)
    return ctx


def test_roles_become_text() -> None:
    ctx = _ctx()
    text = (
        "{glue:text}`n` weights, error {glue:text}`err:.1e`, {glue:text}`name`; "
        "{cite:t}`hu2025fundamental` and {cite:p}`wang2023universality,alman2023fast`; "
        "{prf:ref}`thm-a`, {numref}`fig-a`, {numref}`Figure %s <fig-a>`, {ref}`sec-x`, "
        "{ref}`that part <sec-x>`, {doc}`b`, {doc}`the other <../notebooks/b>`, "
        "{eq}`eq-a`, {math}`x^2`, `{glue:text}` in code stays."
    )
    out = mystmd.convert(text, ctx)
    assert out == (
        "12414 weights, error 1.2e-11, sine; Hu et al. (2025) and (Wang et al., 2023; "
        "Alman and Song, 2023); Theorem 3, Fig. 5, Figure 5, The idea, that part, *Chapter B*, "
        "the other, (2), $x^2$, `{glue:text}` in code stays."
    )
    assert ctx.cited == ["hu2025fundamental", "wang2023universality", "alman2023fast"]
    refs = ctx.references_markdown()
    assert refs.startswith("## References\n\n- Alman, Josh, Song, Zhao (2023). *Fast Attention")
    assert mystmd.leftover_myst(out) == []


def test_links_when_the_book_has_an_address() -> None:
    ctx = _ctx(baseurl="https://books.example.org/ptt")
    out = mystmd.convert("{prf:ref}`thm-a` and {doc}`b`", ctx)
    assert out == (
        "[Theorem 3](https://books.example.org/ptt/notebooks/a.html#thm-a) and "
        "[Chapter B](https://books.example.org/ptt/notebooks/b.html)"
    )


def test_boxes_become_bold_titles_and_quotes() -> None:
    text = """(thm-label)=
% a comment
```{prf:theorem} Universality of $\\R$
:label: thm-a

Every $f$ with $\\norm{x}$.

$$
y = 1
$$ (eq-a)
```

```{prf:proof}
Easy.
```

::::{admonition} Proof idea
:class: dropdown

Two steps.
::::

:::{note}
Mind {glue:text}`n`.
:::

```{glue:figure} fig
:name: fig-a

**Caption.** The figure.
```

```python
{glue:text}`untouched` in a code block
```"""
    out = mystmd.convert(text, _ctx())
    assert out.split("\n\n")[:2] == [
        "**Theorem 3 (Universality of $\\mathbb{R} $).**",
        "> Every $f$ with ${\\lVert x \\rVert}$.\n>\n> $$\n> y = 1 \\tag{2}\n> $$",
    ]
    assert "*Proof.*\n\n> Easy." in out
    assert "<details><summary>Proof idea</summary>\n\nTwo steps.\n\n</details>" in out
    assert "**Note.**\n\n> Mind 12414." in out
    assert "***Fig. 5.** **Caption.** The figure.*" in out
    assert "```python\n{glue:text}`untouched` in a code block\n```" in out
    assert "thm-label" not in out and "comment" not in out


def test_exercises_and_solutions() -> None:
    text = (
        "```{exercise} Bound it\n:label: ex-a\n\nProve it.\n```\n\n```{solution} ex-a\nDone.\n```"
    )
    reader = mystmd.convert(text, _ctx())
    # the book's number (global across the book, as in the HTML and the PDF)
    assert reader.startswith("---\n\n**Exercise 11** (Bound it). `ex-a`\n\nProve it.")
    assert "<details><summary>Solution</summary>\n\nDone." in reader
    student = mystmd.convert(text, _ctx(), solutions=False)
    assert "Done" not in student and "Prove it." in student


@pytest.mark.parametrize(
    "text",
    [
        "{unknownrole}`x`",
        "```{unknown-directive}\nbody\n```",
        "{glue:text}`no_such_key`",
        "{prf:ref}`no-such-label`",
        "{cite:t}`no_such_key`",
        "{doc}`no_such_page`",
        "$$\nx\n$$ (no-such-eq)",
        "```{glue:figure} no_such_figure\ncaption\n```",
    ],
)
def test_unknown_or_unresolved_myst_fails_loudly(text: str) -> None:
    with pytest.raises(mystmd.UnknownMyST):
        mystmd.convert(text, _ctx())


def test_leftover_detector_sees_roles_directives_and_targets() -> None:
    assert mystmd.leftover_myst("a {glue:text}`x` b") == ["{glue:text}`x`"]
    assert mystmd.leftover_myst("::::{admonition} T\nx\n::::") == ["::::{admonition}"]
    assert mystmd.leftover_myst("(lab-el)=\n# T") == ["(lab-el)="]
    assert mystmd.leftover_myst("`{glue:text}` and\n```python\n{x}`y`\n```") == []


def test_every_directive_in_the_chapters_is_known() -> None:
    """A new directive in a chapter (one this module does not convert) fails here first."""
    names = set()
    for chapter in editions.toc_chapters():
        for block in mystmd.split_blocks(chapter.read_text()):
            if isinstance(block, mystmd.Directive) and block.name != "code-cell":
                names.add(block.name)
    assert names <= mystmd.DIRECTIVES, f"not converted: {sorted(names - mystmd.DIRECTIVES)}"


# ------------------------------------------------------------------ make lab
def _lab_round_trip(tmp_path: Path, chapter: Path, edit: object = None) -> list:
    """Open ``chapter`` (a copy in ``tmp_path``) as ``make lab`` does, let ``edit`` change
    the model as JupyterLab would, save it back; the cells as opened."""
    import asyncio
    import shutil

    import lab_contents  # book/_ext, on the path through booktools

    shutil.copy2(chapter, tmp_path / chapter.name)
    shutil.copy2(ROOT / "jupytext.toml", tmp_path / "jupytext.toml")
    manager = lab_contents.BookContentsManager(root_dir=str(tmp_path))

    async def round_trip() -> list:
        model = await manager.get(chapter.name)
        cells = list(model["content"].cells)  # saving filters the model's cells
        if edit:
            edit(model["content"])
        await manager.save({"type": "notebook", "content": model["content"]}, chapter.name)
        return cells

    return asyncio.run(round_trip())


@pytest.mark.parametrize("chapter", editions.toc_chapters(), ids=lambda p: p.stem)
def test_lab_saves_a_chapter_unchanged(tmp_path: Path, chapter: Path) -> None:
    """Opening a chapter in ``make lab``, running it and saving leaves the file as it was:
    its cell tags (control, exercise, solution, ...) kept, JupyterLab's own cell metadata
    (execution times, scrolling) not written. (jupytext.toml's ``-all`` filter dropped
    every tag on saving.)"""

    def run_it(nb: object) -> None:
        for cell in nb.cells:
            cell.metadata["scrolled"] = True
            if cell.cell_type == "code":
                cell.metadata["execution"] = {"iopub.status.idle": "2026-01-01T00:00:00Z"}

    _lab_round_trip(tmp_path, chapter, run_it)
    assert (tmp_path / chapter.name).read_text() == chapter.read_text()


def test_lab_lists_the_works_the_chapter_cites(tmp_path: Path) -> None:
    """jupyterlab-myst cannot resolve citations (it shows their keys): ``make lab``'s
    contents manager appends a References cell mapping every cited key to its work (and
    saving removes it again, with the macro cell)."""
    import lab_contents

    chapter = ROOT / "notebooks" / "prompt_tuning_model.md"
    keys: set[str] = set()
    for body in re.findall(r"\{cite(?::\w+)?\}`([^`]+)`", chapter.read_text()):
        keys |= {k.strip() for k in body.split(",")}
    assert keys
    cells = _lab_round_trip(tmp_path, chapter)
    assert lab_contents.MARK in cells[0].metadata["tags"]
    last = cells[-1]
    assert lab_contents.MARK in last.metadata["tags"] and last.source.startswith("## References")
    bib = mystmd.read_bibliography(ROOT / "references.bib")
    for key in keys:
        assert f"- `{key}` ({bib[key].short()}, {bib[key].year}): " in last.source
    assert (tmp_path / chapter.name).read_text() == chapter.read_text()
    assert lab_contents.references_markdown(["No citation here."]) == ""
