"""Checks of the foundation chapter's exercises (prompt_tuning_model): reference answers
pass, other correct forms pass, typical mistakes fail with a message that says what is
wrong and never the answer."""

from __future__ import annotations

import math

import numpy as np
import torch

import ptheory as pt
from ptheory import exercises as ex

from exercisetools import fails, passes


# ------------------------------------------------------------------ ex-model-repeat
def repeated_weight(weight, k):  # the chapter's solution: odds times k
    odds = weight / (1 - weight)
    return k * odds / (1 + k * odds)


def test_repeat_reference_and_other_forms():
    passes(ex.check_prompt_tuning_model_2(repeated_weight))
    # the logistic form with log-sum-exps, written with NumPy, returning a list
    passes(
        ex.check_prompt_tuning_model_2(
            lambda w, k: (
                1 / (1 + np.exp(-(np.log(w.numpy() / (1 - w.numpy())) + math.log(k))))
            ).tolist()
        )
    )
    passes(ex.check_prompt_tuning_model_2(lambda w, k: torch.sigmoid(torch.logit(w) + math.log(k))))
    passes(ex.check_prompt_tuning_model_2(lambda w, k: k * w / (1 - w + k * w)))


def test_repeat_wrong_answers():
    fails(ex.check_prompt_tuning_model_2(lambda w, k: w), "for k = 2", "too small")
    fails(ex.check_prompt_tuning_model_2(lambda w, k: w ** (1 / k)), "too large")
    fails(ex.check_prompt_tuning_model_2(lambda w, k: k * w), "below 1")
    fails(ex.check_prompt_tuning_model_2(lambda w, k: 1 - (1 - w) / k), "too large")
    fails(ex.check_prompt_tuning_model_2(lambda w, k: w + 0.01), "for k = 1")
    fails(ex.check_prompt_tuning_model_2(lambda w, k: w[..., 0]), "must have shape")
    fails(ex.check_prompt_tuning_model_2(lambda w: w), "raised TypeError")
    fails(ex.check_prompt_tuning_model_2(0.5), "must be a function")


# ------------------------------------------------------------------ ex-model-break
def att_exp(layer, x, Z):  # the chapter's solution
    return layer.W_O[0] @ layer.W_V[0] @ Z @ torch.exp(layer.scores(x, Z)[0])


def test_unnormalised_reference_and_other_forms():
    passes(ex.check_prompt_tuning_model_3(att_exp))

    def by_hand(layer, x, Z):  # scores from the weights and the scale, in NumPy
        W = {k: getattr(layer, k).detach().numpy()[0] for k in ("W_Q", "W_K", "W_V", "W_O")}
        Zn, xn = Z.numpy(), x.numpy()
        scores = (W["W_K"] @ Zn).T @ (W["W_Q"] @ xn) * layer.scale
        return W["W_O"] @ W["W_V"] @ Zn @ np.exp(scores)

    passes(ex.check_prompt_tuning_model_3(by_hand))

    def from_softmax(layer, x, Z):  # softmax attention times the partition function
        mass = torch.exp(layer.scores(x, Z)[0]).sum(dim=0)
        return layer.attend(x, Z) * mass

    passes(ex.check_prompt_tuning_model_3(from_softmax))


def test_unnormalised_identity_holds_for_the_reference():
    head = pt.model.Attention(3, 2, seed=5)
    gen = torch.Generator().manual_seed(5)
    P, X = torch.randn(2, 3, 4, generator=gen, dtype=torch.float64)
    with torch.no_grad():
        whole = att_exp(head, X, torch.cat([P, X], dim=-1))
        assert torch.allclose(whole, att_exp(head, X, P) + att_exp(head, X, X))


def test_unnormalised_wrong_answers():
    fails(
        ex.check_prompt_tuning_model_3(lambda layer, x, Z: layer.attend(x, Z)),
        "softmax attention",
    )

    def unscaled(layer, x, Z):
        scores = (layer.W_K[0] @ Z).T @ (layer.W_Q[0] @ x)
        return layer.W_O[0] @ layer.W_V[0] @ Z @ torch.exp(scores)

    fails(ex.check_prompt_tuning_model_3(unscaled), "score scale")
    fails(ex.check_prompt_tuning_model_3(lambda l, x, Z: att_exp(l, x, Z).T), "must have shape")
    fails(
        ex.check_prompt_tuning_model_3(lambda l, x, Z: att_exp(l, x, Z) / Z.shape[-1]),
        "differs from W_O W_V Z exp(scores)",
    )
    fails(ex.check_prompt_tuning_model_3(lambda l, x: x), "raised TypeError")
