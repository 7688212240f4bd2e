"""Exercises of unmemorizable_dataset and prompt_vs_lora: reference solutions and other
correct forms pass; typical wrong answers (the bound itself, the untuned loss, their
midpoint, round guesses, made-up values) fail with a message that says what is wrong and
never the answer; the quick check alone (a student's copy, no grader) catches what it can
and says "checked" for a right answer."""

from __future__ import annotations

import functools

import numpy as np
import pytest
import torch

import ptheory as pt
from ptheory import capacity as cap
from ptheory import exercises as ex
from ptheory.exercises import _core
from ptheory.exercises import capacity_rays as C

from exercisetools import fails, passes


@pytest.fixture
def no_grader(monkeypatch):
    """A student's copy of ptheory: the instructor's package is not installed."""
    monkeypatch.setattr(_core, "_grader", lambda: None)


def reveals(feedback, *numbers: float) -> bool:
    """Whether the message shows one of ``numbers`` (to 3 or 6 significant digits)."""
    return any(f"{v:.3g}" in feedback.message or f"{v:.6g}" in feedback.message for v in numbers)


# ------------------------------------------------------------------ ex-unmem-radius
@functools.cache
def radius_rows(steps: int = 40, restarts: int = 4, lengths: tuple = (1, 8)):
    """Per radius: the bound, the tuned loss (these settings) and the untuned loss."""
    model = cap.single_layer_model(d=3, seed=0)
    rows = []
    for rho in C.RADII:
        X, Y = cap.unmemorizable_dataset(model, seed=0, radius=rho)
        res = cap.prompt_tune(model, X, Y, list(lengths), steps=steps, restarts=restarts)
        untuned = float(cap.fit_loss(model(X), Y))
        rows.append((cap.ray_lower_bound(model, X, Y), res.loss, untuned))
    return torch.tensor(rows, dtype=torch.float64)


def check_radius(answer):
    return ex.check("ex-unmem-radius", answer)


def test_radius_reference_and_other_forms():
    rows = radius_rows()
    passes(check_radius(rows[:, :2]))
    passes(check_radius(rows[:, :2].tolist()))
    passes(check_radius(radius_rows(steps=120, restarts=8)[:, :2].numpy()))  # more effort


def test_radius_wrong_answers():
    rows = radius_rows()
    bound, loss, untuned = rows[:, 0], rows[:, 1], rows[:, 2]
    fails(check_radius(torch.stack([bound, bound], 1)), "lower than prompt tuning reaches")
    fails(check_radius(torch.stack([bound, untuned], 1)), "higher than prompt tuning reaches")
    fails(check_radius(torch.stack([bound, (bound + untuned) / 2], 1)), "radius 0.25")
    round_guess = torch.tensor([[0.04, 0.06], [0.16, 0.24], [0.64, 0.95], [2.56, 3.8]])
    fails(check_radius(round_guess), "the bound for radius 0.25")
    guess = torch.stack([bound, loss.clone()], 1)
    guess[:, 1] = loss.round(decimals=2)  # the losses to two decimals
    feedback = check_radius(guess)
    fails(feedback, "radius")
    assert not reveals(feedback, *loss.tolist())
    fails(check_radius(torch.stack([loss, bound], 1)), "order [bound, loss]")
    fails(check_radius(rows[:3, :2]), "shape (4, 2)")
    scaled = torch.stack([bound * 1.01, loss], 1)
    feedback = check_radius(scaled)
    fails(feedback, "the bound for radius 0.25 is too large")
    assert not reveals(feedback, *bound.tolist())
    undertrained = torch.stack([bound, radius_rows(steps=3, restarts=1)[:, 1]], 1)
    fails(check_radius(undertrained), "higher than prompt tuning reaches")


def test_radius_quick_check_without_the_grader(no_grader):
    rows = radius_rows()
    assert check_radius(rows[:, :2]).status == "checked"
    assert check_radius(rows[:, [0, 2]]).status == "checked"  # needs the answer to reject
    fails(check_radius(rows[:, [1, 0]]), "order [bound, loss]")
    swapped = rows[:, :2].flip(0)
    fails(check_radius(swapped), "order 0.25, 0.5, 1, 2")
    below = rows[:, :2].clone()
    below[2, 1] = 0.5 * below[2, 0]
    fails(check_radius(below), "radius 1", "below the bound")


# ------------------------------------------------------------------ ex-unmem-heads
@functools.cache
def heads_answer(lengths=(1, 4, 16), steps=40, restarts=4):
    model, X, Y = C.two_head_problem()
    P = cap.prompt_tune(model, X, Y, list(lengths), steps=steps, restarts=restarts).prompt
    split = pt.prompt_split(model.layers[0], P, X, queries=X[:, :, -1:])
    _, distance = pt.segment_fit(split.output, split.prompt_part, split.input_part)
    return P, distance


def check_heads(answer):
    return ex.check("ex-unmem-heads", answer)


def test_heads_reference_and_other_forms():
    P, distance = heads_answer()
    passes(check_heads((P, distance)))
    passes(check_heads([P.numpy(), distance.reshape(-1).tolist()]))
    P2, d2 = heads_answer(steps=120, restarts=8)  # more effort: as good or better
    passes(check_heads((P2, d2)))


def test_heads_wrong_answers():
    P, distance = heads_answer()
    model, X, _ = C.two_head_problem()
    fails(check_heads((P[None], distance)), "shape (3, L_p)")
    fails(check_heads((torch.zeros(3, 4), distance)), "tune it first")
    P_short, d_short = heads_answer(steps=2, restarts=1)  # barely tuned
    fails(check_heads((P_short, d_short)), "not the best prompt")
    split = pt.prompt_split(model.layers[0], P, X)  # every query column, not the last
    _, every = pt.segment_fit(split.output, split.prompt_part, split.input_part)
    fails(check_heads((P, every)), "2 numbers")
    split = pt.prompt_split(model.layers[0], P, X, queries=X[:, :, -1:])
    gap = (split.prompt_part - split.input_part).norm(dim=-2).reshape(-1)
    feedback = check_heads((P, distance.reshape(-1) * gap))  # absolute, not relative
    fails(feedback, "not the distances of your prompt")
    assert not reveals(feedback, *distance.reshape(-1).tolist())
    fails(check_heads((P, torch.zeros(2))), "not the distances of your prompt")


def test_heads_quick_check_without_the_grader(no_grader):
    P, distance = heads_answer()
    assert check_heads((P, distance)).status == "checked"
    P_short, d_short = heads_answer(steps=2, restarts=1)
    assert check_heads((P_short, d_short)).status == "checked"  # the grader's to reject
    fails(check_heads((torch.zeros(3, 4), distance)), "tune it first")
    fails(check_heads((P, distance * 2)), "not the distances of your prompt")


# ------------------------------------------------------------------ ex-lora-query
@functools.cache
def query_losses(steps: int = 50, seed: int = 0) -> tuple[float, ...]:
    model, X, Y = C.query_problem()
    return tuple(
        cap.lora_fit(model, X, Y, r, method="train", weight="W_Q", steps=steps, seed=seed).loss
        for r in (1, 2, 3)
    )


def check_query(answer):
    return ex.check("ex-lora-query", answer)


def test_query_reference_and_other_forms():
    passes(check_query(list(query_losses())))
    passes(check_query(np.array(query_losses(steps=120))))
    passes(check_query(torch.tensor(query_losses(seed=1))))


def test_query_wrong_answers():
    model, X, Y = C.query_problem()
    untuned = float(cap.fit_loss(model(X), Y))
    wv = [cap.lora_fit(model, X, Y, r, method="train", steps=50).loss for r in (1, 2)]
    fails(check_query([*wv, 0.0]), "W_V")
    feedback = check_query([*wv, wv[-1]])  # W_V updates of rank 1 and 2: below the floor
    fails(feedback, "lower than any update of W_Q reaches")
    reference = query_losses(steps=300)[0]
    assert not reveals(feedback, reference)
    fails(check_query([untuned] * 3), "has the training run")
    fails(check_query(list(query_losses(steps=10))), "has the training converged")
    fails(check_query([0.09, 0.09, 0.09]), "lower than any update")  # a round guess
    fails(check_query([0.0905] * 3), "has the training converged")
    fails(check_query([round(reference, 6)] * 3), "r = 1")  # six decimals: too coarse
    fails(check_query(query_losses()[:2]), "3 losses")


def test_query_quick_check_without_the_grader(no_grader):
    assert check_query(list(query_losses())).status == "checked"
    assert check_query([0.0905] * 3).status == "checked"  # the grader's to reject
    model, X, Y = C.query_problem()
    fails(check_query([float(cap.fit_loss(model(X), Y))] * 3), "has the training run")
    fails(check_query([1e-30] * 3), "W_V")


# ------------------------------------------------------------------ ex-lora-general
def general_dataset(model, n, seed):  # the chapter's solution
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


def check_general(answer):
    return ex.check("ex-lora-general", answer)


def test_general_two_implementations():
    passes(check_general(general_dataset))
    passes(check_general(general_numpy))


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


def test_general_wrong_answers():
    fails(check_general(42), "must be a function")
    apex = lambda model, n, seed: cap.apex_dataset(model, n, seed=seed)  # noqa: E731
    fails(check_general(apex), "share an apex")
    fails(check_general(variant(scale=1.0)), "too large")
    fails(check_general(variant(scale=0.1)), "too small")
    fails(check_general(variant(uniform=True)), "not centred")
    fails(check_general(variant(shared=True)), "point the same way")
    fails(check_general(variant(fixed=True)), "different seeds")
    fails(check_general(variant(noisy=True)), "same seed")
    fails(check_general(lambda model, n, seed: 1 / 0), "ZeroDivisionError")
    shapes = lambda model, n, seed: (torch.rand(n, 4, 3), torch.rand(n, 4, 1))  # noqa: E731
    fails(check_general(shapes), "shape (3, 4, 2)")


def test_general_quick_check_without_the_grader(no_grader):
    assert check_general(general_dataset).status == "checked"
    fails(check_general(variant(scale=1.0)), "too large")


def test_probes_are_plain_data():
    import json

    P, distance = heads_answer()
    for label, answer in (("ex-unmem-heads", (P, distance)),
                          ("ex-unmem-radius", radius_rows()[:, :2]),
                          ("ex-lora-query", list(query_losses())),
                          ("ex-lora-general", general_dataset)):  # fmt: skip
        payload = ex.probe(label, answer)
        assert set(payload) == {"label", "answer"}
        assert json.loads(json.dumps(payload)) == payload
        assert ex.probe(label, ...) == {"label": label, "error": "no answer"}
