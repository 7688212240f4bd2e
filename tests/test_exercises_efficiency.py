"""Checks of the efficiency chapters' exercises: reference answers pass, other correct forms
pass, typical mistakes fail with a message that says what is wrong and never the answer."""

from __future__ import annotations

import math

import numpy as np
import torch

from ptheory import efficiency as eff
from ptheory import exercises as ex

from exercisetools import fails, passes


# ----------------------------------------------------------------- ex-fast-crossover
def _crossover_reference():
    plan = eff.select_degree(0.5, 1e-3, 16)
    return plan.degree, plan.rank, plan.crossover()


def test_crossover_reference_and_other_forms():
    g, r, n = _crossover_reference()
    passes(ex.check_almost_linear_inference_2((g, r, n)))
    # a list, NumPy and torch numbers, a crossover rounded to whole tokens, the Chebyshev plan
    passes(ex.check_almost_linear_inference_2([np.int64(g), torch.tensor(r), round(n)]))
    cheb = eff.select_degree(0.5, 1e-3, 16, method="chebyshev")
    passes(ex.check_almost_linear_inference_2((cheb.degree, cheb.rank, cheb.crossover())))
    # solved from the two flop counts directly, numerically (queries = keys = n)
    counts = [
        n_ for n_ in range(1, 5000) if eff.exact_flops(n_, n_, 16) >= eff.poly_flops(n_, n_, 16, g)
    ]
    passes(ex.check_almost_linear_inference_2((g, r, counts[0])))
    # the same in the plan's own units
    passes(ex.check_almost_linear_inference_2((g, r, 2 * r * (2 * 16 + 3) / (4 * 16 + 1 + 10))))


def test_crossover_wrong_answers():
    g, r, n = _crossover_reference()
    hidden = (r, n)  # the degree is a single digit: it may appear in any number
    fails(ex.check_almost_linear_inference_2((g, r)), "3 items")
    fails(ex.check_almost_linear_inference_2("3, 969, 2059"), "tuple or list")
    fails(ex.check_almost_linear_inference_2((g - 1, r, n)), "does not guarantee")
    fails(ex.check_almost_linear_inference_2((g + 1, r, n)), "smaller degree")
    fails(ex.check_almost_linear_inference_2((g, math.comb(8 + g, g), n)), "d = 8")
    fails(ex.check_almost_linear_inference_2((g, r + 1, n)), "number of monomials")
    fails(ex.check_almost_linear_inference_2((g, r, n / 2)), "too small", hidden=hidden)
    # the old model: multiply-adds against flops, no exponentials
    fails(ex.check_almost_linear_inference_2((g, r, 2 * r * 17 / 16)), "too large", hidden=hidden)
    fails(ex.check_almost_linear_inference_2((g, r, n * 16)), "too large", hidden=hidden)
    fails(ex.check_almost_linear_inference_2((2.5, r, n)), "whole number")


# ------------------------------------------------------------------------ ex-fast-odd
def _vanishing_bound(g):
    roots = np.roots([1 / math.factorial(m) for m in range(g, -1, -1)])
    return math.sqrt(-roots[abs(roots.imag) < 1e-9].real.min())


def _bisect(g):
    """Another method: bisection on the Taylor polynomial over negative scores."""
    p = lambda t: sum(t**m / math.factorial(m) for m in range(g + 1))  # noqa: E731
    lo, hi = -10.0, 0.0
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (lo, mid) if p(mid) > 0 else (mid, hi)
    return math.sqrt(-(lo + hi) / 2)


def test_odd_reference_and_other_forms():
    bounds = [_vanishing_bound(g) for g in (1, 3, 5)]
    passes(ex.check_almost_linear_inference_3(bounds))
    passes(ex.check_almost_linear_inference_3(torch.tensor([_bisect(g) for g in (1, 3, 5)])))
    passes(ex.check_almost_linear_inference_3(np.round(bounds, 3)))


def test_odd_wrong_answers():
    bounds = [_vanishing_bound(g) for g in (1, 3, 5)]
    hidden = bounds[1:]
    roots = [-(b**2) for b in bounds]
    fails(ex.check_almost_linear_inference_3(roots), "positive", hidden=hidden)
    scores = [b**2 for b in bounds]
    fails(ex.check_almost_linear_inference_3(scores), "score", hidden=hidden)
    fails(ex.check_almost_linear_inference_3(bounds[:2]), "shape (3,)")
    fails(ex.check_almost_linear_inference_3(bounds[::-1]), "degree 1", hidden=bounds[1:2])
    fails(ex.check_almost_linear_inference_3([1.0, 1.3, 1.5]), "degree 3", hidden=hidden)
    fails(ex.check_almost_linear_inference_3(lambda: bounds), "array")


# --------------------------------------------------------------------- ex-phase-flips
PREDICTED = [1 / math.sqrt(1 - f / 32) for f in (4, 8, 12)]


def test_flips_reference_and_other_forms():
    # what the solution measures (n = 1024, step 0.05), and other grids and sizes
    passes(ex.check_phase_transition_2([1.2, 1.35, 1.6]))
    passes(ex.check_phase_transition_2(np.array([1.25, 1.4, 1.65])))  # n = 4096
    passes(ex.check_phase_transition_2(torch.tensor([1.25, 1.5, 1.75])))  # step 0.25


def test_flips_measured_on_a_coarse_grid():
    n = 256
    root = math.sqrt(math.log(n))
    grid = [0.1 * k for k in range(10, 26)]
    answer = []
    for f in (4, 8, 12):
        res = eff.nn_gadget(n, [u * root for u in grid], d=64, flips=f, poly=False, seed=3)
        answer.append(next(r.bound for r in res if r.accuracy == 1.0) / root)
    passes(ex.check_phase_transition_2(answer))


def test_flips_wrong_answers():
    fails(ex.check_phase_transition_2(PREDICTED), "prediction")
    root = math.sqrt(math.log(1024))
    fails(ex.check_phase_transition_2([1.2 * root, 1.35 * root, 1.6 * root]), "B itself")
    fails(ex.check_phase_transition_2([1.7, 1.5, 1.4]), "grow")
    fails(ex.check_phase_transition_2([1.3, 1.3, 1.6]), "grow")
    fails(ex.check_phase_transition_2([0.5, 0.75, 1.0]), "prediction")
    fails(ex.check_phase_transition_2([1.2, 1.35]), "shape (3,)")


# ----------------------------------------------------------------------- ex-phase-gap
def test_gap_reference_and_other_forms():
    n = 4096
    (result,) = eff.nn_gadget(n, [3 * math.sqrt(math.log(n))], d=64, flips=28, poly=False)
    passes(ex.check_phase_transition_3(result.accuracy))
    # another seed, another size and query count, a tensor
    n = 1024
    (other,) = eff.nn_gadget(
        n, [4 * math.sqrt(math.log(n))], d=64, flips=28, queries=16, poly=False, seed=5
    )
    passes(ex.check_phase_transition_3(torch.tensor(other.accuracy)))


def test_gap_wrong_answers():
    fails(ex.check_phase_transition_3(1.0), "with its gap", hidden=(0.5,))
    fails(ex.check_phase_transition_3(0.0), "too small", hidden=(0.5,))
    fails(ex.check_phase_transition_3(0.8), "too large", hidden=(0.5,))
    fails(ex.check_phase_transition_3(50.0), "[0, 1]", hidden=(0.5,))
    fails(ex.check_phase_transition_3("0.5"), "number")
    fails(ex.check_phase_transition_3([0.5, 0.5]), "must be a number")
