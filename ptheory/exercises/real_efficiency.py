"""Exercises of the chapter real_efficiency: quick checks and probes.

- ``ex-realeff-cap``: the LayerNorm cap on ``B`` of every head of the packaged model, a
  ``(6, 12)`` array computed from the weights.
- ``ex-realeff-rank``: the smallest ``n`` at which degree 2 costs fewer operations than
  exact attention, for head sizes 32 and 8.

The quick checks hold no answer: shapes, ranges, and one property the exercise states
(a cap bounds every entry the model computes).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import numpy as np
import torch

from ._core import Wrong, as_array, as_integer, exercise

__all__: list[str] = []

CHAPTER = "real_efficiency"
SHAPE = (6, 12)


# ------------------------------------------------------------------ ex-realeff-cap
def _probe_cap(answer: Any) -> list[list[float]]:
    return as_array(answer, SHAPE, "answer (one cap per layer and head)").tolist()


@lru_cache(maxsize=1)
def _measured_bound() -> torch.Tensor:
    """``B`` of every head of the packaged model on one short input without a prompt: a
    number every cap must exceed (it is not the cap)."""
    from ..real import load_encoder, word_ids
    from ..real.prompted import encode

    enc = load_encoder()
    with torch.no_grad():
        run = encode(enc, word_ids(enc, 2, 8, seed=5), record=True)
    root = enc.head_size**0.25
    out = [torch.maximum(q.abs().amax(dim=(0, 2, 3)), k.abs().amax(dim=(0, 2, 3)))
           for q, k in zip(run.queries, run.keys, strict=True)]  # fmt: skip
    return torch.stack(out).double() * root


@exercise("ex-realeff-cap", chapter=CHAPTER, probe=_probe_cap)
def _quick_cap(answer: Any) -> None:
    """Shape, positivity, and the property that defines a cap: no head's measured entry
    bound exceeds it."""
    caps = as_array(answer, SHAPE, "answer (one cap per layer and head)")
    if bool((caps <= 0).any()):
        raise Wrong("every cap must be positive: it bounds absolute values of entries")
    below = caps < _measured_bound()
    if bool(below.any()):
        layer, head = (int(i) + 1 for i in below.nonzero()[0])
        raise Wrong(
            f"your cap of layer {layer}, head {head} is below an entry bound the model "
            "actually computes (without a prompt): a cap must hold for every input. Check "
            "the factor m^(1/4) and that both the query and the key rows count"
        )


# ------------------------------------------------------------------ ex-realeff-rank
def _pair(answer: Any) -> tuple[int, int]:
    if isinstance(answer, torch.Tensor | np.ndarray):
        if answer.ndim != 1:
            raise Wrong(f"answer must hold two numbers, got shape {tuple(answer.shape)}")
        answer = answer.tolist()
    if isinstance(answer, str | bytes | dict) or not isinstance(answer, Sequence):
        raise Wrong("answer must be a tuple of two whole numbers (n for d = 32, n for d = 8)")
    if len(answer) != 2:
        raise Wrong(f"answer must hold two numbers, got {len(answer)}")
    first = as_integer(answer[0], "the first item (n for d = 32)")
    second = as_integer(answer[1], "the second item (n for d = 8)")
    for n, what in ((first, "first"), (second, "second")):
        if n < 2:
            raise Wrong(f"the {what} item must be a sequence length of at least 2, got {n}")
    return first, second


def _probe_rank(answer: Any) -> list[int]:
    return list(_pair(answer))


@exercise("ex-realeff-rank", chapter=CHAPTER, probe=_probe_rank)
def _quick_rank(answer: Any) -> None:
    """Two whole numbers of at least 2, in the order the exercise asks."""
    _pair(answer)
