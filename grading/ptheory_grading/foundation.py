"""Graders of the chapter prompt_tuning_model (instructor-only)."""

from __future__ import annotations

import torch

from ptheory.exercises import foundation as F
from ptheory.exercises._core import as_array
from ptheory.segments import prompt_split

from ._core import Wrong, grader


@grader("ex-model-repeat")
def repeat(data: object) -> None:
    """The reader's repeated mass against the mass of the repeated prompt, measured."""
    cases = F.repeat_cases()
    if not isinstance(data, list) or len(data) != len(cases):
        raise Wrong("your answer was not recorded for every test case")
    for got, (layer, P, X, k) in zip(data, cases, strict=True):
        with torch.no_grad():
            expected = prompt_split(layer, P.repeat(1, k), X).weight
        got = as_array(got, tuple(expected.shape), what=f"repeated_weight(weight, {k})")
        if (got - expected).abs().max() <= 1e-9:
            continue
        if k == 1:
            raise Wrong("for k = 1 your function must give back the weight it was given")
        direction = "too large" if bool((got - expected).sum() > 0) else "too small"
        raise Wrong(
            f"for k = {k} (a random layer with d = {X.shape[0]}, a prompt of {P.shape[1]} "
            f"tokens) your weight is {direction} (measured with pt.prompt_split)"
        )


def _exp_attention(layer, x, Z):  # the reference answer
    return layer.W_O[0] @ layer.W_V[0] @ Z @ torch.exp(layer.scores(x, Z)[0])


@grader("ex-model-break")
def exp_attention(data: object) -> None:
    """The reader's unnormalised attention against the reference, with two diagnoses."""
    cases = F.exp_cases()
    if not isinstance(data, list) or len(data) != len(cases):
        raise Wrong("your answer was not recorded for every test case")
    for got, (layer, x, Z) in zip(data, cases, strict=True):
        with torch.no_grad():
            expected = _exp_attention(layer, x, Z)
            got = as_array(got, tuple(expected.shape), what="att_exp(layer, x, Z)")
            if torch.allclose(got, expected, rtol=1e-9, atol=1e-12):
                continue
            desc = f"a random layer with d = {x.shape[0]}, score scale {layer.scale_spec!r}"
            if torch.allclose(got, layer.attend(x, Z), rtol=1e-9, atol=1e-12):
                raise Wrong(f"for {desc} your function gives the softmax attention")
            if layer.scale != 1.0:
                scores = layer.scores(x, Z)[0] / layer.scale
                unscaled = layer.W_O[0] @ layer.W_V[0] @ Z @ torch.exp(scores)
                if torch.allclose(got, unscaled, rtol=1e-9, atol=1e-12):
                    raise Wrong(f"for {desc} your scores miss the layer's score scale")
        raise Wrong(f"for {desc} your output differs from W_O W_V Z exp(scores)")
