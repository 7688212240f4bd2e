"""Exercises of the chapters memorization_capacity and invertible_layers: quick checks and
probes.

- ``ex-mem-short``: the errors of the lookup model with one prompt token removed, a
  ``(9, 9)`` array.
- ``ex-inv-radius``: the largest radius the injectivity theorem certifies, and the best
  prompt-tuning loss (as a fraction of the loss without a prompt) at three larger radii.
- ``ex-inv-ff``: the certified factor and the best bounded prompt-tuning loss of a model
  whose feed-forward branches expand.

The quick checks know the exercises' inputs (the models and datasets the exercises name)
and the properties every answer has; the instructor's graders recompute the answers.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import torch

from ..capacity import collision_dataset, fit_loss, residual_model
from ._core import Wrong, as_array, as_number, exercise

__all__: list[str] = []

MEMORY = "memorization_capacity"
INVERTIBLE = "invertible_layers"
RADII = (4.0, 8.0, 16.0)
"""The prompt radii of ``ex-inv-radius``."""


def _pair(answer: Any, first: str, second: str) -> tuple[Any, Any]:
    """The two parts of an answer given as a pair ``(first, second)``."""
    if isinstance(answer, (str, bytes, dict)) or not isinstance(answer, (tuple, list)):
        raise Wrong(f"answer must be a pair ({first}, {second}), got {type(answer).__name__}")
    if len(answer) != 2:
        raise Wrong(f"answer must be a pair ({first}, {second}), got {len(answer)} items")
    return answer[0], answer[1]


# ------------------------------------------------------------------ ex-mem-short
N_GRID = 9  # bump_dataset(2, 0.1): k = 3 points per coordinate, 3^2 grid inputs


def _errors(answer: Any) -> torch.Tensor:
    errors = as_array(answer, (N_GRID, N_GRID))
    if bool((errors < 0).any()):
        raise Wrong("errors must be absolute values (non-negative): take .abs() of the gap")
    return errors


def _probe_short(answer: Any) -> list[list[float]]:
    return _errors(answer).tolist()


@exercise("ex-mem-short", chapter=MEMORY, probe=_probe_short)
def _quick_short(answer: Any) -> None:
    """Shape, sign, and the mistake of comparing the outputs with themselves."""
    errors = _errors(answer)
    if float(errors.max()) < 1e-3:
        raise Wrong(
            "every error is (almost) zero: is one prompt token really removed in each row, "
            "and are the outputs compared with Y rather than with themselves?"
        )


# ------------------------------------------------------------------ ex-inv-radius
def _radius_answer(answer: Any) -> tuple[float, torch.Tensor]:
    r_cert, kept = _pair(answer, "r_cert", "kept")
    r_cert = as_number(r_cert, "r_cert")
    kept = as_array(kept, what="kept").reshape(-1)
    if kept.numel() != len(RADII):
        raise Wrong(
            f"kept must hold {len(RADII)} numbers, one for each radius "
            f"{', '.join(f'{r:g}' for r in RADII)}, got {kept.numel()}"
        )
    return r_cert, kept


def _probe_radius(answer: Any) -> dict[str, Any]:
    r_cert, kept = _radius_answer(answer)
    return {"r_cert": r_cert, "kept": kept.tolist()}


@exercise("ex-inv-radius", chapter=INVERTIBLE, probe=_probe_radius)
def _quick_radius(answer: Any) -> None:
    """A positive radius to two decimals; fractions of the loss without a prompt, which a
    larger ball cannot make larger."""
    r_cert, kept = _radius_answer(answer)
    if r_cert <= 0:
        raise Wrong("r_cert must be a positive radius")
    if abs(100 * r_cert - round(100 * r_cert)) > 1e-6:
        raise Wrong("give r_cert to two decimals (the largest certified radius on that grid)")
    if bool((kept <= 0).any()) or bool((kept > 1.05).any()):
        raise Wrong(
            "each entry of kept is the best loss divided by the loss without a prompt; on "
            "this model that is a number between 0 and 1"
        )
    if bool((kept[1:] > 1.02 * kept[:-1]).any()):
        raise Wrong(
            "kept grows with the radius, but a larger ball contains the smaller one: "
            "the best loss found should not grow (more steps or restarts?)"
        )


# ------------------------------------------------------------------ ex-inv-ff
def _ff_answer(answer: Any) -> tuple[float, float]:
    alpha, loss = _pair(answer, "alpha", "loss")
    return as_number(alpha, "alpha"), as_number(loss, "loss")


def _probe_ff(answer: Any) -> dict[str, float]:
    alpha, loss = _ff_answer(answer)
    return {"alpha": alpha, "loss": loss}


@lru_cache(maxsize=1)
def expanding_case() -> tuple[torch.nn.Module, torch.Tensor, torch.Tensor]:
    """The model of ``ex-inv-ff`` (feed-forward branches of norm 3) and its dataset."""
    model = residual_model(d=3, blocks=2, seed=0, ff_norm=3.0)
    X, Y = collision_dataset(model, L=1, seed=0)
    return model, X, Y


@exercise("ex-inv-ff", chapter=INVERTIBLE, probe=_probe_ff)
def _quick_ff(answer: Any) -> None:
    """Two numbers; a positive loss; not the loss of the model without a prompt."""
    _, loss = _ff_answer(answer)
    if loss <= 0:
        raise Wrong("loss must be positive: the mean squared error of the tuned prompt")
    model, X, Y = expanding_case()
    with torch.no_grad():
        untuned = float(fit_loss(model(X), Y))
    if abs(loss - untuned) <= 1e-9 * untuned:
        raise Wrong(
            "loss is the loss of the model without any prompt: the exercise asks for the "
            "best loss of prompt tuning with max_norm=2.0"
        )
