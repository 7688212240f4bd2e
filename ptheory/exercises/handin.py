"""Handing in an answer: what a course's hidden test cell calls.

In an assignment built from the book (``make course``), each auto-graded exercise is
followed by a locked, hidden test cell that calls::

    from ptheory.exercises.handin import submit
    submit("ex-model-repeat", answer)

:func:`submit` judges nothing. It turns the answer into its probe (plain JSON data, see
:func:`ptheory.exercises.probe`) and displays that data as one output of the dedicated
MIME type :data:`ANSWER_MIME`. The instructor's grader reads the output from the
executed notebook, in its own process, and scores it there: nothing the student's kernel
does (patching a check, the error display, this function) can change the verdict, and no
reference answer is in this package to be read. A forged output earns exactly what the
data in it earns.
"""

from __future__ import annotations

from typing import Any

from ._core import _lookup, probe

__all__ = ["ANSWER_MIME", "answer_bundle", "submit"]

ANSWER_MIME = "application/vnd.ptheory.answer+json"
"""The MIME type of a recorded answer: ``{"label": ..., "answer": data}`` or
``{"label": ..., "error": message}``."""


def answer_bundle(label: str, answer: Any) -> dict[str, Any]:
    """The display data :func:`submit` shows: the probe, and one line for people."""
    payload = probe(label, answer)
    if "error" in payload:
        text = f"{label}: no answer recorded ({payload['error']})"
    else:
        text = f"{label}: answer recorded; it is graded after you hand the notebook in"
    return {ANSWER_MIME: payload, "text/plain": text}


def submit(label: str, answer: Any) -> None:
    """Record ``answer`` to exercise ``label`` in the notebook's output, for grading.

    Never raises on the answer (a missing or unreadable answer is recorded as such);
    raises ``ValueError`` only for a label that names no exercise with a check.
    """
    _lookup(label)
    from IPython.display import display

    display(answer_bundle(label, answer), raw=True)
