"""Exercises of the foundation chapter (prompt_tuning_model): reference answers and other
correct forms pass, typical mistakes fail with a message that says what is wrong and never
the answer; the quick check alone (a student's copy, no grader) catches what it can."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from ptheory import exercises as ex
from ptheory.exercises import _core

from exercisetools import fails, passes


@pytest.fixture
def no_grader(monkeypatch):
    """A student's copy of ptheory: the instructor's package is not installed."""
    monkeypatch.setattr(_core, "_grader", lambda: None)


# ------------------------------------------------------------------ ex-model-repeat
def repeated_weight(weight, k):  # the chapter's solution: odds times k
    odds = weight / (1 - weight)
    return k * odds / (1 + k * odds)


def check_repeat(answer):
    return ex.check("ex-model-repeat", answer)


def test_repeat_reference_and_other_forms():
    passes(check_repeat(repeated_weight))
    # the logistic form with log-sum-exps, written with NumPy, returning a list
    passes(
        check_repeat(
            lambda w, k: (
                1 / (1 + np.exp(-(np.log(w.numpy() / (1 - w.numpy())) + math.log(k))))
            ).tolist()
        )
    )
    passes(check_repeat(lambda w, k: torch.sigmoid(torch.logit(w) + math.log(k))))
    passes(check_repeat(lambda w, k: k * w / (1 - w + k * w)))


def test_repeat_wrong_answers():
    fails(check_repeat(lambda w, k: w), "for k = 2", "too small")
    fails(check_repeat(lambda w, k: w ** (1 / k)), "too large")
    fails(check_repeat(lambda w, k: k * w), "(0, 1)")
    fails(check_repeat(lambda w, k: 1 - (1 - w) / k), "too large")
    fails(check_repeat(lambda w, k: w + 0.01), "for k = 1")
    fails(check_repeat(lambda w, k: w[..., 0]), "must have shape")
    fails(check_repeat(lambda w: w), "raised TypeError")
    fails(check_repeat(0.5), "must be a function")


def test_repeat_quick_check_without_the_grader(no_grader):
    assert check_repeat(repeated_weight).status == "checked"
    assert not check_repeat(repeated_weight)  # only a grader says "correct"
    assert check_repeat(lambda w, k: w).status == "checked"  # needs the answer to reject
    fails(check_repeat(lambda w, k: w + 0.01), "for k = 1")
    fails(check_repeat(lambda w, k: k * w), "(0, 1)")


# ------------------------------------------------------------------ ex-model-break
def att_exp(layer, x, Z):  # the chapter's solution
    return layer.W_O[0] @ layer.W_V[0] @ Z @ torch.exp(layer.scores(x, Z)[0])


def check_exp(answer):
    return ex.check("ex-model-break", answer)


def test_unnormalised_reference_and_other_forms():
    passes(check_exp(att_exp))

    def by_hand(layer, x, Z):  # scores from the weights and the scale, in NumPy
        W = {k: getattr(layer, k).detach().numpy()[0] for k in ("W_Q", "W_K", "W_V", "W_O")}
        Zn, xn = Z.numpy(), x.numpy()
        scores = (W["W_K"] @ Zn).T @ (W["W_Q"] @ xn) * layer.scale
        return W["W_O"] @ W["W_V"] @ Zn @ np.exp(scores)

    passes(check_exp(by_hand))

    def from_softmax(layer, x, Z):  # softmax attention times the normaliser
        mass = torch.exp(layer.scores(x, Z)[0]).sum(dim=0)
        return layer.attend(x, Z) * mass

    passes(check_exp(from_softmax))


def test_unnormalised_wrong_answers():
    fails(check_exp(lambda layer, x, Z: layer.attend(x, Z)), "softmax attention")

    def unscaled(layer, x, Z):
        scores = layer.scores(x, Z)[0] / layer.scale
        return layer.W_O[0] @ layer.W_V[0] @ Z @ torch.exp(scores)

    fails(check_exp(unscaled), "score scale")
    fails(check_exp(lambda l, x, Z: att_exp(l, x, Z).T), "must have shape")
    fails(check_exp(lambda l, x, Z: att_exp(l, x, Z) / Z.shape[-1]), "differs")
    fails(check_exp(lambda l, x: x), "raised TypeError")


def test_unnormalised_quick_check_without_the_grader(no_grader):
    assert check_exp(att_exp).status == "checked"
    fails(check_exp(lambda layer, x, Z: layer.attend(x, Z)), "softmax attention")
    fails(check_exp(lambda l, x, Z: att_exp(l, x, Z).T), "must have shape")


def test_probe_is_plain_data():
    import json

    payload = ex.probe("ex-model-break", att_exp)
    assert set(payload) == {"label", "answer"}
    assert json.loads(json.dumps(payload)) == payload
    assert ex.probe("ex-model-break", ...) == {"label": "ex-model-break", "error": "no answer"}
    assert "error" in ex.probe("ex-model-break", 3)
