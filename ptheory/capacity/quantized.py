"""Prompts whose entries take ``2^bits`` values: where the counting bound applies directly.

Lookup prompts (:mod:`ptheory.capacity.lookup`) are tuned on random members of a
separated family (:func:`~ptheory.capacity.level_dataset`), rounded to ``bits`` bits per
entry (:func:`quantize`), and the members still memorized are counted
(:func:`quantized_memorization`). The count allows at most ``2^(bits D L_p)`` prompts of
``L_p`` tokens of dimension ``D``, one member each.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from .._validate import as_tensor, check_finite, check_int, check_real
from .counting import level_dataset
from .engine import padded_forward, prompt_tune
from .lookup import embed_tokens, lookup_model, lookup_prompt, lookup_sharpness

__all__ = ["QuantizedReport", "quantize", "quantized_memorization"]


def quantize(P: torch.Tensor, bits: int, radius: float) -> torch.Tensor:
    """Round every entry of ``P`` to the nearest of ``2^bits`` equally spaced levels on
    ``[-radius, radius]`` (entries outside are clipped): a prompt whose tokens take at most
    ``2^(bits * rows)`` values."""
    P = check_finite(as_tensor(P, "P", dtype=torch.float64), "P")
    bits = check_int(bits, "bits", minimum=1, maximum=52)
    radius = check_real(radius, "radius", minimum=0.0, strict_minimum=True)
    step = 2.0 * radius / (2**bits - 1)
    return (torch.round((P.clamp(-radius, radius) + radius) / step) * step - radius).clamp(
        -radius, radius
    )


@dataclass(frozen=True)
class QuantizedReport:
    """Lookup prompts quantized to ``bits`` bits per entry, over random members of a family.

    Attributes:
        bits: bits per prompt entry.
        fraction: fraction of the datasets memorized (every entry within ``eps``).
        count_ratio: ``2^(bits D L_p) / levels^(d N)``: the largest fraction of the family
            any ``bits``-bit prompt of ``L_p`` tokens of dimension ``D`` can memorize (capped
            at 1).
    """

    bits: int
    fraction: float
    count_ratio: float


def quantized_memorization(
    d: int,
    N: int,
    levels: int,
    bits: list[int],
    *,
    datasets: int = 16,
    steps: int = 20,
    radius: float = 1.0,
) -> list[QuantizedReport]:
    """Tune lookup prompts on random members of :func:`level_dataset`, quantize, count.

    For each of ``datasets`` random members (seeds ``0, 1, ...``): the lookup prompt
    (:func:`lookup_prompt`, ``L_p = N`` tokens of dimension ``D = 2d + 1``) refined by
    ``steps`` L-BFGS steps of prompt tuning on :func:`lookup_model`, then rounded by
    :func:`quantize` to each number of bits on ``[-radius, radius]`` (fixed in advance, so
    the quantized prompts are one set of ``2^(bits D N)``). A dataset is memorized when
    every output entry is within ``eps = 0.99 / (4 (levels - 1))`` of its target. The
    count: at most ``2^(bits D N)`` prompts, one member each, out of ``levels^(d N)``.
    """
    d = check_int(d, "d", minimum=1)
    N = check_int(N, "N", minimum=1)
    levels = check_int(levels, "levels", minimum=2)
    if not isinstance(bits, (list, tuple)) or not bits:
        raise TypeError("bits must be a non-empty list of ints")
    bits = [check_int(b, "bits", minimum=1, maximum=52) for b in bits]
    datasets = check_int(datasets, "datasets", minimum=1)
    steps = check_int(steps, "steps", minimum=0)
    radius = check_real(radius, "radius", minimum=0.0, strict_minimum=True)
    eps = 0.99 / (4.0 * (levels - 1))
    k = round(N ** (1.0 / d))
    model = lookup_model(d, sharpness=lookup_sharpness(N, eps, 1.0 / (k - 1)))
    D = 2 * d + 1
    tuned, data = [], []
    for seed in range(datasets):
        X, Y = level_dataset(d, N, levels, seed)
        Xe = embed_tokens(X)
        Ye = torch.cat([Y, torch.zeros_like(Y), torch.ones_like(Y[:, :1])], dim=1)
        P0 = lookup_prompt(X, Y)
        res = prompt_tune(model, Xe, Ye, N, steps=steps, restarts=1, init=[P0[None]])
        tuned.append(res.prompt)
        data.append((Xe, Y))
    out = []
    for b in bits:
        hits = 0
        for P, (Xe, Y) in zip(tuned, data, strict=True):
            Pq = quantize(P, b, radius)
            with torch.no_grad():
                o = padded_forward(model, Pq[None], torch.tensor([N]), Xe)[0]
            hits += int(float((o[:, :d] - Y).abs().max()) <= eps)
        log2_ratio = b * D * N - d * N * math.log2(levels)
        out.append(
            QuantizedReport(
                bits=b, fraction=hits / datasets, count_ratio=min(1.0, 2.0 ** min(log2_ratio, 0))
            )
        )
    return out
