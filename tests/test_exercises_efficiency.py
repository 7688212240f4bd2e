"""Exercises of the Efficiency part (almost_linear_inference, phase_transition): reference
answers and other correct forms pass; typical wrong answers (made-up values, the bound
instead of the measurement, the prediction instead of the measurement, the a-priori
degree, round guesses) fail with a message that never states the answer; the quick check
alone (a student's copy, no grader) catches what it can and says "checked" for a right
answer."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from ptheory import efficiency as eff
from ptheory import exercises as ex
from ptheory.exercises import _core
from ptheory.exercises import efficiency as E
from ptheory_grading.efficiency import crossover_model

from exercisetools import fails, passes


@pytest.fixture
def no_grader(monkeypatch):
    """A student's copy of ptheory: the instructor's package is not installed."""
    monkeypatch.setattr(_core, "_grader", lambda: None)


def check(label, answer):
    return ex.check(label, answer)


# ----------------------------------------------------------------- ex-fast-crossover
def crossover_answer():
    plan = eff.select_degree(0.5, 1e-3, 16, method="best")
    n = 2 * plan.rank * (2 * 16 + 3) / (4 * 16 + 1 + eff.EXP_FLOPS)
    return plan.degree, plan.rank, n


def test_crossover_reference_and_other_forms():
    g, r, n = crossover_answer()
    passes(check("ex-fast-crossover", (g, r, n)))
    passes(check("ex-fast-crossover", [np.int64(g), torch.tensor(r), round(n)]))
    # solved from the two flop counts directly, numerically (queries = keys = n)
    first = next(
        k for k in range(1, 10**5) if eff.exact_flops(k, k, 16) >= eff.poly_flops(k, k, 16, g)
    )
    passes(check("ex-fast-crossover", (g, r, first)))
    passes(
        check(
            "ex-fast-crossover", (g, r, eff.select_degree(0.5, 1e-3, 16, method="best").crossover())
        )
    )


def test_crossover_wrong_answers():
    g, r, n = crossover_answer()
    hidden = (r, round(n))
    fails(check("ex-fast-crossover", (g, r)), "3 items")
    fails(check("ex-fast-crossover", "3, 969, 2059"), "tuple or list")
    low = (g - 1, math.comb(15 + g, g - 1), crossover_model(math.comb(15 + g, g - 1)))
    fails(check("ex-fast-crossover", low), "does not guarantee", hidden=hidden)
    # the a-priori Chebyshev formula's degree, consistent in itself
    apriori = eff.select_degree(0.5, 1e-3, 16, method="chebyshev")
    g_a = next(
        k
        for k in range(65)
        if 2
        * eff.entry_error_bound(k, 0.25, "chebyshev")
        / (1 - eff.entry_error_bound(k, 0.25, "chebyshev"))
        <= 1e-3
    )
    assert g_a > g and apriori.degree >= g
    r_a = math.comb(16 + g_a, g_a)
    fails(check("ex-fast-crossover", (g_a, r_a, crossover_model(r_a))), "a-priori")
    r_up = math.comb(17 + g, g + 1)
    if g + 1 != g_a:
        fails(check("ex-fast-crossover", (g + 1, r_up, crossover_model(r_up))), "smaller")
    fails(check("ex-fast-crossover", (g, math.comb(8 + g, g), n)), "d = 8")
    fails(check("ex-fast-crossover", (g, r + 1, n)), "number of monomials")
    fails(check("ex-fast-crossover", (g, r, n / 2)), "too small", hidden=hidden)
    fails(check("ex-fast-crossover", (g, r, 2 * r * 35 / 65)), "exponentials", hidden=hidden)
    fails(check("ex-fast-crossover", (g, r, 150)), "too large", hidden=hidden)  # round guess
    fails(check("ex-fast-crossover", (2.5, r, n)), "whole number")


def test_crossover_quick_check_without_the_grader(no_grader):
    g, r, n = crossover_answer()
    assert check("ex-fast-crossover", (g, r, n)).status == "checked"
    # a consistent but wrong degree passes the quick check: only the grader knows
    r1 = math.comb(17 + g, g + 1)
    assert check("ex-fast-crossover", (g + 1, r1, crossover_model(r1))).status == "checked"
    fails(check("ex-fast-crossover", (g, r + 1, n)), "number of monomials")
    assert check("ex-fast-crossover", (g, r, n * 3)).status == "checked"  # grader's job
    fails(check("ex-fast-crossover", (g, r, -1.0)), "positive")


# ----------------------------------------------------------------- ex-fast-adversary
def adversary_answer(n_keys=4096):
    B = 1.5
    g = eff.select_degree(B, 1e-3, 8, method="best").degree
    below = eff.certify(g - 1, B * B, "minimax")
    Q, K, V = eff.two_cluster_input(below, B, d=8, n=n_keys)
    out = eff.poly_attention(Q, K, V, g - 1, "minimax", radius=B * B)
    return g, float((out - eff.exact_attention(Q, K, V, reference=True)).abs().max()), below


def test_adversary_reference_and_other_forms():
    g, error, _ = adversary_answer()
    passes(check("ex-fast-adversary", (g, error)))
    passes(check("ex-fast-adversary", [torch.tensor(g), np.float64(error)]))
    # another number of keys: the mass shares round differently, the error barely moves
    passes(check("ex-fast-adversary", adversary_answer(10_000)[:2]))


def test_adversary_wrong_answers():
    g, error, below = adversary_answer()
    hidden = (round(error, 4),)
    fails(check("ex-fast-adversary", (g, below.attention_error)), "certificate")
    fails(check("ex-fast-adversary", (g + 3, error)), "not the smallest")  # the a-priori one
    fails(check("ex-fast-adversary", (g - 1, error)), "not the smallest")
    # the certified degree's own two clusters: below the target
    plan = eff.select_degree(1.5, 1e-3, 8, method="best")
    own = eff.certify(plan.degree, 2.25, plan.method)
    Q, K, V = eff.two_cluster_input(own, 1.5, d=8, n=4096)
    out = eff.poly_attention(Q, K, V, plan.degree, plan.method, radius=2.25)
    mine = float((out - eff.exact_attention(Q, K, V, reference=True)).abs().max())
    fails(check("ex-fast-adversary", (g, mine)), "meets the target", hidden=hidden)
    # the Chebyshev polynomial of degree g - 1 in place of the minimax one
    cheb = eff.certify(g - 1, 2.25, "chebyshev")
    Qc, Kc, Vc = eff.two_cluster_input(cheb, 1.5, d=8, n=4096)
    outc = eff.poly_attention(Qc, Kc, Vc, g - 1, "chebyshev", radius=2.25)
    errc = float((outc - eff.exact_attention(Qc, Kc, Vc, reference=True)).abs().max())
    fails(check("ex-fast-adversary", (g, errc)), "larger", hidden=hidden)
    fails(check("ex-fast-adversary", (g, 5e-3)), "than the two-cluster", hidden=hidden)
    fails(check("ex-fast-adversary", (g, 3.0)), "(0, 2]", hidden=hidden)
    fails(check("ex-fast-adversary", (0, error)), "at least 1")
    # the lower bound for every polynomial (no input needed) and a rounded measurement
    low = eff.minimax_lower_bound(g - 1, 2.25)
    fails(check("ex-fast-adversary", (g, eff.range_attention_error(-low, low))), "lower bound",
          hidden=hidden)  # fmt: skip
    fails(check("ex-fast-adversary", (g, float(f"{error:.3g}"))), "two-cluster", hidden=hidden)


def test_adversary_quick_check_without_the_grader(no_grader):
    g, error, below = adversary_answer()
    assert check("ex-fast-adversary", (g, error)).status == "checked"
    assert check("ex-fast-adversary", (g, below.attention_error)).status == "checked"
    fails(check("ex-fast-adversary", (g, -1e-3)), "(0, 2]")


# ------------------------------------------------------------------------ ex-fast-odd
def vanishing_bound(g):
    roots = np.roots([1 / math.factorial(m) for m in range(g, -1, -1)])
    return math.sqrt(-roots[abs(roots.imag) < 1e-9].real.min())


def bisect(g):
    """Another method: bisection on the Taylor polynomial over negative scores."""
    p = lambda t: sum(t**m / math.factorial(m) for m in range(g + 1))  # noqa: E731
    lo, hi = -10.0, 0.0
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (lo, mid) if p(mid) > 0 else (mid, hi)
    return math.sqrt(-(lo + hi) / 2)


def test_odd_reference_and_other_forms():
    bounds = [vanishing_bound(g) for g in (1, 3, 5)]
    passes(check("ex-fast-odd", bounds))
    passes(check("ex-fast-odd", torch.tensor([bisect(g) for g in (1, 3, 5)])))
    passes(check("ex-fast-odd", np.round(bounds, 3)))
    # three significant digits, as the exercise asks
    passes(check("ex-fast-odd", [float(f"{b:.3g}") for b in bounds]))


def test_odd_wrong_answers():
    bounds = [vanishing_bound(g) for g in (1, 3, 5)]
    hidden = bounds[1:]
    fails(check("ex-fast-odd", [-(b**2) for b in bounds]), "positive", hidden=hidden)
    fails(check("ex-fast-odd", [b**2 for b in bounds]), "score", hidden=hidden)
    fails(check("ex-fast-odd", bounds[:2]), "shape (3,)")
    fails(check("ex-fast-odd", bounds[::-1]), "degree 1", hidden=bounds[1:2])
    fails(check("ex-fast-odd", [1.0, 1.3, 1.5]), "degree 3", hidden=hidden)
    fails(check("ex-fast-odd", lambda: bounds), "array")


def test_odd_quick_check_without_the_grader(no_grader):
    bounds = [vanishing_bound(g) for g in (1, 3, 5)]
    assert check("ex-fast-odd", bounds).status == "checked"
    assert check("ex-fast-odd", [1.0, 1.3, 1.5]).status == "checked"
    fails(check("ex-fast-odd", [-1.0, 1.3, 1.5]), "positive")


# --------------------------------------------------------------------- ex-phase-flips
def flips_answer():
    n = 1024
    root = math.sqrt(math.log(n))
    out = []
    for f in (4, 8, 12):
        res = eff.nn_gadget(n, [u * root for u in E.FLIPS_GRID], d=64, flips=f, poly=False)
        out.append(next(r.bound for r in res if r.accuracy == 1.0) / root)
    return out


def test_flips_reference_passes():
    answer = flips_answer()
    passes(check("ex-phase-flips", answer))
    passes(check("ex-phase-flips", np.array(answer)))
    passes(check("ex-phase-flips", [round(a, 2) for a in answer]))


def test_flips_wrong_answers():
    answer = flips_answer()
    hidden = tuple(answer)
    predicted = [round(1 / math.sqrt(1 - f / 32) * 20) / 20 for f in (4, 8, 12)]
    if predicted != [round(a, 2) for a in answer]:
        fails(check("ex-phase-flips", predicted), "prediction")
    # answers never measured: the measurement shifted by a grid step, and a round guess
    fails(check("ex-phase-flips", [a + 0.05 for a in answer]), "not the measured", hidden=hidden)
    fails(check("ex-phase-flips", [a - 0.05 for a in answer]), "not the measured", hidden=hidden)
    fails(check("ex-phase-flips", [2.0, 2.0, 2.0]), "for flips", hidden=hidden)
    root = math.sqrt(math.log(1024))
    fails(check("ex-phase-flips", [a * root for a in answer]), "grid")
    fails(check("ex-phase-flips", [a + 0.01 for a in answer]), "grid")
    fails(check("ex-phase-flips", answer[:2]), "shape (3,)")


def test_flips_quick_check_without_the_grader(no_grader):
    answer = flips_answer()
    assert check("ex-phase-flips", answer).status == "checked"
    assert check("ex-phase-flips", [2.0, 2.0, 2.0]).status == "checked"
    fails(check("ex-phase-flips", [a + 0.01 for a in answer]), "grid")


# ----------------------------------------------------------------------- ex-phase-gap
def gap_answer():
    n = 4096
    bound = 3 * math.sqrt(math.log(n))
    runs = [eff.nn_gadget(n, [bound], d=64, flips=f, poly=False)[0] for f in (16, 20, 24, 28)]
    return [[r.accuracy for r in runs], [r.retrieved for r in runs]]


def test_gap_reference_and_other_forms():
    answer = gap_answer()
    passes(check("ex-phase-gap", answer))
    passes(check("ex-phase-gap", torch.tensor(answer)))
    passes(check("ex-phase-gap", tuple(np.array(row) for row in answer)))


def test_gap_wrong_answers():
    answer = gap_answer()
    accuracies, retrieved = answer
    hidden = tuple(v for v in accuracies + retrieved if v not in (0.0, 0.5, 1.0))
    assert hidden  # measured values that no round guess gives
    # one number (the old answer, chance), a list where rows are expected, not numbers
    fails(check("ex-phase-gap", 0.5), "shape (2, 4)")
    fails(check("ex-phase-gap", [0.5, 0.5, 0.5, 0.5]), "shape (2, 4)")
    fails(check("ex-phase-gap", "0.5"), "array of numbers")
    fails(check("ex-phase-gap", [["a"] * 4, [0.5] * 4]), "array of numbers")
    # guesses that need no run: chance everywhere, and the same with every planted query
    # answered "yes" (the no-gap prediction); the gadget's behaviour with its gap
    fails(check("ex-phase-gap", [[0.5] * 4, [1.0] * 4]), "guess", hidden=hidden)
    fails(check("ex-phase-gap", [[0.5] * 4, [0.0, 0.5, 1.0, 1.0]]), "guess", hidden=hidden)
    fails(check("ex-phase-gap", [[1.0] * 4, [1.0] * 4]), "with its gap", hidden=hidden)
    # measured rows, but swapped, or one value off by one query
    fails(check("ex-phase-gap", [retrieved, accuracies]), "in the order", hidden=hidden)
    wrong = [list(accuracies), list(retrieved)]
    wrong[0][1] -= 1 / 32
    fails(check("ex-phase-gap", wrong), "accuracy is not the measured one", hidden=hidden)
    wrong = [list(accuracies), list(retrieved)]
    wrong[1][1] += 1 / 16
    fails(check("ex-phase-gap", wrong), "retrieved share is not the measured one", hidden=hidden)
    # the quick check: not a share of the queries, or rows that cannot fit together
    fails(check("ex-phase-gap", [[0.55, *accuracies[1:]], retrieved]), "1/32")
    fails(check("ex-phase-gap", [accuracies, [0.55, *retrieved[1:]]]), "1/16")
    fails(check("ex-phase-gap", [[50.0, *accuracies[1:]], retrieved]), "[0, 1]")
    fails(check("ex-phase-gap", [[0.0] * 4, [1.0] * 4]), "fit together")


def test_gap_grader_rejects_data_of_another_shape():
    from ptheory_grading import _core as grading

    for data in (0.5, [0.5, 0.5], [[0.5] * 4, 0.5], [[0.5] * 3, [0.5] * 3], [[None] * 4] * 2):
        result = grading.grade("ex-phase-gap", {"label": "ex-phase-gap", "answer": data})
        assert result.fraction < 1 and "two rows" in result.message


def test_gap_quick_check_without_the_grader(no_grader):
    assert check("ex-phase-gap", gap_answer()).status == "checked"
    assert check("ex-phase-gap", [[0.5] * 4, [1.0] * 4]).status == "checked"  # only the grader
    fails(check("ex-phase-gap", 0.5), "shape (2, 4)")
    fails(check("ex-phase-gap", [[0.55] * 4, [1.0] * 4]), "1/32")


def test_probes_are_plain_data():
    for label, answer in (
        ("ex-fast-crossover", crossover_answer()),
        ("ex-fast-odd", [1.0, 1.5, 2.0]),
        ("ex-phase-gap", [[0.5] * 4, [1.0] * 4]),
    ):
        payload = ex.probe(label, answer)
        assert set(payload) == {"label", "answer"}
        assert json.loads(json.dumps(payload)) == payload
