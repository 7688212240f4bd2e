"""Tests of ptheory.capacity's counting bound, lookup construction and injectivity bound."""

from __future__ import annotations

import itertools
import math

import matplotlib

matplotlib.use("Agg")

import pytest
import torch

from ptheory.capacity import (
    bump_dataset,
    collision_dataset,
    counting_lower_bound,
    embed_tokens,
    fit_loss,
    grid_points_per_coordinate,
    injectivity_bound,
    injectivity_lower_bound,
    lookup_model,
    lookup_prompt,
    memorize_by_lookup,
    min_expansion,
    plot_construction,
    plot_counting_bound,
    plot_loss_by_norm,
    prompt_tune,
    residual_model,
)
from ptheory.model import prompt_forward

F64 = torch.float64


# ------------------------------------------------------------ counting bound
@pytest.mark.parametrize(
    "d, L, eps, bits, C, expected",
    [
        (1, 1, 0.1, 8, 1.0, 1 * 3**1 / 8),  # k = ceil(2.5) = 3
        (2, 3, 0.05, 16, 1.0, 6 * 5**6 / 16),  # k = 5
        (1, 2, 0.125, 1, 1.0, 2 * 2**2),  # k = ceil(2) = 2 exactly
        (3, 1, 0.2, 4, 1.0, 3 * 2**3 / 4),  # k = ceil(1.25) = 2
        (2, 2, 0.2, 2, 0.5, 4 * 1 / 2),  # k = max(1, ceil(0.625)) = 1
        (1, 1, 0.05, 2, 4.0, 20 / 2),  # k = 20
    ],
)
def test_counting_bound_matches_hand_computed_values(d, L, eps, bits, C, expected):
    assert counting_lower_bound(d, L, eps, bits, lipschitz=C) == expected


def test_grid_points_edge_cases():
    assert grid_points_per_coordinate(0.125) == 2  # C / (4 eps) = 2 exactly
    assert grid_points_per_coordinate(0.1) == 3
    assert grid_points_per_coordinate(0.24, lipschitz=0.1) == 1
    with pytest.raises(ValueError, match=r"^eps"):
        grid_points_per_coordinate(0.25)


def test_counting_bound_is_monotone():
    eps_values = [0.2, 0.1, 0.07, 0.05, 0.03, 0.01]
    for d in range(1, 5):
        for L in range(1, 4):
            by_eps = [counting_lower_bound(d, L, e, 16) for e in eps_values]
            assert all(b2 >= b1 for b1, b2 in itertools.pairwise(by_eps))
            assert counting_lower_bound(d + 1, L, 0.05, 16) > counting_lower_bound(d, L, 0.05, 16)
            assert counting_lower_bound(d, L + 1, 0.05, 16) > counting_lower_bound(d, L, 0.05, 16)
    assert counting_lower_bound(2, 2, 0.05, 32) < counting_lower_bound(2, 2, 0.05, 16)
    assert math.isinf(counting_lower_bound(40, 40, 0.001, 64))
    assert counting_lower_bound(2, 3, 0.05, 1) == 6 * 5**6


def test_bump_dataset_is_a_separated_lipschitz_family():
    X, Y = bump_dataset(2, 0.1, seed=3)
    k = grid_points_per_coordinate(0.1)
    assert X.shape == (k**2, 2, 1) and Y.shape == X.shape
    levels = torch.unique(Y)
    assert len(levels) == 2 and float(levels[1] - levels[0]) > 2 * 0.1
    # grid inputs are distinct and lie in [0, 1]
    assert len(torch.unique(X.reshape(len(X), -1), dim=0)) == len(X)
    assert float(X.min()) == 0.0 and float(X.max()) == 1.0
    # the data are C-Lipschitz in max norms: |dy| <= C |dx|_inf between grid points
    dx = (X[:, None] - X[None]).abs().amax(dim=(-1, -2))
    dy = (Y[:, None] - Y[None]).abs().amax(dim=(-1, -2))
    off = ~torch.eye(len(X), dtype=torch.bool)
    assert bool((dy[off] <= 1.0 * dx[off] + 1e-12).all())


@pytest.mark.parametrize("d, eps", [(1, 0.2), (1, 0.05), (2, 0.1), (3, 0.1), (4, 0.2)])
def test_lookup_construction_memorizes(d, eps):
    report = memorize_by_lookup(d, eps, seed=1)
    assert report.max_error <= eps
    assert report.prompt_length == report.n_inputs


def test_lookup_prompt_through_prompt_forward():
    X, Y = bump_dataset(1, 0.05, seed=2)
    model = lookup_model(1, sharpness=400.0)
    out = prompt_forward(model, lookup_prompt(X, Y), embed_tokens(X))
    assert float((out[:, :1] - Y).abs().max()) < 1e-3
    assert float(out[:, 1:2].abs().max()) < 1e-12  # the value slot is emptied


def test_removing_a_lookup_token_breaks_exactly_one_input():
    # The solution of the chapter's exercise "Break the lookup" (memorization_capacity).
    X, Y = bump_dataset(2, 0.1, seed=0)
    P, Xe = lookup_prompt(X, Y), embed_tokens(X)
    model = lookup_model(2, sharpness=200.0)
    for j in range(P.shape[1]):
        Q = torch.cat([P[:, :j], P[:, j + 1 :]], dim=1)
        err = (prompt_forward(model, Q, Xe)[:, :2] - Y).abs().amax(dim=(1, 2))
        assert int((err > 0.1).sum()) == 1
        assert float(err.max()) <= 0.25 + 1e-12  # at most eta = 1/4


# -------------------------------------------------------- invertible layers
def test_injectivity_bound_constants_by_hand():
    model = residual_model(3, blocks=1, seed=0, value_norm=0.1, key_norm=0.2, ff_norm=0.3)
    info = injectivity_bound(model, 2.0)
    assert info.kappas[0] == pytest.approx(0.1 * (1 + 2 * 0.2 * 4.0))
    assert info.kappas[1] == pytest.approx(0.3)
    assert info.radii[1] == pytest.approx(2.0 * 1.1)
    assert info.ell == pytest.approx(2 - (1 + info.kappas[0]) * 1.3)
    assert info.injective


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_expansion_never_below_ell(seed):
    model = residual_model(3, blocks=2, seed=seed)
    R = 2.0
    ell = injectivity_bound(model, max(R, math.sqrt(3))).ell
    assert ell > 0
    assert min_expansion(model, R, prompt_length=5, seed=seed) >= ell


@pytest.mark.parametrize("seed", [0, 4])
def test_bounded_prompts_stay_above_the_injectivity_bound(seed):
    model = residual_model(3, blocks=2, seed=seed)
    X, Y = collision_dataset(model, L=1, seed=seed)
    bound = injectivity_lower_bound(model, X, Y, max_norm=2.0)
    assert bound > 0
    res = prompt_tune(model, X, Y, [1, 3, 12], steps=40, restarts=4, max_norm=2.0, seed=seed)
    assert float(res.curve.min()) >= bound
    assert float(fit_loss(model(X), Y)) >= bound


def test_injectivity_lower_bound_is_zero_without_a_certificate():
    big = residual_model(3, blocks=2, seed=0, value_norm=3.0, key_norm=5.0)
    X, Y = collision_dataset(big, seed=0)
    assert not injectivity_bound(big, 2.0).injective
    assert injectivity_lower_bound(big, X, Y, max_norm=2.0) == 0.0


def test_collision_dataset_shape_and_target():
    model = residual_model(2, blocks=1, seed=0)
    X, Y = collision_dataset(model, L=3, seed=1)
    assert X.shape == (2, 2, 3) and Y.shape == (2, 2, 3)
    assert torch.equal(Y[0], Y[1]) and not torch.equal(X[0], X[1])


def test_bound_figures():
    fig = plot_counting_bound([0.1, 0.05], 6, 16)
    assert fig.axes[0].get_yscale() == "log"
    fig = plot_construction([memorize_by_lookup(1, 0.1), memorize_by_lookup(2, 0.1)])
    assert fig.axes[0].get_xscale() == "log"
    fig = plot_loss_by_norm([2.0, 8.0], [0.03, 0.02], [0.004, 0.0], unbounded=1e-18)
    assert fig.axes[0].get_xlabel()


def test_invertible_exercise_claims():
    # The solutions of the exercises of invertible_layers: the largest certified radius
    # lies between 3 and 3.5; with expanding feed-forward branches nothing is certified,
    # yet bounded prompts still leave the no-prompt loss (almost) where it was.
    model = residual_model(d=3, blocks=2, seed=0)
    assert injectivity_bound(model, 3.0).ell > 0 > injectivity_bound(model, 3.5).ell
    wide = residual_model(d=3, blocks=2, seed=0, ff_norm=3.0)
    assert injectivity_bound(wide, 2.0).ell < -10
    X, Y = collision_dataset(wide, L=1, seed=0)
    no_prompt = float(fit_loss(wide(X), Y))
    res = prompt_tune(wide, X, Y, [1, 2, 4, 8], steps=80, max_norm=2.0)
    assert res.loss > 0.9 * no_prompt


def test_tracked_factor_is_sharper_and_still_holds():
    model = residual_model(3, blocks=2, seed=0)
    for R in (1.0, 2.0, 3.0):
        info = injectivity_bound(model, R)
        assert info.ell_tracked >= info.ell
        if info.ell_tracked > 0:
            assert min_expansion(model, min(R, 2.0), seed=1) >= info.ell_tracked
    # control: a model with large weights expands less than the small model's factor
    big = residual_model(3, blocks=2, seed=0, value_norm=3.0, key_norm=5.0, ff_norm=0.5)
    assert min_expansion(big, 2.0) < injectivity_bound(model, 2.0).ell_tracked


def test_quantize_levels_and_range():
    from ptheory.capacity import quantize

    P = torch.linspace(-3, 3, 61, dtype=F64).reshape(1, -1)
    Q = quantize(P, 2, 1.0)
    levels = torch.tensor([-1.0, -1 / 3, 1 / 3, 1.0], dtype=F64)
    assert float((Q.reshape(-1, 1) - levels).abs().min(dim=1).values.max()) < 1e-12
    assert float((quantize(P.clamp(-1, 1), 10, 1.0) - P.clamp(-1, 1)).abs().max()) <= 1 / 1023


def test_quantized_prompts_never_beat_the_count():
    from ptheory.capacity import quantized_memorization

    reports = quantized_memorization(1, 4, 2**12, [2, 4, 8, 16], datasets=8)
    assert all(r.fraction <= r.count_ratio for r in reports)
    assert reports[-1].fraction == 1.0 and reports[0].count_ratio < 1e-6


def test_level_dataset_family():
    from ptheory.capacity import level_dataset

    X, Y = level_dataset(2, 9, 5, seed=1)
    assert X.shape == (9, 2, 1) and Y.shape == (9, 2, 1)
    levels = torch.round((Y - 0.25) / 0.125)
    assert torch.allclose(0.25 + 0.125 * levels, Y) and float(levels.max()) <= 4


def test_prompt_lipschitz_bounds_the_ratio_and_covering_bound_grows_with_N():
    from ptheory.capacity import covering_length_bound, prompt_lipschitz, prompt_lipschitz_ratio

    model = residual_model(3, blocks=2, seed=0)
    K = prompt_lipschitz(model, 2.0)
    assert prompt_lipschitz_ratio(model, 2.0, seed=3) <= K
    small = [covering_length_bound(3, N, 4, 0.01, width=3, radius=2.0, lipschitz=K)
             for N in (8, 16, 32)]  # fmt: skip
    assert small[1] == pytest.approx(2 * small[0]) and small[2] == pytest.approx(4 * small[0])
    # a larger Lipschitz constant or radius gives a smaller (weaker) bound
    assert covering_length_bound(3, 8, 4, 0.01, width=3, radius=2.0, lipschitz=10 * K) < small[0]


def test_smallest_lengths_on_the_lookup_model():
    from ptheory.capacity import lookup_smallest_lengths

    found = lookup_smallest_lengths([4, 8])
    assert found == [4, 8]
