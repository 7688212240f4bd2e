"""Exercises of the Efficiency part: quick checks and probes.

Chapter almost_linear_inference:

- ``ex-fast-crossover``: ``(g, r, n)``, the certified degree for a head of size 16 at
  ``B = 0.5`` and target ``1e-3``, its rank, and the cost model's crossover.
- ``ex-fast-adversary``: ``(g, error)``, the certified degree at ``B = 1.5`` and the error
  that the two-cluster input of the minimax polynomial of degree ``g - 1`` reaches.
- ``ex-fast-odd``: the smallest entry bounds at which the Taylor polynomials of degree 1,
  3 and 5 vanish on a score.

Chapter phase_transition:

- ``ex-phase-flips``: the first ratio ``B / sqrt(ln n)`` on the exercise's grid at which the
  nearest-neighbour gadget decides every query, for 4, 8 and 12 flips.
- ``ex-phase-gap``: the gadget's accuracy and share of planted queries answered "yes" at
  ``B = 3 sqrt(ln n)`` as the close key moves to 16, 20, 24 and 28 flips (the gap closes).

The quick checks know the exercises' statements (the grid, the rank formula), never their
answers; the instructor's graders recompute the answers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from ._core import Wrong, as_array, as_integer, as_number, exercise

__all__: list[str] = []

FAST = "almost_linear_inference"
PHASE = "phase_transition"

#: The grid of ``B / sqrt(ln n)`` that ``ex-phase-flips`` prescribes: 1.00, 1.05, ..., 2.00.
FLIPS_GRID = tuple(round(1 + 0.05 * k, 2) for k in range(21))
FLIPS = (4, 8, 12)


def _items(answer: Any, count: int, what: str) -> list[Any]:
    """The ``count`` items of a tuple or list answer."""
    if isinstance(answer, str | bytes | dict) or not isinstance(answer, Sequence):
        raise Wrong(f"answer must be a tuple or list of {count} items ({what})")
    if len(answer) != count:
        raise Wrong(f"answer must hold {count} items ({what}), got {len(answer)}")
    return list(answer)


# ------------------------------------------------------------------ ex-fast-crossover
def _crossover_items(answer: Any) -> tuple[int, int, float]:
    g_ans, r_ans, n_ans = _items(answer, 3, "the degree, the rank and the model's crossover n")
    g = as_integer(g_ans, "the degree (first item)")
    r = as_integer(r_ans, "the rank (second item)")
    n = as_number(n_ans, "the model's crossover n (third item)")
    return g, r, n


def _probe_crossover(answer: Any) -> list:
    return list(_crossover_items(answer))


@exercise("ex-fast-crossover", chapter=FAST, probe=_probe_crossover)
def _quick_crossover(answer: Any) -> None:
    """Types, ranges, and the rank of degree ``g`` in 16 variables (the chapter states
    ``r = C(d + g, g)``)."""
    g, r, n = _crossover_items(answer)
    if g < 0:
        raise Wrong("the degree (first item) must be at least 0")
    if r != math.comb(16 + g, g):
        if r == math.comb(8 + g, g):
            raise Wrong("the rank (second item) is the one for d = 8; the exercise has d = 16")
        raise Wrong(
            "the rank (second item) must be the number of monomials of degree at most g in "
            "d = 16 variables"
        )
    if not n > 0:
        raise Wrong("the crossover n (third item) must be positive")


# ------------------------------------------------------------------ ex-fast-adversary
def _adversary_items(answer: Any) -> tuple[int, float]:
    g_ans, e_ans = _items(answer, 2, "the certified degree and the measured error")
    return as_integer(g_ans, "the degree (first item)"), as_number(e_ans, "the error (second)")


def _probe_adversary(answer: Any) -> list:
    return list(_adversary_items(answer))


@exercise("ex-fast-adversary", chapter=FAST, probe=_probe_adversary)
def _quick_adversary(answer: Any) -> None:
    """Types and ranges: a degree of at least 1 (there must be a degree below), an error
    between 0 and 2 (a difference of two averages of values in [-1, 1])."""
    g, error = _adversary_items(answer)
    if g < 1:
        raise Wrong(
            "the certified degree (first item) must be at least 1: the exercise "
            "takes the degree below it"
        )
    if not 0 < error <= 2:
        raise Wrong(
            f"the error (second item) is {error:.6g}: the difference of two weighted "
            "averages of values in [-1, 1] lies in (0, 2]"
        )


# ------------------------------------------------------------------------ ex-fast-odd
def _probe_odd(answer: Any) -> list[float]:
    return as_array(answer, (3,), "answer (the bounds for degrees 1, 3 and 5)").tolist()


@exercise("ex-fast-odd", chapter=FAST, probe=_probe_odd)
def _quick_odd(answer: Any) -> str:
    """Three positive entry bounds."""
    for value, g in zip(_probe_odd(answer), (1, 3, 5), strict=True):
        if value <= 0:
            raise Wrong(
                f"the bound for degree {g} is {value:.6g}: an entry bound B is positive "
                "(did you give the root of the polynomial, a score, instead?)"
            )
    return "Even degrees never vanish: their Taylor polynomials are positive everywhere."


# --------------------------------------------------------------------- ex-phase-flips
def _probe_flips(answer: Any) -> list[float]:
    return as_array(answer, (3,), "answer (one ratio for each of flips = 4, 8, 12)").tolist()


@exercise("ex-phase-flips", chapter=PHASE, probe=_probe_flips)
def _quick_flips(answer: Any) -> None:
    """Each ratio must be a point of the exercise's grid."""
    for value, f in zip(_probe_flips(answer), FLIPS, strict=True):
        if not any(abs(value - u) <= 1e-9 for u in FLIPS_GRID):
            raise Wrong(
                f"the ratio for flips = {f} is {value:.6g}, not a point of the grid "
                "1.00, 1.05, ..., 2.00 of B / sqrt(ln n) (did you give B itself, or a "
                "predicted value?)"
            )


# ----------------------------------------------------------------------- ex-phase-gap
#: The distances of the "close" key that ``ex-phase-gap`` prescribes (d = 64): the gap closes.
GAP_FLIPS = (16, 20, 24, 28)
GAP_QUERIES = 32


def _probe_gap(answer: Any) -> list[list[float]]:
    what = "answer (the accuracies, then the retrieved shares, for flips = 16, 20, 24, 28)"
    return as_array(answer, (2, len(GAP_FLIPS)), what).tolist()


@exercise("ex-phase-gap", chapter=PHASE, probe=_probe_gap)
def _quick_gap(answer: Any) -> None:
    """Accuracies over 32 queries (multiples of 1/32), retrieved shares over the 16 planted
    ones (multiples of 1/16), consistent with each other."""
    accuracies, retrieved = _probe_gap(answer)
    half = GAP_QUERIES // 2
    for acc, ret, f in zip(accuracies, retrieved, GAP_FLIPS, strict=True):
        for value, count, what in ((acc, GAP_QUERIES, "accuracy"), (ret, half, "retrieved share")):
            if not 0 <= value <= 1:
                raise Wrong(
                    f"the {what} for flips = {f} is {value:.6g}: a share of queries lies in [0, 1]"
                )
            if abs(value * count - round(value * count)) > 1e-9:
                raise Wrong(
                    f"the {what} for flips = {f} is not a multiple of 1/{count}: it is a share "
                    f"of {count} queries"
                )
        # right answers = planted queries answered "yes" + fresh queries answered "no"
        fresh_no = round(acc * GAP_QUERIES) - round(ret * half)
        if not 0 <= fresh_no <= half:
            raise Wrong(
                f"for flips = {f} the accuracy and the retrieved share do not fit together: "
                "32 x accuracy - 16 x retrieved counts the fresh queries answered 'no', "
                "between 0 and 16 (are the two rows in the order accuracies, retrieved?)"
            )
