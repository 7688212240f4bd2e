"""Checks for the exercises of the chapter ``real_soft_prompts`` (Real models part).

Each check recomputes what it needs from :mod:`ptheory.real` and
:mod:`ptheory.capacity` (cached), on the packaged pretrained encoder, and tests
properties every correct answer has: the certified bound recomputed, a tuned loss that no
prompt can beat and that must fit the same-direction dataset.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from ._core import Wrong, as_array, as_number, exercise_check

__all__ = ["check_real_soft_prompts_2", "check_real_soft_prompts_3"]

TILTS = (0.25, 0.5, 1.0)


@lru_cache(maxsize=1)
def _encoder() -> Any:
    from ..real import load_encoder

    return load_encoder()


@lru_cache(maxsize=8)
def _bound_and_base(tilt: float, same_direction: bool) -> tuple[float, float]:
    """The certified bound (1,000 cells, no refinement) and the loss without a prompt of
    the seed-0, head-0 ray dataset at the head level."""
    from ..capacity import ray_bound
    from ..real import no_prompt_loss, ray_dataset, ray_problem

    enc = _encoder()
    data = ray_dataset(enc, seed=0, tilt=tilt, same_direction=same_direction)
    bound = ray_bound(*ray_problem(enc, data), cells=1000, refine=0).bound
    return bound, no_prompt_loss(enc, data, "head")


@exercise_check("ex-real-tilt")
def check_real_soft_prompts_2(answer: Any) -> str | None:
    """``answer``: three ratios, certified bound / loss without a prompt, for the ray
    dataset (seed 0, head 0) at tilts 0.25, 0.5 and 1, in this order."""
    ratios = as_array(answer, (len(TILTS),))
    if bool((ratios <= 0).any()):
        raise Wrong("every ratio must be positive: the rays never meet, the bound is certified")
    if bool((ratios > 1 + 1e-9).any()):
        raise Wrong("a ratio above 1 cannot be: the loss without a prompt is never below the bound")
    for t, r in zip(TILTS, ratios.tolist(), strict=True):
        bound, base = _bound_and_base(t, False)
        if abs(r - bound / base) > 1e-3 * bound / base:
            raise Wrong(
                f"tilt {t}: the ratio differs from the recomputed one; use seed=0, head 0, "
                "cells=1000, refine=0, and divide by the loss without a prompt (head level)"
            )
    return None


@exercise_check("ex-real-same")
def check_real_soft_prompts_3(answer: Any) -> str | None:
    """``answer``: ``(bound, best_loss)`` for ``ray_dataset(enc, 0, same_direction=True)``
    at the head level: the certified bound and the best tuned loss over lengths 1, 4, 16."""
    if isinstance(answer, (str, bytes, dict)) or not isinstance(answer, (tuple, list)):
        raise Wrong("answer must be a pair (bound, best_loss)")
    if len(answer) != 2:
        raise Wrong(f"answer must be a pair (bound, best_loss), got {len(answer)} items")
    bound, best = as_number(answer[0], "bound"), as_number(answer[1], "best_loss")
    reference, base = _bound_and_base(0.5, True)
    if abs(bound - reference) > 1e-3 * reference + 1e-12:
        raise Wrong("the bound differs from the recomputed one (seed=0, cells=1000, refine=0)")
    if best < reference * (1 - 1e-6):
        raise Wrong("best_loss is below the certified bound: no prompt can do that")
    if not best < 0.05 * base:
        raise Wrong(
            "best_loss must be below 5% of the loss without a prompt: tune the prompts on the "
            "same-direction dataset (lengths 1, 4, 16; steps=100, lr=0.05), which they can fit"
        )
    return None
