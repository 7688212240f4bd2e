"""Checks for the exercises of the chapters: prompt_tuning_model.

- :func:`check_prompt_tuning_model_2` (``ex-model-repeat``): the reader's formula for the
  prompt's softmax mass when the prompt is repeated ``k`` times, compared with
  :func:`ptheory.segments.prompt_split` on fresh random layers, prompts and ``k``.
- :func:`check_prompt_tuning_model_3` (``ex-model-break``): the reader's unnormalised
  attention, compared with an independent computation on fresh random single-head layers.
"""

from __future__ import annotations

from functools import lru_cache

import torch

from ..model import Attention
from ..segments import prompt_split
from ._core import Wrong, as_array, as_function, call, exercise_check

__all__ = ["check_prompt_tuning_model_2", "check_prompt_tuning_model_3"]

F64 = torch.float64
_SCALES = ("none", "1/sqrt(d)", "1/d")


@lru_cache(maxsize=1)
def _repeat_cases() -> tuple[tuple[torch.Tensor, int, torch.Tensor, str], ...]:
    """``(weight, k, weight after k repetitions, description)`` on random layers."""
    gen = torch.Generator().manual_seed(2024)
    cases = []
    for i, k in enumerate((1, 2, 3, 5, 8, 13, 2, 4)):
        d, s = 2 + i % 4, 1 + (3 * i) % 4
        L_p, L = 1 + i % 3, 2 + (i * 5) % 4
        layer = Attention(d, s, scale=_SCALES[i % 3], seed=7000 + i)
        P = 0.8 * torch.randn(d, L_p, generator=gen, dtype=F64)
        X = torch.rand(d, L, generator=gen, dtype=F64)
        with torch.no_grad():
            base = prompt_split(layer, P, X).weight
            repeated = prompt_split(layer, P.repeat(1, k), X).weight
        desc = f"k = {k} (random layer with d = {d}, a prompt of {L_p} tokens, {L} queries)"
        cases.append((base, k, repeated, desc))
    return tuple(cases)


@exercise_check("ex-model-repeat")
def check_prompt_tuning_model_2(answer):
    """``answer``: a function ``repeated_weight(weight, k)`` returning the prompt's softmax
    mass after ``k`` repetitions (a tensor of ``weight``'s shape) from the mass ``weight``
    (a float64 tensor, entries in (0, 1)) of the prompt used once."""
    fn = as_function(answer)
    results = []
    for weight, k, expected, desc in _repeat_cases():
        what = f"repeated_weight(weight, {k})"
        got = as_array(call(fn, weight.clone(), k, what=what), tuple(weight.shape), what=what)
        results.append((got, k, expected, desc))
    for got, k, _, desc in results:
        if k > 1 and bool((got >= 1).any()):
            raise Wrong(
                f"for {desc} your weight reaches 1 or more: the prompt's share of a softmax "
                "stays below 1 however often the prompt is repeated"
            )
    for got, k, expected, desc in results:
        if (got - expected).abs().max() <= 1e-9:
            continue
        if k == 1:
            raise Wrong(
                "for k = 1 (the prompt used once) your function must give back the weight "
                "it was given, and it does not"
            )
        direction = "too large" if bool((got - expected).sum() > 0) else "too small"
        raise Wrong(f"for {desc} your weight is {direction} (measured with pt.prompt_split)")
    return None


def _reference_exp_attention(layer: Attention, x: torch.Tensor, Z: torch.Tensor) -> torch.Tensor:
    scores = layer.scores(x, Z)[0]  # (n, n_q), the one head
    return layer.W_O[0] @ layer.W_V[0] @ Z @ torch.exp(scores)


@lru_cache(maxsize=1)
def _exp_cases() -> tuple[tuple[Attention, torch.Tensor, torch.Tensor, torch.Tensor, str], ...]:
    """``(layer, queries, keys, W_O W_V Z exp(scores), description)`` on random layers."""
    gen = torch.Generator().manual_seed(31)
    cases = []
    for i in range(6):
        d, s, n, n_q = 2 + i % 3, 1 + i % 4, 2 + (2 * i) % 5, 1 + i % 3
        layer = Attention(d, s, scale=_SCALES[i % 3], seed=8100 + i)
        x = torch.rand(d, n_q, generator=gen, dtype=F64)
        Z = torch.randn(d, n, generator=gen, dtype=F64)
        with torch.no_grad():
            expected = _reference_exp_attention(layer, x, Z)
        desc = f"a random layer with d = {d}, score scale {layer.scale_spec!r}, {n} keys"
        cases.append((layer, x, Z, expected, desc))
    return tuple(cases)


@exercise_check("ex-model-break")
def check_prompt_tuning_model_3(answer):
    """``answer``: a function ``att_exp(layer, x, Z)`` returning the unnormalised attention
    ``W_O W_V Z exp(scores)`` of a one-head ``pt.model.Attention`` layer, for queries ``x:
    (d, n_q)`` and keys ``Z: (d, n)``, as a ``(d, n_q)`` array."""
    fn = as_function(answer)
    for layer, x, Z, expected, desc in _exp_cases():
        what = "att_exp(layer, x, Z)"
        with torch.no_grad():
            got = as_array(call(fn, layer, x.clone(), Z.clone(), what=what), what=what)
            if tuple(got.shape) != tuple(expected.shape):
                raise Wrong(
                    f"{what} must have shape (d, n_q) = {tuple(expected.shape)} for {desc} "
                    f"and {x.shape[1]} queries, got {tuple(got.shape)}"
                )
            if torch.allclose(got, expected, rtol=1e-9, atol=1e-12):
                continue
            if torch.allclose(got, layer.attend(x, Z), rtol=1e-9, atol=1e-12):
                raise Wrong(
                    f"for {desc} your function gives the softmax attention: the exercise asks "
                    "for the attention without the normalisation"
                )
            if layer.scale != 1.0:
                unscaled = (
                    layer.W_O[0] @ layer.W_V[0] @ Z @ torch.exp(layer.scores(x, Z)[0] / layer.scale)
                )
                if torch.allclose(got, unscaled, rtol=1e-9, atol=1e-12):
                    raise Wrong(
                        f"for {desc} your scores miss the layer's score scale (layer.scale)"
                    )
        raise Wrong(f"for {desc} your output differs from W_O W_V Z exp(scores)")
    return None
