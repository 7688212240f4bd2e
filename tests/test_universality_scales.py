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


def _all_inverted_pairs(before: np.ndarray, after: np.ndarray) -> list[tuple[int, int]]:
    """Every pair of triples ordered differently by two rankings (brute force)."""
    order = np.argsort(before)
    later = after[order]
    return [
        (int(order[i]), int(order[j]))
        for i in range(len(later))
        for j in np.nonzero(later[i + 1 :] < later[i])[0] + i + 1
    ]


def test_nearest_collisions_are_nearer_than_every_crossing_of_a_sampled_interval():
    """Bisecting every pair that changes order between the construction's scale and
    0.25 % away (not only the first one) finds crossings at several scales; the nearest
    of them is the one returned, and it is nearer than the first adjacent swapped pair's
    crossing, which a sampled search would have reported."""
    size = (1, 1, 0.25)
    below, above = U.nearest_collisions(*size)
    b = float(precision.as_beta(*size))
    rank = {r: scales._ranks(precision.exact_codes(*size, beta=r * b)) for r in (0.9975, 1, 1.0025)}
    for hit, (lo, hi), side in ((below, (0.9975, 1), -1), (above, (1, 1.0025), 1)):
        pairs = _all_inverted_pairs(rank[lo], rank[hi])
        assert len(pairs) > 1
        roots = [float(scales._bisect(*size, p, lo * b, hi * b, 30) / b) for p in pairs]
        nearest = max(roots) if side < 0 else min(roots)
        assert abs(hit.ratio - nearest) < 1e-12, (hit, sorted(roots))
        first = scales._order_changes(rank[lo], rank[hi])[1]  # the old, sampled choice
        old = float(scales._bisect(*size, first, lo * b, hi * b, 30) / b)
        assert abs(old - 1) > abs(hit.ratio - 1) + 1e-4  # the known nearer collision
    assert 0.9995 < below.ratio < 1 < above.ratio < 1.001


def test_slope_bound_bounds_every_code_derivative():
    """|d/dbeta (zeta_t - zeta_u)| <= D: difference quotients of random pairs, at scales
    from 0 to 30 times the construction's, never exceed the bound, and reach a fair share
    of it (the bound is not vacuous)."""
    size = (1, 1, 0.25)
    D = scales.slope_bound(*size)
    b0 = float(precision.as_beta(*size))
    rng = np.random.default_rng(0)
    n = U.dimensions(*size).n_codes
    largest = 0.0
    with mpmath.workdps(40):
        for _ in range(40):
            t, u = (int(x) for x in rng.choice(n, 2, replace=False))
            b = mpmath.mpf(float(rng.uniform(0, 30))) * b0
            h = b0 * mpmath.mpf(10) ** -8

            def g(x, t=t, u=u):
                return scales.code_at(*size, t, x, digits=40) - scales.code_at(
                    *size, u, x, digits=40
                )

            largest = max(largest, float(abs(g(b + h) - g(b)) / h))
            for one in (t, u):  # each code alone: 0 <= zeta' <= D
                rise = scales.code_at(*size, one, b + h, digits=40) - scales.code_at(
                    *size, one, b, digits=40
                )
                assert 0 <= rise / h <= D
    assert largest <= D
    assert largest > D / 100


def test_nearest_collisions_none_where_the_window_holds_no_collision():
    below, above = U.nearest_collisions(1, 1, 1 / 3)  # none within 1 % at this size
    assert below is None and above is None
    sweep = U.collision_sweep(1, 1, 1 / 3, list(np.linspace(0.99, 1.01, 41)))
    assert sweep.collisions == 0


@pytest.mark.parametrize("size", [(2, 1, 0.5), (1, 2, 0.5), (1, 1, 1 / 3)])
def test_token_codes_are_the_first_layers_codes(size):
    """The integer codes of the exact arithmetic are those the built model's FF_1 gives
    every grid prompt and grid input (positions included), token by token; with d = 2 the
    order of the coordinates' digits matters."""
    L = size[1]
    dims = U.dimensions(*size)
    front = U.front_model(dims)
    prompt, inputs = precision.token_codes(*size)
    n = dims.prompt_length + L
    ff1 = front.layers[0]
    E = front.positions
    with torch.no_grad():
        got_p = ff1(U.all_prompts(*size) + E[:, : dims.prompt_length])[:, 0, :]
        got_x = ff1(U.grid_sequences(*size) + E[:, dims.prompt_length : n])[:, 0, :]
    assert torch.allclose(got_p, prompt.double(), atol=1e-6, rtol=0)
    assert torch.allclose(got_x, inputs.double(), atol=1e-6, rtol=0)
    assert precision.model_code_error(*size) < 1e-3  # a thousandth of the smallest gap


def test_model_code_error_sees_a_wrong_digit_order(monkeypatch):
    """Control: token codes with the coordinates' digits in the other order (the same
    multiset of codes, attached to other triples) are far from the model's codes."""
    size = (2, 1, 0.5)
    right = precision.token_codes

    def reversed_digits(d, L, delta, *, positions=True):
        prompt, inputs = right(d, L, delta, positions=positions)
        A = int(prompt.min())
        cell = (inputs - A) % 4
        swapped = (cell % 2) * 2 + cell // 2  # the two binary digits exchanged
        return prompt, inputs - cell + swapped

    monkeypatch.setattr(precision, "token_codes", reversed_digits)
    assert precision.model_code_error(*size) > 1.0
