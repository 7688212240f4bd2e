"""The bad-input sweep of ``ptheory.widgets``: every public callable has its cases.

The cases live beside each part's tests (``CASES`` in ``tests/test_widgets_*.py``); this
file checks that together they cover every explorer factory and :class:`Explorer`.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import ptheory.widgets as widgets

from badinput import public_callables

TESTS = Path(__file__).parent


def _all_cases() -> list:
    cases = []
    for path in sorted(TESTS.glob("test_widgets_*.py")):
        if path.stem == "test_widgets_bad_inputs":
            continue
        cases.extend(getattr(importlib.import_module(path.stem), "CASES", []))
    return cases


def test_sweep_covers_every_public_callable() -> None:
    covered = {c.target.split(".")[0] for c in _all_cases()}
    missing = public_callables(widgets) - covered
    assert not missing, f"no bad-input case for ptheory.widgets.{sorted(missing)}"
    assert len(public_callables(widgets)) >= 4  # Explorer and one factory per part
