"""Exercises of the chapters unmemorizable_dataset and prompt_vs_lora: quick checks and probes.

- ``ex-unmem-radius``: the certified bound and the best prompt-tuning loss at four radii.
- ``ex-unmem-heads``: a tuned prompt of a two-head model and its distances from the
  segments of the segment lemma.
- ``ex-lora-query``: the losses of trained low-rank updates of ``W_Q``.
- ``ex-lora-general``: the reader's function that builds a dataset without a common apex.

The quick checks know what the exercises state (shapes, orders, that no prompt beats the
bound, that a tuned prompt beats no prompt, what the reader's own prompt gives) and no
reference answer; the instructor's graders (``ptheory_grading.capacity_rays``) recompute
the answers.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import torch

from ..capacity import fit_loss, single_layer_model
from ..model import prompt_forward
from ..segments import prompt_split, segment_fit
from ._core import Wrong, as_array, exercise

__all__: list[str] = []

UNMEM = "unmemorizable_dataset"
LORA = "prompt_vs_lora"
RADII = (0.25, 0.5, 1.0, 2.0)
"""The radii of ``ex-unmem-radius``, in the order of the answer's rows."""
HEAD_LENGTHS = (1, 4, 16)
"""The prompt lengths ``ex-unmem-heads`` tunes."""
GENERAL_CASES = ((3, 0), (3, 0), (2, 1), *((3, s) for s in range(1, 20)))
"""``(n, seed)`` on which ``ex-lora-general``'s probe runs the reader's function (the
first case twice: the same seed must give the same dataset)."""


def _pair(answer: Any, first: str, second: str) -> tuple[Any, Any]:
    if isinstance(answer, (str, bytes, dict)) or not isinstance(answer, (tuple, list)):
        raise Wrong(f"answer must be a pair ({first}, {second}), got {type(answer).__name__}")
    if len(answer) != 2:
        raise Wrong(f"answer must be a pair ({first}, {second}), got {len(answer)} items")
    return answer[0], answer[1]


# ------------------------------------------------------------------ ex-unmem-radius
def _radius_table(answer: Any) -> torch.Tensor:
    table = as_array(answer, (len(RADII), 2))
    if bool((table <= 0).any()):
        raise Wrong("bounds and losses are positive on this dataset: check the signs")
    return table


@exercise("ex-unmem-radius", chapter=UNMEM, probe=lambda a: _radius_table(a).tolist())
def _quick_radius(answer: Any) -> None:
    """Shape, order of the columns, and the theorem: no loss below its bound; the offsets
    grow with the radius, so does the bound."""
    table = _radius_table(answer)
    bound, loss = table[:, 0], table[:, 1]
    if bool((loss < bound).all()):
        raise Wrong(
            "in every row the loss is below the bound: are the columns in the order "
            "[bound, loss]? (no prompt can go below the bound)"
        )
    below = [f"{r:g}" for r, b, v in zip(RADII, bound, loss, strict=True) if v < b]
    if below:
        raise Wrong(
            f"for radius {', '.join(below)} the loss is below the bound, which no prompt "
            "can do: are both computed on the dataset of that radius?"
        )
    if bool((bound.diff() <= 0).any()):
        raise Wrong(
            "the bound must grow with the radius: are the rows in the order 0.25, 0.5, 1, 2?"
        )


# ------------------------------------------------------------------ ex-unmem-heads
@lru_cache(maxsize=1)
def two_head_problem() -> tuple[torch.nn.Module, torch.Tensor, torch.Tensor]:
    """The exercise's two-head model and its dataset."""
    from ..capacity import unmemorizable_dataset

    model = single_layer_model(d=3, seed=0, heads=2)
    X, Y = unmemorizable_dataset(model, seed=0)
    return model, X, Y


def prompt_distances(P: torch.Tensor) -> torch.Tensor:
    """The relative distances of the two last attention outputs from their segments, for
    the two-head model and the prompt ``P: (3, L_p)``."""
    model, X, _ = two_head_problem()
    with torch.no_grad():
        split = prompt_split(model.layers[0], P, X, queries=X[:, :, -1:])
        _, distance = segment_fit(split.output, split.prompt_part, split.input_part)
    return distance.reshape(-1)


def _heads_answer(answer: Any) -> tuple[torch.Tensor, torch.Tensor]:
    P, distance = _pair(answer, "P", "distance")
    P = as_array(P, what="P")
    if P.dim() != 2 or P.shape[0] != 3 or P.shape[1] not in HEAD_LENGTHS:
        raise Wrong(
            f"P must be one tuned prompt of shape (3, L_p) with L_p one of {HEAD_LENGTHS}, "
            f"got {tuple(P.shape)}"
        )
    got = as_array(distance, what="distance").reshape(-1)
    if got.numel() != 2:
        raise Wrong(
            f"distance must hold 2 numbers, one per example (the last column's query x_0 "
            f"only), got {got.numel()}"
        )
    return P, got


def _probe_heads(answer: Any) -> dict[str, list]:
    P, got = _heads_answer(answer)
    return {"P": P.tolist(), "distance": got.tolist()}


@exercise("ex-unmem-heads", chapter=UNMEM, probe=_probe_heads)
def _quick_heads(answer: Any) -> None:
    """Shapes; a prompt that was tuned (it beats no prompt); distances that are those of
    the reader's own prompt."""
    P, got = _heads_answer(answer)
    model, X, Y = two_head_problem()
    with torch.no_grad():
        loss = float(fit_loss(prompt_forward(model, P, X), Y))
        untuned = float(fit_loss(model(X), Y))
    if loss >= untuned:
        raise Wrong(
            "P does not improve on the two-head model without a prompt: tune it first "
            "(cap.prompt_tune on this model and dataset) and use the result's prompt"
        )
    if bool((got < 0).any()):
        raise Wrong("a distance is never negative")
    own = prompt_distances(P)
    if not torch.allclose(got, own, rtol=1e-6, atol=1e-12):
        raise Wrong(
            "these are not the distances of your prompt P: split with queries=X[:, :, -1:] "
            "(the last column) on model2.layers[0], and pass split.output, "
            "split.prompt_part, split.input_part to pt.segment_fit"
        )
