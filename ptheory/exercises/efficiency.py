"""Checks for the exercises of the chapters: almost_linear_inference, phase_transition."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import numpy as np

from ..efficiency import EXP_FLOPS, select_degree
from ._core import Wrong, as_array, as_integer, as_number, exercise_check, expect_close

__all__ = [
    "check_almost_linear_inference_2",
    "check_almost_linear_inference_3",
    "check_phase_transition_2",
    "check_phase_transition_3",
]


def _items(answer: Any, count: int, what: str) -> list[Any]:
    """The ``count`` items of a tuple or list answer."""
    if isinstance(answer, str | bytes | dict) or not isinstance(answer, Sequence):
        raise Wrong(f"answer must be a tuple or list of {count} items ({what})")
    if len(answer) != count:
        raise Wrong(f"answer must hold {count} items ({what}), got {len(answer)}")
    return list(answer)


# ------------------------------------------------------------ almost_linear_inference
_CROSS_B, _CROSS_EPS, _CROSS_D = 0.5, 1e-3, 16


@lru_cache(maxsize=1)
def _crossover_degrees() -> frozenset[int]:
    """The smallest guaranteeing degree for either method (they may differ)."""
    return frozenset(
        select_degree(_CROSS_B, _CROSS_EPS, _CROSS_D, method=m).degree
        for m in ("taylor", "chebyshev")
    )


@exercise_check("ex-fast-crossover")
def check_almost_linear_inference_2(answer: Any) -> str | None:
    """``answer = (g, r, n_model)``: the smallest degree that guarantees error ``1e-3`` at
    ``B = 0.5``, ``d = 16``, its rank, and the ``n`` (queries = keys) at which the cost
    model's two flop counts (:func:`~ptheory.efficiency.exact_flops`, exponentials
    included, and :func:`~ptheory.efficiency.poly_flops`) are equal (a number)."""
    g_ans, r_ans, n_ans = _items(answer, 3, "the degree, the rank and the model's crossover n")
    g = as_integer(g_ans, "the degree (first item)")
    if g < 0:
        raise Wrong("the degree (first item) must be at least 0")
    smallest = min(_crossover_degrees())
    if g < smallest:
        raise Wrong(
            f"degree {g} does not guarantee the target: its proved error at B = 0.5 and "
            "d = 16 is above 1e-3 (ask select_degree, or compare entry_error_bound with "
            "the target)"
        )
    if g not in _crossover_degrees():
        raise Wrong(f"degree {g} meets the target, but a smaller degree already does")
    r = as_integer(r_ans, "the rank (second item)")
    rank = math.comb(_CROSS_D + g, g)
    if r != rank:
        if r == math.comb(8 + g, g):
            raise Wrong("the rank (second item) is the one for d = 8; the exercise has d = 16")
        raise Wrong(
            "the rank (second item) must be the number of monomials of degree at most g in "
            "d = 16 variables (the plan's rank)"
        )
    n_model = as_number(n_ans, "the model's crossover n (third item)")
    expected = 2 * rank * (2 * _CROSS_D + 3) / (4 * _CROSS_D + 1 + EXP_FLOPS)
    # Rounding to a whole number of tokens is fine.
    expect_close(n_model, expected, rtol=2e-3, atol=1.0, what="the model's crossover n")
    return None


@lru_cache(maxsize=8)
def _positivity_bound(degree: int) -> float:
    """Smallest entry bound ``B`` at which the odd Taylor polynomial can vanish on a score:
    ``sqrt(-t)`` for its real root ``t`` (scores reach ``-B^2``)."""
    roots = np.roots([1 / math.factorial(m) for m in range(degree, -1, -1)])
    real = roots[np.abs(roots.imag) < 1e-9].real
    return math.sqrt(-float(real.min()))


@exercise_check("ex-fast-odd")
def check_almost_linear_inference_3(answer: Any) -> str | None:
    """``answer``: three numbers, the smallest entry bound ``B`` at which the Taylor
    polynomial of degree 1, 3 and 5 (in that order) takes a non-positive value on a score
    of some input with entries in ``[-B, B]``."""
    values = as_array(answer, (3,), "answer (the bounds for degrees 1, 3 and 5)")
    for value, g in zip(values.tolist(), (1, 3, 5), strict=True):
        what = f"the bound for degree {g}"
        if value <= 0:
            raise Wrong(
                f"{what} is {value:.6g}: an entry bound B is positive (did you give the "
                "root of the polynomial, a score, instead?)"
            )
        bound = _positivity_bound(g)
        if abs(value - bound**2) <= 1e-3 * bound**2 and abs(value - bound) > 1e-3 * bound:
            raise Wrong(
                f"{what} is the score at which the polynomial vanishes; the exercise asks "
                "for the entry bound B, and with scores scaled by 1/d they reach -B^2"
            )
        expect_close(value, bound, rtol=1e-3, what=what)
    return "Even degrees never vanish: their Taylor polynomials are positive everywhere."


# ------------------------------------------------------------------- phase_transition
_FLIPS, _GADGET_D = (4, 8, 12), 64


@exercise_check("ex-phase-flips")
def check_phase_transition_2(answer: Any) -> str | None:
    """``answer``: three numbers, the smallest ``B / sqrt(ln n)`` on your grid at which the
    gadget's accuracy reaches one, for ``flips = 4, 8, 12`` (in that order)."""
    values = as_array(answer, (3,), "answer (one threshold for each of flips = 4, 8, 12)")
    thresholds = values.tolist()
    for value, f in zip(thresholds, _FLIPS, strict=True):
        what = f"the threshold for flips = {f}"
        prediction = 1 / math.sqrt(1 - 2 * f / _GADGET_D)
        if value > prediction + 1.0:
            raise Wrong(
                f"{what} = {value:.6g} is too large for a ratio B / sqrt(ln n) (did you "
                "give B itself, or a grid that stops before the accuracy reaches one?)"
            )
        if value <= prediction:
            raise Wrong(
                f"{what} = {value:.6g} is not above the proposition's prediction "
                "1/sqrt(1 - 2f/d): a close key must beat n others *and* clear the decision "
                "threshold, so the measured transition comes later (did you give the "
                "prediction, or the first B with accuracy above chance?)"
            )
    if not all(a < b for a, b in itertools.pairwise(thresholds)):
        raise Wrong(
            "the thresholds must grow with the number of flips (a farther close key needs a "
            "larger B); check the order flips = 4, 8, 12 and that your grid is fine enough "
            "to tell them apart"
        )
    return None


@exercise_check("ex-phase-gap")
def check_phase_transition_3(answer: Any) -> str | None:
    """``answer``: the gadget's accuracy (a number in ``[0, 1]``) with ``flips=28`` at
    ``B = 3 sqrt(ln n)``."""
    value = as_number(answer, "answer (an accuracy)")
    if not 0 <= value <= 1:
        raise Wrong(f"answer = {value:.6g} is not an accuracy: a share of queries lies in [0, 1]")
    if value == 1.0:
        raise Wrong("answer = 1 is the accuracy of the gadget with its gap; run it with flips=28")
    # Other seeds or query counts move the accuracy by a query or two at most.
    expect_close(value, 0.5, atol=0.07, rtol=0.0, what="answer")
    return None
