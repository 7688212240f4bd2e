"""Helpers shared by the book's tests: the chapter list, the build script, the cache."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import yaml

ROOT = Path(__file__).resolve().parent.parent
REPORTS = ROOT / "_build" / "reports"
CHAPTER_TIMES: dict[str, float] = {}


def load_build_book() -> ModuleType:
    """``scripts/build_book.py`` as a module (it is a script, not part of the package)."""
    spec = importlib.util.spec_from_file_location("build_book", ROOT / "scripts" / "build_book.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def book_config(root: Path = ROOT) -> dict:
    """The parsed ``_config.yml``."""
    return yaml.safe_load((root / "_config.yml").read_text())


def cell_timeout(root: Path = ROOT) -> int:
    """Seconds allowed per cell: the book's own ``execute.timeout``."""
    return int(book_config(root)["execute"]["timeout"])


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


def record_chapter_time(name: str, seconds: float) -> None:
    CHAPTER_TIMES[name] = seconds
