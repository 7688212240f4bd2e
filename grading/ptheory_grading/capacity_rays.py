"""Graders of the chapters unmemorizable_dataset and prompt_vs_lora (instructor-only).

Each grader recomputes what its exercise asks for, the way the exercise asks for it, and
compares the reader's numbers within that computation's own error: a certified bound to
1e-6, a prompt-tuning loss to the spread that other step counts and restarts give
(relative 2e-4 here, far below the gap to the bound, to the untuned loss and to round
guesses).
"""

from __future__ import annotations

from functools import lru_cache

import torch

from ptheory.capacity import (
    fit_loss,
    lora_fit,
    prompt_tune,
    ray_lower_bound,
    single_layer_model,
    unmemorizable_dataset,
)
from ptheory.exercises import capacity_rays as C
from ptheory.exercises._core import as_array
from ptheory.model import prompt_forward

from ._core import Wrong, grader

TUNED_RTOL = 2e-4
"""How far a best prompt-tuning loss may lie from the reference run's: other step counts
and restarts move it by about 1e-4 of the loss on these datasets."""


# ------------------------------------------------------------------ ex-unmem-radius
@lru_cache(maxsize=1)
def _radius_reference() -> tuple[tuple[float, float], ...]:
    """``(bound, best loss)`` per radius, computed the way the exercise asks."""
    model = single_layer_model(d=3, seed=0)
    out = []
    for rho in C.RADII:
        X, Y = unmemorizable_dataset(model, seed=0, radius=rho)
        tuned = prompt_tune(model, X, Y, [1, 8], steps=40, restarts=4).loss
        out.append((ray_lower_bound(model, X, Y), tuned))
    return tuple(out)


@grader("ex-unmem-radius")
def radius(data: object) -> None:
    """The bound to 1e-6; the best loss within the spread of prompt tuning."""
    table = as_array(data, (len(C.RADII), 2), what="answer")
    for rho, (bound, loss), (ref_bound, ref_loss) in zip(
        C.RADII, table.tolist(), _radius_reference(), strict=True
    ):
        if abs(bound - ref_bound) > 1e-6 * ref_bound:
            direction = "too large" if bound > ref_bound else "too small"
            raise Wrong(
                f"the bound for radius {rho:g} is {direction}: compute it with "
                "cap.ray_lower_bound on the dataset of that radius"
            )
        if loss < ref_loss * (1 - TUNED_RTOL):
            raise Wrong(
                f"the loss for radius {rho:g} is lower than prompt tuning reaches with "
                "prompts of 1 and 8 tokens: is it a tuned prompt's loss on that dataset?"
            )
        if loss > ref_loss * (1 + TUNED_RTOL):
            raise Wrong(
                f"the loss for radius {rho:g} is higher than prompt tuning reaches: take "
                "the best loss over lengths 1 and 8 (40 steps, 4 restarts, or more)"
            )


# ------------------------------------------------------------------ ex-unmem-heads
@lru_cache(maxsize=1)
def _heads_reference() -> float:
    """The best loss of the tuning the exercise asks for."""
    model, X, Y = C.two_head_problem()
    return prompt_tune(model, X, Y, list(C.HEAD_LENGTHS), steps=40, restarts=4).loss


@grader("ex-unmem-heads")
def heads(data: object) -> None:
    """The prompt as good as the asked tuning; the distances those of that prompt."""
    if not isinstance(data, dict) or set(data) != {"P", "distance"}:
        raise Wrong("your answer was not recorded as a pair (P, distance)")
    P = as_array(data["P"], what="P")
    got = as_array(data["distance"], (2,), what="distance")
    model, X, Y = C.two_head_problem()
    with torch.no_grad():
        loss = float(fit_loss(prompt_forward(model, P, X), Y))
    if loss > _heads_reference() * (1 + 1e-3):
        raise Wrong(
            "P is not the best prompt of the tuning the exercise asks for (lengths 1, 4 "
            "and 16, 40 steps, 4 restarts): take the result's prompt"
        )
    own = C.prompt_distances(P)
    if not torch.allclose(got, own, rtol=1e-6, atol=1e-12):
        raise Wrong("the distances are not those of your prompt P")


# ------------------------------------------------------------------ ex-lora-query
@lru_cache(maxsize=1)
def _query_reference() -> float:
    """The loss a trained update of ``W_Q`` reaches on the dataset, every rank (converged:
    each example's softmax weight at the best point of its segment)."""
    model, X, Y = C.query_problem()
    return lora_fit(model, X, Y, 1, method="train", weight="W_Q", steps=300).loss


@grader("ex-lora-query")
def query(data: object) -> None:
    """Each loss within 1e-6 of the converged loss of a trained update of ``W_Q`` (50
    steps are within 3e-8 of it; 10 steps are 1e-2 above, round numbers further off)."""
    losses = as_array(data, (3,), what="answer")
    reference = _query_reference()
    for r, value in zip((1, 2, 3), losses.tolist(), strict=True):
        if value < reference * (1 - 1e-6):
            raise Wrong(
                f"the loss for r = {r} is lower than any update of W_Q reaches on this "
                "dataset: is it the apex dataset with n = 3, the chapter's model, and an "
                "update of W_Q (not W_V)?"
            )
        if value > reference * (1 + 1e-6):
            raise Wrong(
                f"the loss for r = {r} is higher than a trained update of W_Q reaches: has "
                "the training converged (method='train', 50 steps or more)?"
            )


# ------------------------------------------------------------------ ex-lora-general
@grader("ex-lora-general")
def general(data: object) -> None:
    """The datasets the reader's function built, judged on the properties the exercise
    states (the offsets are random: there is no one reference dataset)."""
    if not isinstance(data, list) or len(data) != len(C.GENERAL_CASES):
        raise Wrong("your function's datasets were not recorded for every test case")
    datasets = []
    for (n, _), item in zip(C.GENERAL_CASES, data, strict=True):
        X = as_array(item["X"], (n, 4, 2), what=f"X (n = {n})")
        Y = as_array(item["Y"], (n, 4, 1), what=f"Y (n = {n})")
        datasets.append((X, Y))
    C.general_verdict(datasets)
