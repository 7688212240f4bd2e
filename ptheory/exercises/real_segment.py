"""Checks for the exercises of the chapter real_segment_lemma (the Real models part).

- :func:`check_real_segment_lemma_2` (``ex-rseg-share``): the reader's other normalisation
  of the distance from a segment, the share of the move ``o - b`` that the segment does not
  explain, compared with an independent computation on random points.
- :func:`check_real_segment_lemma_3` (``ex-rseg-positions``): the reader's first-layer
  distance off the segment when the prompted and the unprompted runs place the sentence at
  given positions, compared with ``ptheory.real.segment`` on small random encoders.
"""

from __future__ import annotations

from functools import lru_cache

import torch

from ..segments import segment_fit
from ._core import Wrong, as_array, as_function, as_number, call, exercise_check

__all__ = ["check_real_segment_lemma_2", "check_real_segment_lemma_3"]

F64 = torch.float64


def _reference_share(o: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``dist(o, [b, a]) / ||o - b||`` column by column, by projecting onto the segment."""
    u, w = a - b, o - b
    t = ((w * u).sum(dim=-2) / (u * u).sum(dim=-2)).clamp(0.0, 1.0)
    gap = torch.linalg.vector_norm(w - t.unsqueeze(-2) * u, dim=-2)
    return gap / torch.linalg.vector_norm(w, dim=-2)


@lru_cache(maxsize=1)
def _share_cases() -> tuple[tuple[torch.Tensor, torch.Tensor, torch.Tensor, str], ...]:
    """``(o, a, b, description)``: random points, points on the segment, beyond its ends."""
    gen = torch.Generator().manual_seed(16_2)
    cases = []
    for i, (d, n) in enumerate(((3, 5), (8, 4), (2, 6), (384, 3))):
        a, b, o = torch.randn(3, d, n, generator=gen, dtype=F64)
        cases.append((o, a, b, f"random points in dimension {d} ({n} columns)"))
        lam = torch.rand(n, generator=gen, dtype=F64)
        on = lam * a + (1 - lam) * b
        cases.append((on, a, b, f"points on their segments (dimension {d})"))
        beyond = b + (1.5 + i) * (a - b) + 0.1 * torch.randn(d, n, generator=gen, dtype=F64)
        cases.append((beyond, a, b, f"points beyond a (dimension {d})"))
        behind = b - 0.7 * (a - b) + 0.1 * torch.randn(d, n, generator=gen, dtype=F64)
        cases.append((behind, a, b, f"points behind b (dimension {d})"))
    batch = torch.randn(3, 2, 4, 5, 3, generator=gen, dtype=F64)
    cases.append((batch[0], batch[1], batch[2], "a batch of shape (2, 4, d = 5, 3)"))
    return tuple(cases)


def _line_share(o: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    u, w = a - b, o - b
    t = (w * u).sum(dim=-2) / (u * u).sum(dim=-2)
    return torch.linalg.vector_norm(w - t.unsqueeze(-2) * u, dim=-2) / torch.linalg.vector_norm(
        w, dim=-2
    )


@exercise_check("ex-rseg-share")
def check_real_segment_lemma_2(answer):
    """``answer``: a function ``share(o, a, b)`` of three arrays ``(..., d, n_q)`` (points as
    columns) returning ``dist(o, [b, a]) / ||o - b||`` for each column, shape ``(..., n_q)``."""
    fn = as_function(answer)
    for o, a, b, desc in _share_cases():
        what = "share(o, a, b)"
        got = as_array(call(fn, o.clone(), a.clone(), b.clone(), what=what), what=what)
        expected = _reference_share(o, a, b)
        if tuple(got.shape) != tuple(expected.shape):
            raise Wrong(
                f"{what} must have shape (..., n_q) = {tuple(expected.shape)} for {desc}, "
                f"got {tuple(got.shape)}"
            )
        # 1e-6: a formula that is exact in real arithmetic but loses digits to cancellation
        # (dist^2 = ||w||^2 - (w.u)^2/||u||^2 gives shares of 1e-8 on the segment) passes;
        # every wrong answer below is off by order one on the random points
        if torch.allclose(got, expected, rtol=1e-6, atol=1e-6):
            continue
        u = a - b
        by_length = (
            _reference_share(o, a, b)
            * torch.linalg.vector_norm(o - b, dim=-2)
            / torch.linalg.vector_norm(u, dim=-2)
        )
        if torch.allclose(got, by_length, rtol=1e-8, atol=1e-12):
            raise Wrong(
                f"for {desc} you divide by the segment's length ||a - b|| (the chapter's "
                "normalisation); the exercise asks for the share of the move o - b"
            )
        if torch.allclose(got, _line_share(o, a, b), rtol=1e-8, atol=1e-12):
            raise Wrong(
                f"for {desc} you measure the distance from the whole line through b and a; "
                "the segment ends at b and at a"
            )
        raise Wrong(f"for {desc} your shares differ from dist(o, [b, a]) / ||o - b||")
    return None


@lru_cache(maxsize=1)
def _position_cases():
    """``(enc, ids, mask, P, shift, reference, expected, expected with padding,
    description)`` on small random encoders in float64."""
    from ..real.loader import tiny_encoder
    from ..real.segment import head_outputs, head_split, make_prompt, run_encoder

    cases = []
    gen = torch.Generator().manual_seed(163)
    for i, (shift, reference) in enumerate(((0, 0), (3, 0), (3, 3), (0, 2), (5, 1))):
        enc = tiny_encoder(30 + i, layers=2, heads=2 + 2 * (i % 2), d=16)
        enc.model.double()
        N, L = 3, 5 + i % 3
        ids = torch.randint(enc.vocab_size, (N, L), generator=gen)
        mask = torch.ones(N, L, dtype=torch.int64)
        mask[1, L - 2 :] = 0  # padding in the second sentence
        P = make_prompt(enc, "random", 2 + i % 2, seed=i)
        prompted = run_encoder(enc, ids, mask, P, position_offset=shift)
        plain = run_encoder(enc, ids, mask, position_offset=reference)
        split = head_split(enc, prompted, 0)
        dist = segment_fit(split.output, split.prompt_part, head_outputs(enc, plain, 0))[1]
        expected = float(dist.masked_select(prompted.valid[:, None].expand_as(dist)).max())
        with_padding = float(dist.max())
        desc = f"shift = {shift}, reference = {reference} (a random encoder, seed {30 + i})"
        cases.append((enc, ids, mask, P, shift, reference, expected, with_padding, desc))
    return tuple(cases)


@exercise_check("ex-rseg-positions")
def check_real_segment_lemma_3(answer):
    """``answer``: a function ``layer0_gap(enc, ids, mask, P, shift, reference)`` returning
    the largest distance, over the heads of the first layer and the sentence's tokens
    (padding excluded), of the head output from the segment between the unprompted head
    output and ``Att_h(x, P)``, relative to the segment's length, when the prompted run puts
    the sentence at positions ``shift, shift + 1, ...`` and the unprompted run at
    ``reference, reference + 1, ...`` (``enc`` in float64)."""
    fn = as_function(answer)
    for enc, ids, mask, P, shift, reference, expected, with_padding, desc in _position_cases():
        what = "layer0_gap(enc, ids, mask, P, shift, reference)"
        got = as_number(
            call(fn, enc, ids.clone(), mask.clone(), P.clone(), shift, reference, what=what),
            what=what,
        )
        if abs(got - expected) <= 1e-10 + 1e-6 * abs(expected):
            continue
        if shift == reference:
            raise Wrong(
                f"for {desc} the two runs read the same layer-0 states, so the lemma makes the "
                f"distance zero up to rounding; yours is {got:.3g}"
            )
        if abs(got - with_padding) <= 1e-10 + 1e-6 * abs(with_padding) and got != expected:
            raise Wrong(f"for {desc} your maximum includes the padding tokens; leave them out")
        if got < 1e-8:
            raise Wrong(
                f"for {desc} your distance is zero, but the runs place the sentence at "
                "different positions: compare against the unprompted run at `reference`"
            )
        direction = "too large" if got > expected else "too small"
        raise Wrong(f"for {desc} your distance is {direction}")
    return None
