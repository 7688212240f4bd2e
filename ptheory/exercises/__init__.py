"""Checks for the book's coding exercises: immediate feedback that never gives the answer.

Every exercise has one name, its label in the book. An exercise with a computed answer
is checked by name; its starting cell ends with the call::

    answer = ...  # your answer
    ex.check("ex-model-repeat", answer)

See :mod:`ptheory.exercises._core` for what a quick check may know, and why the answers
themselves live in the instructor's package.

A check returns a :class:`Feedback`, truthy when the answer is correct, whose message says
what is wrong otherwise. It accepts any correct answer (it tests properties of the answer,
or recomputes the quantity independently, rather than comparing with one reference
output), never raises on what a reader hands it, and never shows the solution.

Modules: ``foundation`` (the model chapter), ``universality``, ``capacity_memory``
(memorization_capacity and invertible_layers), ``capacity_rays`` (unmemorizable_dataset
and prompt_vs_lora), ``efficiency``, and ``real_prompts``, ``real_segment`` and
``real_efficiency`` (the chapters of the Real models part); ``_core`` holds
:class:`Feedback` and the helpers checks are written with.
"""

from . import (
    capacity_memory,
    capacity_rays,
    efficiency,
    foundation,
    real_efficiency,
    real_prompts,
    real_segment,
    universality,
)
from ._core import Exercise, Feedback, check, exercises, probe
from .capacity_memory import *  # noqa: F403
from .capacity_rays import *  # noqa: F403
from .efficiency import *  # noqa: F403
from .foundation import *  # noqa: F403
from .real_efficiency import *  # noqa: F403
from .real_prompts import *  # noqa: F403
from .real_segment import *  # noqa: F403
from .universality import *  # noqa: F403

__all__ = [
    "Exercise",
    "Feedback",
    "check",
    "exercises",
    "probe",
    *foundation.__all__,
    *universality.__all__,
    *capacity_memory.__all__,
    *capacity_rays.__all__,
    *efficiency.__all__,
    *real_prompts.__all__,
    *real_segment.__all__,
    *real_efficiency.__all__,
]
