"""Tests of ptheory.capacity's counting bound, lookup construction and its length bound,
quantized prompts, the covering bound's Lipschitz constant and the injectivity bound, each
certified constant against an adversarial search."""

from __future__ import annotations

import itertools
import math
from fractions import Fraction

import matplotlib

matplotlib.use("Agg")

import pytest
import torch

from ptheory.capacity import (
    bump_dataset,
    bump_height,
    bump_lipschitz_ratio,
    bump_target,
    collision_dataset,
    counting_lower_bound,
    covering_length_bound,
    embed_tokens,
    fit_loss,
    forced_crossings,
    grid_points_per_coordinate,
    injectivity_bound,
    injectivity_lower_bound,
    level_dataset,
    lookup_length_bound,
    lookup_length_search,
    lookup_model,
    lookup_prompt,
    memorize_by_lookup,
    merged_lookup_prompt,
    plot_branch_constants,
    plot_counting_bound,
    plot_lookup_lengths,
    plot_loss_by_norm,
    plot_quantized,
    prompt_lipschitz,
    prompt_tune,
    quantize,
    quantized_memorization,
    residual_model,
    worst_branch_ratios,
    worst_expansion,
    worst_prompt_ratio,
)
from ptheory.model import FeedForward, Transformer, prompt_forward

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


@pytest.mark.parametrize("d, L, eps, C", [(1, 1, 0.1, 1.0), (2, 1, 0.05, 1.0), (1, 2, 0.1, 3.0)])
def test_bump_target_is_the_lipschitz_target_of_the_proof(d, L, eps, C):
    X, Y = bump_dataset(d, eps, L=L, lipschitz=C, seed=5)
    torch.testing.assert_close(bump_target(X, X, Y, lipschitz=C), Y, rtol=0, atol=1e-15)
    gen = torch.Generator().manual_seed(0)
    # pairs near grid points (where the bumps are steep) and anywhere in the cube
    near = X[torch.randint(0, len(X), (400,), generator=gen)]
    Z1 = torch.cat([near + 0.05 * torch.randn(near.shape, generator=gen, dtype=F64),
                    torch.rand(400, d, L, generator=gen, dtype=F64)]).clamp(0, 1)  # fmt: skip
    Z2 = (Z1 + 0.02 * torch.randn(Z1.shape, generator=gen, dtype=F64)).clamp(0, 1)
    df = (bump_target(Z1, X, Y, lipschitz=C) - bump_target(Z2, X, Y, lipschitz=C)).abs()
    ratio = df.amax(dim=(1, 2)) / (Z1 - Z2).abs().amax(dim=(1, 2)).clamp_min(1e-300)
    assert float(ratio.max()) <= C * (1 + 1e-9)
    assert float(ratio.max()) >= 0.9 * C  # the slope C is reached
    values = bump_target(Z1, X, Y, lipschitz=C)
    assert float(values.min()) >= 0.5 and float(values.max()) <= 1.0


@pytest.mark.parametrize("d, L, eps, C", [(1, 1, 0.1, 1.0), (2, 1, 0.05, 1.0), (1, 2, 0.1, 3.0)])
def test_bump_lipschitz_ratio_reaches_one_and_not_more(d, L, eps, C):
    ratio = bump_lipschitz_ratio(d, eps, L=L, lipschitz=C, pairs=500)
    assert 0.99 <= ratio <= 1 + 1e-9


@pytest.mark.parametrize("d, L, eps, C", [(2, 1, 0.05, 1.0), (1, 2, 0.1, 3.0), (1, 3, 0.1, 3.0)])
def test_bump_lipschitz_ratio_rejects_overlapping_bumps(d, L, eps, C):
    # twice as tall with the same slope: supports overlap and slopes add (two or more entries)
    assert bump_lipschitz_ratio(d, eps, L=L, lipschitz=C, pairs=500, height_factor=2.0) > 1.5
    assert bump_lipschitz_ratio(d, eps, L=L, lipschitz=C, pairs=500, height_factor=0.5) <= 1 + 1e-9


def test_bump_height_exact_at_the_tie():
    # eps = 0.05, C = 1: k = 5; one point finer the bumps are exactly 2 eps high
    k = grid_points_per_coordinate(0.05, 1.0)
    assert bump_height(k + 1, 1.0, exact=True) == 2 * Fraction(5, 100)
    assert bump_height(k, 1.0, exact=True) == Fraction(1, 8)
    assert bump_height(1, 3.0, exact=True) == Fraction(1, 2)
    assert float(bump_height(7, 3.0, exact=True)) == bump_height(7, 3.0)
    with pytest.raises(TypeError, match="exact"):
        bump_height(3, 1.0, exact=1)


def test_bump_height_is_above_two_eps_only_up_to_k():
    for eps in (0.01, 0.03, 0.05, 0.1, 0.2, 0.24):
        for C in (0.5, 1.0, 2.0, 7.0):
            if C / (4 * eps) < 1:
                continue
            k = grid_points_per_coordinate(eps, C)
            assert bump_height(k, C) > 2 * eps  # the family of the theorem is separated
            assert bump_height(k + 1, C) <= 2 * eps  # one point finer is not


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


def _sign_changes(values: torch.Tensor) -> int:
    """Sign changes of a sampled function, ignoring values within rounding of zero."""
    s = torch.sign(values) * (values.abs() > 1e-9)
    s = s[s != 0]
    return int((s[1:] != s[:-1]).sum())


def test_forced_crossings_by_hand():
    def chi(values, eps):
        return forced_crossings(torch.tensor(values, dtype=F64), eps)

    assert chi([0.0, 0.5, 0.0, 0.5], 0.05) == 3
    assert chi([0.2, 0.25, 0.3], 0.05) == 0  # 0.25 is within eps of all three
    assert chi([0.2, 0.3, 0.2], 0.05) == 0  # exactly 2 eps apart: no crossing forced
    assert chi([0.1, 0.5, 0.3, 0.9, 0.2], 0.05) == 4
    assert chi([0.1, 0.5, 0.3, 0.9, 0.2], 0.15) == 2
    assert lookup_length_bound(torch.tensor([0.0, 0.5, 0.0, 0.5, 0.0], dtype=F64), 0.05) == 2


@pytest.mark.parametrize("L_p", [1, 2, 3, 5])
def test_lookup_output_crosses_any_level_at_most_twice_per_token(L_p):
    """The theorem behind lookup_length_bound, on random prompts of every scale."""
    model = lookup_model(1, sharpness=50.0)
    x = torch.linspace(0.0, 1.0, 2001, dtype=F64).reshape(-1, 1, 1)
    Xe = embed_tokens(x)
    gen = torch.Generator().manual_seed(L_p)
    worst = 0
    for scale in (0.3, 1.0, 3.0, 10.0):
        P = scale * torch.randn(24, 3, L_p, generator=gen, dtype=F64)
        with torch.no_grad():
            out = prompt_forward(model, P, Xe)[:, :, 0, 0]  # (24, 2001)
        for f in out:
            if float(f.max() - f.min()) < 1e-6:
                continue  # constant up to rounding: no level between its values
            for t in torch.linspace(float(f.min()), float(f.max()), 9)[1:-1]:
                worst = max(worst, _sign_changes(f - t))
    assert worst <= 2 * L_p


@pytest.mark.parametrize("N", [4, 8, 9])
def test_alternating_dataset_attains_the_bound(N):
    X = torch.linspace(0.0, 1.0, N, dtype=F64).reshape(N, 1, 1)
    Y = 0.5 * (torch.arange(N) % 2).to(F64).reshape(N, 1, 1)
    bound = lookup_length_bound(Y, 0.05)
    assert bound == math.ceil((N - 1) / 2)
    P = merged_lookup_prompt(X, Y, 0.05)
    assert P.shape == (3, N // 2)  # one token per high input; the lows are the input's zero
    model = lookup_model(1, sharpness=(math.log(4 * (N + 1) / 0.05) + 1) * (N - 1) ** 2)
    out = prompt_forward(model, P, embed_tokens(X))[:, 0, 0]
    assert float((out - Y[:, 0, 0]).abs().max()) <= 0.05
    # a prompt with bound tokens makes 2 * bound crossings of the level 1/4 when N is odd
    if N % 2 == 1:
        x = torch.linspace(0.0, 1.0, 2001, dtype=F64).reshape(-1, 1, 1)
        f = prompt_forward(model, P, embed_tokens(x))[:, 0, 0]
        assert _sign_changes(f - 0.25) == 2 * P.shape[1]


def test_lookup_length_search_between_bound_and_construction():
    N = 8
    gen = torch.Generator().manual_seed(N)
    X = torch.linspace(0.0, 1.0, N, dtype=F64).reshape(N, 1, 1)
    Y = torch.rand(N, 1, 1, generator=gen, dtype=F64)
    res = lookup_length_search(X, Y, 0.05, steps=100)
    assert res.lengths == list(range(1, res.merged + 1))
    assert res.bound <= res.found <= res.merged < N
    assert res.errors[res.found - 1] <= 0.05 < min(res.errors[: res.found - 1])
    # shuffled inputs give the same search (the search sorts them)
    perm = torch.randperm(N, generator=gen)
    again = lookup_length_search(X[perm], Y[perm], 0.05, steps=100)
    assert again.found == res.found and again.bound == res.bound


def test_merged_prompt_shares_tokens_and_merges_to_any_length():
    X = torch.linspace(0.0, 1.0, 6, dtype=F64).reshape(6, 1, 1)
    Y = torch.tensor([0.3, 0.35, 0.32, 0.8, 0.78, 0.5], dtype=F64).reshape(6, 1, 1)
    assert merged_lookup_prompt(X, Y, 0.05).shape == (3, 3)
    assert merged_lookup_prompt(X, Y, 0.05, length=1).shape == (3, 1)
    with pytest.raises(ValueError, match=r"^length"):
        merged_lookup_prompt(X, Y, 0.05, length=4)


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
def test_adversarial_expansion_never_below_the_certified_factor(seed):
    model = residual_model(3, blocks=2, seed=seed)
    info = injectivity_bound(model, 2.0)
    assert info.ell_tracked >= info.ell > 0
    worst = worst_expansion(model, 2.0, prompt_lengths=[3], restarts=8, steps=60, seed=seed)
    assert info.ell_tracked <= worst.value <= worst.sampled


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
    fig = plot_loss_by_norm([2.0, 8.0], [0.03, 0.02], [0.004, 0.0], unbounded=1e-18)
    assert fig.axes[0].get_xlabel()
    # far below the other values: named in the legend, not drawn, not widening the axis
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert any("below 1e-10" in t for t in labels)
    assert fig.axes[0].get_ylim()[0] >= 1e-4
    fig = plot_loss_by_norm([2.0, 8.0], [0.03, 0.02], [0.004, 0.0], unbounded=0.001)
    assert fig.axes[0].get_ylim()[0] <= 1e-4  # close: drawn as a line
    X = torch.linspace(0.0, 1.0, 4, dtype=F64).reshape(4, 1, 1)
    Y = torch.tensor([0.1, 0.6, 0.2, 0.9], dtype=F64).reshape(4, 1, 1)
    search = lookup_length_search(X, Y, 0.05, steps=20)
    fig = plot_lookup_lengths([4, 8], [search, search], count=[0.1, 0.2])
    assert fig.axes[0].get_xscale() == "log"
    model = residual_model(3, blocks=2, seed=0)
    info = injectivity_bound(model, 2.0)
    worst = worst_branch_ratios(model, 2.0, restarts=2, steps=2)
    assert len(plot_branch_constants(info, worst).axes[0].patches) == 4
    reports = quantized_memorization(1, 4, 8, [2, 8], datasets=2, steps=2)
    assert len(plot_quantized(reports).axes) == 1


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
    for R in (1.0, 3.0):
        info = injectivity_bound(model, R)
        assert info.ell_tracked >= info.ell
        if info.ell_tracked > 0:
            worst = worst_expansion(model, R, prompt_lengths=[2], restarts=8, steps=40, seed=1)
            assert worst.value >= info.ell_tracked
    # control: on a model with large weights the search finds far less expansion
    big = residual_model(3, blocks=2, seed=0, value_norm=3.0, key_norm=5.0, ff_norm=0.5)
    found = worst_expansion(big, 2.0, prompt_lengths=[2], restarts=8, steps=40).value
    assert found < injectivity_bound(model, 2.0).ell_tracked


def test_injectivity_bound_with_given_constants():
    model = residual_model(3, blocks=2, seed=0)
    info = injectivity_bound(model, 2.0)
    same = injectivity_bound(model, 2.0, kappas=info.kappas)
    assert same.ell == info.ell and same.ell_tracked == info.ell_tracked
    smaller = injectivity_bound(model, 2.0, kappas=[k / 2 for k in info.kappas])
    assert smaller.ell_tracked > info.ell_tracked and smaller.radii == info.radii
    with pytest.raises(ValueError, match=r"^kappas"):
        injectivity_bound(model, 2.0, kappas=[0.1])


@pytest.mark.parametrize("seed", [0, 3])
def test_branch_constants_hold_against_the_search(seed):
    model = residual_model(3, blocks=2, seed=seed)
    info = injectivity_bound(model, 2.0)
    worst = worst_branch_ratios(model, 2.0, restarts=8, steps=60, seed=seed)
    assert len(worst) == 4
    for w, k in zip(worst, info.kappas, strict=True):
        assert w.sampled <= w.value <= k


def test_branch_search_reaches_a_sharp_constant():
    """A feed-forward branch whose ReLUs are all active is the linear map W_2 W_1, with
    Lipschitz constant ||W_2 W_1||: the search must find it (it is not only random)."""
    gen = torch.Generator().manual_seed(0)
    W1, W2 = (
        torch.randn(6, 3, generator=gen, dtype=F64),
        torch.randn(3, 6, generator=gen, dtype=F64),
    )
    ff = FeedForward.from_weights(0.1 * W1, torch.full((6,), 100.0, dtype=F64), 0.1 * W2,
                                  torch.zeros(3, dtype=F64))  # fmt: skip
    model = Transformer([ff]).freeze()
    sharp = float(torch.linalg.matrix_norm(0.01 * W2 @ W1, ord=2))
    worst = worst_branch_ratios(model, 2.0, restarts=8, steps=100)[0]
    assert 0.99 * sharp <= worst.value <= sharp * (1 + 1e-6)


@pytest.mark.parametrize("seed", [0, 2])
def test_prompt_lipschitz_holds_against_the_search(seed):
    model = residual_model(3, blocks=2, seed=seed)
    C_P = prompt_lipschitz(model, 2.0)
    assert C_P == pytest.approx(math.prod(1 + k for k in injectivity_bound(model, 2.0).kappas) - 1)
    worst = worst_prompt_ratio(model, 2.0, prompt_lengths=[1, 6], restarts=8, steps=60, seed=seed)
    assert worst.sampled <= worst.value <= C_P
    # control: the model with large weights moves with its prompt faster than C_P allows
    big = residual_model(3, blocks=2, seed=seed, value_norm=3.0, key_norm=5.0, ff_norm=0.5)
    assert worst_prompt_ratio(big, 2.0, prompt_lengths=[2], restarts=8, steps=40).value > C_P


def test_prompt_lipschitz_of_one_uniform_attention_layer():
    """With W_K = 0 the head averages its n columns: an input column moves by exactly
    ||M|| / n times a prompt column's move when all prompt columns move together, and
    the certificate kappa = ||M|| bounds it."""
    W = torch.eye(3, dtype=F64)
    from ptheory.model import Attention

    attn = Attention.from_weights(0 * W, W, W, 0.5 * W)
    model = Transformer([attn]).freeze()
    assert prompt_lipschitz(model, 1.0) == pytest.approx(0.5)
    P = torch.zeros(3, 4, dtype=F64)
    X = torch.rand(1, 3, 1, generator=torch.Generator().manual_seed(1), dtype=F64)
    H = torch.zeros(3, 4, dtype=F64)
    H[0] = 1e-3
    gap = prompt_forward(model, P + H, X) - prompt_forward(model, P, X)
    assert float(gap.abs().max()) / 1e-3 == pytest.approx(0.5 * 4 / 5)


def test_quantize_levels_and_range():
    P = torch.linspace(-3, 3, 61, dtype=F64).reshape(1, -1)
    Q = quantize(P, 2, 1.0)
    levels = torch.tensor([-1.0, -1 / 3, 1 / 3, 1.0], dtype=F64)
    assert float((Q.reshape(-1, 1) - levels).abs().min(dim=1).values.max()) < 1e-12
    assert float((quantize(P.clamp(-1, 1), 10, 1.0) - P.clamp(-1, 1)).abs().max()) <= 1 / 1023


def test_quantized_prompts_never_beat_the_count():
    reports = quantized_memorization(1, 4, 2**12, [2, 4, 8, 16], datasets=8)
    assert all(r.fraction <= r.count_ratio for r in reports)
    assert reports[-1].fraction == 1.0 and reports[0].count_ratio < 1e-6


def test_level_dataset_family():
    X, Y = level_dataset(2, 9, 5, seed=1)
    assert X.shape == (9, 2, 1) and Y.shape == (9, 2, 1)
    levels = torch.round((Y - 0.25) / 0.125)
    assert torch.allclose(0.25 + 0.125 * levels, Y) and float(levels.max()) <= 4


def test_covering_bound_grows_with_N():
    model = residual_model(3, blocks=2, seed=0)
    K = prompt_lipschitz(model, 2.0)
    small = [covering_length_bound(3, N, 4, 0.01, width=3, radius=2.0, lipschitz=K)
             for N in (8, 16, 32)]  # fmt: skip
    assert small[1] == pytest.approx(2 * small[0]) and small[2] == pytest.approx(4 * small[0])
    # a larger Lipschitz constant or radius gives a smaller (weaker) bound
    assert covering_length_bound(3, 8, 4, 0.01, width=3, radius=2.0, lipschitz=10 * K) < small[0]
