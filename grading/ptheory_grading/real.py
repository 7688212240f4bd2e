"""Graders of the Real models part (instructor-only): real_soft_prompts,
real_segment_lemma, real_efficiency.

Each grader recomputes the quantity its exercise asks for, the way the exercise asks, and
compares the probe's data with it within that quantity's own error (rounding, or the
few digits a deterministic one-thread run can differ by between machines).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import torch

from ptheory.exercises import real_efficiency as RE
from ptheory.exercises import real_prompts as RP
from ptheory.exercises import real_segment as RS
from ptheory.exercises._core import as_array, as_number

from ._core import Wrong, grader

F64 = torch.float64


@lru_cache(maxsize=1)
def _encoder() -> Any:
    from ptheory.real import load_encoder

    return load_encoder()


# ------------------------------------------------------------------ real_soft_prompts
@lru_cache(maxsize=8)
def _ray_bound(tilt: float, same_direction: bool, fine: bool = False) -> tuple[float, float]:
    """The certified bound (1,000 cells, no refinement; ``fine``: the default certificate)
    and the loss without a prompt of the seed-0, head-1 ray dataset of the exercises, at
    the head level."""
    from ptheory.capacity import ray_bound
    from ptheory.real import no_prompt_loss, ray_dataset, ray_problem

    enc = _encoder()
    data = ray_dataset(enc, 0, radius=RP.RADIUS, tilt=tilt, same_direction=same_direction)
    problem = ray_problem(enc, data)
    bound = (ray_bound(*problem) if fine else ray_bound(*problem, cells=1000, refine=0)).bound
    return bound, no_prompt_loss(enc, data, "head")


@grader("ex-real-tilt")
def real_tilt(data: Any) -> None:
    """Each ratio against the recomputed certified bound over the loss without a prompt."""
    ratios = as_array(data, (len(RP.TILTS),), "answer").tolist()
    for t, r in zip(RP.TILTS, ratios, strict=True):
        bound, base = _ray_bound(t, False)
        want = bound / base
        if abs(r - want) <= 1e-5 * want:
            continue
        if abs(r - 1 / (1 + t * t)) <= 1e-6:
            raise Wrong(f"tilt {t}: your ratio is the limit 1 / (1 + t^2) of the relaxation, "
                        "not the certified bound the exercise asks you to compute")  # fmt: skip
        if abs(r * base - bound) <= 1e-5 * bound or abs(r - bound) <= 1e-5 * bound:
            raise Wrong(f"tilt {t}: divide the bound by the loss without a prompt (head "
                        "level), and only by it")  # fmt: skip
        direction = "too large" if r > want else "too small"
        raise Wrong(f"tilt {t}: your ratio is {direction}; use seed=0, radius={RP.RADIUS:g}, "
                    "cells=1000, refine=0 and the head-level loss without a prompt")  # fmt: skip


@lru_cache(maxsize=1)
def _same_direction_fits() -> dict[int, float]:
    """The best loss of tuned prompts of each length on the same-direction dataset."""
    from ptheory.real import fit_prompts, ray_dataset

    enc = _encoder()
    data = ray_dataset(enc, 0, radius=RP.RADIUS, same_direction=True)
    return {n: float(fit_prompts(enc, [data], "head", n, steps=100, lr=0.05).min())
            for n in RP.LENGTHS}  # fmt: skip


@grader("ex-real-same")
def real_same(data: Any) -> None:
    """The bound recomputed (default certificate: positive and tiny) and the best tuned loss
    recomputed by the same runs."""
    if not isinstance(data, list) or len(data) != 2:
        raise Wrong("your answer was not recorded as a pair (bound, best_loss)")
    bound, best = (as_number(x) for x in data)
    want_bound, base = _ray_bound(0.5, True, fine=True)
    if abs(bound - want_bound) > 1e-6 * want_bound:
        coarse, _ = _ray_bound(0.5, True)
        if abs(bound - coarse) <= 1e-9 * base:
            raise Wrong("the bound is the coarse certificate's (cells=1000, refine=0), "
                        "which gives this small bound away: use the default settings")  # fmt: skip
        raise Wrong("the bound differs from the certified bound of the same-direction "
                    "dataset (seed=0, the default certificate)")  # fmt: skip
    fits = _same_direction_fits()
    want = min(fits.values())
    if abs(best - want) <= 1e-4 * want:
        return
    if any(abs(best - v) <= 1e-4 * v for v in fits.values()):
        raise Wrong("best_loss is the best of one prompt length: take the best over the "
                    "lengths 1, 4 and 16")  # fmt: skip
    if abs(best - base) <= 1e-4 * base:
        raise Wrong("best_loss is the loss without a prompt: tune the prompts")
    direction = "too large" if best > want else "too small"
    raise Wrong(f"best_loss is {direction}: take the lowest loss of every run "
                "(fit_prompts(enc, [data], 'head', n, steps=100, lr=0.05)) over the "
                "lengths 1, 4 and 16")  # fmt: skip


# ------------------------------------------------------------------ real_segment_lemma
def _share(o: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    u, w = a - b, o - b
    t = ((w * u).sum(dim=-2) / (u * u).sum(dim=-2)).clamp(0.0, 1.0)
    gap = torch.linalg.vector_norm(w - t.unsqueeze(-2) * u, dim=-2)
    return gap / torch.linalg.vector_norm(w, dim=-2)


def _line_share(o: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    u, w = a - b, o - b
    t = (w * u).sum(dim=-2) / (u * u).sum(dim=-2)
    gap = torch.linalg.vector_norm(w - t.unsqueeze(-2) * u, dim=-2)
    return gap / torch.linalg.vector_norm(w, dim=-2)


@grader("ex-rseg-share")
def rseg_share(data: Any) -> None:
    """The reader's shares against ``dist(o, [b, a]) / ||o - b||``, with two diagnoses."""
    cases = RS.share_cases()
    if not isinstance(data, list) or len(data) != len(cases):
        raise Wrong("your answer was not recorded for every test case")
    for got, (o, a, b, desc) in zip(data, cases, strict=True):
        expected = _share(o, a, b)
        got = as_array(got, tuple(expected.shape), what="share(o, a, b)")
        # 1e-6: a formula exact in real arithmetic that loses digits to cancellation
        # (dist^2 = ||w||^2 - (w.u)^2/||u||^2 gives shares of 1e-8 on the segment) passes;
        # the wrong answers below are off by order one on the random points
        if torch.allclose(got, expected, rtol=1e-6, atol=1e-6):
            continue
        by_length = (
            expected
            * torch.linalg.vector_norm(o - b, dim=-2)
            / torch.linalg.vector_norm(a - b, dim=-2)
        )
        if torch.allclose(got, by_length, rtol=1e-8, atol=1e-12):
            raise Wrong(f"for {desc} you divide by the segment's length ||a - b|| (the "
                        "chapter's normalisation); the exercise asks for the share of the "
                        "move o - b")  # fmt: skip
        if torch.allclose(got, _line_share(o, a, b), rtol=1e-8, atol=1e-12):
            raise Wrong(f"for {desc} you measure the distance from the whole line through b "
                        "and a; the segment ends at b and at a")  # fmt: skip
        raise Wrong(f"for {desc} your shares differ from dist(o, [b, a]) / ||o - b||")


def _layer0_gap(enc, ids, mask, P, shift, reference, padding=False) -> float:
    from ptheory.real import encode, head_outputs, head_split
    from ptheory.segments import segment_fit

    prompted = encode(enc, ids, P, mask=mask, position_offset=shift, record=True)
    plain = encode(enc, ids, mask=mask, position_offset=reference, record=True)
    split = head_split(enc, prompted, 0)
    dist = segment_fit(split.output, split.prompt_part, head_outputs(enc, plain, 0))[1]
    if padding:
        return float(dist.max())
    return float(dist.masked_select(prompted.valid[:, None].expand_as(dist)).max())


@grader("ex-rseg-positions")
def rseg_positions(data: Any) -> None:
    """The reader's first-layer distance against the one recomputed with the chapter's
    functions, on each small random encoder."""
    cases = RS.position_cases()
    if not isinstance(data, list) or len(data) != len(cases):
        raise Wrong("your answer was not recorded for every test case")
    for got, (enc, ids, mask, P, shift, reference, desc) in zip(data, cases, strict=True):
        got = as_number(got)
        with torch.no_grad():
            want = _layer0_gap(enc, ids, mask, P, shift, reference)
            padded = _layer0_gap(enc, ids, mask, P, shift, reference, padding=True)
        if abs(got - want) <= 1e-10 + 1e-6 * abs(want):
            continue
        if padded != want and abs(got - padded) <= 1e-10 + 1e-6 * abs(padded):
            raise Wrong(f"for {desc} your maximum includes the padding tokens; leave them out")
        if got < 1e-8:
            raise Wrong(f"for {desc} your distance is zero, but the runs place the sentence "
                        "at different positions: compare against the run without a prompt "
                        "at `reference`")  # fmt: skip
        direction = "too large" if got > want else "too small"
        raise Wrong(f"for {desc} your distance is {direction}")


# ------------------------------------------------------------------ real_efficiency
@lru_cache(maxsize=1)
def _caps() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The caps, the same without the factor ``m^(1/4)``, and with the query rows only."""
    enc = _encoder()
    model, d, m = enc.model, enc.d, enc.head_size
    full = torch.zeros(enc.layers, enc.heads, dtype=F64)
    queries = torch.zeros_like(full)
    with torch.no_grad():
        for layer, block in enumerate(model.encoder.layer):
            before = model.embeddings if layer == 0 else model.encoder.layer[layer - 1].output
            gain, bias = before.LayerNorm.weight.double(), before.LayerNorm.bias.double()
            rows = []
            for lin in (block.attention.self.query, block.attention.self.key):
                W, b = lin.weight.double(), lin.bias.double()
                rows.append((W * gain).norm(dim=1) * d**0.5 + (W @ bias + b).abs())
            full[layer] = torch.maximum(*rows).view(enc.heads, m).amax(dim=1)
            queries[layer] = rows[0].view(enc.heads, m).amax(dim=1)
    root = m**0.25
    return full * root, full, queries * root


@grader("ex-realeff-cap")
def realeff_cap(data: Any) -> None:
    """The caps against the Cauchy-Schwarz bound recomputed from the weights."""
    values = as_array(data, RE.SHAPE, "answer")
    caps, unscaled, queries = _caps()
    if bool((((values - caps) / caps).abs() <= 1e-4).all()):
        return
    if bool((((values - unscaled) / unscaled).abs() <= 1e-4).all()):
        raise Wrong("your caps bound the entries of Q and K as the model computes them; "
                    "B multiplies them by m^(1/4), m the head size")  # fmt: skip
    if bool((((values - queries) / queries).abs() <= 1e-4).all()):
        raise Wrong("your caps use the query rows only: the key rows count too")
    worst = int(((values - caps) / caps).abs().amax(dim=1).argmax())
    raise Wrong(f"some caps of layer {worst + 1} differ from the Cauchy-Schwarz bound; check "
                "which LayerNorm feeds each layer and which rows belong to each head")  # fmt: skip


def _first_paying(d: int, g: int = 2) -> int:
    from ptheory.efficiency import exact_flops, poly_flops

    n = 2
    while poly_flops(n, n, d, g) >= exact_flops(n, n, d):
        n += 1
    return n


@grader("ex-realeff-rank")
def realeff_rank(data: Any) -> None:
    """Each crossover against the one recomputed from the operation counts."""
    if not isinstance(data, list) or len(data) != 2:
        raise Wrong("your answer was not recorded as a pair")
    for n, d, what in zip(data, (32, 8), ("first", "second"), strict=True):
        want = _first_paying(d)
        if n == want:
            continue
        if n == _first_paying(8 if d == 32 else 32):
            raise Wrong(f"the {what} item is the answer for the other head size")
        if n > want:
            raise Wrong(f"the {what} item: degree 2 already pays for d = {d} below your n; "
                        "find the smallest n")  # fmt: skip
        raise Wrong(f"the {what} item: at your n degree 2 still costs at least as many "
                    f"operations as exact attention for d = {d}")  # fmt: skip
