"""Test configuration: headless figures, and the chapter timing report."""

from __future__ import annotations

import json
import os

import pytest
from hypothesis import settings

from booktools import CHAPTER_TIMES, REPORTS, ROOT

os.environ.setdefault("MPLBACKEND", "Agg")

# Property-based tests draw the same examples on every run, so CI cannot flake; run with
# HYPOTHESIS_PROFILE=explore to search fresh examples.
settings.register_profile("book", derandomize=True, deadline=None)
settings.register_profile("explore", deadline=None, max_examples=500)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "book"))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if CHAPTER_TIMES:
        REPORTS.mkdir(parents=True, exist_ok=True)
        (REPORTS / "chapter_times.json").write_text(
            json.dumps({k: round(v, 2) for k, v in sorted(CHAPTER_TIMES.items())}, indent=2) + "\n"
        )


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not CHAPTER_TIMES:
        return
    terminalreporter.section("chapter execution times (fresh kernel each)")
    for name, seconds in sorted(CHAPTER_TIMES.items()):
        terminalreporter.write_line(f"{seconds:7.1f} s  {name}")
    build = REPORTS / "build.json"
    if build.is_file():
        info = json.loads(build.read_text())
        how = "all chapters executed" if info["executed_everything"] else "cached outputs reused"
        terminalreporter.write_line(f"{info['seconds']:7.1f} s  whole book build ({how})")
    terminalreporter.write_line(f"report: {REPORTS.relative_to(ROOT)}/chapter_times.json")
