"""The Capacity checks accept correct answers in several forms, reject typical mistakes with
a message saying what is wrong, never show the reference, and say "no answer yet" to a stub."""

from __future__ import annotations

import functools

import numpy as np
import pytest
import torch

import ptheory as pt
from ptheory import capacity as cap
from ptheory import exercises as ex
from ptheory.exercises import capacity as checks

from exercisetools import fails


def reveals(feedback, *numbers: float) -> bool:
    """Whether the message shows one of ``numbers`` (to 3 or 6 significant digits)."""
    return any(f"{v:.3g}" in feedback.message or f"{v:.6g}" in feedback.message for v in numbers)


# ------------------------------------------------------------ memorization_capacity
@functools.cache
def lookup_errors() -> torch.Tensor:
    X, Y = cap.bump_dataset(2, 0.1, seed=0)
    P, Xe = cap.lookup_prompt(X, Y), cap.embed_tokens(X)
    model = cap.lookup_model(2)
    rows = []
    for j in range(P.shape[1]):
        Q = torch.cat([P[:, :j], P[:, j + 1 :]], dim=1)
        rows.append((pt.prompt_forward(model, Q, Xe)[:, :2] - Y).abs().amax(dim=(1, 2)))
    return torch.stack(rows)


def test_memorization_2_accepts_tensor_list_and_another_method():
    ref = lookup_errors()
    assert ex.check_memorization_capacity_2(ref)
    assert ex.check_memorization_capacity_2(ref.tolist())
    # another method: one input at a time, through the model on the concatenated sequence
    X, Y = cap.bump_dataset(2, 0.1, seed=0)
    P, Xe = cap.lookup_prompt(X, Y), cap.embed_tokens(X)
    model = cap.lookup_model(2, sharpness=200.0)
    other = np.zeros((9, 9))
    for j in range(9):
        keep = [k for k in range(9) if k != j]
        for i in range(9):
            out = model(torch.cat([P[:, keep], Xe[i]], dim=1))[:2, -1]
            other[j, i] = float((out - Y[i, :, 0]).abs().max())
    assert ex.check_memorization_capacity_2(other)


def test_memorization_2_rejects_typical_mistakes():
    ref = lookup_errors()
    fails(ex.check_memorization_capacity_2(ref[:, :5]), "shape (9, 9)")
    signed = ref.clone()
    signed[0, 0] = -signed[0, 0]
    fails(ex.check_memorization_capacity_2(signed), "non-negative")
    fails(ex.check_memorization_capacity_2(torch.zeros(9, 9)), "removed")
    halved = ref.clone()
    halved[3, 3] /= 2
    feedback = ex.check_memorization_capacity_2(halved)
    fails(feedback, "answer[3, 3]", "too small")
    assert not reveals(feedback, float(ref[3, 3]))


# --------------------------------------------------------------- invertible_layers
def test_invertible_2_accepts_rough_answers():
    for answer in [(3.20, 24.0), (3.2, 32), (3.204, 20.0), [3.2, 16]]:
        assert ex.check_invertible_layers_2(answer), answer


def test_invertible_2_rejects_typical_mistakes():
    fails(ex.check_invertible_layers_2((3.25, 24.0)), "r_cert is too large")
    fails(ex.check_invertible_layers_2((3.0, 24.0)), "r_cert is too small")
    fails(ex.check_invertible_layers_2((3.2, 8.0)), "r_half is too small")
    fails(ex.check_invertible_layers_2((3.2, 128.0)), "r_half is too large")
    fails(ex.check_invertible_layers_2(3.2), "pair (r_cert, r_half)")


@pytest.mark.parametrize("steps, restarts", [(40, 4), (80, 8)])
def test_invertible_2_half_range_brackets_the_halving(steps, restarts):
    # The window the check accepts for r_half: above half at its lower end, below at its
    # upper end, with two optimizer settings.
    model = cap.residual_model(d=3, blocks=2, seed=0)
    X, Y = cap.collision_dataset(model, L=1, seed=0)
    half = 0.5 * float(cap.fit_loss(model(X), Y))
    lo, hi = checks.HALF_RANGE
    loss = [
        cap.prompt_tune(model, X, Y, [2, 4, 8], steps=steps, restarts=restarts, max_norm=r).loss
        for r in (lo, hi)
    ]
    assert loss[0] > half > loss[1]


@functools.cache
def wide_answer(steps=40, lengths=(1, 2, 4, 8)):
    wide = cap.residual_model(d=3, blocks=2, seed=0, ff_norm=3.0)
    X, Y = cap.collision_dataset(wide, L=1, seed=0)
    res = cap.prompt_tune(wide, X, Y, list(lengths), steps=steps, restarts=4, max_norm=2.0)
    return cap.injectivity_bound(wide, 2.0).ell, res.loss


def test_invertible_3_accepts_other_settings():
    assert ex.check_invertible_layers_3(wide_answer())
    ell, loss = wide_answer(steps=80, lengths=(2, 16))
    assert ex.check_invertible_layers_3([np.float64(ell), torch.tensor(loss)])


def test_invertible_3_rejects_typical_mistakes():
    ell, loss = wide_answer()
    small = cap.residual_model(d=3, blocks=2, seed=0)
    fails(ex.check_invertible_layers_3((cap.injectivity_bound(small, 2.0).ell, loss)), "positive")
    wide = cap.residual_model(d=3, blocks=2, seed=0, ff_norm=3.0)
    feedback = ex.check_invertible_layers_3((cap.injectivity_bound(wide, 3.0).ell, loss))
    fails(feedback, "ell")
    assert not reveals(feedback, ell)
    X, Y = cap.collision_dataset(wide, L=1, seed=0)
    free = cap.prompt_tune(wide, X, Y, [2, 4], steps=150, restarts=4).loss  # no max_norm
    fails(ex.check_invertible_layers_3((ell, free)), "max_norm")
    fails(ex.check_invertible_layers_3((ell, 5 * loss)), "too large")
