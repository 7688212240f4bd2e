"""The polynomial method against float64 exact attention, within its proved bound.

Property-based (hypothesis): random bounded inputs, Taylor and Chebyshev, several degrees,
batched and chunked shapes; the shape and dtype contract of exact attention; the feature
map's identity; the coefficient bounds; degree selection; prompt-tuning inference.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import ptheory as pt
from ptheory.efficiency import (
    attention_error_bound,
    certify,
    entry_error_bound,
    exact_attention,
    exp_poly_coefficients,
    feature_map,
    monomial_count,
    monomial_exponents,
    norm_criterion,
    poly_attention,
    poly_error_bound,
    prompt_inference,
    score_radius,
    select_degree,
)
from ptheory.efficiency import error_vs_bound as eff_error_vs_bound
from ptheory.model import Attention

F64 = torch.float64


def uniform(shape, bound, seed, dtype=F64):
    gen = torch.Generator().manual_seed(seed)
    return (torch.rand(shape, generator=gen, dtype=F64) * 2 - 1).mul(bound).to(dtype)


def naive_attention(Q, K, V, scale):
    w = torch.softmax((Q.double() @ K.double().transpose(-1, -2)) * scale, dim=-1)
    return w @ V.double()


# ----------------------------------------------------------------------- exact attention
@given(
    d=st.integers(1, 6),
    n=st.integers(1, 30),
    n_q=st.integers(1, 12),
    batch=st.sampled_from([(), (2,), (2, 3)]),
    bound=st.floats(0.0, 3.0),
    seed=st.integers(0, 10_000),
)
def test_exact_attention_equals_the_softmax_formula(d, n, n_q, batch, bound, seed):
    Q = uniform((*batch, n_q, d), bound, seed)
    K = uniform((*batch, n, d), bound, seed + 1)
    V = uniform((*batch, n, 3), 1.0, seed + 2)
    ref = naive_attention(Q, K, V, 1.0 / d)
    for reference in (False, True):
        out = exact_attention(Q, K, V, reference=reference)
        assert out.shape == (*batch, n_q, 3) and out.dtype == F64
        assert torch.allclose(out, ref, atol=1e-12, rtol=0)


def test_exact_attention_scales_and_fp32_contract():
    Q, K, V = (uniform((5, 4), 1.0, s, torch.float32) for s in range(3))
    out = exact_attention(Q, K, V, scale="1/sqrt(d)")
    assert out.dtype == torch.float32 and out.shape == (5, 4)
    ref = exact_attention(Q, K, V, scale=0.5, reference=True)
    assert ref.dtype == F64
    assert torch.allclose(out.double(), ref, atol=1e-6)
    assert torch.allclose(
        exact_attention(Q, K, V, scale="none"), naive_attention(Q, K, V, 1.0).float(), atol=1e-6
    )


def test_exact_attention_broadcasts_batches_and_allows_no_queries():
    Q = uniform((3, 1, 4, 2), 1.0, 0)
    K = uniform((5, 6, 2), 1.0, 1)
    V = uniform((1, 6, 3), 1.0, 2)
    out = exact_attention(Q, K, V)
    assert out.shape == (3, 5, 4, 3)
    assert torch.allclose(out[2, 4], naive_attention(Q[2, 0], K[4], V[0], 0.5), atol=1e-12)
    assert exact_attention(Q[..., :0, :], K, V).shape == (3, 5, 0, 3)


# --------------------------------------------------------------------- polynomial method
@given(
    d=st.integers(1, 4),
    n=st.integers(1, 40),
    n_q=st.integers(1, 10),
    degree=st.integers(0, 6),
    method=st.sampled_from(["taylor", "chebyshev", "minimax"]),
    batch=st.sampled_from([(), (3,), (2, 2)]),
    bound=st.floats(0.0, 1.5),
    chunk=st.one_of(st.none(), st.integers(1, 17)),
    seed=st.integers(0, 10_000),
)
def test_poly_attention_within_proved_bound(d, n, n_q, degree, method, batch, bound, chunk, seed):
    Q = uniform((*batch, n_q, d), bound, seed)
    K = uniform((*batch, n, d), bound, seed + 1)
    V = uniform((*batch, n, 2), 1.0, seed + 2)
    out = poly_attention(Q, K, V, degree, method, chunk=chunk)
    exact = exact_attention(Q, K, V, reference=True)
    assert out.shape == exact.shape and out.dtype == F64
    bound_ = poly_error_bound(Q, K, V, degree, method)
    exact_arith = poly_error_bound(Q, K, V, degree, method, rounding=False)
    # the exact-arithmetic bound at the data's radius, and the worst case over radius B^2
    # (Taylor: the certificate on the larger interval, up to the certificate's own slack)
    if method == "taylor":
        worst = certify(degree, bound**2 * (1 + 1e-9) + 1e-300, "taylor").attention_error
        assert exact_arith <= worst * (1 + 1e-6) + 1e-13
        apriori = entry_error_bound(degree, bound**2 * (1 + 1e-9))
        assert worst <= attention_error_bound(apriori * (1 + 1e-9) + 1e-15) + 1e-15
    assert exact_arith <= bound_
    if math.isfinite(bound_):  # no slack: the bound includes the rounding
        assert float((out - exact).abs().max()) <= bound_


@pytest.mark.parametrize("method", ["taylor", "chebyshev", "minimax"])
@pytest.mark.parametrize("degree", [1, 2, 3, 5])
def test_fp32_contract_and_chunk_invariance(method, degree):
    Q, K, V = (uniform((2, 120, 4), 1.0, s, torch.float32) for s in range(3))
    out = poly_attention(Q, K, V, degree, method)
    assert out.dtype == torch.float32 and out.shape == exact_attention(Q, K, V).shape
    for chunk in (1, 7, 64, 1000):
        other = poly_attention(Q, K, V, degree, method, chunk=chunk)
        assert torch.allclose(other, out, atol=2e-6, rtol=0)
    ref = exact_attention(Q, K, V, reference=True)
    bound = poly_error_bound(Q, K, V, degree, method)  # the float32 output's own bound
    assert float((out.double() - ref).abs().max()) <= bound


def test_poly_attention_broadcasts_like_exact_attention():
    Q = uniform((3, 1, 4, 2), 0.5, 0)
    K = uniform((5, 6, 2), 0.5, 1)
    V = uniform((1, 6, 3), 1.0, 2)
    out = poly_attention(Q, K, V, 4)
    exact = exact_attention(Q, K, V)
    assert out.shape == exact.shape == (3, 5, 4, 3)
    assert float((out - exact).abs().max()) <= poly_error_bound(Q, K, V, 4)


def test_high_degree_reaches_float64_precision():
    Q, K, V = (uniform((50, 3), 1.0, s) for s in range(3))
    for method in ("taylor", "chebyshev", "minimax"):
        out = poly_attention(Q, K, V, 14, method)
        assert torch.allclose(out, exact_attention(Q, K, V), atol=1e-13, rtol=0)


def test_degree_zero_is_the_plain_average():
    Q, K, V = (uniform((7, 3), 1.0, s) for s in range(3))
    out = poly_attention(Q, K, V, 0)
    assert torch.allclose(out, V.mean(0).expand(7, 3), atol=1e-14)


def test_scale_argument_is_used():
    Q, K, V = (uniform((40, 4), 0.8, s) for s in range(3))
    for scale, s in (("1/sqrt(d)", 0.5), ("none", 1.0), (0.3, 0.3)):
        out = poly_attention(Q, K, V, 14, scale=scale)
        err = float((out - naive_attention(Q, K, V, s)).abs().max())
        assert err <= poly_error_bound(Q, K, V, 14, scale=scale) + 1e-13 < 1e-6


def test_explicit_radius_and_bound_consistency():
    Q, K, V = (uniform((30, 4), 1.0, s) for s in range(3))
    R = score_radius(Q, K)
    out = poly_attention(Q, K, V, 3, "chebyshev", radius=2 * R)
    assert float((out - exact_attention(Q, K, V)).abs().max()) <= poly_error_bound(
        Q, K, V, 3, "chebyshev", radius=2 * R
    )
    assert poly_error_bound(Q, K, V, 3, "chebyshev", radius=R / 2) == math.inf


def test_score_radius_bounds_every_score():
    Q, K = uniform((20, 5), 1.3, 0), uniform((30, 5), 0.7, 1)
    scores = (Q @ K.T) / 5
    assert float(scores.abs().max()) <= score_radius(Q, K) + 1e-15
    assert score_radius(Q, K) <= 1.3 * 0.7  # (1/d) sqrt(d) B_Q sqrt(d) B_K


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_poly_attention_on_cuda_matches_cpu():
    Q, K, V = (uniform((2, 500, 8), 1.0, s, torch.float32) for s in range(3))
    cpu = poly_attention(Q, K, V, 3)
    gpu = poly_attention(Q.cuda(), K.cuda(), V.cuda(), 3)
    assert gpu.device.type == "cuda"
    assert torch.allclose(gpu.cpu(), cpu, atol=1e-5)
    assert torch.allclose(
        exact_attention(Q.cuda(), K.cuda(), V.cuda()).cpu(), exact_attention(Q, K, V), atol=1e-5
    )


# -------------------------------------------------------------------- features, bounds
@given(d=st.integers(1, 5), g=st.integers(0, 5), seed=st.integers(0, 1000))
def test_feature_map_reproduces_powers_of_the_inner_product(d, g, seed):
    X, Y = uniform((4, d), 1.0, seed), uniform((3, d), 1.0, seed + 1)
    fx, fy = feature_map(X, g), feature_map(Y, g)
    exps = monomial_exponents(d, g)
    assert fx.shape == (4, math.comb(d + g, g)) == (4, monomial_count(d, g))
    assert len({tuple(a) for a in exps.tolist()}) == exps.shape[0]
    degrees = exps.sum(1)
    multinomial = torch.tensor(
        [math.factorial(int(a.sum())) / math.prod(math.factorial(int(k)) for k in a) for a in exps],
        dtype=F64,
    )
    for m in range(g + 1):
        lhs = (fx[:, None, :] * fy[None, :, :] * multinomial * (degrees == m)).sum(-1)
        assert torch.allclose(lhs, (X @ Y.T) ** m, atol=1e-12)
    powers = torch.stack([torch.prod(X[i] ** exps, dim=1) for i in range(4)])
    assert torch.allclose(fx, powers, atol=1e-14, rtol=1e-12)


@pytest.mark.parametrize("method", ["taylor", "chebyshev"])
@pytest.mark.parametrize("g", [0, 1, 2, 3, 5, 8])
@pytest.mark.parametrize("R", [0.1, 0.5, 1.0, 2.0, 4.0])
def test_entry_error_bound_holds_on_a_fine_grid(method, g, R):
    c = exp_poly_coefficients(g, method, R)
    t = np.linspace(-R, R, 4001)
    p = np.polynomial.polynomial.polyval(t, c)
    rel = np.abs(p - np.exp(t)) / np.exp(t)
    assert rel.max() <= entry_error_bound(g, R, method) * (1 + 1e-9) + 1e-13


def test_chebyshev_interpolates_at_the_chebyshev_points():
    g, R = 4, 1.5
    nodes = R * np.cos((2 * np.arange(g + 1) + 1) * np.pi / (2 * (g + 1)))
    c = exp_poly_coefficients(g, "chebyshev", R)
    assert np.allclose(np.polynomial.polynomial.polyval(nodes, c), np.exp(nodes), atol=1e-12)
    assert np.allclose(exp_poly_coefficients(3, "taylor"), [1, 1, 1 / 2, 1 / 6])


def test_even_taylor_polynomials_are_positive():
    t = np.linspace(-30, 30, 2001)
    for g in (0, 2, 4, 6):
        assert (np.polynomial.polynomial.polyval(t, exp_poly_coefficients(g)) > 0).all()
    assert (np.polynomial.polynomial.polyval(t, exp_poly_coefficients(3)) < 0).any()


def test_attention_error_bound_formula():
    assert attention_error_bound(0.0) == 0.0
    # the sharp form 2 eps / (1 + sqrt(1 - eps^2)), about eps, not 2 eps / (1 - eps)
    assert attention_error_bound(0.5, 2.0) == pytest.approx(2 * 0.5 / (1 + math.sqrt(0.75)) * 2)
    assert attention_error_bound(1e-4) == pytest.approx(1e-4, rel=1e-8)
    assert attention_error_bound(1.0) == math.inf
    assert entry_error_bound(3, 0.0) == 0.0
    assert entry_error_bound(2, 1.0) == pytest.approx(math.e / 6)
    assert entry_error_bound(2, 1.0, "chebyshev") == pytest.approx(math.e**2 / 24)


# ------------------------------------------------------------------------- degree choice
@given(
    bound=st.floats(0.05, 2.0),
    eps=st.floats(1e-7, 0.2),
    d=st.integers(1, 4),
    method=st.sampled_from(["taylor", "chebyshev", "minimax", "best"]),
    seed=st.integers(0, 10_000),
)
def test_select_degree_meets_the_requested_error(bound, eps, d, method, seed):
    plan = select_degree(bound, eps, d, method=method)
    assert plan.error_bound <= eps and plan.rank == math.comb(d + plan.degree, plan.degree)
    if method != "best":
        assert plan.method == method
    if plan.degree > 0:  # the smallest such degree: the one below fails its certificate
        for m in {"best": ("taylor", "chebyshev", "minimax")}.get(method, (method,)):
            assert certify(plan.degree - 1, bound**2, m).attention_error > eps
    method = plan.method
    # random inputs with entries in [-B, B], half of the queries at corners (scores up to B^2)
    K = uniform((60, d), bound, seed)
    Q = torch.cat([uniform((10, d), bound, seed + 1), bound * torch.sign(K[:10]) + 0.0])
    V = uniform((60, 3), 1.0, seed + 2)
    out = poly_attention(Q, K, V, plan.degree, method)
    err = float((out - exact_attention(Q, K, V)).abs().max())
    assert err <= eps + 1e-12
    assert plan.flops(100) == 200 * plan.flops_per_token


def test_select_degree_grows_with_the_bound_and_can_fail():
    degrees = [select_degree(B, 1e-6, 8).degree for B in (0.25, 0.5, 1.0, 1.5)]
    assert degrees == sorted(degrees) and degrees[0] < degrees[-1]
    assert select_degree(0.0, 1e-3, 8).degree == 0
    with pytest.raises(ValueError, match=r"^eps"):
        select_degree(10.0, 1e-12, 8, max_degree=10)


# ----------------------------------------------------------------- prompt-tuning inference
def small_attention(d=4, heads=1, w=0.15, seed=0):
    layer = Attention(d, heads=heads, scale="1/d", seed=seed)
    with torch.no_grad():
        layer.W_Q.mul_(w)
        layer.W_K.mul_(w)
    return pt.freeze(layer)


def test_norm_criterion_values():
    Q = torch.full((3, 4), 0.5, dtype=F64)
    K = torch.full((100, 4), -0.25, dtype=F64)
    assert not norm_criterion(Q, K).holds  # 3 queries: exact attention is cheaper
    Q = torch.full((100, 4), 0.5, dtype=F64)
    crit = norm_criterion(Q, K)
    assert crit.entry_bound == crit.bound == 0.5 and crit.n == 100 and crit.holds
    assert crit.degree == select_degree(0.5, 1e-3, 4, method="chebyshev").degree
    assert crit.method == "chebyshev"
    assert crit.poly_flops < crit.exact_flops
    assert crit.threshold == pytest.approx(math.sqrt(math.log(100)))
    assert crit.ratio == pytest.approx(0.5 / math.sqrt(math.log(100)))
    # with scale 1/sqrt(d) the entries are rescaled to Alman and Song's convention
    assert norm_criterion(Q, K, scale="1/sqrt(d)").bound == pytest.approx(0.5 * 4**0.25)
    assert not norm_criterion(5 * Q, K).holds  # B = 2.5 > sqrt(ln 100) = 2.15
    # below sqrt(ln n), but no affordable degree at this n: the criterion is not the threshold
    low = norm_criterion(3 * Q, K)
    assert low.entry_bound < low.threshold and not low.holds
    big = torch.full((10_000, 4), 1.5, dtype=F64)  # the same B pays at larger n
    assert norm_criterion(big, big).holds


@pytest.mark.parametrize("heads", [1, 2])
@pytest.mark.parametrize("method", ["taylor", "chebyshev", "best"])
def test_prompt_inference_matches_prompt_forward_within_its_bound(heads, method):
    layer = small_attention(heads=heads)
    P = uniform((4, 6), 1.0, 1)
    X = pt.uniform_inputs(5, d=4, L=120, seed=2)  # n = 126 keys: rank up to C(4 + 5, 5)
    res = prompt_inference(layer, P, X, eps=1e-6, method=method)
    assert res.fast and res.criterion.holds and len(res.degrees) == heads
    ref = pt.prompt_forward(layer, P, X)
    assert res.output.shape == ref.shape == (5, 4, 120)
    assert 0 < res.error_bound <= 1e-6
    assert float((res.output - ref).abs().max()) <= res.error_bound
    assert all(r == math.comb(4 + g, g) for r, g in zip(res.ranks, res.degrees, strict=True))
    assert len(res.methods) == heads and (method == "best" or set(res.methods) == {method})


def test_prompt_inference_through_a_transformer():
    model = pt.build_transformer(4, max_len=128, scale="1/d", seed=0)
    with torch.no_grad():
        model.layers[1].W_Q.mul_(0.1)
        model.layers[1].W_K.mul_(0.1)
    P = uniform((4, 8), 0.5, 3)
    X = pt.uniform_inputs(3, d=4, L=100, seed=4)
    res = prompt_inference(model, P, X, eps=1e-5)
    ref = pt.prompt_forward(model, P, X)
    assert res.fast
    assert float((res.output - ref).abs().max()) <= res.error_bound < 1e-3
    exact = prompt_inference(model, P, X, path="exact")
    assert not exact.fast and exact.error_bound == 0.0
    assert torch.allclose(exact.output, ref, atol=1e-12)
    single = prompt_inference(model, P, X[0], eps=1e-5)
    assert torch.allclose(single.output, res.output[0], atol=1e-12)


def test_prompt_inference_falls_back_above_the_criterion():
    layer = small_attention(w=3.0)
    P, X = uniform((4, 3), 1.0, 5), pt.uniform_inputs(2, d=4, L=5, seed=6)
    res = prompt_inference(layer, P, X)
    assert not res.criterion.holds and not res.fast and res.degrees == ()
    assert torch.allclose(res.output, pt.prompt_forward(layer, P, X), atol=1e-12)
    forced = prompt_inference(layer, P, X, path="poly", degree=2)
    assert forced.fast and forced.degrees == (2,)
    err = float((forced.output - res.output).abs().max())
    assert err <= forced.error_bound  # possibly inf: the bound never lies


def test_error_vs_bound_measured_below_proved_and_growing():
    measured, proved = eff_error_vs_bound(256, [0.25, 1.0, 3.0], [1, 4], d=3, seed=1)
    assert measured.shape == proved.shape == (2, 3)
    assert (measured <= proved + 1e-13).all()
    assert (measured.diff(dim=1) > 0).all() and (measured[1] < measured[0]).all()


def test_inputs_that_require_grad_are_accepted_without_warnings():
    Q = uniform((6, 3), 1.0, 0).requires_grad_()
    K, V = uniform((7, 3), 1.0, 1), uniform((7, 2), 1.0, 2)
    out = poly_attention(Q, K, V, 3)
    assert not out.requires_grad
    assert float((out - exact_attention(Q, K, V)).abs().max()) <= poly_error_bound(Q, K, V, 3)
    assert norm_criterion(Q, K).bound <= 1.0 and score_radius(Q, K) <= 3.0
