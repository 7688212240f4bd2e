"""ptheory.real.memorize and ptheory.real.rays: prompts inserted into a real encoder, the
one-head sub-model against transformers' own layer, the ray dataset and its certificate,
the tuning runs."""

from __future__ import annotations

import pytest
import torch

from ptheory import capacity as cap
from ptheory import model as ptm
from ptheory import real
from ptheory.real import memorize as mz
from ptheory.real import rays as rr


@pytest.fixture(scope="module")
def tiny() -> real.Encoder:
    return real.tiny_encoder(0)


@pytest.fixture(scope="module")
def task(tiny: real.Encoder) -> mz.MemorizationTask:
    return mz.memorization_task(tiny, 6, seed=1, length=3, outputs=4)


def _ids(enc: real.Encoder, n: int = 3) -> torch.Tensor:
    return torch.randint(3, enc.vocab_size, (n, 5), generator=torch.Generator().manual_seed(0))


def test_no_prompt_is_the_model_itself(tiny: real.Encoder) -> None:
    ids = _ids(tiny)
    with torch.no_grad():
        ref = tiny.model(input_ids=ids).last_hidden_state
        ours = mz.prompted_states(tiny, mz.input_states(tiny, ids))
    assert torch.allclose(ours, ref, atol=1e-6)


def test_the_prompt_block_can_go_anywhere(tiny: real.Encoder) -> None:
    """No mask, positions added before layer 1: the input tokens' outputs do not depend
    on where the prompt block sits (the chapter's claim)."""
    E = mz.input_states(tiny, _ids(tiny))
    P = mz.word_embeddings(tiny, 3, seed=2)
    after_cls = mz.prompted_states(tiny, E, P)
    at_end = torch.cat([E, P[None].expand(E.shape[0], -1, -1)], dim=1)
    with torch.no_grad():
        for block in tiny.model.encoder.layer:
            at_end = block(at_end)[0]
    assert torch.allclose(after_cls, at_end[:, : E.shape[1]], atol=1e-5)
    assert not torch.allclose(after_cls, mz.prompted_states(tiny, E), atol=1e-3)


def _pre_layernorm_cls(enc: real.Encoder, E: torch.Tensor, P: torch.Tensor) -> torch.Tensor:
    """x_0 + the attention output projection at [CLS], read from transformers' layer 1."""
    seen = {}
    dense = enc.model.encoder.layer[0].attention.output.dense
    handle = dense.register_forward_hook(lambda m, i, o: seen.setdefault("out", o))
    try:
        with torch.no_grad():
            mz.prompted_states(enc, E, P, layers=1)
    finally:
        handle.remove()
    return (E[:, 0] + seen["out"][:, 0]).double()


@pytest.mark.parametrize("prompt_length", [0, 2])
def test_heads_add_up_to_transformers_attention(tiny: real.Encoder, prompt_length: int) -> None:
    """Sum over heads of (head_output - x_0 - b_O), plus x_0 + b_O, is transformers'
    pre-LayerNorm value at [CLS]: the one-head sub-model is a piece of the real layer."""
    E = mz.input_states(tiny, _ids(tiny))
    P = mz.word_embeddings(tiny, max(prompt_length, 1), seed=3)[:prompt_length]
    b_o = tiny.model.encoder.layer[0].attention.output.dense.bias.double()
    x0 = E[:, 0].double()
    parts = [rr.head_output(tiny, E, P, head=h) - x0 - b_o for h in range(tiny.heads)]
    total = x0 + b_o + torch.stack(parts).sum(0)
    assert torch.allclose(total, _pre_layernorm_cls(tiny, E, P), atol=1e-5)


def test_ray_problem_is_the_head_exactly(tiny: real.Encoder) -> None:
    data = rr.ray_dataset(tiny, seed=0, head=1)
    model, X, Y = rr.ray_problem(tiny, data)
    P = mz.word_embeddings(tiny, 2, seed=4).double()
    Pa = torch.cat([P.T, torch.ones(1, 2, dtype=torch.float64)])  # (d + 1, L_p)
    ours = ptm.prompt_forward(model, Pa, X)[:, :-1, -1]
    assert torch.allclose(ours, rr.head_output(tiny, data.states, P, head=1), atol=1e-12)
    assert torch.allclose(Y[:, :-1, 0], rr.level_targets(tiny, data, "head"))
    assert torch.equal(X[0, :, -1], X[1, :, -1])  # the shared query, last


def test_ray_dataset_rays_never_meet_and_the_bound_is_positive(tiny: real.Encoder) -> None:
    for seed in range(3):
        data = rr.ray_dataset(tiny, seed=seed)
        model, X, Y = rr.ray_problem(tiny, data)
        geom = cap.ray_geometry(model, X, Y)
        gap = float((geom.b[0] - geom.b[1]).norm())
        pts = geom.ray_points(torch.linspace(0.0, 50.0, 101, dtype=torch.float64))
        assert float(torch.cdist(pts[0], pts[1]).min()) >= gap * (1 - 1e-9)
        bound = cap.ray_bound(model, X, Y, cells=500, refine=0).bound
        assert 0 < bound <= rr.no_prompt_loss(tiny, data, "head") * (1 + 1e-9)
        curve = rr.fit_prompts(tiny, [data], "head", 2, steps=30, lr=0.05)
        assert float(curve.min()) >= bound


def test_ray_offsets_lie_in_the_heads_output_range(tiny: real.Encoder) -> None:
    """The offsets are changes the head can make (in the column space of W_o^h), so a
    rank-2 change of W_v^h reaches them exactly; unit-norm ``g, h`` orthogonal to b_1 - b_2."""
    for head in range(tiny.heads):
        data = rr.ray_dataset(tiny, seed=head, head=head, tilt=0.5)
        W = rr._head_weights(tiny, head)
        Q, _ = torch.linalg.qr(W["W_o"])
        e = data.offsets
        assert torch.allclose(Q @ (Q.T @ e.T), e.T, atol=1e-10)
        b = rr.head_output(tiny, data.states, head=head)
        u = b[0] - b[1]
        g = (e[0] - e[1]) / (2 * float(u.norm()))
        h = (e[0] + e[1]) / float(u.norm())  # 2 * tilt * h
        assert abs(float(g @ u)) < 1e-9 * float(u.norm()) and abs(float(g.norm()) - 1) < 1e-9
        assert abs(float(h @ u)) < 1e-9 * float(u.norm()) and abs(float(h @ g)) < 1e-9
        # the rank-2 change of W_v that produces the offsets: exact, unlike any prompt
        x = data.states.double()
        w = torch.softmax(
            ((x @ W["W_k"].T + W["b_k"]) @ (x[:, 0] @ W["W_q"].T + W["b_q"])[:, :, None])[..., 0]
            / tiny.head_size**0.5,
            dim=-1,
        )
        Z = (w[:, None] @ x)[:, 0]  # (2, d): token mixtures
        dV = torch.linalg.pinv(W["W_o"]) @ e.T @ torch.linalg.pinv(Z.T)
        assert torch.allclose((W["W_o"] @ dV @ Z.T).T, e, atol=1e-8)


def test_control_dataset_has_bound_zero_and_is_fitted(tiny: real.Encoder) -> None:
    data = rr.prompt_dataset(tiny, seed=0, boost=1.0)
    assert cap.ray_bound(*rr.ray_problem(tiny, data), cells=500, refine=0).bound == 0.0
    curve = rr.fit_prompts(tiny, [data], "head", 2, steps=150, lr=0.05)
    assert float(curve[-1, 0]) < 0.05 * rr.no_prompt_loss(tiny, data, "head")


def test_offsets_hook_is_removed(tiny: real.Encoder) -> None:
    data = rr.ray_dataset(tiny, seed=0)
    before = rr.level_output(tiny, "model", data.states)
    moved = rr.level_targets(tiny, data, "model")
    after = rr.level_output(tiny, "model", data.states)
    assert torch.equal(before, after) and not torch.allclose(before, moved)
    assert torch.allclose(
        rr.level_targets(tiny, data, "head"),
        rr.level_output(tiny, "head", data.states) + data.offsets,
    )


def test_fit_prompts_batch_equals_separate_runs(tiny: real.Encoder) -> None:
    a, b = rr.ray_dataset(tiny, seed=0), rr.prompt_dataset(tiny, seed=1)
    both = rr.fit_prompts(tiny, [a, b], "layer", 2, steps=5)
    alone = rr.fit_prompts(tiny, [b], "layer", 2, steps=5)
    assert torch.allclose(both[:, 1], alone[:, 0], rtol=1e-4, atol=1e-7)


def test_task_is_deterministic_and_relative(tiny: real.Encoder, task) -> None:
    again = mz.memorization_task(tiny, 6, seed=1, length=3, outputs=4)
    assert torch.equal(task.targets, again.targets) and torch.equal(task.ids, again.ids)
    assert task.ids.shape == (6, 5) and bool((task.ids[:, 0] == 1).all())
    assert float(task.relative_loss(task.frozen)) == pytest.approx(1.0)
    assert float(task.relative_loss(task.targets)) == 0.0


def test_prompt_runs_batch_exactly(tiny: real.Encoder, task) -> None:
    other = mz.memorization_task(tiny, 3, seed=2, length=3, outputs=4)
    alone = mz.tune_soft_prompt(tiny, task, 2, steps=4, lr=0.1)
    both = mz.tune_prompts(tiny, [other, task], 2, steps=4, lr=[0.3, 0.1])
    assert torch.allclose(both[1].curve, alone.curve, rtol=1e-5)
    assert alone.parameters == 2 * tiny.d and alone.method == "prompt"


def test_lora_and_layer_start_at_the_frozen_model_and_learn(tiny: real.Encoder, task) -> None:
    d, layers = tiny.d, tiny.layers
    full = mz.tune_lora(tiny, task, 2, steps=15, lr=0.05)
    first = mz.tune_lora(tiny, task, 2, steps=15, lr=0.05, first_only=True)
    assert full.parameters == layers * 2 * 2 * (2 * d) and first.parameters == 2 * 2 * (2 * d)
    layer = mz.tune_layer(tiny, task, steps=15, lr=1e-3)
    assert layer.parameters == sum(p.numel() for p in tiny.model.encoder.layer[-1].parameters())
    for run in (full, first, layer):
        assert float(run.curve[0]) == pytest.approx(1.0, abs=1e-5)
        assert run.loss < 0.9
    assert not any(p.requires_grad for p in tiny.model.parameters())  # the original: frozen


def test_choose_lr_and_compare_methods(tiny: real.Encoder, task) -> None:
    lr = mz.choose_lr(tiny, task, "prompt", 1, [1e-4, 0.1], steps=5)
    assert lr == 0.1
    runs = [("prompt", 1), ("lora_first", 1), ("layer", None)]
    res = mz.compare_methods(
        tiny,
        [3, 4],
        [0],
        runs,
        {"prompt": 0.1, "lora_first": 0.05, "layer": 1e-3},
        steps=3,
        length=2,
        outputs=2,
    )
    assert [(r.method, r.n) for r in res] == [
        ("prompt", 3),
        ("prompt", 4),
        ("lora_first", 3),
        ("lora_first", 4),
        ("layer", 3),
        ("layer", 4),
    ]


def test_plots_return_figures(tiny: real.Encoder, task) -> None:
    from ptheory.real import memorize_plots as mzp

    res = [mz.tune_soft_prompt(tiny, task, 1, steps=2), mz.tune_layer(tiny, task, steps=2)]
    assert mzp.plot_loss_by_parameters(res).axes
    table = {("ray", "head"): [0.9], ("control", "head"): [1e-3]}
    assert mzp.plot_level_fits(table, bounds=[0.8]).axes
    with pytest.raises(TypeError, match=r"^results"):
        mzp.plot_loss_by_parameters([])
    with pytest.raises(TypeError, match=r"^table"):
        mzp.plot_level_fits({})
    with pytest.raises(ValueError, match=r"^threshold"):
        mzp.plot_level_fits(table, threshold=0.0)


def test_packaged_head_matches_transformers() -> None:
    enc = real.load_encoder()
    data = rr.ray_dataset(enc, seed=0)
    P = mz.word_embeddings(enc, 2, seed=5)
    b_o = enc.model.encoder.layer[0].attention.output.dense.bias.double()
    x0 = data.states[:, 0].double()
    parts = [rr.head_output(enc, data.states, P, head=h) - x0 - b_o for h in range(enc.heads)]
    total = x0 + b_o + torch.stack(parts).sum(0)
    assert torch.allclose(total, _pre_layernorm_cls(enc, data.states, P), atol=1e-4)


def test_exercise_same_direction_check_rejects_wrong_answers() -> None:
    """check_real_soft_prompts_3 rejects the untuned loss and the ray dataset's numbers."""
    from ptheory import exercises as ex

    assert "Not yet" in str(ex.check_real_soft_prompts_3((0.0, 1e3)))
    assert "Not yet" in str(ex.check_real_soft_prompts_3((0.0779, 0.0779)))
