"""Checks for the exercises of the Capacity chapters (memorization_capacity,
invertible_layers; unmemorizable_dataset's and prompt_vs_lora's are in
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
)
from ..model import prompt_forward
from ._core import Wrong, as_array, as_number, exercise_check, expect_close

__all__ = [
    "check_invertible_layers_2",
    "check_invertible_layers_3",
    "check_memorization_capacity_2",
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
