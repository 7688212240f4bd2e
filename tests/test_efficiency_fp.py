"""The polynomial method's bound in floating point, the fast kernel against the reference,
the prompt state, the causal variant, the baselines and the cost model."""

import math

import numpy as np
import pytest
import torch

from ptheory.efficiency import (
    attend_with_state,
    causal_poly_attention,
    elu_attention,
    exact_attention,
    exact_flops,
    exp_poly_coefficients,
    feature_map,
    key_state,
    monomial_weights,
    performer_attention,
    poly_attention,
    poly_error_bound,
    poly_flops,
    rounding_error_bound,
    select_degree,
)

F64 = torch.float64


def reference(Q, K, V, g, method="taylor", radius=1.0):
    """The chapter's three-line reference: dense features, weights, one product each side."""
    d = Q.shape[-1]
    U1 = feature_map(Q / d**0.5, g) * monomial_weights(
        d, g, exp_poly_coefficients(g, method, radius)
    ).to(Q.dtype)
    num = U1 @ (feature_map(K / d**0.5, g).T @ torch.cat([V, torch.ones_like(V[:, :1])], 1))
    return num[:, :-1] / num[:, -1:]


def adversarial(g_seed=0, n=2000):
    """The issue's case: d = 1, keys in [2.4, 3], queries +-3, scores up to 9."""
    gen = torch.Generator().manual_seed(g_seed)
    K = 2.4 + 0.6 * torch.rand(n, 1, generator=gen, dtype=F64)
    Q = torch.tensor([[3.0], [-3.0]], dtype=F64)
    V = torch.rand(n, 1, generator=gen, dtype=F64) * 2 - 1
    return Q, K, V


@pytest.mark.parametrize("method", ["taylor", "chebyshev", "minimax"])
@pytest.mark.parametrize("g", [32, 39, 44, 52, 64])
def test_bound_holds_in_float64_up_to_degree_64_and_radius_9(method, g):
    Q, K, V = adversarial()
    err = float(
        (poly_attention(Q, K, V, g, method) - exact_attention(Q, K, V, reference=True)).abs().max()
    )
    bound = poly_error_bound(Q, K, V, g, method)
    assert math.isfinite(bound) and err <= bound


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("d", [2, 3])
def test_bound_holds_at_radius_9_in_several_dimensions(seed, d):
    gen = torch.Generator().manual_seed(seed)
    B = 3.0  # entries up to 3: scores up to B^2 = 9 with scale 1/d
    Q = B * torch.sign(torch.rand(40, d, generator=gen, dtype=F64) - 0.5)
    K = B * (torch.rand(300, d, generator=gen, dtype=F64) * 2 - 1)
    V = torch.rand(300, 2, generator=gen, dtype=F64) * 2 - 1
    exact = exact_attention(Q, K, V, reference=True)
    for g in (30, 45, 64):
        for method in ("taylor", "chebyshev"):
            out = poly_attention(Q, K, V, g, method, chunk=64)
            bound = poly_error_bound(Q, K, V, g, method, chunk=64)
            assert float((out - exact).abs().max()) <= bound


def test_the_exact_arithmetic_bound_alone_fails_at_high_degree():
    # the control: the textbook exact-arithmetic formula is broken by float64 rounding
    from ptheory.efficiency import attention_error_bound, entry_error_bound

    Q, K, V = adversarial()
    err = float(
        (poly_attention(Q, K, V, 39, "chebyshev") - exact_attention(Q, K, V, reference=True))
        .abs()
        .max()
    )
    R = float(Q.abs().max() * K.abs().max())
    assert err > 10 * attention_error_bound(entry_error_bound(39, R, "chebyshev"))
    assert err <= poly_error_bound(Q, K, V, 39, "chebyshev")


def test_monomial_coefficients_are_accurate_where_cheb2poly_is_not():
    # 100-digit coefficients: the exactly evaluated interpolant errs by the theorem's eps
    import mpmath

    g, R = 39, 9.0
    c = exp_poly_coefficients(g, "chebyshev", R)
    ts = np.linspace(-R, R, 201)
    with mpmath.workdps(60):
        rel = max(
            abs(
                float(
                    sum(mpmath.mpf(float(cm)) * mpmath.mpf(float(t)) ** m for m, cm in enumerate(c))
                    / mpmath.exp(t)
                    - 1
                )
            )
            for t in ts
        )
    assert rel < 1e-8
    cheb = np.polynomial.chebyshev.chebinterpolate(lambda u: np.exp(R * u), g)
    old = np.polynomial.chebyshev.cheb2poly(cheb) / R ** np.arange(g + 1)
    with mpmath.workdps(60):
        rel_old = max(
            abs(
                float(
                    sum(
                        mpmath.mpf(float(cm)) * mpmath.mpf(float(t)) ** m
                        for m, cm in enumerate(old)
                    )
                    / mpmath.exp(t)
                    - 1
                )
            )
            for t in ts
        )
    assert rel_old > 10 * rel


def test_fp32_weights_stay_in_float64_and_the_bound_covers_underflow():
    # the weights multiply the float64 state, so 1/34! (below float32's smallest normal)
    # no longer stops the float32 kernel; the cast state may underflow, the bound covers it
    Q = torch.rand(10, 1)  # d = 1, scale 1: the weights are 1/m!
    out = poly_attention(Q, Q, Q, 34)
    assert torch.isfinite(out).all()
    ref = exact_attention(Q, Q, Q, reference=True)
    assert float((out.double() - ref).abs().max()) <= poly_error_bound(Q, Q, Q, 34)
    assert torch.isfinite(poly_attention(Q.double(), Q.double(), Q.double(), 64)).all()


def test_rounding_bound_grows_with_the_unit_roundoff_not_with_n():
    # sums in the input's dtype have at most 64 terms; the rest is added in float64
    a = rounding_error_bound(3, 1.0, n=1000, d=8, dtype=torch.float64)
    b = rounding_error_bound(3, 1.0, n=1000, d=8, dtype=torch.float32)
    assert 0 < a < b and b / a > 2.0**25
    big = rounding_error_bound(3, 1.0, n=10**6, d=8, dtype=torch.float32)
    assert b < big < 1.01 * b  # the float64 part grows with n, by very little
    assert rounding_error_bound(3, 1.0, n=10**6, d=8, dtype=torch.float16) > 2.0**12 * big
    assert rounding_error_bound(3, 1.0, n=10**6, d=8, dtype=torch.bfloat16) > 1  # useless


def test_float32_at_n_65536_is_guaranteed_to_1e_3_at_b_1():
    # the benchmark's claim: the degree chosen with float32 rounding included meets 1e-3
    plan = select_degree(1.0, 1e-3, 8, method="best", dtype=torch.float32, n=65536)
    assert plan.error_bound <= 1e-3 and plan.rounding > 0 and plan.degree == 4
    Q = torch.ones(1, 8)
    K = torch.rand(65536, 8, generator=torch.Generator().manual_seed(0)) * 2 - 1
    V = torch.sign(torch.rand(65536, 1, generator=torch.Generator().manual_seed(1)) - 0.5)
    assert poly_error_bound(Q, K, V, plan.degree, plan.method, radius=1.0) <= 1e-3


@pytest.mark.parametrize("d,g", [(1, 0), (1, 5), (3, 1), (3, 2), (8, 3), (4, 6), (8, 4), (6, 5)])
@pytest.mark.parametrize("method", ["taylor", "chebyshev", "minimax"])
def test_fast_kernel_equals_the_three_line_reference(d, g, method):
    gen = torch.Generator().manual_seed(d * 10 + g)
    Q, K, V = (torch.rand(333, d, generator=gen, dtype=F64) * 2 - 1 for _ in range(3))
    R = 1.0 if method == "taylor" else float((Q @ K.T).abs().max() / d) + 0.1
    for chunk in (None, 1, 50):
        fast = poly_attention(
            Q, K, V, g, method, radius=R if method != "taylor" else None, chunk=chunk
        )
        assert torch.allclose(fast, reference(Q, K, V, g, method, R), atol=1e-12, rtol=0)


def test_fast_kernel_differs_from_a_wrong_reference():
    # the check discriminates: a reference with the degree one lower is not accepted
    gen = torch.Generator().manual_seed(0)
    Q, K, V = (torch.rand(200, 4, generator=gen, dtype=F64) * 4 - 2 for _ in range(3))
    assert not torch.allclose(poly_attention(Q, K, V, 3), reference(Q, K, V, 2), atol=1e-12, rtol=0)


@pytest.mark.parametrize("method", ["taylor", "chebyshev", "minimax"])
def test_prompt_state_equals_attention_over_the_concatenation(method):
    gen = torch.Generator().manual_seed(1)
    P_K, P_V = (torch.rand(2, 50, 3, generator=gen, dtype=F64) for _ in range(2))
    X_Q, X_K, X_V = (torch.rand(2, 20, 3, generator=gen, dtype=F64) for _ in range(3))
    state = key_state(P_K, P_V, 4, method, radius=1.0)
    out = attend_with_state(X_Q, state, X_K, X_V)
    full = poly_attention(
        X_Q, torch.cat([P_K, X_K], -2), torch.cat([P_V, X_V], -2), 4, method, radius=1.0
    )
    assert torch.allclose(out, full, atol=1e-13, rtol=0)
    assert state.numbers == 2 * math.comb(7, 4) * 4  # independent of the prompt length
    # a prompt shared by a batch of inputs: one state, broadcast
    shared = key_state(P_K[0], P_V[0], 4, method, radius=1.0)
    out = attend_with_state(X_Q, shared, X_K, X_V)
    full = poly_attention(
        X_Q,
        torch.cat([P_K[0].expand(2, 50, 3), X_K], -2),
        torch.cat([P_V[0].expand(2, 50, 3), X_V], -2),
        4,
        method,
        radius=1.0,
    )
    assert torch.allclose(out, full, atol=1e-13, rtol=0)
    with pytest.raises(ValueError, match="radius"):
        key_state(P_K, P_V, 4, "chebyshev")


@pytest.mark.parametrize("method", ["chebyshev", "minimax"])
def test_prompt_state_refuses_queries_outside_its_radius(method):
    # outside the fit's interval the polynomial is no approximation of exp at all: the
    # state must refuse queries (and further keys) whose scores could leave it
    gen = torch.Generator().manual_seed(3)
    P_K, P_V = (torch.rand(50, 4, generator=gen, dtype=F64) for _ in range(2))
    state = key_state(P_K, P_V, 3, method, radius=1.0)
    inside = torch.rand(5, 4, generator=gen, dtype=F64) * 0.5
    attend_with_state(inside, state)  # scores at most 0.5 * 2 / 4 * ... < 1: accepted
    with pytest.raises(ValueError, match="radius"):
        attend_with_state(4 * inside + 3, state)
    with pytest.raises(ValueError, match="radius"):
        attend_with_state(inside, state, 9 * P_K[:3], P_V[:3])
    # the control: far outside, the output is indeed wrong (what the refusal prevents)
    far = torch.full((1, 4), 20.0, dtype=F64)
    wrong = poly_attention(far, P_K, P_V, 3, method, radius=1.0)
    assert float((wrong - exact_attention(far, P_K, P_V)).abs().max()) > 0.05


@pytest.mark.parametrize("method", ["taylor", "minimax"])
def test_decoder_step_equals_attention_over_the_prefix(method):
    from ptheory.efficiency import PolyDecoder

    gen = torch.Generator().manual_seed(7)
    Q, K, V = (torch.rand(40, 4, generator=gen, dtype=F64) * 2 - 1 for _ in range(3))
    prompt = key_state(K[:10], V[:10], 3, method, radius=1.0)
    dec = PolyDecoder(4, 4, 3, method, radius=1.0, prompt=prompt)
    assert dec.numbers == math.comb(7, 3) * 5 and dec.n == 10
    for i in range(10, 40):
        out = dec.step(Q[i], K[i], V[i])
        full = poly_attention(Q[i : i + 1], K[: i + 1], V[: i + 1], 3, method, radius=1.0)
        assert torch.allclose(out, full[0], atol=1e-13, rtol=0)
        assert float((out - exact_attention(Q[i : i + 1], K[: i + 1], V[: i + 1])[0])
                     .abs().max()) <= 1e-2  # fmt: skip
    assert dec.n == 40
    if method != "taylor":
        with pytest.raises(ValueError, match="radius"):
            dec.step(3 * Q[0], K[0], V[0])


@pytest.mark.parametrize("chunk", [1, 7, 64, 500])
def test_causal_variant_equals_the_masked_dense_formula(chunk):
    gen = torch.Generator().manual_seed(2)
    Q, K, V = (torch.rand(130, 3, generator=gen, dtype=F64) * 2 - 1 for _ in range(3))
    c = exp_poly_coefficients(3, "chebyshev", 1.0)
    S = Q @ K.T / 3
    A = sum(cm * S**m for m, cm in enumerate(c)).tril()
    out = causal_poly_attention(Q, K, V, 3, "chebyshev", radius=1.0, chunk=chunk)
    assert torch.allclose(out, (A @ V) / A.sum(1, keepdim=True), atol=1e-13, rtol=0)
    # and the first token attends to itself only; a non-causal answer is rejected
    assert torch.allclose(out[0], V[0])
    assert not torch.allclose(out, poly_attention(Q, K, V, 3, "chebyshev", radius=1.0), atol=1e-6)


def test_baselines_approximate_softmax_loosely_and_elu_is_another_similarity():
    gen = torch.Generator().manual_seed(3)
    Q, K = (torch.rand(512, 4, generator=gen, dtype=F64) * 2 - 1 for _ in range(2))
    V = torch.rand(512, 2, generator=gen, dtype=F64)
    exact = exact_attention(Q, K, V)
    perf = performer_attention(Q, K, V, 4096)
    assert float((perf - exact).abs().max()) < 0.02  # unbiased, many features
    assert performer_attention(Q, K, V, 64, seed=1).shape == exact.shape
    elu = elu_attention(Q, K, V)
    assert torch.allclose(elu_attention(Q, K, V, 4), elu)  # rank d: the identity map
    assert (elu >= V.min(0).values - 1e-12).all() and (elu <= V.max(0).values + 1e-12).all()


def test_cost_model_counts_flops_and_exponentials():
    assert exact_flops(10, 20, 8) == 10 * 20 * (16 + 10 + 1 + 16) + 10 * 8
    assert exact_flops(10, 20, 8, exp_flops=0) < exact_flops(10, 20, 8)
    r = math.comb(10, 2)
    assert poly_flops(10, 20, 8, 2) == 30 * (r + 2 * r * 9) + r * 9 + 10 * 8
    plan = select_degree(0.5, 1e-3, 8, method="chebyshev")
    n = plan.crossover()
    # the two counts cross at the plan's crossover (up to the n-independent terms)
    assert poly_flops(int(2 * n), int(2 * n), 8, plan.degree) < exact_flops(
        int(2 * n), int(2 * n), 8
    )
    assert poly_flops(int(n / 2), int(n / 2), 8, plan.degree) > exact_flops(
        int(n / 2), int(n / 2), 8
    )


def test_select_degree_keeps_its_former_keyword():
    assert select_degree(bound=0.5, eps=1e-3, d=8) == select_degree(0.5, 1e-3, 8)
    assert select_degree(entry_bound=0.5, eps=1e-3, d=8).bound == 0.5
    with pytest.raises(TypeError, match="not both"):
        select_degree(0.5, 1e-3, 8, bound=0.5)
    with pytest.raises(TypeError, match="eps"):
        select_degree(0.5)


@pytest.mark.parametrize("dtype,big", [(torch.float32, 1e15), (torch.float64, 1e100)])
def test_bound_covers_overflow_and_underflow_of_the_monomials(dtype, big):
    # scores of size 1 from huge queries and tiny keys: q^g overflows, k^g underflows,
    # the computed output is NaN (or loses its top terms); a finite bound would be false
    Q = torch.tensor([[big]], dtype=dtype)
    K = torch.tensor([[1 / big], [0.5 / big]], dtype=dtype)
    V = torch.tensor([[1.0], [-1.0]], dtype=dtype)
    exact = exact_attention(Q, K, V, reference=True)
    for g in range(1, 9):
        out = poly_attention(Q, K, V, g)
        err = float((out.double() - exact).abs().max()) if torch.isfinite(out).all() else math.inf
        assert err <= poly_error_bound(Q, K, V, g)
    # the guard is not a blanket refusal: balanced entries keep a finite bound
    assert poly_error_bound(Q * K[0], K / K[0], V, 8) < 1e-3


def test_key_state_sums_blocks_of_64_in_float64(monkeypatch):
    # the rounding bound counts at most 63 additions a block in the input's dtype: the
    # kernel must not let BLAS accumulate into the state (baddbmm_), the state is float64,
    # and it equals the block-by-block float64 sum of float32 products
    from ptheory.efficiency.polynomial import _BLOCK, _key_state

    def refuse(*args, **kwargs):
        raise AssertionError("the key state accumulates inside a matrix product")

    monkeypatch.setattr(torch.Tensor, "baddbmm_", refuse)
    gen = torch.Generator().manual_seed(4)
    K, V = (torch.rand(1, 1000, 3, generator=gen) * 2 - 1 for _ in range(2))
    S = _key_state(K, V, 4, 256)
    assert S.dtype == F64 and _BLOCK == 64
    by_block = torch.zeros_like(S)
    for a in range(0, 1000, 64):
        by_block += _key_state(K[:, a : a + 64], V[:, a : a + 64], 4, 64)
    assert torch.allclose(S, by_block, rtol=1e-15, atol=0)
    exact = _key_state(K.double(), V.double(), 4, 256)
    assert (S - exact).abs().max() < 1e-4


@pytest.mark.parametrize(
    "g,method", [(0, "taylor"), (1, "taylor"), (3, "chebyshev"), (5, "taylor")]
)
def test_two_worker_kernel_equals_one_thread_and_the_reference(g, method):
    # the pooled kernel (one thread per chunk, chunks on two workers): the same bits as on
    # one thread, equal to the three-line reference, and the thread count restored
    gen = torch.Generator().manual_seed(g)
    Q, K, V = (torch.rand(700, 3, generator=gen, dtype=F64) * 2 - 1 for _ in range(3))
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = poly_attention(Q, K, V, g, method, radius=1.0, chunk=64)
        torch.set_num_threads(2)
        two = poly_attention(Q, K, V, g, method, radius=1.0, chunk=64)
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
    assert torch.equal(one, two)
    assert torch.allclose(two, reference(Q, K, V, g, method, 1.0), atol=1e-12, rtol=0)


@pytest.mark.parametrize("d,g", [(8, 2), (8, 3), (5, 5), (8, 4)])
def test_one_and_several_query_blocks_on_two_workers_equal_one_thread_and_reference(d, g):
    # rank up to 64: one block of features on the query side (divided in the dtype);
    # above it, blocks of at most 64 features added in float64: both exact, same bits on
    # one and two workers
    from ptheory.efficiency.polynomial import _query_blocks, _table

    nr, size = _query_blocks(_table(d, g).rank)
    assert size <= 64 and nr * size >= _table(d, g).rank
    gen = torch.Generator().manual_seed(d + g)
    Q, K, V = (torch.rand(300, d, generator=gen, dtype=F64) * 2 - 1 for _ in range(3))
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = poly_attention(Q, K, V, g, chunk=64)
        torch.set_num_threads(2)
        two = poly_attention(Q, K, V, g, chunk=64)
    finally:
        torch.set_num_threads(before)
    assert torch.equal(one, two)
    assert torch.allclose(two, reference(Q, K, V, g, "taylor", 1.0), atol=1e-12, rtol=0)


@pytest.mark.parametrize("which", ["performer", "elu"])
def test_baselines_on_two_workers_equal_one_thread(which):
    # the baselines use the same pool as the polynomial method (fair on 2 threads): the
    # same bits as on one thread, and the dense formula of their features
    gen = torch.Generator().manual_seed(5)
    Q, K, V = (torch.rand(9000, 4, generator=gen, dtype=F64) * 2 - 1 for _ in range(3))
    fn = performer_attention if which == "performer" else elu_attention
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = fn(Q, K, V, 32)
        torch.set_num_threads(2)
        two = fn(Q, K, V, 32)
    finally:
        torch.set_num_threads(before)
    assert torch.equal(one, two)
    if which == "elu":
        from ptheory.efficiency.baselines import random_features

        W = random_features(4, 32, orthogonal=False) * (1 / 4) ** 0.5 / 2
        fq, fk = (torch.nn.functional.elu(X @ W.T) + 1 for X in (Q, K))
        A = fq @ fk.T
        assert torch.allclose(two, (A @ V) / A.sum(1, keepdim=True), atol=1e-12, rtol=0)


@pytest.mark.parametrize("method", ["taylor", "chebyshev", "minimax"])
def test_prompt_inference_bound_covers_rounding(method):
    # degree 12 at entries below 0.5: the exact-arithmetic bound is about 1e-18, float64
    # rounding leaves about 4e-15; the reported bound must cover the computed output
    import ptheory as pt
    from ptheory.efficiency import prompt_inference

    layer = pt.freeze(pt.mixing_attention(8, key_scale=0.25, scale="1/d", seed=0))
    X = pt.uniform_inputs(2, d=8, L=100, seed=2)
    P = 0.5 * torch.randn(8, 28, generator=torch.Generator().manual_seed(1), dtype=F64)
    res = prompt_inference(layer, P, X, path="poly", degree=12, method=method)
    err = float((res.output - pt.prompt_forward(layer, P, X)).abs().max())
    assert 0 < err <= res.error_bound < 1e-9


@pytest.mark.parametrize("d,g", [(3, 0), (3, 1), (8, 2), (5, 4)])
def test_planned_features_equal_the_feature_builder(d, g):
    # the kernel builds a chunk's monomials through views made once (_feature_plan); the
    # same bits as _features, which makes its views on every call; row 0 left alone
    from ptheory.efficiency.polynomial import _feature_plan, _features, _features_planned, _table

    gen = torch.Generator().manual_seed(d * 10 + g)
    x = torch.rand(1, d, 200, generator=gen) * 2 - 1
    r = _table(d, g).rank
    one, two = torch.full((1, r, 200), 7.0), torch.full((1, r, 200), 7.0)
    one[:, 0] = two[:, 0] = 1.0
    _features(x, g, one)
    _features_planned(x[0], _feature_plan(two, d, g))
    assert torch.equal(one, two)
    assert torch.equal(two[:, 0], torch.ones(1, 200)) and not (two == 7.0).any()


def test_kept_buffers_give_the_same_bits_after_a_padded_chunk_and_other_shapes():
    # each thread keeps its scratch buffers between calls; a padded last chunk zeroes
    # ones of [V, 1] for the call and restores them, and other shapes or dtypes make other
    # buffers: every call equals the same call on fresh buffers, bit for bit
    from ptheory.efficiency import polynomial as P

    gen = torch.Generator().manual_seed(11)
    Q, K, V = (torch.rand(3 * 128, 4, generator=gen) * 2 - 1 for _ in range(3))
    calls = [
        (Q, K, V, 3, 128),  # full chunks only
        (Q[:300], K[:300], V[:300], 3, 128),  # a padded last chunk (300 = 2 * 128 + 44)
        (Q, K, V, 3, 128),  # full chunks again, on the kept buffers
        (Q.double(), K.double(), V.double(), 3, 128),  # another dtype
        (Q[:, :3], K[:, :3], V, 2, 64),  # other shapes
        (Q, K, V, 3, 128),
    ]
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)  # the kernel runs on this thread: its buffers can be dropped
        fresh = []
        for q, k, v, g, c in calls:
            P._LOCAL.__dict__.pop("buffers", None)
            fresh.append(poly_attention(q, k, v, g, chunk=c))
        for threads in (1, 2):  # on two threads, the pool's threads keep theirs
            torch.set_num_threads(threads)
            kept = [poly_attention(q, k, v, g, chunk=c) for q, k, v, g, c in calls]
            for a, b in zip(kept, fresh, strict=True):
                assert torch.equal(a, b)
    finally:
        torch.set_num_threads(before)
    # one set per side and thread: a new shape frees the old one
    cache = P._LOCAL.__dict__.get("buffers", {})
    assert set(cache) <= {"key side", "query side"}


def test_fast_finite_check_runs_on_one_thread_and_restores_the_count():
    # the finiteness check sums on one thread (a sum on several wakes the OpenMP team,
    # whose busy waiting slows the kernel that follows) and restores the thread count;
    # a non-finite entry is still named
    from ptheory.efficiency._inputs import _check_finite_fast

    seen = []
    real_sum = torch.Tensor.sum

    def spy(self, *args, **kwargs):
        seen.append(torch.get_num_threads())
        return real_sum(self, *args, **kwargs)

    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(torch.Tensor, "sum", spy)
            _check_finite_fast(torch.ones(1000, 8), "K")
        assert seen == [1] and torch.get_num_threads() == 2
        bad = torch.ones(10, 3)
        bad[4, 1] = float("nan")
        with pytest.raises(ValueError, match="K"):
            _check_finite_fast(bad, "K")
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


@pytest.mark.parametrize("n,d,g", [(4096, 8, 2), (100, 8, 3), (2000, 3, 4)])
def test_one_chunk_gives_the_same_bits_on_one_and_two_threads(n, d, g):
    # one chunk runs on the calling thread, not on the pool: with one intra-op thread
    # there too (torch's products on two threads split sums differently: float32, d_v = 8
    # gave other bits before), so the output does not depend on the thread count
    from ptheory.efficiency import attend_with_state, key_state
    from ptheory.efficiency.polynomial import _default_chunk, _table

    assert n <= _default_chunk(1, _table(d, g).rank)  # one chunk indeed
    gen = torch.Generator().manual_seed(n + g)
    Q, K, V = (torch.rand(n, d, generator=gen) * 2 - 1 for _ in range(3))
    V = torch.rand(n, 8, generator=gen) * 2 - 1
    before = torch.get_num_threads()
    outs = []
    try:
        for threads in (1, 2):
            torch.set_num_threads(threads)
            state = key_state(K, V, g, "minimax", radius=1.0)
            outs.append((poly_attention(Q, K, V, g), state.S, attend_with_state(Q, state)))
            assert torch.get_num_threads() == threads
    finally:
        torch.set_num_threads(before)
    for a, b in zip(*outs, strict=True):
        assert torch.equal(a, b)


def test_large_buffer_sets_are_not_kept(monkeypatch):
    # a thread keeps a set of scratch buffers only up to _KEEP_BYTES (a batch of many heads
    # makes large sets: made for the call, freed after it); same numbers either way
    from ptheory.efficiency import polynomial as P

    gen = torch.Generator().manual_seed(3)
    Q, K, V = (torch.rand(4, 300, 3, generator=gen) * 2 - 1 for _ in range(3))
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        P._LOCAL.__dict__.pop("buffers", None)
        kept = poly_attention(Q, K, V, 3, chunk=128)
        assert set(P._LOCAL.buffers) == {"key side", "query side"}
        monkeypatch.setattr(P, "_KEEP_BYTES", 1024)
        P._LOCAL.__dict__.pop("buffers", None)
        fresh = poly_attention(Q, K, V, 3, chunk=128)
        assert P._LOCAL.buffers == {}
    finally:
        torch.set_num_threads(before)
    assert torch.equal(kept, fresh)
