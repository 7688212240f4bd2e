"""ptheory.real.memorize, rays and sweep: the memorization task and the methods tuned on
it, the one-head sub-model against transformers' own layer, the ray dataset and its
certificate for soft prompts and prefixes, and the sweep's plan and reproduction."""

from __future__ import annotations

import pytest
import torch

from ptheory import capacity as cap
from ptheory import model as ptm
from ptheory import real
from ptheory.real import memorize as mz
from ptheory.real import rays as rr
from ptheory.real import sweep as sw


@pytest.fixture(scope="module")
def tiny() -> real.Encoder:
    return real.tiny_encoder(0)


@pytest.fixture(scope="module")
def task(tiny: real.Encoder) -> mz.MemorizationTask:
    return mz.memorization_task(tiny, 3, seed=1, words=2, outputs=4)


# ------------------------------------------------------------------ the task and methods
def test_task_is_deterministic_and_relative(tiny: real.Encoder, task) -> None:
    again = mz.memorization_task(tiny, 3, seed=1, words=2, outputs=4)
    assert torch.equal(task.targets, again.targets) and torch.equal(task.ids, again.ids)
    assert task.ids.shape == (3, 4) and task.targets.shape == (3, 4, 4) and task.size == 48
    assert float(task.relative_loss(task.frozen)) == pytest.approx(1.0)
    assert float(task.relative_loss(task.targets)) == 0.0
    cls = mz.memorization_task(tiny, 3, seed=1, words=2, outputs=4, columns="cls")
    assert cls.targets.shape == (3, 1, 4) and cls.size == 12
    other = mz.memorization_task(tiny, 3, seed=2, words=2, outputs=4)
    assert not torch.equal(other.ids, task.ids)


@pytest.mark.parametrize(
    ("method", "size"),
    [("prompt", 2), ("prefix", 1), ("lora_first", 1), ("lora", 2), ("layer", None)],
)
def test_every_method_learns_and_counts_its_parameters(tiny, task, method, size) -> None:
    before = [p.clone() for p in tiny.model.parameters()]
    run = mz.tune(tiny, task, method, size, steps=25)
    assert run.parameters == mz.method_parameters(tiny, method, size)
    assert run.loss < float(run.curve[0]) and run.loss < 0.95
    if method in ("lora", "lora_first", "layer"):
        assert float(run.curve[0]) == pytest.approx(1.0, abs=1e-5)  # the untuned model
    assert all(torch.equal(a, b) for a, b in zip(before, tiny.model.parameters(), strict=True))
    assert not any(p.requires_grad for p in tiny.model.parameters())
    again = mz.tune(tiny, task, method, size, steps=25)
    assert torch.equal(run.curve, again.curve)  # one thread: the same run


def test_parameter_counts_of_the_packaged_model() -> None:
    enc = real.load_encoder()
    counts = {m: mz.method_parameters(enc, m, s) for m, s in
              (("prompt", 1), ("prompt", 4), ("prompt", 16), ("prefix", 1),
               ("lora_first", 1), ("lora", 1))}  # fmt: skip
    assert counts == {"prompt": 6144, "prefix": 4608, "lora_first": 1536, "lora": 9216}
    assert mz.method_parameters(enc, "prompt", 1) == 384
    assert mz.method_parameters(enc, "layer", None) == 1_774_464


def test_adam_and_init_seeds(tiny, task) -> None:
    a = mz.tune(tiny, task, "prompt", 1, optimizer="adam", steps=5, lr=0.1)
    b = mz.tune(tiny, task, "prompt", 1, optimizer="adam", steps=5, lr=0.1, init=1)
    assert a.curve.shape == (6,) and not torch.equal(a.curve, b.curve)
    with pytest.raises(ValueError, match="lr"):
        mz.tune(tiny, task, "prompt", 1, steps=5, lr=0.1)  # L-BFGS takes no rate


# ------------------------------------------------------------------ the sweep
def test_sweep_plan_and_reproduction(tiny, monkeypatch) -> None:
    runs = sw.plan_runs("capacity")
    assert len({r.key for r in runs}) == len(runs)
    for (method, size), ns in sw.PLAN.items():
        inits = 1 if method == "layer" else len(sw.INITS)
        for n in ns:
            point = [r for r in runs if (r.method, r.size, r.n) == (method, size, n)]
            assert len(point) == inits * len(sw.TASKS)
    assert {r.optimizer for r in sw.plan_runs("stall")} == {"lbfgs", "adam"}
    with pytest.raises(ValueError, match="lrs"):
        sw.plan_runs("race")
    monkeypatch.setattr(sw, "_ENC", tiny)
    record = sw.run_one(sw.Run("capacity", "prompt", 1, 2, 0, 1, steps=6))
    assert sw.reproduce(record) == record["curve"]
    assert sw.reproduce(record, steps=3)[:3] == record["curve"][:3]  # a prefix of the run


# ------------------------------------------------------------------ the one-head sub-model
def _ids(enc: real.Encoder) -> torch.Tensor:
    return rr._pair_ids(enc, 3)


def _pre_layernorm_cls(enc: real.Encoder, ids: torch.Tensor, prompt) -> torch.Tensor:
    """x_0 + the attention output projection at [CLS], read from transformers' layer 1."""
    seen = {}
    dense = enc.model.encoder.layer[0].attention.output.dense
    handle = dense.register_forward_hook(lambda m, i, o: seen.setdefault("out", o))
    place = "prefix" if isinstance(prompt, real.Prefix) else "input"
    try:
        with torch.no_grad():
            run = real.encode(enc, ids, prompt, placement=place, layers=1, record=True)
            block = enc.model.encoder.layer[0]
            if place == "prefix":  # transformers' own layer reads the prefix as a cache
                from transformers import DynamicCache

                cache = DynamicCache()
                k = prompt.keys[0].transpose(-1, -2)[None].expand(ids.shape[0], -1, -1, -1)
                v = prompt.values[0].transpose(-1, -2)[None].expand(ids.shape[0], -1, -1, -1)
                cache.update(k.contiguous(), v.contiguous(), 0)
                block(run.inputs[0], past_key_values=cache)
            else:
                block(run.inputs[0])
    finally:
        handle.remove()
    n_p = run.prompt_length
    return (run.inputs[0][:, n_p] + seen["out"][:, n_p]).double()


@pytest.mark.parametrize("kind", ["none", "prompt", "prefix"])
def test_heads_add_up_to_transformers_attention(tiny: real.Encoder, kind: str) -> None:
    """Sum over heads of (head_output - x_0 - b_O), plus x_0 + b_O, is transformers'
    pre-LayerNorm value at [CLS]: the one-head sub-model is a piece of the real layer."""
    ids = _ids(tiny)
    prompt = {"none": None, "prompt": real.word_prompt(tiny, 2, seed=3),
              "prefix": real.word_prefix(tiny, 2, seed=3)}[kind]  # fmt: skip
    b_o = tiny.model.encoder.layer[0].attention.output.dense.bias.double()
    x0 = rr._first_layer_input(tiny, ids, None)[:, 0].double()
    parts = [rr.head_output(tiny, ids, prompt, head=h) - x0 - b_o for h in range(tiny.heads)]
    total = x0 + b_o + torch.stack(parts).sum(0)
    assert torch.allclose(total, _pre_layernorm_cls(tiny, ids, prompt), atol=1e-5)


def test_ray_problem_is_the_head_exactly(tiny: real.Encoder) -> None:
    data = rr.ray_dataset(tiny, seed=0, head=1)
    model, X, Y = rr.ray_problem(tiny, data)
    P = real.word_prompt(tiny, 2, seed=4).double()
    Pa = torch.cat([P, torch.ones(1, 2, dtype=torch.float64)])  # (d + 1, L_p)
    ours = ptm.prompt_forward(model, Pa, X)[:, :-1, -1]
    assert torch.allclose(ours, rr.head_output(tiny, data.ids, P, head=1), atol=1e-12)
    assert torch.allclose(Y[:, :-1, 0], rr.level_targets(tiny, data, "head"))
    assert torch.equal(X[0, :, -1], X[1, :, -1])  # the shared query, last


def test_ray_dataset_bound_covers_prompts_and_prefixes(tiny: real.Encoder) -> None:
    for seed in range(2):
        data = rr.ray_dataset(tiny, seed=seed, radius=3.0)
        model, X, Y = rr.ray_problem(tiny, data)
        geom = cap.ray_geometry(model, X, Y)
        gap = float((geom.b[0] - geom.b[1]).norm())
        pts = geom.ray_points(torch.linspace(0.0, 50.0, 101, dtype=torch.float64))
        assert float(torch.cdist(pts[0], pts[1]).min()) >= gap * (1 - 1e-9)
        bound = cap.ray_bound(model, X, Y, cells=500, refine=0).bound
        assert 0 < bound <= rr.no_prompt_loss(tiny, data, "head") * (1 + 1e-9)
        for kind in ("prompt", "prefix"):
            curve = rr.fit_prompts(tiny, [data], "head", 2, kind=kind, steps=40, lr=0.05)
            assert float(curve.min()) >= bound
        same = rr.ray_dataset(tiny, seed=seed, radius=3.0, same_direction=True)
        assert cap.ray_bound(*rr.ray_problem(tiny, same), cells=500, refine=0).bound == 0.0


def test_ray_offsets_lie_in_the_heads_output_range(tiny: real.Encoder) -> None:
    """The offsets are changes the head can make (in the column space of W_o^h), so a
    rank-2 change of W_v^h reaches them exactly; unit-norm ``g, h`` orthogonal to b_1 - b_2."""
    for head in range(tiny.heads):
        data = rr.ray_dataset(tiny, seed=head, head=head, tilt=0.5)
        W = rr._head_weights(tiny, head)
        Q, _ = torch.linalg.qr(W["W_o"])
        e = data.offsets
        assert torch.allclose(Q @ (Q.T @ e.T), e.T, atol=1e-10)
        b = rr.head_output(tiny, data.ids, head=head)
        u = b[0] - b[1]
        g = (e[0] - e[1]) / (2 * float(u.norm()))
        h = (e[0] + e[1]) / float(u.norm())  # 2 * tilt * h
        assert abs(float(g @ u)) < 1e-9 * float(u.norm()) and abs(float(g.norm()) - 1) < 1e-9
        assert abs(float(h @ u)) < 1e-9 * float(u.norm()) and abs(float(h @ g)) < 1e-9
        x = rr._first_layer_input(tiny, data.ids, None).double()
        w = torch.softmax(
            ((x @ W["W_k"].T + W["b_k"]) @ (x[:, 0] @ W["W_q"].T + W["b_q"])[:, :, None])[..., 0]
            / tiny.head_size**0.5,
            dim=-1,
        )
        Z = (w[:, None] @ x)[:, 0]  # (2, d): token mixtures
        dV = torch.linalg.pinv(W["W_o"]) @ e.T @ torch.linalg.pinv(Z.T)
        assert torch.allclose((W["W_o"] @ dV @ Z.T).T, e, atol=1e-8)


@pytest.mark.parametrize("kind", ["prompt", "prefix"])
def test_control_dataset_has_bound_zero_and_is_fitted(tiny: real.Encoder, kind: str) -> None:
    data = rr.prompt_dataset(tiny, seed=0, boost=1.0, kind=kind)
    assert cap.ray_bound(*rr.ray_problem(tiny, data), cells=500, refine=0).bound == 0.0
    curve = rr.fit_prompts(tiny, [data], "head", 2, kind=kind, steps=150, lr=0.05)
    assert float(curve[-1, 0]) < 0.05 * rr.no_prompt_loss(tiny, data, "head")


def test_levels_and_offsets(tiny: real.Encoder) -> None:
    data = rr.ray_dataset(tiny, seed=0)
    before = rr.level_output(tiny, "model", data.ids)
    moved = rr.level_targets(tiny, data, "model")
    assert not torch.allclose(before, moved)
    assert torch.allclose(
        rr.level_targets(tiny, data, "head"), rr.level_output(tiny, "head", data.ids) + data.offsets
    )
    # the layer level is the first layer of the model
    first = real.encode(tiny, data.ids, layers=1, cls_offsets=data.offsets.float()).outputs[:, 0]
    assert torch.allclose(rr.level_targets(tiny, data, "layer"), first)


def test_fit_prompts_batch_equals_separate_runs_and_lbfgs(tiny: real.Encoder) -> None:
    a, b = rr.ray_dataset(tiny, seed=0), rr.prompt_dataset(tiny, seed=1)
    for kind in ("prompt", "prefix"):
        both = rr.fit_prompts(tiny, [a, b], "layer", 2, kind=kind, steps=5)
        alone = rr.fit_prompts(tiny, [b], "layer", 2, kind=kind, steps=5)
        assert torch.allclose(both[:, 1], alone[:, 0], rtol=1e-4, atol=1e-7)
    lb = rr.fit_prompts(tiny, [a, b], "layer", 2, steps=12, optimizer="lbfgs")
    assert lb.shape == (12, 2) and (lb.diff(dim=0) <= 0).all()  # lowest so far


def test_packaged_head_matches_transformers() -> None:
    enc = real.load_encoder()
    data = rr.ray_dataset(enc, seed=0)
    for prompt in (real.word_prompt(enc, 2, seed=5), real.word_prefix(enc, 2, seed=5)):
        b_o = enc.model.encoder.layer[0].attention.output.dense.bias.double()
        x0 = rr._first_layer_input(enc, data.ids, None)[:, 0].double()
        parts = [rr.head_output(enc, data.ids, prompt, head=h) - x0 - b_o
                 for h in range(enc.heads)]  # fmt: skip
        total = x0 + b_o + torch.stack(parts).sum(0)
        assert torch.allclose(total, _pre_layernorm_cls(enc, data.ids, prompt), atol=1e-4)


# ------------------------------------------------------------------ reading the results
def _fake_results() -> dict:
    runs = []
    for method, base in (("prompt", 0.2), ("lora_first", 0.6)):
        for task in range(3):
            for init in range(5):
                loss = base + 0.01 * task + 0.001 * ((3 * init) % 5)
                runs.append({"study": "capacity", "method": method, "size": 1, "n": 2,
                             "task": task, "init": init, "steps": 10, "parameters": 384,
                             "targets": 1536, "best": {"0": 1.0, "5": loss + 0.1,
                                                       "10": loss}})  # fmt: skip
    return {"runs": runs}


def test_comparison_reads_points_intervals_and_order() -> None:
    from ptheory.real import comparison as cmp

    res = _fake_results()
    low = cmp.losses(res, "capacity", "prompt", 1, 2)
    assert low.shape == (15,) and float(low.min()) == pytest.approx(0.2)
    assert float(cmp.losses(res, "capacity", "prompt", 1, 2, at=5).min()) == pytest.approx(0.3)
    mean, lo, hi = cmp.interval(low)
    assert lo <= mean <= hi and mean == pytest.approx(float(low.mean()))
    assert cmp.interval(low) == cmp.interval(low)  # a fixed seed: the same on every call
    a = cmp.point(res, "capacity", "prompt", 1, 2)
    b = cmp.point(res, "capacity", "lora_first", 1, 2)
    assert cmp.apart(a, b) and not cmp.apart(b, a)
    # the control of the chapter: two halves of one method's starts are not apart
    assert not cmp.apart([r for r in a if r["init"] < 2], [r for r in a if r["init"] >= 2])
    xs, stats = cmp.curve(res, "capacity", "prompt", 1, 2)
    assert xs == [0, 5, 10] and stats[0][0] == 1.0
    assert cmp.linear_floor(384, 1536) == pytest.approx(0.75) and cmp.linear_floor(9, 3) == 0
    assert cmp.numerical_rank([1.0, 0.5, 1e-9]) == 2
    with pytest.raises(ValueError, match="no runs"):
        cmp.point(res, "capacity", "prompt", 4, 2)
    with pytest.raises(ValueError, match="checkpoints"):
        cmp.losses(res, "capacity", "prompt", 1, 2, at=7)


def test_committed_sweep_reproduces() -> None:
    """A slice of the sweep, re-run: the first 50 evaluations of two capacity runs and one
    whole short run of the stall study give the committed numbers."""
    from ptheory.real import comparison as cmp

    results = cmp.load()
    for method, size in (("prompt", 4), ("lora_first", 1)):
        run = cmp.point(results, "capacity", method, size, 1)[0]
        curve = sw.reproduce(run | {"steps": 51})
        assert abs(min(curve[:51]) - run["best"]["50"]) <= 1e-3 * run["best"]["50"]
    stall = next(r for r in results["runs"] if r["study"] == "stall" and r["optimizer"] == "adam")
    curve = sw.reproduce(stall)
    assert curve == pytest.approx(stall["curve"], rel=1e-4)
    # and another start does not: the comparison can fail
    other = sw.reproduce(stall | {"init": stall["init"] + 1})
    assert other[-1] != pytest.approx(stall["curve"][-1], rel=1e-3)
