"""What every exercise check shares: the feedback it returns and how it reads an answer.

A check is a function ``check_<chapter>_<n>(answer) -> Feedback`` for exercise ``n`` of
the chapter ``notebooks/<chapter>.md``. It is written as a plain function that raises
:class:`Wrong` with a helpful message when the answer is wrong, decorated with
:func:`exercise_check`, which turns the outcome into a :class:`Feedback`:

- ``answer`` is ``...`` or ``None`` (the stub in the student notebook): "no answer yet";
- the check raises :class:`Wrong`, or the reader's own function raises while the check
  calls it: "not yet", with the message;
- otherwise: "correct".

A check never raises on what a reader hands it, so a student notebook with untouched
stubs runs from top to bottom. A check never prints the reference answer: its messages say
*what* is wrong (a type, a shape, a direction, which case fails), not what is right.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from html import escape
from typing import Any, Literal

import numpy as np
import torch

__all__ = [
    "Feedback",
    "Wrong",
    "as_array",
    "as_function",
    "as_integer",
    "as_number",
    "call",
    "exercise_check",
    "expect_close",
    "registered_checks",
]

Status = Literal["correct", "wrong", "missing"]

_SYMBOL = {"correct": "✔ Correct", "wrong": "✘ Not yet", "missing": "… No answer yet"}
_COLOUR = {"correct": "#1a7f37", "wrong": "#b42318", "missing": "#6b7280"}


class Wrong(Exception):
    """Raised inside a check: the answer is wrong, and the message says how."""


@dataclass(frozen=True)
class Feedback:
    """The outcome of one check: truthy exactly when the answer is correct."""

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


_REGISTRY: dict[str, str] = {}


def registered_checks() -> dict[str, str]:
    """Every check defined so far, by function name, with the label of its exercise."""
    return dict(_REGISTRY)


def exercise_check(
    label: str, *, success: str = "your answer passes every test of this check."
) -> Callable[[Callable[[Any], str | None]], Callable[[Any], Feedback]]:
    """Decorate ``body(answer)``, which raises :class:`Wrong` when ``answer`` is wrong.

    ``body`` may return a sentence to add to the success message (a remark on the result,
    never a new fact the exercise asks for). The decorated function keeps ``body``'s name
    and docstring; it is registered for :func:`registered_checks`.
    """
    if not isinstance(label, str) or not label.startswith("ex-"):
        raise ValueError(f"label must be an exercise label starting with 'ex-', got {label!r}")

    def decorate(body: Callable[[Any], str | None]) -> Callable[[Any], Feedback]:
        @wraps(body)
        def check(answer: Any) -> Feedback:
            if answer is None or answer is Ellipsis:
                return Feedback(
                    label, "missing", "replace `...` with your answer and run the cell again."
                )
            try:
                remark = body(answer)
            except Wrong as wrong:
                return Feedback(label, "wrong", str(wrong))
            except Exception as error:  # an answer of a shape no reader helper foresaw
                return Feedback(
                    label,
                    "wrong",
                    f"the check could not read your answer ({type(error).__name__}: {error})",
                )
            message = success if remark is None else f"{success} {remark}"
            return Feedback(label, "correct", message)

        # What a reader calls: ``check(answer: Any) -> Feedback`` (not the body's signature).
        check.__annotations__ = {"answer": Any, "return": Feedback}
        check.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
            [inspect.Parameter("answer", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=Any)],
            return_annotation=Feedback,
        )
        _REGISTRY[body.__name__] = label
        return check

    return decorate


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
