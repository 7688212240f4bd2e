"""Exercises of memorization_capacity and invertible_layers: reference answers and other
correct forms pass, typical wrong answers (made-up values, the untuned loss, round guesses,
the wrong model or radius) fail with a message that says what is wrong and never the answer;
the quick check alone (a student's copy, no grader) catches what it can."""

from __future__ import annotations

import functools
import json

import numpy as np
import pytest
import torch

import ptheory as pt
from ptheory import capacity as cap
from ptheory import exercises as ex
from ptheory.exercises import _core

from exercisetools import fails, passes


@pytest.fixture
def no_grader(monkeypatch):
    """A student's copy of ptheory: the instructor's package is not installed."""
    monkeypatch.setattr(_core, "_grader", lambda: None)


# ------------------------------------------------------------------ ex-mem-short
@functools.cache
def lookup_errors() -> torch.Tensor:  # the chapter's solution
    X, Y = cap.bump_dataset(2, 0.1, seed=0)
    P, Xe = cap.lookup_prompt(X, Y), cap.embed_tokens(X)
    model = cap.lookup_model(2)
    rows = []
    for j in range(P.shape[1]):
        Q = torch.cat([P[:, :j], P[:, j + 1 :]], dim=1)
        rows.append((pt.prompt_forward(model, Q, Xe)[:, :2] - Y).abs().amax(dim=(1, 2)))
    return torch.stack(rows)


def check_short(answer):
    return ex.check("ex-mem-short", answer)


def test_short_reference_and_other_forms():
    ref = lookup_errors()
    passes(check_short(ref))
    passes(check_short(ref.tolist()))
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
    passes(check_short(other))


def test_short_wrong_answers():
    ref = lookup_errors()
    fails(check_short(ref[:, :5]), "shape (9, 9)")
    signed = ref.clone()
    signed[0, 0] = -signed[0, 0]
    fails(check_short(signed), "non-negative")
    fails(check_short(torch.zeros(9, 9)), "removed")
    halved = ref.clone()
    halved[3, 3] /= 2
    fails(check_short(halved), "answer[3, 3]", "too small", hidden=(float(ref[3, 3]),))
    fails(check_short(torch.full((9, 9), 0.25)), "too large")  # the bound eta, everywhere
    # the errors of the model without any token removed (the full prompt)
    X, Y = cap.bump_dataset(2, 0.1, seed=0)
    out = pt.prompt_forward(cap.lookup_model(2), cap.lookup_prompt(X, Y), cap.embed_tokens(X))
    full = (out[:, :2] - Y).abs().amax(dim=(1, 2)).expand(9, 9)
    fails(check_short(full), "removed")


def test_short_quick_check_without_the_grader(no_grader):
    assert check_short(lookup_errors()).status == "checked"
    fails(check_short(torch.zeros(9, 9)), "removed")
    fails(check_short(lookup_errors()[:, :5]), "shape (9, 9)")


# ------------------------------------------------------------------ ex-inv-radius
def radius_answer(steps=40, restarts=4, seed=0, lengths=(2, 4, 8), max_norm=True):
    model = cap.residual_model(d=3, blocks=2, seed=0)
    grid = [round(1.8 + 0.01 * k, 2) for k in range(221)]
    r_cert = max(r for r in grid if cap.injectivity_bound(model, r).ell > 0)
    X, Y = cap.collision_dataset(model, L=1, seed=0)
    untuned = float(cap.fit_loss(model(X), Y))
    kept = []
    for r in (4.0, 8.0, 16.0):
        res = cap.prompt_tune(model, X, Y, list(lengths), steps=steps, restarts=restarts,
                              seed=seed, max_norm=r if max_norm else None)  # fmt: skip
        kept.append(res.loss / untuned)
    return r_cert, kept


@functools.cache
def radius_reference():
    return radius_answer()


def check_radius(answer):
    return ex.check("ex-inv-radius", answer)


def test_radius_reference_and_other_forms():
    r_cert, kept = radius_reference()
    assert 3.0 < r_cert < 3.5
    passes(check_radius((r_cert, kept)))
    passes(check_radius([np.float64(r_cert), np.array(kept)]))
    passes(check_radius(radius_answer(steps=80, restarts=8)))  # a longer search
    passes(check_radius(radius_answer(seed=1)))  # other random starts
    passes(check_radius(radius_answer(steps=60, restarts=6, seed=2)))


def test_radius_wrong_answers():
    r_cert, kept = radius_reference()
    fails(check_radius((r_cert + 0.01, kept)), "r_cert is too large")
    fails(check_radius((r_cert - 0.01, kept)), "r_cert is too small")
    fails(check_radius((round(r_cert), kept)), "r_cert")
    fails(check_radius((r_cert, [1.0, 1.0, 1.0])), "too large")  # untuned
    fails(check_radius((r_cert, [0.94, 0.79, 0.55])), "radius")  # round guesses
    fails(check_radius((r_cert, [0.95, 0.8, 0.5])), "radius")
    fails(check_radius((r_cert, [k * 0.97 for k in kept])), "too small")
    fails(check_radius((r_cert, [k * 1.01 for k in kept])), "too large")
    # other prompt lengths than the exercise's: longer prompts reach lower
    fails(check_radius(radius_answer(lengths=(1, 4, 16))), "too small", "lengths")
    # prompts with no bound on their norm
    fails(check_radius(radius_answer(max_norm=False)), "too small")
    # the losses, not divided by the loss without a prompt
    model = cap.residual_model(d=3, blocks=2, seed=0)
    X, Y = cap.collision_dataset(model, L=1, seed=0)
    untuned = float(cap.fit_loss(model(X), Y))
    fails(check_radius((r_cert, [k * untuned for k in kept])), "too small")
    fails(check_radius(r_cert), "pair (r_cert, kept)")
    fails(check_radius((r_cert, kept[:2])), "3 numbers")


def test_radius_quick_check_without_the_grader(no_grader):
    r_cert, kept = radius_reference()
    assert check_radius((r_cert, kept)).status == "checked"
    assert check_radius((r_cert + 0.01, kept)).status == "checked"  # needs the answer
    fails(check_radius((3.205, kept)), "two decimals")
    fails(check_radius((r_cert, kept[::-1])), "larger ball")
    fails(check_radius((r_cert, [2.0, 1.0, 0.5])), "between 0 and 1")
    fails(check_radius((-r_cert, kept)), "positive")


def test_radius_probe_is_plain_data():
    payload = ex.probe("ex-inv-radius", radius_reference())
    assert json.loads(json.dumps(payload)) == payload
    assert set(payload["answer"]) == {"r_cert", "kept"}


# ------------------------------------------------------------------ ex-inv-ff
def ff_answer(steps=40, restarts=4, lengths=(1, 2, 4, 8), seed=0):
    wide = cap.residual_model(d=3, blocks=2, seed=0, ff_norm=3.0)
    X, Y = cap.collision_dataset(wide, L=1, seed=0)
    res = cap.prompt_tune(wide, X, Y, list(lengths), steps=steps, restarts=restarts,
                          max_norm=2.0, seed=seed)  # fmt: skip
    return cap.injectivity_bound(wide, 2.0).ell, res.loss


@functools.cache
def ff_reference():
    return ff_answer()


def check_ff(answer):
    return ex.check("ex-inv-ff", answer)


def test_ff_reference_and_other_forms():
    alpha, loss = ff_reference()
    passes(check_ff((alpha, loss)))
    passes(check_ff([np.float64(alpha), torch.tensor(loss)]))
    passes(check_ff(ff_answer(steps=80, restarts=8)))
    passes(check_ff(ff_answer(lengths=(2, 16), steps=80, seed=2)))
    passes(check_ff(ff_answer(seed=3)))


def test_ff_wrong_answers():
    alpha, loss = ff_reference()
    wide = cap.residual_model(d=3, blocks=2, seed=0, ff_norm=3.0)
    X, Y = cap.collision_dataset(wide, L=1, seed=0)
    untuned = float(cap.fit_loss(wide(X), Y))
    fails(check_ff((alpha, untuned)), "without any prompt")
    small = cap.residual_model(d=3, blocks=2, seed=0)
    fails(check_ff((cap.injectivity_bound(small, 2.0).ell, loss)), "alpha", hidden=(alpha,))
    fails(check_ff((cap.injectivity_bound(wide, 3.0).ell, loss)), "alpha", hidden=(alpha,))
    fails(check_ff((cap.injectivity_bound(wide, 2.0).ell_tracked, loss)), "alpha")
    free = cap.prompt_tune(wide, X, Y, [2, 4], steps=150, restarts=4).loss  # no max_norm
    fails(check_ff((alpha, free)), "max_norm", hidden=(loss,))
    fails(check_ff((alpha, 5 * loss)), "too large")
    fails(check_ff((alpha, 0.038)), "too large")  # round guesses
    fails(check_ff((alpha, 0.0379)), "too small")
    fails(check_ff((alpha, 0.5 * (loss + untuned))), "too small")  # between the two
    fails(check_ff((round(alpha), loss)), "alpha")


def test_ff_quick_check_without_the_grader(no_grader):
    alpha, loss = ff_reference()
    assert check_ff((alpha, loss)).status == "checked"
    wide = cap.residual_model(d=3, blocks=2, seed=0, ff_norm=3.0)
    X, Y = cap.collision_dataset(wide, L=1, seed=0)
    fails(check_ff((alpha, float(cap.fit_loss(wide(X), Y)))), "without any prompt")
    fails(check_ff((alpha, -loss)), "positive")
    fails(check_ff(alpha), "pair (alpha, loss)")
