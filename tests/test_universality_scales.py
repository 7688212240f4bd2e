"""The lemma on attention scales (ptheory.universality.scales), checked independently:
exact Taylor orders against slopes measured in exact arithmetic, collisions found by a
sweep against the codes recomputed at the located scale, and the counting of changes of
order against brute force."""

from __future__ import annotations

import itertools
import math
from fractions import Fraction

import mpmath
import numpy as np
import pytest
import torch

import ptheory.universality as U
from ptheory.universality import precision, scales

SIZES = [(1, 1, 0.5), (1, 1, 1 / 3), (1, 1, 0.25), (1, 2, 0.5), (2, 1, 0.5)]


@pytest.mark.parametrize("size", SIZES)
def test_taylor_order_predicts_the_small_scale_slope(size):
    order = U.taylor_order(*size)
    slope = U.small_scale_slope(*size)
    assert abs(slope - order.nu) < 0.01, (order, slope)
    assert 1 <= order.nu <= order.n - 1 or not order.same_query


def test_orders_grow_with_the_prompt_and_stay_below_newtons_bound():
    orders = {size: U.taylor_order(*size) for size in SIZES}
    assert [orders[s].nu for s in SIZES] == [1, 2, 3, 3, 3]
    assert orders[(1, 2, 0.5)].nu < orders[(1, 2, 0.5)].n - 1  # 3, not n - 1 = 9


def test_taylor_order_pair_shares_power_sums():
    """For a pair with the same query, sharing nu coefficients is sharing nu power sums:
    checked with the integer power sums of the two code sequences directly."""
    size = (1, 1, 0.25)
    order = U.taylor_order(*size)
    assert order.same_query
    seqs = [scales._sequence(*size, t)[0] for t in order.pair]
    sums = [[sum(a**m for a in s) for s in seqs] for m in range(1, order.nu + 2)]
    assert all(a == b for a, b in sums[: order.nu]) and sums[order.nu][0] != sums[order.nu][1]


def test_series_coefficients_against_mpmath_derivatives():
    """The exact Taylor coefficients of one code equal its numerical derivatives at 0."""
    size = (1, 1, 1 / 3)
    values, q = scales._sequence(*size, 5)
    shift = min(values)
    series = scales._Series([v - shift for v in values], q, shift)

    def code(b):  # written out here, negative scales allowed
        w = [mpmath.exp(b * q * (a - shift)) for a in values]
        return q + mpmath.fsum(a * x for a, x in zip(values, w, strict=True)) / mpmath.fsum(w)

    with mpmath.workdps(60):
        diffs = [Fraction(mpmath.nstr(c, 50)) for c in mpmath.taylor(code, 0, 3)]
    for j in range(4):
        exact = series.coefficient(j)
        assert abs(diffs[j] - exact) <= abs(exact) * Fraction(1, 10**25), j


def test_order_changes_count_every_swapped_pair():
    rng = np.random.default_rng(3)
    for _ in range(5):
        before = rng.permutation(60)
        after = before.copy()
        i, j = rng.choice(60, 2, replace=False)
        after[[i, j]] = after[[j, i]]
        after = rng.permutation(60) if rng.random() < 0.5 else after
        count, pair = scales._order_changes(before, after)
        brute = sum(
            (before[a] < before[b]) != (after[a] < after[b])
            for a, b in itertools.combinations(range(60), 2)
        )
        assert count == brute
        if pair is not None:
            a, b = pair
            assert (before[a] < before[b]) != (after[a] < after[b])
    assert scales._order_changes(np.arange(5), np.arange(5)) == (0, None)


def test_nearest_collisions_are_exact_collisions_near_the_construction():
    size = (1, 1, 0.25)
    below, above = U.nearest_collisions(*size)
    assert 0.97 < below.ratio < 1 < above.ratio < 1.03
    for hit in (below, above):
        with mpmath.workdps(80):
            gap = scales.code_at(*size, hit.pair[0], hit.beta) - scales.code_at(
                *size, hit.pair[1], hit.beta
            )
            assert abs(gap) < mpmath.mpf(10) ** -50
            # a little away from the root the two codes differ, with opposite signs
            step = hit.beta * mpmath.mpf(10) ** -6
            left = scales.code_at(*size, hit.pair[0], hit.beta - step) - scales.code_at(
                *size, hit.pair[1], hit.beta - step
            )
            right = scales.code_at(*size, hit.pair[0], hit.beta + step) - scales.code_at(
                *size, hit.pair[1], hit.beta + step
            )
            assert left * right < 0 and min(abs(left), abs(right)) > mpmath.mpf(10) ** -30
        codes = precision.exact_codes(*size, beta=hit.beta)
        assert precision.log10_relative_separation(codes) < -50
    at_beta = precision.exact_codes(*size)  # the construction's own scale: injective
    assert precision.log10_relative_separation(at_beta) > -6


def test_sweep_finds_no_collision_at_small_scales_and_many_near_the_construction():
    sweep = U.collision_sweep(1, 1, 0.25, list(np.geomspace(1e-3, 10, 41)))
    small = sweep.factors[1:] < 0.1
    assert sweep.swaps[small].sum() == 0
    assert sweep.swaps[sweep.factors[1:] > 1].sum() > 1000
    assert np.all(np.isfinite(sweep.log10_gap))  # sampled scales: no exact collision


def test_every_triple_has_its_own_codes_at_the_construction_scale():
    for size in [*SIZES, (1, 1, 0.2)]:
        assert precision.log10_relative_separation(precision.exact_codes(*size)) > -9


def test_exact_codes_keep_the_digits_of_a_located_scale():
    beta = precision.as_beta(1, 1, 0.5, "0.001234567890123456789012345")
    assert mpmath.nstr(beta, 25).startswith("0.00123456789012345678901")
    with pytest.raises(ValueError, match=r"^beta"):
        precision.as_beta(1, 1, 0.5, -1.0)
    with pytest.raises(TypeError, match=r"^beta"):
        precision.as_beta(1, 1, 0.5, [1.0])


def test_triple_indices_follow_grid_codes():
    size = (1, 2, 0.5)
    grid = U.grid_codes(*size)  # (M, G, L)
    flat = grid.reshape(-1)
    for index in (0, 5, 777, len(flat) - 1):
        m, g, k = scales.triple(*size, index)
        assert flat[index] == grid[m, g, k]
        assert math.isclose(
            float(scales.code_at(*size, index, U.default_beta(*size))),
            float(flat[index]),
            rel_tol=1e-12,
        )
    assert torch.equal(precision.float_codes(*size, torch.float64), flat)


def test_too_large_a_scale_as_the_exercise_states():
    """ex-cm-large: at 10^3 times the construction's scale, (1, 2, 1/2), float64 puts codes
    out of order while the exact codes stay apart, by about 10^-89 of their range."""
    beta = 1e3 * U.default_beta(1, 2, 0.5)
    row = U.separation_by_precision(1, 2, 0.5, beta=beta)
    assert not row.order_ok_64 and row.exact > 0
    log_gap = precision.log10_relative_separation(precision.exact_codes(1, 2, 0.5, beta=beta))
    assert -95 < log_gap < -85
