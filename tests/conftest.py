"""Test configuration: headless figures, an offline guard, the order of the slow tests,
the shared book build, and the timing report."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import settings

from booktools import CHAPTER_TIMES, NETWORK_LOG, OFFLINE, REPORTS, ROOT

os.environ.setdefault("MPLBACKEND", "Agg")

# Every process the tests start (the book build, Sphinx, every chapter's kernel) runs with
# the network guard of tests/offline/sitecustomize.py: a chapter that reaches for the
# network fails, and the attempt is logged for test_book to report.
os.environ["PYTHONPATH"] = os.pathsep.join(
    p for p in (str(OFFLINE), os.environ.get("PYTHONPATH", "")) if p
)
os.environ["PTHEORY_NETWORK_LOG"] = str(NETWORK_LOG)

# Property-based tests draw the same examples on every run, so CI cannot flake; run with
# HYPOTHESIS_PROFILE=explore to search fresh examples.
settings.register_profile("book", derandomize=True, deadline=None)
settings.register_profile("explore", deadline=None, max_examples=500)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "book"))

# Slow tests last, in this order: chapters execute, then the book builds (and its
# executions are compared with the chapters'), the student edition and its hand-out (and a
# course graded from it), the PDF, then the browser reads the built book (which offers
# the PDF).
_LAST = {
    "test_chapters.py": 1,
    "test_book.py": 2,
    "test_student.py": 3,
    "test_handout.py": 4,
    "test_course_grading.py": 4,
    "test_pdf.py": 5,
    "test_browser.py": 6,
    "test_lab.py": 7,
}


def pytest_sessionstart(session: pytest.Session) -> None:
    REPORTS.mkdir(parents=True, exist_ok=True)
    NETWORK_LOG.unlink(missing_ok=True)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: _LAST.get(item.path.name, 0))


def _run_script(script: str, what: str) -> str:
    """Run ``scripts/<script>`` with this Python; its output, or fail the requesting test."""
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / script)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    output = result.stdout + result.stderr
    if result.returncode != 0:
        pytest.fail(f"{what} failed (warnings are errors):\n" + output[-6000:], pytrace=False)
    return output


@pytest.fixture(scope="session")
def built_book() -> str:
    """Build the book as ``make book`` does (``-W -n --keep-going``, cached executions).

    Returns the build's output. Fails the requesting test if the build fails.
    """
    return _run_script("build_book.py", "the book build")


@pytest.fixture(scope="session")
def student_edition(built_book: str) -> Path:
    """``make student``, after the main build, whose cached executions it reuses."""
    _run_script("student.py", "the student edition's build")
    return ROOT / "_build" / "student"


@pytest.fixture(scope="session")
def built_pdf(built_book: str) -> Path:
    """``make pdf`` (XeLaTeX), then the site rebuilt so that it offers the PDF."""
    _run_script("build_pdf.py", "the PDF build")
    _run_script("build_book.py", "the book build")
    return ROOT / "_build" / "pdf" / "book.pdf"


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if CHAPTER_TIMES:
        REPORTS.mkdir(parents=True, exist_ok=True)
        (REPORTS / "chapter_times.json").write_text(
            json.dumps({k: round(v, 2) for k, v in sorted(CHAPTER_TIMES.items())}, indent=2) + "\n"
        )


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    skipped = terminalreporter.stats.get("skipped", [])
    browser_skips = [r for r in skipped if "test_browser.py" in r.nodeid]
    if browser_skips:
        reason = browser_skips[0].longrepr[-1] if browser_skips[0].longrepr else "?"
        terminalreporter.section("BROWSER TEST SKIPPED", sep="!", red=True, bold=True)
        terminalreporter.write_line(
            f"The built book was NOT checked in a browser ({len(browser_skips)} tests "
            f"skipped): {reason}",
            red=True,
            bold=True,
        )
        terminalreporter.write_line("Install it as .ci/run does: see README, 'Browser test'.")
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
