"""The execution cache follows ptheory: unchanged package keeps it, a change clears it."""

from __future__ import annotations

from pathlib import Path

import pytest

from booktools import load_build_book

build_book = load_build_book()


def _fake_book(tmp_path: Path) -> Path:
    (tmp_path / "ptheory").mkdir()
    (tmp_path / "ptheory" / "model.py").write_text("X = 1\n")
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    return tmp_path


def _fill_cache(root: Path) -> list[Path]:
    # Only the execution cache needs clearing: Sphinx's environment is rebuilt every time.
    cached = [root / "_build" / ".jupyter_cache"]
    for folder in cached:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "entry").write_text("executed output")
    return cached


def test_unchanged_package_keeps_cache_and_change_clears_it(tmp_path: Path) -> None:
    root = _fake_book(tmp_path)
    cached = _fill_cache(root)
    # No stamp yet: nothing proves the cache matches the package, so it is cleared.
    assert build_book.invalidate_if_stale(root) is True
    assert not any(folder.exists() for folder in cached)

    cached = _fill_cache(root)  # a build runs and fills the cache
    assert build_book.invalidate_if_stale(root) is False
    assert all((folder / "entry").is_file() for folder in cached)

    (root / "ptheory" / "model.py").write_text("X = 2\n")  # ptheory changes
    assert build_book.invalidate_if_stale(root) is True
    assert not any(folder.exists() for folder in cached)


def test_fingerprint_covers_new_files_and_pyproject(tmp_path: Path) -> None:
    root = _fake_book(tmp_path)
    first = build_book.ptheory_fingerprint(root)
    (root / "ptheory" / "extra.py").write_text("")
    second = build_book.ptheory_fingerprint(root)
    (root / "pyproject.toml").write_text("[project]\nname = 'y'\n")
    third = build_book.ptheory_fingerprint(root)
    (root / "grading").mkdir(exist_ok=True)  # the instructor's graders decide the checks
    (root / "grading" / "graders.py").write_text("")
    fourth = build_book.ptheory_fingerprint(root)
    assert len({first, second, third, fourth}) == 4
    third = fourth
    # Byte caches are not part of the package's meaning.
    (root / "ptheory" / "__pycache__").mkdir()
    (root / "ptheory" / "__pycache__" / "model.cpython-311.pyc").write_bytes(b"\0")
    assert build_book.ptheory_fingerprint(root) == third


@pytest.mark.book
def test_a_warning_fails_every_build_not_only_the_first(tmp_path: Path) -> None:
    """Sphinx skips unchanged pages; a rebuild must not hide the last build's warning."""
    root = _fake_book(tmp_path)
    (root / "_config.yml").write_text("title: t\nexecute:\n  execute_notebooks: 'off'\n")
    (root / "_toc.yml").write_text("format: jb-book\nroot: intro\n")
    (root / "intro.md").write_text("# Intro\n\nSee {doc}`missing-page`.\n")
    assert build_book.build(root) != 0
    assert build_book.build(root) != 0, "the rebuild passed: the warning was not raised again"
    (root / "intro.md").write_text("# Intro\n\nNo broken reference.\n")
    assert build_book.build(root) == 0


@pytest.mark.book
def test_a_ptheory_change_re_executes_the_chapter(tmp_path: Path) -> None:
    """The stale-output trap, end to end: the chapter's code is unchanged, only the package
    it reads changes, and the rebuilt page shows the new result, not the cached one."""
    root = _fake_book(tmp_path)
    (root / "ptheory" / "model.py").write_text("VALUE = 'first answer'\n")
    (root / "_config.yml").write_text(
        "title: t\nexecute:\n  execute_notebooks: cache\nonly_build_toc_files: true\n"
    )
    (root / "_toc.yml").write_text("format: jb-book\nroot: chapter\n")
    (root / "chapter.md").write_text(
        "---\njupytext:\n  text_representation:\n    format_name: myst\n"
        "kernelspec:\n  name: python3\n  display_name: Python 3\n---\n\n# Chapter\n\n"
        "```{code-cell} ipython3\n"
        "namespace = {}\n"
        "exec(open('ptheory/model.py').read(), namespace)  # stands for `import ptheory`\n"
        "print(namespace['VALUE'])\n```\n"
    )
    page = root / "_build" / "html" / "chapter.html"
    assert build_book.build(root) == 0
    assert "first answer" in page.read_text()

    assert build_book.build(root) == 0  # nothing changed: the cached output is reused
    assert "first answer" in page.read_text()
    assert not build_book.invalidate_if_stale(root)

    (root / "ptheory" / "model.py").write_text("VALUE = 'second answer'\n")
    assert build_book.build(root) == 0
    html = page.read_text()
    assert "second answer" in html and "first answer" not in html
