"""The tight certificate, attacked: the certified range must enclose the polynomial's
relative error everywhere (checked at its exact extremes, found independently), be nearly
attained (a shrunk certificate is refuted), turn into an attention bound that the
two-cluster input reaches and no input exceeds, and the degree below the selected one must
fail on an input, for every polynomial of that degree."""

from __future__ import annotations

import itertools
import math

import mpmath
import numpy as np
import pytest
import torch

from ptheory.efficiency import (
    certify,
    exact_attention,
    exp_poly_coefficients,
    minimax_lower_bound,
    poly_attention,
    poly_error_bound,
    range_attention_error,
    select_degree,
    two_cluster_input,
)
from ptheory.efficiency.certificate import coefficient_certificate

F64 = torch.float64
CASES = [
    (g, R, m)
    for m in ("taylor", "chebyshev", "minimax")
    for g, R in ((1, 0.0625), (2, 0.25), (3, 0.5), (4, 1.0), (6, 2.25), (8, 4.0))
]


def true_range(c: np.ndarray, R: float) -> tuple[float, float]:
    """The exact min and max of h = p e^-t - 1 on [-R, R], independently of the package:
    h' = (p' - p) e^-t vanishes at the real roots of p' - p, found in 40-digit arithmetic."""
    with mpmath.workdps(40):
        coef = [mpmath.mpf(float(x)) for x in c]
        q = [(k + 1) * coef[k + 1] - coef[k] for k in range(len(coef) - 1)] + [-coef[-1]]
        while len(q) > 1 and q[-1] == 0:
            q.pop()
        pts = [mpmath.mpf(-R), mpmath.mpf(R)]
        if len(q) > 1:
            for z in mpmath.polyroots(q[::-1], maxsteps=200, extraprec=200):
                if abs(mpmath.im(z)) < mpmath.mpf(10) ** -20 and -R < mpmath.re(z) < R:
                    pts.append(mpmath.re(z))
        vals = [mpmath.fsum(a * t**k for k, a in enumerate(coef)) * mpmath.exp(-t) - 1 for t in pts]
        return float(min(vals)), float(max(vals))


@pytest.mark.parametrize("g,R,method", CASES)
def test_certificate_encloses_the_exact_extremes_and_nearly_attains_them(g, R, method):
    cert = certify(g, R, method)
    lo, hi = true_range(exp_poly_coefficients(g, method, R), R)
    assert cert.low <= lo and hi <= cert.high
    spread = max(abs(lo), abs(hi))
    assert cert.high - hi <= 0.01 * spread + 1e-14 and lo - cert.low <= 0.01 * spread + 1e-14
    # the control: a certificate 10% smaller is refuted by the exact extremes
    assert not (0.9 * cert.low <= lo and hi <= 0.9 * cert.high)


@pytest.mark.parametrize("seed", range(4))
def test_certificate_of_arbitrary_coefficients_survives_a_local_search(seed):
    # not only the package's polynomials: random coefficients near exp's, attacked by a
    # bounded maximisation of |h| from 400 starting points
    from scipy.optimize import minimize_scalar

    rng = np.random.default_rng(seed)
    g, R = 5, 1.5
    c = np.array([1 / math.factorial(k) for k in range(g + 1)]) * (
        1 + 0.01 * rng.standard_normal(g + 1)
    )
    low, high = coefficient_certificate(c, R)
    h = lambda t: np.polynomial.polynomial.polyval(t, c) * np.exp(-t) - 1  # noqa: E731
    edges = np.linspace(-R, R, 401)
    found_hi, found_lo = -np.inf, np.inf
    for a, b in itertools.pairwise(edges):
        up = minimize_scalar(lambda t: -h(t), bounds=(a, b), method="bounded")
        dn = minimize_scalar(h, bounds=(a, b), method="bounded")
        found_hi, found_lo = max(found_hi, -up.fun), min(found_lo, dn.fun)
    assert low <= found_lo and found_hi <= high
    assert high - found_hi <= 0.01 * max(abs(found_hi), abs(found_lo))


def test_range_attention_error_is_the_worst_case_and_two_clusters_reach_it():
    lo, hi = -3e-3, 5e-3
    a = range_attention_error(lo, hi)
    # the symmetric form 2 eps / (1 + sqrt(1 - eps^2))
    assert range_attention_error(-0.1, 0.1) == pytest.approx(0.2 / (1 + math.sqrt(0.99)))
    # gradient ascent on the weights and errors of 64 keys: total variation never above a
    torch.manual_seed(0)
    logits = torch.randn(64, requires_grad=True)
    raw = torch.randn(64, requires_grad=True)
    opt = torch.optim.Adam([logits, raw], lr=0.05)
    best = 0.0
    for _ in range(400):
        w = torch.softmax(logits.double(), 0)
        delta = lo + (hi - lo) * torch.sigmoid(raw.double())
        wt = w * (1 + delta) / (w * (1 + delta)).sum()
        tv = (wt - w).abs().sum()
        best = max(best, float(tv.detach()))
        opt.zero_grad()
        (-tv).backward()
        opt.step()
    assert best <= a * (1 + 1e-12) and best >= 0.99 * a  # the search finds the two clusters
    # the two clusters themselves, with the optimal share of the mass
    p = math.sqrt(1 + lo) / (math.sqrt(1 + hi) + math.sqrt(1 + lo))
    tv = 2 * p * (1 - p) * (hi - lo) / (1 + p * hi + (1 - p) * lo)
    assert tv == pytest.approx(a, rel=1e-12)
    # the control: the former constant 2 eps / (1 - eps) is twice as large, not attained
    eps = max(-lo, hi)
    assert 2 * eps / (1 - eps) > 1.5 * a


@pytest.mark.parametrize("B", [0.25, 0.5, 1.0, 1.5])
def test_two_cluster_input_reaches_the_certificate_and_the_degree_below_fails(B):
    eps, R = 1e-3, B * B
    plan = select_degree(B, eps, 8, method="best")
    cert = certify(plan.degree, R, plan.method)
    Q, K, V = two_cluster_input(cert, B, d=8, n=4096)
    assert float(Q.abs().max()) <= B and float(K.abs().max()) <= B * (1 + 1e-15)
    err = float(
        (
            poly_attention(Q, K, V, plan.degree, plan.method, radius=R)
            - exact_attention(Q, K, V, reference=True)
        )
        .abs()
        .max()
    )
    assert 0.99 * cert.attention_error <= err <= cert.attention_error <= eps
    # random inputs with entries in [-B, B] reach a small part of it: sampling cannot
    # validate the constant
    gen = torch.Generator().manual_seed(0)
    Qr, Kr = (B * (torch.rand(2048, 8, generator=gen, dtype=F64) * 2 - 1) for _ in range(2))
    Vr = torch.sign(torch.rand(2048, 1, generator=gen, dtype=F64) - 0.5)
    rand = float(
        (
            poly_attention(Qr, Kr, Vr, plan.degree, plan.method, radius=R)
            - exact_attention(Qr, Kr, Vr, reference=True)
        )
        .abs()
        .max()
    )
    assert rand < 0.2 * cert.attention_error
    # the degree below, for each polynomial, fails on its own two-cluster input
    for method in ("taylor", "chebyshev", "minimax"):
        below = certify(plan.degree - 1, R, method)
        if not math.isfinite(below.attention_error):
            continue  # the polynomial vanishes on the scores: no bound at all
        Qb, Kb, Vb = two_cluster_input(below, B, d=8, n=4096)
        out = poly_attention(Qb, Kb, Vb, plan.degree - 1, method, radius=R)
        assert float((out - exact_attention(Qb, Kb, Vb, reference=True)).abs().max()) > eps
    # and no polynomial of the degree below can meet eps on every input
    lb = minimax_lower_bound(plan.degree - 1, R)
    assert range_attention_error(-lb, lb) > eps


@pytest.mark.parametrize("g,R", [(1, 0.25), (2, 0.25), (4, 1.0), (6, 2.25), (8, 4.0)])
def test_minimax_lower_bound_holds_and_minimax_is_best(g, R):
    lb = minimax_lower_bound(g, R)
    for method in ("taylor", "chebyshev", "minimax"):
        assert lb <= certify(g, R, method).entry_error
    assert certify(g, R, "minimax").entry_error <= 1.01 * lb  # Remez got to the optimum
    assert certify(g, R, "minimax").entry_error <= certify(g, R, "chebyshev").entry_error
    assert minimax_lower_bound(g + 1, R) < lb


def test_float32_bound_holds_on_the_two_cluster_input_and_random_signs():
    # the float32 guarantee is about the computed output: attack it at n = 16384
    n, B, eps = 16384, 1.0, 1e-3
    plan = select_degree(B, eps, 8, method="best", dtype=torch.float32, n=n)
    cert = certify(plan.degree, B * B, plan.method)
    Q, K, V = two_cluster_input(cert, B, d=8, n=n, dtype=torch.float32)
    out = poly_attention(Q, K, V, plan.degree, plan.method, radius=B * B)
    err = float((out.double() - exact_attention(Q, K, V, reference=True)).abs().max())
    assert err <= poly_error_bound(Q, K, V, plan.degree, plan.method, radius=B * B)
    assert err <= plan.error_bound <= eps
    gen = torch.Generator().manual_seed(1)
    Qr = B * torch.sign(torch.rand(64, 8, generator=gen) - 0.5)
    Kr = B * (torch.rand(n, 8, generator=gen) * 2 - 1)
    Vr = torch.sign(torch.rand(n, 3, generator=gen) - 0.5)
    out = poly_attention(Qr, Kr, Vr, plan.degree, plan.method, radius=B * B)
    err = float((out.double() - exact_attention(Qr, Kr, Vr, reference=True)).abs().max())
    assert err <= poly_error_bound(Qr, Kr, Vr, plan.degree, plan.method, radius=B * B) <= eps


def test_levelled_lower_bound_agrees_where_remez_works_and_is_sound():
    from ptheory.efficiency.certificate import _levelled_lower_bound

    for g, R in ((2, 0.25), (4, 1.0), (3, 2.25), (6, 4.0)):
        lev = _levelled_lower_bound(g, R)
        worst = max(-certify(g, R, "minimax").low, certify(g, R, "minimax").high)
        # a lower bound: below the minimax polynomial's certified worst error, and close
        # to the float64 Remez bound where that one resolves the degree
        assert 0.99 * minimax_lower_bound(g, R) <= lev <= worst


def test_lower_bound_where_the_float_remez_fails():
    """Scores up to 4 ln n at n = 2^14: e^t spans 34 orders of magnitude, the float64
    Remez exchange fails, and the levelled reference still proves that every polynomial of
    degree 8 has a worst relative error close to 1."""
    R = 4 * math.log(2**14)
    lb = minimax_lower_bound(8, R)
    assert 0.999 < lb < 1.0
    assert range_attention_error(-lb, lb) > 1.99
    # sound: the Chebyshev interpolant of degree 8, sampled in 50 digits, does worse
    c = exp_poly_coefficients(8, "chebyshev", R)
    with mpmath.workdps(50):
        worst = max(
            abs(sum(mpmath.mpf(ck) * t**k for k, ck in enumerate(c)) / mpmath.exp(t) - 1)
            for t in (mpmath.mpf(R) * (2 * i / 400 - 1) for i in range(401))
        )
    assert worst >= lb


def test_lower_bound_between_8_and_30_is_not_weakened_by_a_poor_alternation():
    """Radii 17-22: the float64 Remez found alternations that gave bounds of 0.003-0.7
    where the best relative error of these degrees is within 1e-6 of 1 (it only grows
    with the radius, and is already there at 16)."""
    for g, R in ((4, 21.0), (2, 20.5), (1, 20.0)):
        assert minimax_lower_bound(g, R) > 0.999
        assert minimax_lower_bound(g, R) >= minimax_lower_bound(g, 16.0) * (1 - 1e-9)
