"""Checks for the exercises of the chapter real_efficiency (The efficiency criterion in a
real model)."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import numpy as np
import torch

from ..efficiency import exact_flops, poly_flops
from ._core import Wrong, as_array, as_integer, exercise_check

__all__ = ["check_real_efficiency_2", "check_real_efficiency_3"]


@lru_cache(maxsize=1)
def _caps() -> tuple[torch.Tensor, float, int]:
    """The packaged model's LayerNorm caps, its ``m^(1/4)`` and width."""
    from ..real import layernorm_cap, load_encoder

    enc = load_encoder()
    return layernorm_cap(enc), enc.head_size**0.25, enc.d


@exercise_check("ex-realeff-cap")
def check_real_efficiency_2(answer: Any) -> str | None:
    """``answer``: a ``(6, 12)`` array, the LayerNorm cap on ``B`` of every head of the
    packaged model (layers by heads), in the package's convention."""
    values = as_array(answer, (6, 12), "answer (one cap per layer and head)")
    caps, root, d = _caps()
    rel = ((values - caps) / caps).abs()
    if bool((rel <= 1e-4).all()):
        return "Every measured B of the chapter lies below these caps."
    if bool((((values * root) - caps) / caps).abs().max() <= 1e-4):
        raise Wrong(
            "your caps bound the entries of Q and K as BERT computes them; the "
            "package's B multiplies them by m^(1/4), m the head size (the 1/sqrt(m) split)"
        )
    if bool(((values - caps) / caps).max() <= 1e-4) and bool((rel > 1e-4).any()):
        raise Wrong(
            "some of your caps are too small: take the largest row bound over the "
            "head's query rows *and* its key rows, with the LayerNorm that feeds "
            "the layer (the embedding LayerNorm for layer 0)"
        )
    if bool(((values / caps) > 1 + 1e-4).all()) and float((values / caps).max()) < d**0.5 + 1:
        raise Wrong(
            "your caps are larger than the Cauchy-Schwarz bound: use "
            "||W_j * gamma||_2 sqrt(d) + |W_j . beta + b_j| per row"
        )
    raise Wrong(
        "some caps differ from the Cauchy-Schwarz bound of the section on LayerNorm "
        f"(largest relative difference {float(rel.max()):.2g}); check which "
        "LayerNorm feeds each layer and the rows that belong to each head"
    )


@lru_cache(maxsize=4)
def _first_paying(d: int, g: int = 2) -> int:
    n = 2
    while poly_flops(n, n, d, g) >= exact_flops(n, n, d):
        n += 1
    return n


@exercise_check("ex-realeff-rank")
def check_real_efficiency_3(answer: Any) -> str | None:
    """``answer = (n_32, n_8)`` (a tuple, list, or 1-d array or tensor): the smallest ``n``
    (queries = keys) at which degree 2 costs fewer flops than exact attention, for head size
    32 and 8."""
    if isinstance(answer, torch.Tensor | np.ndarray):
        if answer.ndim != 1:
            raise Wrong(f"answer must hold two numbers, got shape {tuple(answer.shape)}")
        answer = answer.tolist()
    if isinstance(answer, str | bytes | dict) or not isinstance(answer, Sequence):
        raise Wrong("answer must be a tuple of two whole numbers (n for d = 32, n for d = 8)")
    if len(answer) != 2:
        raise Wrong(f"answer must hold two numbers, got {len(answer)}")
    for item, d, what in zip(answer, (32, 8), ("first", "second"), strict=True):
        n = as_integer(item, f"the {what} item (n for d = {d})")
        want = _first_paying(d)
        if n == _first_paying(8 if d == 32 else 32):
            raise Wrong(f"the {what} item is the answer for the other head size")
        if n > want:
            raise Wrong(
                f"degree 2 already pays for d = {d} at n = {n - 1}, below your {n}: "
                "find the smallest n"
            )
        if n < want:
            raise Wrong(
                f"at n = {n} degree 2 still costs at least as many flops as exact attention "
                f"for d = {d} (compare eff.poly_flops(n, n, d, 2) with eff.exact_flops(n, n, d))"
            )
    return "Compare the first number with the model's 512 positions."
