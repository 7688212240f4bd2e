"""Tests of ptheory.capacity: the batched engine, the unmemorizable dataset, LoRA, fine-tuning."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import pytest
import torch

from ptheory.capacity import (
    apex_dataset,
    apex_spread,
    examplewise_bound,
    fine_tune,
    fit_loss,
    initial_prompts,
    lora_fit,
    lora_lower_bound,
    plot_loss_by_length,
    plot_parameters,
    plot_rays,
    prompt_tune,
    ray_geometry,
    ray_lower_bound,
    single_layer_model,
    unmemorizable_dataset,
)
from ptheory.capacity.engine import padded_forward
from ptheory.capacity.single_layer import ff_inverse
from ptheory.measure import loglog_slope
from ptheory.model import build_transformer, prompt_forward
from ptheory.segments import prompt_split

F64 = torch.float64


# ------------------------------------------------------------------ the engine
def test_padded_forward_equals_prompt_forward_with_positions():
    model = build_transformer(3, blocks=2, max_len=12, seed=4)
    gen = torch.Generator().manual_seed(0)
    X = torch.rand(4, 3, 3, generator=gen, dtype=F64)
    P = torch.randn(3, 3, 6, generator=gen, dtype=F64)
    lengths = torch.tensor([6, 2, 1])
    out = padded_forward(model, P, lengths, X)
    for r, L_p in enumerate(lengths.tolist()):
        ref = prompt_forward(model, P[r, :, 6 - L_p :], X)
        torch.testing.assert_close(out[r], ref, rtol=0, atol=1e-12)


def test_initial_prompts_do_not_depend_on_the_batch():
    many = initial_prompts(3, [1, 4, 9], 5, seed=3)
    one = initial_prompts(3, 4, 2, seed=3)
    assert [t.shape for t in many] == [(5, 3, 1), (5, 3, 4), (5, 3, 9)]
    torch.testing.assert_close(one[0], many[1][:2], rtol=0, atol=0)


@pytest.mark.parametrize("optimizer", ["lbfgs", "adam"])
def test_batched_equals_one_run_at_a_time(optimizer):
    model = single_layer_model(3, seed=1)
    X, Y = unmemorizable_dataset(model, seed=1)
    lengths, restarts = [1, 3, 8], 3
    batched = prompt_tune(
        model, X, Y, lengths, steps=25, restarts=restarts, seed=5, optimizer=optimizer
    )
    starts = initial_prompts(3, lengths, restarts, seed=5)
    for j, L_p in enumerate(lengths):
        for r in range(restarts):
            single = prompt_tune(
                model,
                X,
                Y,
                L_p,
                steps=25,
                restarts=1,
                optimizer=optimizer,
                init=[starts[j][r : r + 1]],
            )
            assert single.loss == pytest.approx(float(batched.losses[j, r]), rel=1e-9, abs=1e-12)
            torch.testing.assert_close(single.prompt, batched.prompts[j][r], rtol=1e-5, atol=1e-6)
            torch.testing.assert_close(
                single.curve[:, 0, 0], batched.curve[:, j, r], rtol=1e-8, atol=1e-10
            )


def test_prompt_tune_is_deterministic_and_reports_consistently():
    model = single_layer_model(3, seed=2)
    X, Y = unmemorizable_dataset(model, seed=2)
    a = prompt_tune(model, X, Y, [2, 5], steps=15, restarts=4, seed=9)
    b = prompt_tune(model, X, Y, [2, 5], steps=15, restarts=4, seed=9)
    torch.testing.assert_close(a.losses, b.losses, rtol=0, atol=0)
    assert a.curve.shape == (16, 2, 4)
    assert a.loss == min(a.loss_by_length())
    with torch.no_grad():
        direct = float(fit_loss(prompt_forward(model, a.prompt, X), Y))
    assert direct == pytest.approx(a.loss, rel=1e-10)
    # L-BFGS with a line search never increases a run's loss
    assert bool((a.curve.diff(dim=0) <= 1e-12).all())
    assert torch.equal(a.best_curve()[-1], torch.tensor(a.loss, dtype=F64))


def test_prompt_tune_fits_what_a_prompt_can_fit():
    """Targets produced by some prompt are reached again (loss near zero)."""
    model = build_transformer(2, seed=3)
    gen = torch.Generator().manual_seed(1)
    X = torch.rand(3, 2, 2, generator=gen, dtype=F64)
    P_true = torch.randn(2, 2, generator=gen, dtype=F64)
    with torch.no_grad():
        Y = prompt_forward(model, P_true, X)
    res = prompt_tune(model, X, Y, 2, steps=150, restarts=4, seed=0)
    assert res.loss < 1e-10


def test_max_norm_keeps_every_prompt_column_inside_the_ball():
    model = single_layer_model(3, seed=0)
    X, Y = unmemorizable_dataset(model, seed=0)
    res = prompt_tune(model, X, Y, [1, 6], steps=20, restarts=3, max_norm=0.7)
    for P in res.prompts:
        assert float(P.norm(dim=-2).max()) < 0.7


# ------------------------------------------------- the unmemorizable dataset
@pytest.mark.parametrize("seed", [0, 3, 11, 29])
def test_no_prompt_beats_the_ray_bound_and_rank_two_lora_fits(seed):
    gen = torch.Generator().manual_seed(seed)
    d = int(torch.randint(2, 6, (1,), generator=gen))
    model = single_layer_model(d, seed=seed)
    X, Y = unmemorizable_dataset(model, seed=seed)
    bound = ray_lower_bound(model, X, Y)
    assert bound > 0.1
    for optimizer in ("lbfgs", "adam"):
        res = prompt_tune(
            model, X, Y, [1, 2, 7, 16, 40], steps=40, restarts=4, seed=seed, optimizer=optimizer
        )
        assert float(res.losses.min()) >= bound
        assert float(res.curve.min()) >= bound  # every iterate, not only the last
    assert lora_fit(model, X, Y, 2).loss < 1e-6


def test_bound_holds_for_random_prompts_of_any_scale():
    model = single_layer_model(3, seed=7)
    X, Y = unmemorizable_dataset(model, seed=7)
    bound = ray_lower_bound(model, X, Y)
    gen = torch.Generator().manual_seed(0)
    for L_p in (1, 5, 50):
        for scale in (0.1, 1.0, 10.0, 100.0):
            P = scale * torch.randn(64, 3, L_p, generator=gen, dtype=F64)
            with torch.no_grad():
                loss = fit_loss(prompt_forward(model, P, X), Y)
            assert float(loss.min()) >= bound


def test_bound_is_the_relaxed_minimum_scaled():
    """Without the FF factor the bound is a minimum over (a, T): check it against a
    brute-force search over T and the closed-form a."""
    model = single_layer_model(3, seed=4, contraction=0.0)
    X, Y = unmemorizable_dataset(model, seed=4)
    geom = ray_geometry(model, X, Y)
    best = float("inf")
    for log_T in torch.linspace(-30, 30, 3001, dtype=F64):
        lam = torch.sigmoid(log_T - geom.log_mass)
        A = torch.cat([lam[0] * torch.eye(3, dtype=F64), lam[1] * torch.eye(3, dtype=F64)])
        rhs = torch.cat([lam[0] * geom.b[0] - geom.b[0] + geom.c[0],
                         lam[1] * geom.b[1] - geom.b[1] + geom.c[1]])  # fmt: skip
        a = torch.linalg.lstsq(A, rhs[:, None]).solution[:, 0]
        value = float(((A @ a - rhs) ** 2).sum()) / 2
        best = min(best, value)
    bound = ray_lower_bound(model, X, Y)
    assert bound <= best + 1e-12
    assert bound == pytest.approx(best, rel=1e-4)


def test_dataset_geometry():
    model = single_layer_model(4, seed=6)
    X, Y = unmemorizable_dataset(model, seed=6)
    assert X.shape == (2, 4, 2) and Y.shape == (2, 4, 1)
    assert torch.equal(X[0, :, 1], X[1, :, 1])  # shared query token
    geom = ray_geometry(model, X, Y)
    e = geom.c - geom.b
    # the needed offsets are independent (rank 2) and the rays never meet
    assert torch.linalg.matrix_rank(e) == 2
    u = geom.b[0] - geom.b[1]
    s = torch.linspace(0, 50, 201, dtype=F64)
    pts = geom.ray_points(s)
    gaps = ((pts[0][:, None] - pts[1][None]) @ (u / u.norm())).abs()
    assert float(gaps.min()) == pytest.approx(float(u.norm()), rel=1e-9)
    # targets are in the range of FF: inverting gives back x_0 + c
    ff = model.layers[1]
    torch.testing.assert_close(ff(ff_inverse(ff, Y)), Y, rtol=0, atol=1e-12)


def test_rank_one_lora_cannot_fit_but_rank_two_and_fine_tuning_do():
    model = single_layer_model(3, seed=0)
    X, Y = unmemorizable_dataset(model, seed=0)
    assert lora_fit(model, X, Y, 1).loss > 0.05
    closed = lora_fit(model, X, Y, 2)
    assert closed.loss < 1e-20 and torch.linalg.matrix_rank(closed.delta) == 2
    assert closed.n_params == 2 * (3 + 3)
    trained = lora_fit(model, X, Y, 2, method="train", steps=200)
    assert trained.loss < 1e-6
    tuned = fine_tune(model, X, Y, steps=200)
    assert tuned.loss < 1e-6 and tuned.curve[0] > 0.5
    # the frozen model is untouched
    assert all(not p.requires_grad for p in model.parameters())
    assert fit_loss(model(X), Y) > 0.5


def test_closed_form_lora_on_a_full_sequence_target():
    """Rank d fits a target on every column when the mixtures span R^d."""
    model = single_layer_model(3, seed=5)
    gen = torch.Generator().manual_seed(2)
    X = torch.rand(1, 3, 3, generator=gen, dtype=F64)
    Y = torch.rand(1, 3, 3, generator=gen, dtype=F64)
    assert lora_fit(model, X, Y, 3).loss < 1e-20
    assert lora_fit(model, X, Y, 1).loss > 1e-4


def test_prompt_tuned_outputs_sit_on_the_segments():
    """The lemma behind the bound, on the tuned prompt."""
    model = single_layer_model(3, seed=0)
    X, Y = unmemorizable_dataset(model, seed=0)
    res = prompt_tune(model, X, Y, 4, steps=30, restarts=2)
    split = prompt_split(model.layers[0], res.prompt, X, queries=X[:, :, -1:])
    torch.testing.assert_close(split.output, split.combination(), rtol=0, atol=1e-12)


def test_figures():
    model = single_layer_model(3, seed=0)
    X, Y = unmemorizable_dataset(model, seed=0)
    res = prompt_tune(model, X, Y, [1, 4], steps=5, restarts=2)
    fig = plot_rays(model, X, Y, res.prompt)
    assert fig.axes[0].get_xlabel()
    fig = plot_loss_by_length(res, 0.5, no_prompt=1.0, lines={"LoRA rank 2": 1e-30})
    assert fig.axes[0].get_yscale() == "linear" and fig.axes[0].get_ylim()[0] <= 0.0


# ------------------------------------------------------ prompt versus LoRA
@pytest.mark.parametrize("n", [2, 3, 4])
def test_apex_dataset_needs_rank_n_and_n_prompt_tokens(n):
    model = single_layer_model(4, seed=1)
    X, Y = apex_dataset(model, n, seed=n)
    assert len({tuple(x) for x in X[:, :, -1].tolist()}) == n  # distinct query tokens
    geom_b = model.layers[0].attend(X[:, :, -1:], X)[..., 0]
    losses = [lora_fit(model, X, Y, r).loss for r in range(1, n + 1)]
    assert losses[-1] < 1e-20 and all(v > 1e-8 for v in losses[:-1])
    assert geom_b.shape == (n, 4)
    # Why no prompt shorter than n fits exactly (the theorem's two facts, not an optimizer's
    # failure): (1) the prompt points a_i = Att(x_i, P) of a prompt of L_p tokens span an
    # affine subspace of dimension at most L_p - 1, for random and for tuned prompts;
    attn = model.layers[0]
    queries = X[:, :, -1:]
    gen = torch.Generator().manual_seed(n)
    tuned = prompt_tune(model, X, Y, list(range(1, n)), steps=30, restarts=2)
    for L_p in range(1, n):
        prompts = [3.0 * torch.randn(4, L_p, generator=gen, dtype=F64) for _ in range(8)]
        prompts += list(tuned.prompts[L_p - 1])
        for P in prompts:
            with torch.no_grad():
                a = attn.attend(queries, P[None].expand(n, 4, L_p))[..., 0]  # (n, d)
            spread = torch.linalg.svdvals(a[1:] - a[0])
            assert int((spread > 1e-9 * float(a.abs().max())).sum()) <= L_p - 1
    # (2) an exact fit needs a_i = c_i + s_i (c_i - b_i), s_i > 0: points o + t_i v_i on rays
    # from one apex o with independent directions v_i, affinely independent for every s.
    with torch.no_grad():
        c = ff_inverse(model.layers[1], Y)[..., 0] - X[:, :, -1]
    offsets = c - geom_b
    assert int(torch.linalg.matrix_rank(offsets)) == n
    for _ in range(5):
        s = 10.0 ** (4 * torch.rand(n, 1, generator=gen, dtype=F64) - 2)  # one s_i each
        needed = c + s * offsets
        assert int(torch.linalg.matrix_rank(needed[1:] - needed[0])) == n - 1


def test_apex_spread_is_the_rank_of_the_ray_directions():
    model = single_layer_model(4, seed=0)
    for n in (1, 2, 3, 4):
        X, Y = apex_dataset(model, n, seed=0)
        with torch.no_grad():
            b = model.layers[0].attend(X[:, :, -1:], X)[..., 0]
            e = ff_inverse(model.layers[1], Y)[..., 0] - X[:, :, -1] - b
        unit = e / e.norm(dim=-1, keepdim=True)
        spread = apex_spread(model, X, Y)
        assert spread > 1e-3  # independent directions, as the theorem needs
        assert abs(spread - float(torch.linalg.svdvals(unit)[-1])) < 1e-12
    X, Y = apex_dataset(model, 5, seed=0)  # five directions in four dimensions
    assert apex_spread(model, X, Y) == 0.0
    X, Y = apex_dataset(model, 2, seed=0)
    with torch.no_grad():  # the second example's needed output on the first one's ray
        b = model.layers[0].attend(X[:, :, -1:], X)[..., 0]
        e = ff_inverse(model.layers[1], Y)[..., 0] - X[:, :, -1] - b
        c2 = b[1] + 3.0 * e[0]
        Y2 = Y.clone()
        Y2[1] = model.layers[1]((X[1, :, -1] + c2)[:, None])
    assert apex_spread(model, X, Y2) < 1e-9  # parallel directions: dependent


def test_plot_parameters():
    fig = plot_parameters({"prompt": ([4, 8], [0.1, 1e-30]), "LoRA": ([8], [1e-31])})
    assert fig.axes[0].get_yscale() == "log"


def test_ray_bound_grows_like_radius_squared():
    # The solution of the exercise "The bound against the radius" (unmemorizable_dataset).
    model = single_layer_model(3, seed=0)
    radii = [0.25, 0.5, 1.0, 2.0]
    bounds = [
        ray_lower_bound(model, *unmemorizable_dataset(model, seed=0, radius=r)) for r in radii
    ]
    assert loglog_slope(radii, bounds) == pytest.approx(2.0, abs=0.05)


# ------------------------------------------------------ certified lower bounds for LoRA
@pytest.mark.parametrize("contraction", [0.2, 0.0])
def test_lora_lower_bound_is_below_every_update_of_its_rank(contraction):
    """The closed form's miss in attention space, times (1 - kappa)^2, bounds every update
    of W_V of that rank: trained from the closed form and from a random start. With
    kappa = 0 it is the closed form's loss itself (FF an isometry)."""
    model = single_layer_model(4, seed=0, contraction=contraction)
    X, Y = apex_dataset(model, 3, seed=0)
    for r in (1, 2):
        bound = lora_lower_bound(model, X, Y, r)
        cf = lora_fit(model, X, Y, r)
        for init in (None, cf.delta):
            trained = lora_fit(model, X, Y, r, method="train", steps=60, init=init)
            assert trained.loss >= bound * (1 - 1e-9)
        if contraction == 0.0:
            assert bound == pytest.approx(cf.loss, rel=1e-9)
        else:
            assert bound < cf.loss
    assert lora_lower_bound(model, X, Y, 3) < 1e-25  # rank n: nothing to bound (control)


def test_examplewise_bound_bounds_every_prompt_of_its_length():
    """The mean of the examples' own certified bounds bounds the loss of prompts of that
    length (tuned and random); for one example it is that example's bound."""
    model = single_layer_model(4, seed=0)
    X, Y = apex_dataset(model, 3, seed=0)
    res = prompt_tune(model, X, Y, [1, 2, 3], steps=60, restarts=4)
    gen = torch.Generator().manual_seed(0)
    for j, L_p in enumerate([1, 2, 3]):
        bound = examplewise_bound(model, X, Y, L_p)
        assert bound > 0 and float(res.curve[:, j].min()) >= bound
        P = 3.0 * torch.randn(256, 4, L_p, generator=gen, dtype=F64)
        with torch.no_grad():
            assert float(fit_loss(prompt_forward(model, P, X), Y).min()) >= bound
    one = examplewise_bound(model, X[:1], Y[:1], 2)
    assert one == ray_lower_bound(model, X[:1], Y[:1], reachable=True, prompt_length=2)
