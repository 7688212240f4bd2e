"""Exercises of the chapter real_segment_lemma: quick checks and probes.

- ``ex-rseg-share``: the reader's ``share(o, a, b)``, the share of the prompt's move
  ``o - b`` that the segment ``[b, a]`` does not explain.
- ``ex-rseg-positions``: the reader's ``layer0_gap(enc, ids, mask, P, shift, reference)``,
  the first layer's largest distance off the segment when the prompted and unprompted runs
  place the sentence at given positions.

The probes run the reader's function on inputs built here from fixed seeds (random points;
small random encoders in float64); the instructor's graders rebuild the same inputs and
judge the outputs.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import torch

from ._core import Wrong, as_array, as_function, as_number, call, exercise

__all__: list[str] = []

CHAPTER = "real_segment_lemma"
F64 = torch.float64


# ------------------------------------------------------------------ ex-rseg-share
@lru_cache(maxsize=1)
def share_cases() -> tuple[tuple[torch.Tensor, torch.Tensor, torch.Tensor, str], ...]:
    """``(o, a, b, description)``: random points, points on their segments, beyond ``a``,
    behind ``b``, and a batch."""
    gen = torch.Generator().manual_seed(162)
    cases = []
    for i, (d, n) in enumerate(((3, 5), (8, 4), (2, 6), (384, 3))):
        a, b, o = torch.randn(3, d, n, generator=gen, dtype=F64)
        cases.append((o, a, b, f"random points in dimension {d} ({n} columns)"))
        lam = torch.rand(n, generator=gen, dtype=F64)
        cases.append((lam * a + (1 - lam) * b, a, b, f"points on their segments (dimension {d})"))
        beyond = b + (1.5 + i) * (a - b) + 0.1 * torch.randn(d, n, generator=gen, dtype=F64)
        cases.append((beyond, a, b, f"points beyond a (dimension {d})"))
        behind = b - 0.7 * (a - b) + 0.1 * torch.randn(d, n, generator=gen, dtype=F64)
        cases.append((behind, a, b, f"points behind b (dimension {d})"))
    batch = torch.randn(3, 2, 4, 5, 3, generator=gen, dtype=F64)
    cases.append((batch[0], batch[1], batch[2], "a batch of shape (2, 4, d = 5, 3)"))
    return tuple(cases)


def _share_outputs(answer: Any) -> list[torch.Tensor]:
    fn = as_function(answer)
    out = []
    for o, a, b, desc in share_cases():
        what = "share(o, a, b)"
        got = as_array(call(fn, o.clone(), a.clone(), b.clone(), what=what), what=what)
        want = (*o.shape[:-2], o.shape[-1])
        if tuple(got.shape) != want:
            raise Wrong(f"{what} must have shape (..., n_q) = {want} for {desc}, got "
                        f"{tuple(got.shape)}")  # fmt: skip
        out.append(got)
    return out


def _probe_share(answer: Any) -> list[list]:
    return [got.tolist() for got in _share_outputs(answer)]


@exercise("ex-rseg-share", chapter=CHAPTER, probe=_probe_share)
def _quick_share(answer: Any) -> None:
    """Shape, the range [0, 1] the exercise states, and zero on the segment."""
    for got, (_, _, _, desc) in zip(_share_outputs(answer), share_cases(), strict=True):
        if bool((got < -1e-9).any()) or bool((got > 1 + 1e-9).any()):
            raise Wrong(f"for {desc} your shares leave [0, 1]: the distance from the segment "
                        "is never more than the distance from b")  # fmt: skip
        if desc.startswith("points on their segments") and float(got.abs().max()) > 1e-6:
            raise Wrong(f"for {desc} your shares are not zero: a point on its segment is "
                        "explained entirely by it")  # fmt: skip


# ------------------------------------------------------------------ ex-rseg-positions
@lru_cache(maxsize=1)
def position_cases() -> tuple[tuple[Any, ...], ...]:
    """``(enc, ids, mask, P, shift, reference, description)`` on small random encoders in
    float64, with padding in the second sentence."""
    from ..real.loader import tiny_encoder
    from ..real.prompted import random_prompt

    cases = []
    gen = torch.Generator().manual_seed(163)
    for i, (shift, reference) in enumerate(((0, 0), (3, 0), (3, 3), (0, 2), (5, 1))):
        enc = tiny_encoder(30 + i, layers=2, heads=2 + 2 * (i % 2), d=16)
        enc.model.double()
        N, L = 3, 5 + i % 3
        ids = torch.randint(3, enc.vocab_size, (N, L), generator=gen)
        mask = torch.ones(N, L, dtype=torch.int64)
        mask[1, L - 2 :] = 0
        P = random_prompt(enc, 2 + i % 2, seed=i)
        desc = f"shift = {shift}, reference = {reference} (a random encoder, seed {30 + i})"
        cases.append((enc, ids, mask, P, shift, reference, desc))
    return tuple(cases)


def _gaps(answer: Any) -> list[float]:
    fn = as_function(answer)
    out = []
    for enc, ids, mask, P, shift, reference, _ in position_cases():
        what = "layer0_gap(enc, ids, mask, P, shift, reference)"
        got = call(fn, enc, ids.clone(), mask.clone(), P.clone(), shift, reference, what=what)
        out.append(as_number(got, what))
    return out


@exercise("ex-rseg-positions", chapter=CHAPTER, probe=_gaps)
def _quick_positions(answer: Any) -> None:
    """A number per case, non-negative, and zero up to rounding where the two runs read the
    same positions (the property the exercise asks about)."""
    for got, case in zip(_gaps(answer), position_cases(), strict=True):
        shift, reference, desc = case[4], case[5], case[6]
        if got < 0:
            raise Wrong(f"for {desc} your distance is negative")
        if shift == reference and got > 1e-8:
            raise Wrong(f"for {desc} the two runs read the same first-layer columns, so "
                        f"the lemma makes the distance zero up to rounding; yours is "
                        f"{got:.3g}")  # fmt: skip
