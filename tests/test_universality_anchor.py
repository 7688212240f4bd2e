"""The size comparison of the universality chapter: this book's construction against a
Jackson-type count (``ptheory.universality.anchor``)."""

from __future__ import annotations

import itertools
import math

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest

import ptheory.universality as U


def _monomial_rank(n: int, m: int, seed: int = 0) -> int:
    """Rank of the monomials of degree <= n in m + 1 variables on random points of S^m:
    the dimension of their restrictions, computed independently of the formula."""
    rng = np.random.default_rng(seed)
    pts = rng.standard_normal((400, m + 1))
    pts /= np.linalg.norm(pts, axis=1, keepdims=True)
    exps = [e for e in itertools.product(range(n + 1), repeat=m + 1) if sum(e) <= n]
    A = np.stack([np.prod(pts ** np.array(e), axis=1) for e in exps], axis=1)
    return int(np.linalg.matrix_rank(A, tol=1e-9 * np.linalg.norm(A, 2)))


@pytest.mark.parametrize(("n", "m"), [(0, 1), (3, 1), (2, 2), (4, 2), (3, 3), (2, 4)])
def test_sphere_polynomial_dim_is_the_rank_of_the_monomials_on_the_sphere(n, m):
    assert U.sphere_polynomial_dim(n, m) == _monomial_rank(n, m)


def test_sphere_polynomial_dim_closed_forms():
    for n in range(8):
        assert U.sphere_polynomial_dim(n, 1) == 2 * n + 1
        assert U.sphere_polynomial_dim(n, 2) == (n + 1) ** 2
        assert U.sphere_polynomial_dim(n, 3) == (n + 1) * (n + 2) * (2 * n + 3) // 6


@pytest.mark.parametrize("p", [1, 2, 3.5])
@pytest.mark.parametrize(("d", "L"), [(1, 1), (1, 2), (2, 2)])
def test_resolution_for_is_the_smallest_grid_meeting_the_bound(d, L, p):
    for eps, C in itertools.product([0.9, 0.5, 0.25, 0.1, 1 / 16, 0.013], [0.0, 1.0, 3.0]):
        v1 = U.resolution_for(eps, C, d, L, p=p)
        assert U.quantization_bound(C, d, L, 1 / v1, p) <= eps
        assert v1 == 2 or U.quantization_bound(C, d, L, 1 / (v1 - 1), p) > eps


def test_construction_size_matches_built_models():
    for eps, size in [(0.5, (1, 1, 1 / 2)), (1 / 3, (1, 1, 1 / 3)), (0.25, (1, 1, 1 / 4))]:
        row = U.construction_size(eps, 1.0, 1, 1)
        model = U.construct(*size)
        assert row["resolution"] == round(1 / size[2])
        assert math.isclose(10 ** row["log10 codes"], model.n_codes, rel_tol=1e-12)
        assert math.isclose(10 ** row["log10 prompt length"], model.prompt_length, rel_tol=1e-12)
        assert math.isclose(10 ** row["log10 weights"], model.n_params, rel_tol=1e-12)


def test_jackson_count_degree():
    assert U.jackson_count(1 / 8, 1.0, 1) == 17  # n = 8 on the circle: 2n + 1
    assert U.jackson_count(0.3, 1.0, 2) == 25  # n = ceil(1/0.3) = 4: (n + 1)^2
    assert U.jackson_count(5.0, 1.0, 2) == 4  # n at least 1


def test_max_loglog_slope_tells_polynomial_from_exponential():
    inv = [2, 4, 8, 16, 32]
    cubic = [3 * math.log10(v) + 1 for v in inv]
    assert math.isclose(U.max_loglog_slope(inv, cubic), 3.0)
    expo = [v * math.log10(2) for v in inv]  # 2^(1/eps)
    assert U.max_loglog_slope(inv, expo) > 10


def test_codes_grow_faster_than_any_low_power_but_prompt_length_does_not():
    inv = [2, 4, 8, 16, 32]
    for d, L in [(1, 1), (1, 2)]:
        rows = [U.construction_size(1 / v, 1.0, d, L) for v in inv]
        jack = [math.log10(U.jackson_count(1 / v, 1.0, d * L)) for v in inv]
        assert U.max_loglog_slope(inv, [r["log10 codes"] for r in rows]) > 10 * d * L
        assert U.max_loglog_slope(inv, [r["log10 prompt length"] for r in rows]) <= d * L + 0.5
        assert U.max_loglog_slope(inv, jack) <= d * L + 0.5


def test_plot_size_comparison_draws_every_series():
    fig = U.plot_size_comparison([2, 4], {"a": [1, 2], "b": [2, 3]}, {"p": [1, 2]}, {"c": [1, 1.5]})
    left, right = fig.axes
    assert len(left.lines) == 2 and len(right.lines) == 2  # prompt and count; two code series
    assert right.lines[1].get_ydata().tolist() == [3, 4]  # digits of 10^2 and 10^3
    assert left.lines[0].get_ydata().tolist() == [10.0, 100.0]  # sizes, not their logarithms


def test_size_comparison_labels_and_values():
    out = U.size_comparison([2, 4], [(1, 1), (1, 2)])
    assert set(out) == {"codes", "prompt", "jackson"}
    assert list(out["codes"]) == ["number of codes, dL=1", "number of codes, dL=2"]
    assert out["jackson"]["Jackson-type count, $S^1$"] == [math.log10(5), math.log10(9)]
    size = U.construction_size(0.25, 1.0, 1, 1)
    assert out["codes"]["number of codes, dL=1"][1] == size["log10 codes"]
