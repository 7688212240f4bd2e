"""How a grader is written and called: :func:`grader` registers, :func:`grade` judges."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ptheory.exercises._core import Wrong

__all__ = ["Grade", "Wrong", "grade", "grader", "graders"]


@dataclass(frozen=True)
class Grade:
    """The verdict on one answer: the fraction of the exercise's points it earns."""

    label: str
    fraction: float
    """From 0 (wrong, missing or unreadable) to 1 (correct)."""
    message: str
    """What is wrong, in the student's terms; never the reference answer."""

    @property
    def passed(self) -> bool:
        return self.fraction >= 1.0


_GRADERS: dict[str, Callable[[Any], float | None]] = {}


def grader(label: str) -> Callable[[Callable[[Any], float | None]], Callable[[Any], float | None]]:
    """Register ``body(data)`` as the grader of exercise ``label``.

    ``data`` is the ``"answer"`` of the probe (already plain data). ``body`` raises
    :class:`Wrong` with a message when the answer is wrong; it returns ``None`` for full
    marks, or a fraction in ``[0, 1)`` for partial credit.
    """
    if not isinstance(label, str) or not label.startswith("ex-"):
        raise ValueError(f"label must be an exercise label starting with 'ex-', got {label!r}")

    def register(body: Callable[[Any], float | None]) -> Callable[[Any], float | None]:
        if label in _GRADERS:
            raise ValueError(f"{label} has a grader already")
        _GRADERS[label] = body
        return body

    return register


def graders() -> dict[str, Callable[[Any], float | None]]:
    """Every registered grader, by exercise label."""
    return dict(_GRADERS)


def grade(label: str, payload: Any) -> Grade:
    """Judge ``payload`` (what :func:`ptheory.exercises.probe` returned) for ``label``.

    Never raises on the payload: a malformed or foreign payload earns zero with a message.
    """
    if label not in _GRADERS:
        raise ValueError(f"no grader for {label!r}")
    if not isinstance(payload, dict) or payload.get("label") != label:
        return Grade(label, 0.0, "no answer was recorded for this exercise")
    if "error" in payload:
        error = payload["error"]
        message = (
            "no answer yet" if error == "no answer" else f"your answer could not be read: {error}"
        )
        return Grade(label, 0.0, str(message))
    if "answer" not in payload:
        return Grade(label, 0.0, "no answer was recorded for this exercise")
    try:
        result = _GRADERS[label](payload["answer"])
    except Wrong as wrong:
        return Grade(label, 0.0, str(wrong))
    except Exception as error:  # data of a shape the grader did not foresee
        return Grade(label, 0.0, f"your answer could not be read ({type(error).__name__}: {error})")
    if result is None:
        return Grade(label, 1.0, "correct")
    fraction = float(result)
    if not math.isfinite(fraction) or not 0.0 <= fraction <= 1.0:
        raise ValueError(f"the grader of {label} returned {result!r}, not a fraction in [0, 1]")
    return Grade(label, fraction, "partly correct" if fraction > 0 else "not yet")
