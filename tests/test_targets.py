"""Tests of ptheory.targets: Lipschitz targets, their bounds, and the empirical estimate."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from ptheory.distance import uniform_inputs
from ptheory.targets import (
    LipschitzTarget,
    empirical_lipschitz,
    mean_pool_target,
    operator_norm_bound,
    random_relu_target,
    shift_target,
)

F64 = torch.float64


def families(d: int, L: int, C: float, p: float, seed: int) -> list[LipschitzTarget]:
    return [
        random_relu_target(d, L, lipschitz=C, p=p, seed=seed),
        random_relu_target(d, L, lipschitz=C, p=p, width=7, depth=3, seed=seed),
        mean_pool_target(d, L, lipschitz=C, p=p),
        shift_target(d, L, shift=seed % 5 - 2, p=p),
    ]


@pytest.mark.parametrize("p", [1, 2, 3])
def test_outputs_in_unit_cube_with_input_shape(p):
    d, L = 3, 4
    X = uniform_inputs(64, d, L, seed=p)
    corners = torch.stack([torch.zeros(d, L, dtype=F64), torch.ones(d, L, dtype=F64)])
    for f in families(d, L, 2.5, p, seed=p):
        for inputs in (X, corners, X[0]):
            out = f(inputs)
            assert out.shape == inputs.shape, f.name
            assert out.dtype == F64
            assert ((out >= 0) & (out <= 1)).all(), f.name
        assert f.d == d and f.L == L and f.p == p
        assert isinstance(f.name, str) and f.name


@settings(max_examples=25, deadline=None, database=None)
@given(
    d=st.integers(1, 3),
    L=st.integers(1, 4),
    C=st.floats(0.1, 5.0),
    p=st.sampled_from([1, 2, 3, 1.5]),
    seed=st.integers(0, 10_000),
)
def test_empirical_lipschitz_respects_bound(d, L, C, p, seed):
    for f in families(d, L, C, p, seed):
        est = empirical_lipschitz(f, d, L, p=p, n_pairs=128, seed=seed)
        assert 0 < est <= f.lipschitz * (1 + 1e-9), (f.name, est, f.lipschitz)


def test_empirical_lipschitz_is_not_vacuous():
    """The estimate comes close to the bound where the bound is tight."""
    # a cyclic shift is an isometry: every pair gives ratio exactly 1
    f = shift_target(2, 3, shift=1, p=3)
    assert empirical_lipschitz(f, 2, 3, p=3, n_pairs=64) == pytest.approx(1.0, abs=1e-9)
    # mean pooling, d = L = 1: the map is phi(x - 1/2), steepest at the centre
    g = mean_pool_target(1, 1, lipschitz=2.0)
    est = empirical_lipschitz(g, 1, 1, n_pairs=2048, radii=(1e-4,))
    assert 1.9 < est <= 2.0 * (1 + 1e-9)


@pytest.mark.parametrize("p", [1, 2])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_random_relu_bound_is_tight_for_one_layer(p, seed):
    """depth = 1 makes h linear with ||W||_{p->p} = 1 exactly (p = 1, 2), and a small C
    keeps phi' close to C on the whole cube, so the estimate must come close to C."""
    C = 0.05
    f = random_relu_target(1, 2, lipschitz=C, p=p, depth=1, seed=seed)
    est = empirical_lipschitz(f, 1, 2, p=p, n_pairs=2048, seed=seed)
    assert 0.99 * C <= est <= C * (1 + 1e-9)


@pytest.mark.parametrize("p", [1, 2, 3])
def test_empirical_lipschitz_of_known_affine_map(p):
    def f(X):
        return 0.5 + 0.25 * X

    assert empirical_lipschitz(f, 3, 2, p=p, n_pairs=256) == pytest.approx(0.25, abs=1e-6)


def test_empirical_lipschitz_deterministic():
    f = random_relu_target(2, 3, lipschitz=3.0, seed=1)
    a = empirical_lipschitz(f, 2, 3, n_pairs=128, seed=4)
    assert a == empirical_lipschitz(f, 2, 3, n_pairs=128, seed=4)
    assert a != empirical_lipschitz(f, 2, 3, n_pairs=128, seed=5)


def test_target_formulas():
    X = uniform_inputs(5, 2, 4, seed=3)
    s = shift_target(2, 4, shift=1)
    torch.testing.assert_close(s(X)[..., 1:], X[..., :-1], rtol=0, atol=0)
    torch.testing.assert_close(s(X)[..., 0], X[..., -1], rtol=0, atol=0)
    m = mean_pool_target(2, 4, lipschitz=1.5)
    expected = 0.5 + 0.5 * torch.tanh(3.0 * (X.mean(dim=-1, keepdim=True) - 0.5))
    torch.testing.assert_close(m(X), expected.expand(X.shape), rtol=0, atol=1e-15)
    # mean pooling is permutation-invariant
    torch.testing.assert_close(m(X[..., [2, 0, 3, 1]]), m(X), rtol=0, atol=1e-15)
    # the centre of the cube maps to 1/2 for the random network
    r = random_relu_target(2, 4, seed=7)
    torch.testing.assert_close(
        r(torch.full((2, 4), 0.5, dtype=F64)), torch.full((2, 4), 0.5, dtype=F64)
    )


def test_random_relu_target_is_contextual_and_seeded():
    f = random_relu_target(2, 5, seed=2)
    X = uniform_inputs(1, 2, 5, seed=0)[0]
    Y = X.clone()
    Y[:, 0] += 0.1  # change the first input column only
    changed = (f(X) - f(Y)).abs().amax(dim=0)
    assert (changed > 0).all()  # every output column moves
    g = random_relu_target(2, 5, seed=2)
    h = random_relu_target(2, 5, seed=3)
    torch.testing.assert_close(f(X), g(X), rtol=0, atol=0)
    assert not torch.allclose(f(X), h(X))


def test_lipschitz_scales_the_random_target():
    """f_C = phi_C(u) with the same u: phi_C(u) - 1/2 = tanh(2 C u) / 2."""
    X = uniform_inputs(8, 2, 3, seed=1)
    f1 = random_relu_target(2, 3, lipschitz=1.0, seed=4)
    f3 = random_relu_target(2, 3, lipschitz=3.0, seed=4)
    u = torch.atanh(2 * f1(X) - 1) / 2.0
    torch.testing.assert_close(f3(X), 0.5 + 0.5 * torch.tanh(6.0 * u))
    assert f3.lipschitz == 3.0


# ---------------------------------------------------------------- operator_norm_bound


def _pnorm(v: torch.Tensor, p: float) -> torch.Tensor:
    return v.abs().pow(p).sum(dim=-1).pow(1.0 / p)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_operator_norm_bound_p2_is_spectral_norm(seed):
    W = torch.randn(5, 7, generator=torch.Generator().manual_seed(seed), dtype=F64)
    spectral = float(torch.linalg.svdvals(W)[0])
    assert operator_norm_bound(W, 2) == pytest.approx(spectral, rel=1e-12)
    assert operator_norm_bound(W) == pytest.approx(spectral, rel=1e-12)


@pytest.mark.parametrize("p", [1, 1.5, 2, 3, 7])
def test_operator_norm_bound_upper_bounds_ratio(p):
    g = torch.Generator().manual_seed(int(10 * p))
    W = torch.randn(6, 4, generator=g, dtype=F64)
    x = torch.randn(2000, 4, generator=g, dtype=F64)
    x = torch.cat([x, torch.eye(4, dtype=F64)])  # basis vectors attain the 1-norm
    ratios = _pnorm(x @ W.T, p) / _pnorm(x, p)
    bound = operator_norm_bound(W, p)
    assert float(ratios.max()) <= bound * (1 + 1e-12)
    if p == 1:  # exact: the largest column sum, attained at a basis vector
        assert bound == pytest.approx(float(W.abs().sum(dim=0).max()), rel=1e-14)
        assert float(ratios.max()) == pytest.approx(bound, rel=1e-12)


def test_operator_norm_bound_riesz_thorin_value():
    W = torch.tensor([[1.0, -2.0], [3.0, 0.5]], dtype=F64)
    col, row = 4.0, 3.5  # max column sum |1|+|3|, max row sum |3|+|0.5|
    assert operator_norm_bound(W, 3) == pytest.approx(col ** (1 / 3) * row ** (2 / 3), rel=1e-14)
    assert operator_norm_bound(W, 1) == pytest.approx(col, rel=1e-14)


def test_lipschitz_target_validates_calls():
    f = mean_pool_target(2, 3)
    with pytest.raises(ValueError, match=r"^X"):
        f(torch.zeros(2, 4, dtype=F64))
    with pytest.raises(ValueError, match=r"^X"):
        f(torch.full((2, 3), float("nan"), dtype=F64))


@pytest.mark.parametrize(
    ("d", "L", "C", "p", "seed"),
    [(2, 1, 2.453, 1.5, 6788), (1, 3, 4.952, 1, 1998)],  # drew dead (constant) nets before
)
def test_random_relu_target_is_never_constant(d, L, C, p, seed):
    f = random_relu_target(d, L, lipschitz=C, p=p, width=7, depth=3, seed=seed)
    assert empirical_lipschitz(f, d, L, p=p, n_pairs=128, seed=seed) > 0
    assert float(f(uniform_inputs(64, d, L, seed=1)).std(dim=0).max()) > 1e-9
