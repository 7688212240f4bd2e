"""The graders of the book's exercises: instructor-only, never in a student's ``ptheory``.

A student's notebook sends out only the *probe* of an answer (plain data, see
:func:`ptheory.exercises.probe`). :func:`grade` judges that data against the reference,
in a process the student's code never ran in::

    from ptheory_grading import grade
    result = grade("ex-model-repeat", payload)  # payload = ptheory.exercises.probe(...)
    result.fraction, result.message

One module per part of the book registers its graders with :func:`grader`.
"""

from __future__ import annotations

from . import (  # noqa: F401  (registers the parts' graders)
    capacity_memory,
    capacity_rays,
    efficiency,
    foundation,
    real,
    universality,
)
from ._core import Grade, grade, grader, graders

__all__ = ["Grade", "grade", "grader", "graders"]
