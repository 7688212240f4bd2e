"""What every exercise shares: its name, the feedback it returns, how it reads an answer.

Every exercise has one name, its label in the book (``"ex-model-repeat"``): the page
shows it beside the exercise's title, the notebook calls ``ex.check("ex-model-repeat",
answer)``, the feedback names it, and a course file and the grades use it.

An exercise with a computed answer is registered with :func:`exercise`, which ties three
things to its label:

- a **quick check** (the decorated function), run by :func:`check` in the reader's own
  notebook. It raises :class:`Wrong` for what can be seen without knowing the answer: a
  type, a shape, a range, a property the exercise states (``k = 1`` gives the weight back),
  a typical mistake (the softmax where the exercise removed it). It holds no reference
  answer, no answer value and no tolerance that would reveal one: it ships to students.
- a **probe**, which turns the answer into plain data (numbers, or what the reader's
  function returns on fixed inputs): :func:`probe`. A graded test sends this data, and
  nothing else, out of the student's notebook.
- a **grader**, which decides from the probe whether the answer is right. Graders live in
  the instructor's package ``ptheory_grading`` (the repository's ``grading/`` folder),
  never in ``ptheory``: a student's copy of ``ptheory`` holds no answers.

:func:`check` returns a :class:`Feedback`: "no answer yet" for the stub ``...``, "not
yet" with what is wrong, and otherwise "correct" or "not yet" when the grader is
installed (the book's own build), or "passes the quick check" when it is not (a student's
or reader's copy). It never raises on what a reader hands it, so a notebook with
untouched stubs runs from top to bottom, and it never shows the answer.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable
from dataclasses import dataclass
from html import escape
from typing import Any, Literal

import numpy as np
import torch

__all__ = [
    "Exercise",
    "Feedback",
    "Wrong",
    "as_array",
    "as_function",
    "as_integer",
    "as_number",
    "call",
    "check",
    "exercise",
    "exercises",
    "expect_close",
    "probe",
]

Status = Literal["correct", "wrong", "missing", "checked"]

_SYMBOL = {
    "correct": "✔ Correct",
    "wrong": "✘ Not yet",
    "missing": "… No answer yet",
    "checked": "✓ Passes the quick check",
}
_COLOUR = {"correct": "#1a7f37", "wrong": "#b42318", "missing": "#6b7280", "checked": "#0b5cad"}

CHECKED = (
    "no common mistake found (type, shape, range, the properties the exercise states). "
    "The quick check does not know the answer: the graded test decides, or compare with "
    "the solution in the book."
)
"""The message of an answer that passes the quick check where no grader is installed."""


class Wrong(Exception):
    """Raised inside a check: the answer is wrong, and the message says how."""


@dataclass(frozen=True)
class Feedback:
    """The outcome of one check: truthy exactly when the answer is judged correct."""

    label: str
    """The exercise's label in the book, e.g. ``"ex-index-code"``."""
    status: Status
    message: str

    @property
    def passed(self) -> bool:
        return self.status == "correct"

    def __bool__(self) -> bool:
        return self.passed

    def __str__(self) -> str:
        return f"{_SYMBOL[self.status]} ({self.label}): {self.message}"

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        colour = _COLOUR[self.status]
        return (
            f'<div class="ptheory-feedback ptheory-feedback-{self.status}" '
            f'style="border-left: 4px solid {colour}; padding: 0.3em 0.8em;">'
            f'<strong style="color: {colour}">{_SYMBOL[self.status]}</strong> '
            f"<code>{escape(self.label)}</code>: {escape(self.message)}</div>"
        )


# ------------------------------------------------------------------ exercises by name
@dataclass(frozen=True)
class Exercise:
    """An exercise with a computed answer: its name, chapter, quick check and probe."""

    label: str
    """The exercise's one name, its label in the book, e.g. ``"ex-model-repeat"``."""
    chapter: str
    """The chapter's file stem, e.g. ``"prompt_tuning_model"``."""
    quick_check: Callable[[Any], str | None]
    """Raises :class:`Wrong` on what can be seen without the answer; may return a remark."""
    probe: Callable[[Any], Any]
    """The answer as plain data for the grader (JSON: numbers, lists, dicts, strings)."""


_EXERCISES: dict[str, Exercise] = {}

GRADER_MODULE = "ptheory_grading"
"""The instructor's package that judges answers; never part of ``ptheory``."""


def exercise(
    label: str, *, chapter: str, probe: Callable[[Any], Any]
) -> Callable[[Callable[[Any], str | None]], Callable[[Any], str | None]]:
    """Register the decorated quick check, and ``probe``, as exercise ``label``.

    ``probe(answer)`` must return JSON data (``None``, bools, numbers, strings, lists and
    dicts of them): the numbers the answer consists of, or the outputs of the reader's
    function on fixed inputs that :mod:`ptheory` can rebuild. It raises :class:`Wrong`
    when it cannot read the answer. The quick check is returned unchanged.
    """
    if not isinstance(label, str) or not label.startswith("ex-"):
        raise ValueError(f"label must be an exercise label starting with 'ex-', got {label!r}")
    if not isinstance(chapter, str) or not chapter:
        raise ValueError(f"chapter must be a chapter's file stem, got {chapter!r}")
    if not callable(probe):
        raise TypeError(f"probe must be callable, got {type(probe).__name__}")

    def register(quick_check: Callable[[Any], str | None]) -> Callable[[Any], str | None]:
        if not callable(quick_check):
            raise TypeError(f"the quick check must be callable, got {type(quick_check).__name__}")
        _EXERCISES[label] = Exercise(label, chapter, quick_check, probe)
        return quick_check

    return register


def exercises() -> dict[str, Exercise]:
    """Every exercise registered with :func:`exercise`, by label."""
    return dict(_EXERCISES)


def _lookup(label: Any) -> Exercise:
    if not isinstance(label, str):
        raise TypeError(f"label must be an exercise's name such as 'ex-model-repeat', got "
                        f"{type(label).__name__}")  # fmt: skip
    if label not in _EXERCISES:
        near = sorted(k for k in _EXERCISES if k.split("-")[1:2] == label.split("-")[1:2])
        hint = f"; this chapter's are {near}" if near else ""
        raise ValueError(f"label {label!r} names no exercise with a check{hint}")
    return _EXERCISES[label]


def _is_stub(answer: Any) -> bool:
    return answer is None or answer is Ellipsis


def _grader() -> Callable[[str, dict], Any] | None:
    """``ptheory_grading.grade`` where the instructor's package is installed, else None."""
    try:
        module = importlib.import_module(GRADER_MODULE)
    except ImportError:
        return None
    return getattr(module, "grade", None)


def probe(label: str, answer: Any) -> dict[str, Any]:
    """The answer to exercise ``label`` as plain data, what a graded test sends out.

    Returns ``{"label": label, "answer": data}``, or ``{"label": label, "error":
    message}`` when the answer is missing or cannot be read (the reader's function
    raises, returns the wrong shape, ...). Never raises on the answer.
    """
    ex = _lookup(label)
    if _is_stub(answer):
        return {"label": label, "error": "no answer"}
    try:
        data = ex.probe(answer)
    except Wrong as wrong:
        return {"label": label, "error": str(wrong)}
    except Exception as error:  # the reader's code, or an answer of an unforeseen shape
        return {"label": label, "error": f"{type(error).__name__}: {error}"}
    return {"label": label, "answer": data}


def check(label: str, answer: Any) -> Feedback:
    """Feedback on ``answer`` to exercise ``label`` (its name in the book).

    Runs the quick check; where the instructor's package is installed, it also grades
    the answer's probe. Never raises on the answer, never shows the solution.
    """
    ex = _lookup(label)
    if _is_stub(answer):
        return Feedback(label, "missing", "replace `...` with your answer and run the cell again.")
    try:
        remark = ex.quick_check(answer)
    except Wrong as wrong:
        return Feedback(label, "wrong", str(wrong))
    except Exception as error:  # an answer of a shape no reader helper foresaw
        return Feedback(
            label,
            "wrong",
            f"the check could not read your answer ({type(error).__name__}: {error})",
        )
    grade = _grader()
    if grade is None:
        message = CHECKED if remark is None else f"{CHECKED} {remark}"
        return Feedback(label, "checked", message)
    result = grade(label, probe(label, answer))
    if result.fraction >= 1.0:
        success = "your answer passes every test of the graded check."
        return Feedback(label, "correct", success if remark is None else f"{success} {remark}")
    return Feedback(label, "wrong", result.message)


# ------------------------------------------------------------------ reading answers
def as_number(answer: Any, what: str = "answer") -> float:
    """A finite real number from a Python, NumPy or one-element torch number."""
    if isinstance(answer, bool | str | bytes):
        raise Wrong(f"{what} must be a number, got {type(answer).__name__}")
    if isinstance(answer, torch.Tensor | np.ndarray):
        count = answer.size if isinstance(answer, np.ndarray) else answer.numel()
        if count != 1:
            raise Wrong(
                f"{what} must be a single number, got an array of shape {tuple(answer.shape)}"
            )
        answer = answer.item()
    try:
        value = float(answer)
    except (TypeError, ValueError):
        raise Wrong(f"{what} must be a number, got {type(answer).__name__}") from None
    if not math.isfinite(value):
        raise Wrong(f"{what} must be finite, got {value}")
    return value


def as_integer(answer: Any, what: str = "answer") -> int:
    """An integer (an integral float such as ``3.0`` is accepted)."""
    value = as_number(answer, what)
    if value != int(value):
        raise Wrong(f"{what} must be a whole number, got {value}")
    return int(value)


def as_array(
    answer: Any, shape: tuple[int, ...] | None = None, what: str = "answer"
) -> torch.Tensor:
    """A finite float64 tensor from a list, NumPy array or tensor, of ``shape`` if given."""
    if isinstance(answer, (str, bytes, dict)) or callable(answer):
        raise Wrong(f"{what} must be an array of numbers, got {type(answer).__name__}")
    try:
        if isinstance(answer, torch.Tensor):
            tensor = answer.detach().to("cpu", torch.float64)
        else:
            tensor = torch.as_tensor(np.asarray(answer, dtype=np.float64))
    except (TypeError, ValueError):
        raise Wrong(f"{what} must be an array of numbers, got {type(answer).__name__}") from None
    if shape is not None and tuple(tensor.shape) != tuple(shape):
        raise Wrong(f"{what} must have shape {tuple(shape)}, got {tuple(tensor.shape)}")
    if not torch.isfinite(tensor).all():
        raise Wrong(f"{what} contains NaN or infinite entries")
    return tensor


def as_function(answer: Any, what: str = "answer") -> Callable[..., Any]:
    """The reader's function (anything callable)."""
    if not callable(answer):
        raise Wrong(f"{what} must be a function, got {type(answer).__name__}")
    return answer


def call(function: Callable[..., Any], *args: Any, what: str = "your function") -> Any:
    """Call the reader's function; an exception it raises becomes :class:`Wrong`."""
    try:
        return function(*args)
    except Wrong:
        raise
    except Exception as error:  # the reader's code: report it, do not crash the notebook
        raise Wrong(f"{what} raised {type(error).__name__}: {error}") from None


def expect_close(
    value: float,
    expected: float,
    *,
    rtol: float = 1e-6,
    atol: float = 0.0,
    what: str = "answer",
) -> None:
    """Raise :class:`Wrong` unless ``|value - expected| <= atol + rtol |expected|``.

    The message says whether the answer is too large or too small, never the target.
    """
    if abs(value - expected) <= atol + rtol * abs(expected):
        return
    direction = "too large" if value > expected else "too small"
    raise Wrong(f"{what} = {value:.6g} is {direction}")
