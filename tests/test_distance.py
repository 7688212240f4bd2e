"""Tests of ptheory.distance: the Monte Carlo d_p distance."""

from __future__ import annotations

import math

import pytest
import torch

from ptheory.distance import Estimate, dp_distance, dp_norm_error, uniform_inputs
from ptheory.targets import random_relu_target

F64 = torch.float64


def identity(X):
    return X


def zero(X):
    return torch.zeros_like(X)


@pytest.mark.parametrize("p", [1, 2, 3])
def test_distance_to_itself_is_zero(p):
    f = random_relu_target(2, 3, seed=1)
    est = dp_distance(f, f, 2, 3, p=p, n_samples=256)
    assert est.value == 0.0
    assert est.stderr == 0.0
    assert est.n_samples == 256


@pytest.mark.parametrize(("p", "c", "d", "L"), [(1, 0.5, 2, 3), (2, 0.5, 3, 4), (3, 0.375, 1, 5)])
def test_constant_shift_exact(p, c, d, L):
    """f1(X) = X, f2(X) = X + c: ||f1 - f2||_p = c (dL)^{1/p} for every X.

    Inputs in float32 and the shift done in float64 make f2(X) - f1(X) = c exactly, so the
    Monte Carlo terms are all equal and the standard error is exactly zero."""
    exact = c * (d * L) ** (1.0 / p)

    def shifted(X):
        return X.to(F64) + c

    est = dp_distance(identity, shifted, d, L, p=p, n_samples=512, dtype=torch.float32)
    assert est.stderr == 0.0
    assert est.value == pytest.approx(exact, rel=1e-13)
    # in float64 the rounding of X + c leaves a negligible spread
    est64 = dp_distance(identity, lambda X: X + 0.3, d, L, p=p, n_samples=512)
    assert est64.value == pytest.approx(0.3 * (d * L) ** (1.0 / p), rel=1e-12)
    assert est64.stderr < 1e-12


def test_zero_versus_identity_d2():
    """E ||X||_2^2 = dL E[U^2] = dL / 3 for X uniform on [0, 1]^{d x L}."""
    d, L = 3, 4
    exact = math.sqrt(d * L / 3)
    est = dp_distance(zero, identity, d, L, p=2, n_samples=4096, seed=1)
    assert est.stderr > 0
    assert abs(est.value - exact) < 4 * est.stderr
    assert est.stderr < 0.02  # the estimate is informative
    assert est.upper() > exact


def test_zero_versus_identity_d1():
    """E ||X||_1 = dL / 2."""
    est = dp_distance(zero, identity, 2, 2, p=1, n_samples=4096, seed=2)
    assert abs(est.value - 2.0) < 4 * est.stderr


def test_dp_distance_deterministic_and_batch_independent():
    f = random_relu_target(2, 3, seed=2)
    a = dp_distance(f, zero, 2, 3, n_samples=300, seed=7)
    b = dp_distance(f, zero, 2, 3, n_samples=300, seed=7, batch_size=64)
    c = dp_distance(f, zero, 2, 3, n_samples=300, seed=8)
    assert a == dp_distance(f, zero, 2, 3, n_samples=300, seed=7)
    assert a.value == pytest.approx(b.value, rel=1e-14)
    assert a.stderr == pytest.approx(b.stderr, rel=1e-10)
    assert a.value != c.value
    # symmetric
    assert dp_distance(zero, f, 2, 3, n_samples=300, seed=7).value == pytest.approx(a.value)


def test_dp_distance_matches_direct_average():
    f = random_relu_target(2, 2, lipschitz=2.0, seed=5)
    est = dp_distance(f, identity, 2, 2, p=3, n_samples=200, seed=4)
    X = uniform_inputs(200, 2, 2, seed=4)
    terms = (f(X) - X).abs().pow(3).sum(dim=(1, 2))
    assert est.value == pytest.approx(float(terms.mean()) ** (1 / 3), rel=1e-12)
    se_mean = float(terms.std()) / math.sqrt(200)
    delta = se_mean * float(terms.mean()) ** (1 / 3 - 1) / 3
    assert est.stderr == pytest.approx(delta, rel=1e-10)


def test_dp_norm_error_values():
    X = torch.tensor([[[0.0, 1.0]], [[0.5, 0.25]]], dtype=F64)  # (2, 1, 2)
    err = dp_norm_error(zero, identity, X, p=2)
    torch.testing.assert_close(err, torch.tensor([1.0, 0.3125], dtype=F64))
    err1 = dp_norm_error(identity, zero, X, p=1)
    torch.testing.assert_close(err1, torch.tensor([1.0, 0.75], dtype=F64))


def test_uniform_inputs_shape_range_and_seed():
    X = uniform_inputs(500, 3, 4, seed=2)
    assert X.shape == (500, 3, 4) and X.dtype == F64
    assert float(X.min()) >= 0.0 and float(X.max()) < 1.0
    assert float(X.min()) < 0.01 and float(X.max()) > 0.99  # fills the cube
    assert abs(float(X.mean()) - 0.5) < 0.02
    torch.testing.assert_close(X, uniform_inputs(500, 3, 4, seed=2), rtol=0, atol=0)
    assert not torch.equal(X, uniform_inputs(500, 3, 4, seed=3))
    X32 = uniform_inputs(500, 3, 4, seed=2, dtype=torch.float32)
    assert X32.dtype == torch.float32
    torch.testing.assert_close(X32, X.to(torch.float32), rtol=0, atol=0)


def test_estimate_str_and_upper():
    est = Estimate(value=1.234567, stderr=0.0123456, n_samples=100)
    assert str(est) == "1.235 ± 0.012"
    assert est.upper() == pytest.approx(1.234567 + 3 * 0.0123456, rel=1e-15)
    assert est.upper(2) == pytest.approx(1.234567 + 2 * 0.0123456, rel=1e-15)
    assert est.upper(0.0) == est.value
    assert str(Estimate(0.0, 0.0, 2)) == "0 ± 0"
    with pytest.raises(AttributeError):
        est.value = 2.0  # frozen
