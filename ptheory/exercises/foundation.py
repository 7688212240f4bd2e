"""Exercises of the chapter prompt_tuning_model: quick checks and probes.

- ``ex-model-repeat``: the reader's formula for the prompt's softmax mass when the prompt
  is repeated ``k`` times, as a function ``repeated_weight(weight, k)``.
- ``ex-model-break``: the reader's unnormalised attention ``att_exp(layer, x, Z)``.

The probes run the reader's function on inputs built here from fixed seeds (random
layers, prompts and inputs; the prompt's mass from :func:`ptheory.prompt_split`); the
instructor's graders rebuild the same inputs and judge the outputs.
"""

from __future__ import annotations

from functools import lru_cache

import torch

from ..model import Attention
from ..segments import prompt_split
from ._core import Wrong, as_array, as_function, call, exercise

__all__: list[str] = []

CHAPTER = "prompt_tuning_model"
F64 = torch.float64
_SCALES = ("none", "1/sqrt(d)", "1/d")


# ------------------------------------------------------------------ ex-model-repeat
@lru_cache(maxsize=1)
def repeat_cases() -> tuple[tuple[Attention, torch.Tensor, torch.Tensor, int], ...]:
    """``(layer, P, X, k)``: random layers, prompts and inputs, and repetition counts."""
    gen = torch.Generator().manual_seed(2024)
    cases = []
    for i, k in enumerate((1, 2, 3, 5, 8, 13, 2, 4)):
        d, s = 2 + i % 4, 1 + (3 * i) % 4
        L_p, L = 1 + i % 3, 2 + (i * 5) % 4
        layer = Attention(d, s, scale=_SCALES[i % 3], seed=7000 + i)
        P = 0.8 * torch.randn(d, L_p, generator=gen, dtype=F64)
        X = torch.rand(d, L, generator=gen, dtype=F64)
        cases.append((layer, P, X, k))
    return tuple(cases)


def repeat_weight(case: tuple[Attention, torch.Tensor, torch.Tensor, int]) -> torch.Tensor:
    """The prompt's softmax mass, used once, for one of :func:`repeat_cases`."""
    layer, P, X, _ = case
    with torch.no_grad():
        return prompt_split(layer, P, X).weight


def _repeat_outputs(answer: object) -> list[torch.Tensor]:
    fn = as_function(answer)
    outputs = []
    for case in repeat_cases():
        weight, k = repeat_weight(case), case[3]
        what = f"repeated_weight(weight, {k})"
        got = as_array(call(fn, weight.clone(), k, what=what), tuple(weight.shape), what=what)
        outputs.append(got)
    return outputs


def _probe_repeat(answer: object) -> list[list]:
    return [got.tolist() for got in _repeat_outputs(answer)]


@exercise("ex-model-repeat", chapter=CHAPTER, probe=_probe_repeat)
def _quick_repeat(answer: object) -> None:
    """Shape, range, and the two properties the exercise states: ``k = 1`` gives the
    weight back, and repeating never reaches a share of 1."""
    for got, (layer, P, X, k) in zip(_repeat_outputs(answer), repeat_cases(), strict=True):
        weight = repeat_weight((layer, P, X, k))
        if k == 1 and (got - weight).abs().max() > 1e-9:
            raise Wrong(
                "for k = 1 (the prompt used once) your function must give back the weight "
                "it was given, and it does not"
            )
        if bool((got <= 0).any()) or bool((got >= 1).any()):
            raise Wrong(
                f"for k = {k} your weight leaves (0, 1): a prompt's share of a softmax "
                "stays strictly between 0 and 1 however often the prompt is repeated"
            )


# ------------------------------------------------------------------ ex-model-break
@lru_cache(maxsize=1)
def exp_cases() -> tuple[tuple[Attention, torch.Tensor, torch.Tensor], ...]:
    """``(layer, x, Z)``: random one-head layers, queries and keys."""
    gen = torch.Generator().manual_seed(31)
    cases = []
    for i in range(6):
        d, s, n, n_q = 2 + i % 3, 1 + i % 4, 2 + (2 * i) % 5, 1 + i % 3
        layer = Attention(d, s, scale=_SCALES[i % 3], seed=8100 + i)
        x = torch.rand(d, n_q, generator=gen, dtype=F64)
        Z = torch.randn(d, n, generator=gen, dtype=F64)
        cases.append((layer, x, Z))
    return tuple(cases)


def _exp_outputs(answer: object) -> list[torch.Tensor]:
    fn = as_function(answer)
    outputs = []
    for layer, x, Z in exp_cases():
        what = "att_exp(layer, x, Z)"
        with torch.no_grad():
            got = as_array(call(fn, layer, x.clone(), Z.clone(), what=what), what=what)
        want = (x.shape[0], x.shape[1])
        if tuple(got.shape) != want:
            raise Wrong(
                f"{what} must have shape (d, n_q) = {want} for d = {x.shape[0]} and "
                f"{x.shape[1]} queries, got {tuple(got.shape)}"
            )
        outputs.append(got)
    return outputs


def _probe_exp(answer: object) -> list[list]:
    return [got.tolist() for got in _exp_outputs(answer)]


@exercise("ex-model-break", chapter=CHAPTER, probe=_probe_exp)
def _quick_exp(answer: object) -> None:
    """Shape, and the one mistake visible without the answer: the softmax attention."""
    for got, (layer, x, Z) in zip(_exp_outputs(answer), exp_cases(), strict=True):
        with torch.no_grad():
            softmax = layer.attend(x, Z)
        if torch.allclose(got, softmax, rtol=1e-9, atol=1e-12):
            raise Wrong(
                "your function gives the softmax attention: the exercise asks for the "
                "attention without the normalisation"
            )
