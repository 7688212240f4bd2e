"""The Capacity checks (unmemorizable_dataset, prompt_vs_lora) accept correct answers in
several forms, reject typical mistakes with a message saying what is wrong, never show the
reference, and say "no answer yet" to a stub. Those of memorization_capacity and
invertible_layers: tests/test_exercises_capacity_memory.py."""

from __future__ import annotations

import functools

import numpy as np
import torch

import ptheory as pt
from ptheory import capacity as cap
from ptheory import exercises as ex
from ptheory.exercises import capacity as checks

from exercisetools import fails


def reveals(feedback, *numbers: float) -> bool:
    """Whether the message shows one of ``numbers`` (to 3 or 6 significant digits)."""
    return any(f"{v:.3g}" in feedback.message or f"{v:.6g}" in feedback.message for v in numbers)


# ------------------------------------------------------------ unmemorizable_dataset
@functools.cache
def radius_table(steps: int = 40, restarts: int = 4, lengths: tuple = (1, 8)) -> torch.Tensor:
    model = cap.single_layer_model(d=3, seed=0)
    rows = []
    for r in checks.RADII:
        X, Y = cap.unmemorizable_dataset(model, seed=0, radius=r)
        res = cap.prompt_tune(model, X, Y, list(lengths), steps=steps, restarts=restarts)
        rows.append([cap.ray_lower_bound(model, X, Y), res.loss])
    return torch.tensor(rows, dtype=torch.float64)


def test_unmemorizable_2_accepts_other_settings():
    assert ex.check_unmemorizable_dataset_2(radius_table())
    other = radius_table(steps=20, restarts=2, lengths=(2, 16))
    assert ex.check_unmemorizable_dataset_2(other.numpy())


def test_unmemorizable_2_rejects_typical_mistakes():
    table = radius_table()
    fails(ex.check_unmemorizable_dataset_2(table.flip(1)), "order [bound, loss]")
    same_r = table.clone()
    same_r[:, 0] = table[2, 0]  # the bound of r = 1 for every row
    feedback = ex.check_unmemorizable_dataset_2(same_r)
    fails(feedback, "bound for r = 0.25", "too large")
    assert not reveals(feedback, float(table[0, 0]))
    below = table.clone()
    below[1, 1] = 0.5 * below[1, 0]
    fails(ex.check_unmemorizable_dataset_2(below), "r = 0.5", "below the lower bound")
    untuned = table.clone()
    untuned[3, 1] = 10 * untuned[3, 1]
    fails(ex.check_unmemorizable_dataset_2(untuned), "r = 2", "without a prompt")


@functools.cache
def two_head_answer(lengths=(1, 4, 16), steps=40):
    model, X, Y, _ = checks._two_heads()
    P = cap.prompt_tune(model, X, Y, list(lengths), steps=steps, restarts=4).prompt
    split = pt.prompt_split(model.layers[0], P, X, queries=X[:, :, -1:])
    _, distance = pt.segment_fit(split.output, split.prompt_part, split.input_part)
    return P, distance


def test_unmemorizable_3_accepts_other_prompts_and_forms():
    P, distance = two_head_answer()
    assert ex.check_unmemorizable_dataset_3((P, distance))
    P2, d2 = two_head_answer(lengths=(2, 8), steps=30)
    assert ex.check_unmemorizable_dataset_3([P2.numpy(), d2.reshape(-1).tolist()])


def test_unmemorizable_3_rejects_typical_mistakes():
    P, distance = two_head_answer()
    model, X, _, _ = checks._two_heads()
    fails(ex.check_unmemorizable_dataset_3((P[None], distance)), "shape (3, L_p)")
    fails(ex.check_unmemorizable_dataset_3((torch.zeros(3, 2), distance)), "tune it first")
    # all query columns instead of the last one only: four numbers
    split = pt.prompt_split(model.layers[0], P, X)
    _, every = pt.segment_fit(split.output, split.prompt_part, split.input_part)
    fails(ex.check_unmemorizable_dataset_3((P, every)), "2 numbers")
    # the absolute distance instead of the relative one
    split = pt.prompt_split(model.layers[0], P, X, queries=X[:, :, -1:])
    gap = (split.prompt_part - split.input_part).norm(dim=-2).reshape(-1)
    feedback = ex.check_unmemorizable_dataset_3((P, distance.reshape(-1) * gap))
    fails(feedback, "distance of example")
    assert not reveals(feedback, *distance.reshape(-1).tolist())


# ------------------------------------------------------------------ prompt_vs_lora
@functools.cache
def query_losses(steps: int = 50) -> tuple[float, ...]:
    model = cap.single_layer_model(d=4, seed=0)
    X, Y = cap.apex_dataset(model, 3, seed=0)
    return tuple(
        cap.lora_fit(model, X, Y, r, method="train", weight="W_Q", steps=steps).loss
        for r in (1, 2, 3)
    )


def test_lora_2_accepts_other_steps_and_forms():
    assert ex.check_prompt_vs_lora_2(list(query_losses()))
    assert ex.check_prompt_vs_lora_2(np.array(query_losses(steps=120)))


def test_lora_2_rejects_typical_mistakes():
    model = cap.single_layer_model(d=4, seed=0)
    X, Y = cap.apex_dataset(model, 3, seed=0)
    wv = [cap.lora_fit(model, X, Y, r).loss for r in (1, 2, 3)]  # W_V, closed form
    feedback = ex.check_prompt_vs_lora_2(wv)
    fails(feedback, "below what any update of W_Q can reach")
    untrained = [cap.lora_fit(model, X, Y, 1, method="train", weight="W_Q", steps=0).loss] * 3
    fails(ex.check_prompt_vs_lora_2(untrained), "has the training run")
    short = [cap.lora_fit(model, X, Y, 1, method="train", weight="W_Q", steps=2).loss] * 3
    fails(ex.check_prompt_vs_lora_2(short), "too large", "more steps")
    fails(ex.check_prompt_vs_lora_2(query_losses()[:2]), "3 losses")
    floor, _ = checks._query_update_reference()
    assert not reveals(feedback, floor)


def general_dataset(model, n, seed):
    attn, ff = model.layers
    X, _ = cap.apex_dataset(model, n, seed=seed)
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        b = attn.attend(X[:, :, -1:], X)[..., 0]
        c = b + 0.5 * torch.randn(b.shape, generator=gen, dtype=torch.float64)
        return X, ff((X[:, :, -1] + c).unsqueeze(-1))


def general_numpy(model, n, seed):
    """Another correct implementation: NumPy draws, its own inputs, NumPy arrays out."""
    attn, ff = model.layers
    rng = np.random.default_rng(1000 + seed)
    X = torch.tensor(rng.uniform(size=(n, attn.d, 2)))
    with torch.no_grad():
        b = attn.attend(X[:, :, -1:], X)[..., 0]
        c = b + torch.tensor(rng.standard_normal((n, attn.d))) / 2
        Y = ff((X[:, :, -1] + c).unsqueeze(-1))
    return X.numpy(), Y.numpy()


def test_lora_3_accepts_two_implementations():
    assert ex.check_prompt_vs_lora_3(general_dataset)
    assert ex.check_prompt_vs_lora_3(general_numpy)


def variant(scale=0.5, shared=False, uniform=False, fixed=False, noisy=False):
    def make(model, n, seed):
        attn, ff = model.layers
        X, _ = cap.apex_dataset(model, n, seed=0 if fixed else seed)
        gen = torch.Generator().manual_seed(0 if fixed else seed)
        if noisy:
            gen = torch.Generator().manual_seed(torch.seed())
        shape = (1, attn.d) if shared else (n, attn.d)
        draw = torch.rand if uniform else torch.randn
        with torch.no_grad():
            b = attn.attend(X[:, :, -1:], X)[..., 0]
            c = b + scale * draw(shape, generator=gen, dtype=torch.float64)
            return X, ff((X[:, :, -1] + c).unsqueeze(-1))

    return make


def test_lora_3_rejects_typical_mistakes():
    fails(ex.check_prompt_vs_lora_3(42), "must be a function")
    apex = lambda model, n, seed: cap.apex_dataset(model, n, seed=seed)  # noqa: E731
    fails(ex.check_prompt_vs_lora_3(apex), "share an apex")
    fails(ex.check_prompt_vs_lora_3(variant(scale=1.0)), "too large")
    fails(ex.check_prompt_vs_lora_3(variant(scale=0.1)), "too small")
    fails(ex.check_prompt_vs_lora_3(variant(uniform=True)), "not centred")
    fails(ex.check_prompt_vs_lora_3(variant(shared=True)), "point the same way")
    fails(ex.check_prompt_vs_lora_3(variant(fixed=True)), "different seeds")
    fails(ex.check_prompt_vs_lora_3(variant(noisy=True)), "same seed")
    broken = lambda model, n, seed: 1 / 0  # noqa: E731
    fails(ex.check_prompt_vs_lora_3(broken), "ZeroDivisionError")
    shapes = lambda model, n, seed: (torch.rand(n, 4, 3), torch.rand(n, 4, 1))  # noqa: E731
    fails(ex.check_prompt_vs_lora_3(shapes), "shape (3, 4, 2)")
