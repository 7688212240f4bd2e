"""Helpers shared by the book's tests: the chapter list, the build script, the cache."""

from __future__ import annotations

import importlib.util
import sys
import time
from pathlib import Path
from types import ModuleType

import jupytext
import nbformat
import yaml
from jupyter_cache import get_cache
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

ROOT = Path(__file__).resolve().parent.parent
REPORTS = ROOT / "_build" / "reports"
CHAPTER_TIMES: dict[str, float] = {}
OFFLINE = ROOT / "tests" / "offline"
"""Holds the ``sitecustomize`` network guard put on every test subprocess's path."""
NETWORK_LOG = REPORTS / "network-attempts.log"
"""Where the guard records every blocked connection."""

# The book's own reader of _toc.yml (book/_ext is a folder of modules, not a package).
sys.path.insert(0, str(ROOT / "book" / "_ext"))
import editions  # noqa: E402, F401  (re-exported)
from editions import toc_chapters, toc_files  # noqa: E402, F401  (re-exported)


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


def record_chapter_time(name: str, seconds: float) -> None:
    CHAPTER_TIMES[name] = seconds


# ----------------------------------------------------------------- executing chapters
EXECUTED: dict[Path, nbformat.NotebookNode] = {}
"""Chapters executed in this test session (fresh kernel each), by path."""

TIMING_TAG = "timing"
"""Cells with this tag report wall-clock measurements: exempt from reproducibility checks."""

_TEXT_MIMES = ("text/plain", "text/html", "text/markdown", "text/latex", "application/json")


def execute_chapter(
    chapter: Path, timeout: int | None = None
) -> tuple[nbformat.NotebookNode, float]:
    """Execute a chapter top to bottom in a fresh kernel; return the notebook and seconds.

    Raises :class:`ChapterFailed`, naming the cell, if a cell raises.
    """
    nb = jupytext.read(chapter)
    client = NotebookClient(
        nb,
        timeout=timeout or cell_timeout(),
        kernel_name="python3",
        resources={"metadata": {"path": str(chapter.parent)}},
    )
    start = time.perf_counter()
    try:
        client.execute()
    except CellExecutionError as err:
        number, first_line = _failed_cell(nb)
        raise ChapterFailed(
            f"{chapter.name}: code cell {number} (starting {first_line!r}) failed:\n{err}"
        ) from None
    return nb, time.perf_counter() - start


class ChapterFailed(Exception):
    """A chapter's cell raised; the message names the cell."""


def _failed_cell(nb: nbformat.NotebookNode) -> tuple[int, str]:
    code_cells = [c for c in nb.cells if c.cell_type == "code"]
    for number, cell in enumerate(code_cells, start=1):
        if any(out.get("output_type") == "error" for out in cell.get("outputs", [])):
            lines = cell.source.strip().splitlines()
            return number, lines[0] if lines else ""
    return -1, ""


def code_cell_tags(chapter: Path) -> list[set[str]]:
    """The tags of each code cell of a chapter's source, in order."""
    nb = jupytext.read(chapter)
    return [set(c.metadata.get("tags", [])) for c in nb.cells if c.cell_type == "code"]


def text_outputs(nb: nbformat.NotebookNode, tags: list[set[str]]) -> list[list[tuple]]:
    """Per code cell, its outputs reduced to text (images and metadata left out).

    Cells tagged ``timing`` are replaced by ``None``: their numbers are measurements of the
    machine, not results of the book.
    """
    code = [c for c in nb.cells if c.cell_type == "code"]
    if len(code) != len(tags):
        raise ValueError(f"nb has {len(code)} code cells, the source {len(tags)}")
    reduced: list = []
    for cell, cell_tags in zip(code, tags, strict=True):
        if TIMING_TAG in cell_tags:
            reduced.append(None)
            continue
        outs = []
        for out in cell.get("outputs", []):
            kind = out["output_type"]
            if kind == "stream":
                # A kernel may flush one print in several chunks: consecutive chunks of the
                # same stream are one text.
                if outs and outs[-1][0] == "stream" and outs[-1][1] == out["name"]:
                    outs[-1] = (kind, out["name"], outs[-1][2] + out["text"])
                else:
                    outs.append((kind, out["name"], out["text"]))
            elif kind in ("execute_result", "display_data"):
                data = out.get("data", {})
                outs.append((kind, tuple((m, str(data[m])) for m in _TEXT_MIMES if m in data)))
            else:
                outs.append((kind, out.get("ename"), out.get("evalue")))
        reduced.append(outs)
    return reduced


def cached_execution(chapter: Path, root: Path = ROOT) -> nbformat.NotebookNode | None:
    """The book build's execution of ``chapter`` from ``_build/.jupyter_cache``, if any."""
    folder = root / "_build" / ".jupyter_cache"
    if not folder.is_dir():
        return None
    cache = get_cache(folder)
    records = [r for r in cache.list_cache_records() if Path(r.uri) == chapter.resolve()]
    if not records:
        return None
    latest = max(records, key=lambda r: r.created)
    return cache.get_cache_bundle(latest.pk).nb
