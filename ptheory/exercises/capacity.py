"""Checks for the exercises of the Capacity chapters (memorization_capacity,
prompt_vs_lora, invertible_layers; unmemorizable_dataset's are in
:mod:`~ptheory.exercises.capacity_rays`).

Each check recomputes what it needs from :mod:`ptheory.capacity` (cached) and tests
properties that every correct answer has: a matrix of errors recomputed entry by entry, a
lower bound no prompt can beat, the loss of the frozen model that tuning must improve on,
statistics of a random construction over many seeds. Prompt-tuning outcomes are tested as
robust facts with a margin, never against one reference run, so other step counts,
restarts and lengths pass.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import torch

from ..capacity import (
    bump_dataset,
    collision_dataset,
    embed_tokens,
    fit_loss,
    injectivity_bound,
    lookup_model,
    lookup_prompt,
    residual_model,
    single_layer_model,
)
from ..capacity.rays import ff_inverse
from ..model import prompt_forward
from ._core import Wrong, as_array, as_function, as_number, call, exercise_check, expect_close

__all__ = [
    "check_invertible_layers_2",
    "check_invertible_layers_3",
    "check_memorization_capacity_2",
    "check_prompt_vs_lora_2",
    "check_prompt_vs_lora_3",
]


def _pair(answer: Any, first: str, second: str) -> tuple[Any, Any]:
    """The two parts of an answer given as a pair ``(first, second)``."""
    if isinstance(answer, (str, bytes, dict)) or not isinstance(answer, (tuple, list)):
        raise Wrong(f"answer must be a pair ({first}, {second}), got {type(answer).__name__}")
    if len(answer) != 2:
        raise Wrong(f"answer must be a pair ({first}, {second}), got {len(answer)} items")
    return answer[0], answer[1]


# ------------------------------------------------------------ memorization_capacity
@lru_cache(maxsize=1)
def _lookup_errors() -> torch.Tensor:
    """``errors[j, i]``: largest output error at grid input ``i`` without prompt token ``j``."""
    X, Y = bump_dataset(2, 0.1, seed=0)
    P, Xe = lookup_prompt(X, Y), embed_tokens(X)
    model = lookup_model(2)
    rows = []
    with torch.no_grad():
        for j in range(P.shape[1]):
            Q = torch.cat([P[:, :j], P[:, j + 1 :]], dim=1)
            rows.append((prompt_forward(model, Q, Xe)[:, :2] - Y).abs().amax(dim=(1, 2)))
    return torch.stack(rows)


@exercise_check("ex-mem-short")
def check_memorization_capacity_2(answer: Any) -> str | None:
    """``answer``: an ``(N, N)`` array, ``answer[j, i]`` the largest absolute error over the
    output entries of grid input ``i`` when prompt token ``j`` is removed (``N = 9``)."""
    reference = _lookup_errors()
    N = reference.shape[0]
    errors = as_array(answer, (N, N))
    if bool((errors < 0).any()):
        raise Wrong("errors must be absolute values (non-negative): take .abs() of the gap")
    if float(errors.abs().max()) < 1e-3:
        raise Wrong(
            "every error is (almost) zero: is one prompt token really removed in each row, "
            "and are the outputs compared with Y rather than with themselves?"
        )
    for j in range(N):
        for i in range(N):
            expect_close(
                float(errors[j, i]),
                float(reference[j, i]),
                rtol=1e-4,
                atol=1e-6,
                what=f"answer[{j}, {i}] (token {j} removed, input {i})",
            )
    return None


# ------------------------------------------------------------------ prompt_vs_lora
@lru_cache(maxsize=1)
def _query_update_reference() -> tuple[float, float]:
    """The infimum of the loss over **all** updates of ``W_Q`` on the apex dataset
    (each example's softmax weight free in ``[0, 1]``), and the loss without update."""
    from ..capacity import apex_dataset

    model = single_layer_model(d=4, seed=0)
    attn, ff = model.layers
    X, Y = apex_dataset(model, 3, seed=0)
    w = torch.linspace(0.0, 1.0, 20001, dtype=torch.float64)
    with torch.no_grad():
        values = attn.W_O[0] @ attn.W_V[0] @ X  # (N, d, 2): M x_i', M x_i
        best = []
        for i in range(X.shape[0]):
            mix = w[:, None] * values[i, :, 0] + (1 - w[:, None]) * values[i, :, 1]  # (G, d)
            out = ff((X[i, :, -1] + mix).unsqueeze(-1))[..., 0]
            best.append(float((out - Y[i, :, 0]).pow(2).sum(-1).min()))
        no_update = float(fit_loss(model(X), Y))
    return sum(best) / len(best), no_update


@exercise_check("ex-lora-query")
def check_prompt_vs_lora_2(answer: Any) -> str | None:
    """``answer``: the three final losses of the trained rank-``r`` updates of ``W_Q``, for
    ``r = 1, 2, 3`` in this order (a list of three numbers)."""
    losses = as_array(answer, what="answer").reshape(-1)
    if losses.numel() != 3:
        raise Wrong(f"answer must hold 3 losses (r = 1, 2, 3), got {losses.numel()}")
    floor, no_update = _query_update_reference()
    for r, value in zip((1, 2, 3), losses.tolist(), strict=True):
        if value < floor * (1.0 - 1e-6):
            raise Wrong(
                f"the loss for r = {r} is below what any update of W_Q can reach on this "
                "dataset: is it the apex dataset with n = 3 and the chapter's model, and the "
                "update of W_Q (weight='W_Q'), not W_V?"
            )
        if value >= no_update:
            raise Wrong(
                f"the loss for r = {r} is not below the loss of the model without any "
                "update: has the training run (method='train', steps > 0)?"
            )
        if value > floor * 1.02:
            raise Wrong(
                f"the loss for r = {r} is too large: the training has not converged "
                "(try more steps)"
            )
    return "Compare the three losses: what does the rank change?"


@lru_cache(maxsize=1)
def _lora_model() -> torch.nn.Module:
    return single_layer_model(d=4, seed=0)


def _dataset(make: Any, model: torch.nn.Module, n: int, seed: int):
    """Call the reader's ``make(model, n, seed)``, check its dataset, return ``(b, c - b)``."""
    attn, ff = model.layers
    d = attn.d
    out = call(make, model, n, seed, what=f"your function (n = {n}, seed = {seed})")
    X, Y = _pair(out, "X", "Y")
    X = as_array(X, (n, d, 2), what=f"X (n = {n})")
    Y = as_array(Y, (n, d, 1), what=f"Y (n = {n})")
    if bool((X < 0).any()) or bool((X > 1).any()):
        raise Wrong("X must be drawn in [0, 1] like cap.apex_dataset's inputs")
    queries = X[:, :, -1]
    if n > 1 and float(torch.pdist(queries).min()) == 0.0:
        raise Wrong("the examples must have distinct query tokens (last columns)")
    with torch.no_grad():
        b = attn.attend(X[:, :, -1:], X)[..., 0]
        c = ff_inverse(ff, Y)[..., 0] - queries
    return b, c - b


def _apex_miss(b: torch.Tensor, e: torch.Tensor) -> float:
    """How far the lines ``b_i + t e_i`` are from passing through one point (least squares).

    Rays with a common apex ``o`` have ``e_i`` parallel to ``b_i - o``: their lines meet."""
    u = e / e.norm(dim=-1, keepdim=True).clamp_min(1e-300)
    proj = torch.eye(u.shape[1], dtype=u.dtype) - u[:, :, None] * u[:, None, :]  # (n, d, d)
    o = torch.linalg.lstsq(proj.sum(0), (proj @ b[:, :, None]).sum(0)).solution[:, 0]
    return float(sum((proj[i] @ (o - b[i])).norm() for i in range(b.shape[0])))


@exercise_check("ex-lora-general")
def check_prompt_vs_lora_3(answer: Any) -> str | None:
    """``answer``: a function ``general_dataset(model, n, seed) -> (X, Y)`` building ``n``
    examples like ``cap.apex_dataset`` but with needed outputs ``c_i = b_i + g_i / 2`` for
    independent standard Gaussian ``g_i`` drawn from ``seed``."""
    make = as_function(answer)
    model = _lora_model()
    b, first = _dataset(make, model, 3, 0)
    _, again = _dataset(make, model, 3, 0)
    if not torch.allclose(first, again, rtol=0, atol=1e-12):
        raise Wrong("two calls with the same seed gave different datasets: draw from seed")
    _dataset(make, model, 2, 1)  # another n works too
    if _apex_miss(b, first) < 1e-6 * float(first.norm()):
        raise Wrong("these rays share an apex: the exercise asks for offsets in general position")
    draws = [first] + [_dataset(make, model, 3, s)[1] for s in range(1, 20)]
    if any(torch.allclose(first, e, atol=1e-12) for e in draws[1:]):
        raise Wrong("different seeds gave the same offsets: the seed must change the draw")
    g = 2.0 * torch.cat(draws).reshape(-1)  # the entries of the g_i: 240 draws
    mean, var = float(g.mean()), float(g.var())
    if abs(mean) > 0.3:
        raise Wrong("the offsets c_i - b_i are not centred: g_i must be standard Gaussian")
    cosines = [
        float(torch.nn.functional.cosine_similarity(E[i], E[j], dim=0))
        for E in draws
        for i in range(3)
        for j in range(i)
    ]
    if sum(cosines) / len(cosines) > 0.5:
        raise Wrong("the offsets of the examples point the same way: draw one g_i per example")
    if var > 1.6:
        raise Wrong("the offsets c_i - b_i are too large for g_i / 2, g_i standard Gaussian")
    if var < 0.6:
        raise Wrong("the offsets c_i - b_i are too small for g_i / 2, g_i standard Gaussian")
    return None


# --------------------------------------------------------------- invertible_layers
# Where the best loss with prompt columns of norm <= r falls to half the no-prompt loss, on
# the chapter's collision dataset: above half at r = 14, below at r = 40 (verified in
# tests/test_exercises_capacity.py with two optimizer settings). Any answer in between is
# a correct rough estimate.
HALF_RANGE = (14.0, 40.0)


@lru_cache(maxsize=1)
def _inv_model() -> torch.nn.Module:
    return residual_model(d=3, blocks=2, seed=0)


@exercise_check("ex-inv-radius")
def check_invertible_layers_2(answer: Any) -> str | None:
    """``answer``: a pair ``(r_cert, r_half)``: the largest radius the theorem certifies (to
    two decimals) and, roughly, the smallest prompt radius at which the best loss is at
    most half the no-prompt loss."""
    r_cert, r_half = _pair(answer, "r_cert", "r_half")
    r_cert = as_number(r_cert, "r_cert")
    r_half = as_number(r_half, "r_half")
    if r_cert <= 0:
        raise Wrong("r_cert must be a positive radius")
    model = _inv_model()
    if injectivity_bound(model, r_cert).ell <= 0:
        raise Wrong("r_cert is too large: ell is not positive there, nothing is certified")
    if injectivity_bound(model, r_cert + 0.02).ell > 0:
        raise Wrong("r_cert is too small: ell is still positive beyond it (two decimals)")
    if r_half < HALF_RANGE[0]:
        raise Wrong(
            "r_half is too small: at that radius the best prompt still keeps more than half "
            "of the no-prompt loss"
        )
    if r_half > HALF_RANGE[1]:
        raise Wrong(
            "r_half is too large: the loss has fallen below half well before it (try "
            "radii between your grid points)"
        )
    return None


@lru_cache(maxsize=1)
def _wide() -> tuple[float, float]:
    wide = residual_model(d=3, blocks=2, seed=0, ff_norm=3.0)
    X, Y = collision_dataset(wide, L=1, seed=0)
    with torch.no_grad():
        no_prompt = float(fit_loss(wide(X), Y))
    return injectivity_bound(wide, 2.0).ell, no_prompt


@exercise_check("ex-inv-ff")
def check_invertible_layers_3(answer: Any) -> str | None:
    """``answer``: a pair ``(ell, loss)``: ``ell`` of ``cap.injectivity_bound`` at
    ``R_0 = 2`` for the model with ``ff_norm=3`` and the best prompt-tuning loss with
    ``max_norm=2`` on its collision dataset."""
    ell, loss = _pair(answer, "ell", "loss")
    ell, loss = as_number(ell, "ell"), as_number(loss, "loss")
    reference, no_prompt = _wide()
    if ell > 0:
        raise Wrong("ell is positive: is it the model with ff_norm=3.0, at R_0 = 2?")
    expect_close(ell, reference, rtol=1e-6, what="ell")
    if loss < 0.9 * no_prompt:
        raise Wrong(
            "loss is too small for prompts whose columns have norm at most 2 on this model: "
            "did you pass max_norm=2.0, and use the collision dataset of the ff_norm=3 model?"
        )
    if loss > 1.1 * no_prompt:
        raise Wrong("loss is too large: has prompt tuning run (more steps or restarts)?")
    return None
