"""Bad answers to every exercise check: feedback that names what is wrong, never a crash.

A check is where a learner's mistakes land, so unlike the rest of ``ptheory`` it does not
raise on a wrong type or shape: it returns a failed :class:`~ptheory.exercises.Feedback`
whose message says what is wrong, so that a student notebook keeps running. The one
argument a programmer (not a reader) passes, the decorator's label, is checked as usual.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

import ptheory.exercises as ex
from ptheory.exercises._core import exercise

from badinput import Case, case_params, check_case

LABELS = sorted(ex.exercises())
"""Every exercise with a computed answer, by its label (the API of ``ex.check``)."""


def _raises(*args, **kwargs):
    raise RuntimeError("reader bug")


JUNK = {
    "string": "0.5",
    "bool": True,
    "nan": float("nan"),
    "inf": float("inf"),
    "dict": {"answer": 1},
    "empty list": [],
    "ragged list": [[1.0], [1.0, 2.0]],
    "wrong-shape tensor": torch.zeros(7, 3, 2),
    "nan array": np.full(3, np.nan),
    "function that raises": _raises,
    "object": object(),
}


@pytest.mark.parametrize("label", LABELS)
@pytest.mark.parametrize("junk", list(JUNK), ids=list(JUNK))
def test_check_reports_bad_answer(label: str, junk: str) -> None:
    feedback = ex.check(label, JUNK[junk])
    assert isinstance(feedback, ex.Feedback)
    assert feedback.status == "wrong", f"{label} accepted {junk}: {feedback}"
    assert len(feedback.message) > 10
    assert "Traceback" not in feedback.message


@pytest.mark.parametrize("label", LABELS)
def test_stub_answer_is_not_attempted(label: str) -> None:
    assert ex.check(label, ...).status == "missing"


def test_there_are_checks() -> None:
    """Exercises with a computed answer in at least ten chapters, each of a real chapter."""
    chapters = {e.chapter for e in ex.exercises().values()}
    notebooks = Path(__file__).resolve().parents[1] / "notebooks"
    assert all((notebooks / f"{c}.md").is_file() for c in chapters), chapters
    assert len(LABELS) >= 10 and len(chapters) >= 10
    assert not [n for n in ex.__all__ if n.startswith("check_")]  # the old form is gone


def _probe(answer):
    return answer


CASES = [
    Case("exercise", "label not a string", lambda: exercise(3, chapter="c", probe=_probe),
         ValueError, "label"),
    Case("exercise", "label without ex-", lambda: exercise("x", chapter="c", probe=_probe),
         ValueError, "label"),
    Case("exercise", "empty chapter", lambda: exercise("ex-a", chapter="", probe=_probe),
         ValueError, "chapter"),
    Case("exercise", "probe not callable", lambda: exercise("ex-a", chapter="c", probe=3),
         TypeError, "probe"),
    Case("check", "label not a string", lambda: ex.check(3, 1.0), TypeError, "label"),
    Case("check", "unknown label", lambda: ex.check("ex-no-such", 1.0), ValueError, "label"),
    Case("probe", "unknown label", lambda: ex.probe("ex-no-such", 1.0), ValueError, "label"),
]  # fmt: skip


@pytest.mark.parametrize("case", case_params(CASES))
def test_bad_input_names_the_argument(case: Case) -> None:
    check_case(case)
