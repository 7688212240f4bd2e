"""Checks for the exercises of the Capacity chapters unmemorizable_dataset and
prompt_vs_lora (those of memorization_capacity and invertible_layers are in
:mod:`ptheory.exercises.capacity_memory`).

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
    fit_loss,
    ray_lower_bound,
    single_layer_model,
    unmemorizable_dataset,
)
from ..capacity.rays import ff_inverse
from ..model import prompt_forward
from ..segments import prompt_split, segment_fit
from ._core import Wrong, as_array, as_function, call, exercise_check, expect_close

__all__ = [
    "check_prompt_vs_lora_2",
    "check_prompt_vs_lora_3",
    "check_unmemorizable_dataset_2",
    "check_unmemorizable_dataset_3",
]


def _pair(answer: Any, first: str, second: str) -> tuple[Any, Any]:
    """The two parts of an answer given as a pair ``(first, second)``."""
    if isinstance(answer, (str, bytes, dict)) or not isinstance(answer, (tuple, list)):
        raise Wrong(f"answer must be a pair ({first}, {second}), got {type(answer).__name__}")
    if len(answer) != 2:
        raise Wrong(f"answer must be a pair ({first}, {second}), got {len(answer)} items")
    return answer[0], answer[1]


# ------------------------------------------------------------ unmemorizable_dataset
RADII = (0.25, 0.5, 1.0, 2.0)


@lru_cache(maxsize=1)
def _radius_reference() -> tuple[tuple[float, float], ...]:
    """``(ray bound, loss of the frozen model without a prompt)`` for each radius."""
    model = single_layer_model(d=3, seed=0)
    out = []
    for r in RADII:
        X, Y = unmemorizable_dataset(model, seed=0, radius=r)
        with torch.no_grad():
            no_prompt = float(fit_loss(model(X), Y))
        out.append((ray_lower_bound(model, X, Y), no_prompt))
    return tuple(out)


@exercise_check("ex-unmem-radius")
def check_unmemorizable_dataset_2(answer: Any) -> str | None:
    """``answer``: a ``(4, 2)`` array, one row per radius ``r = 0.25, 0.5, 1, 2``, holding
    ``[ray lower bound, best prompt-tuning loss]``."""
    table = as_array(answer, (len(RADII), 2))
    reference = _radius_reference()
    if bool((table[:, 1] < table[:, 0]).all()) and bool((table[:, 0] > 0).all()):
        raise Wrong(
            "in every row the loss is below the bound: are the columns in the order "
            "[bound, loss]? (no prompt can go below the bound)"
        )
    for r, row, (bound, no_prompt) in zip(RADII, table, reference, strict=True):
        expect_close(float(row[0]), bound, rtol=1e-5, what=f"the bound for r = {r:g}")
        loss = float(row[1])
        if loss < bound * (1.0 - 1e-9):
            raise Wrong(
                f"the loss for r = {r:g} is below the lower bound, which no prompt can do: "
                "is it the loss of this dataset, computed with cap.fit_loss on the model?"
            )
        if loss > no_prompt * (1.0 + 1e-9):
            raise Wrong(
                f"the loss for r = {r:g} is above the loss of the frozen model without a "
                "prompt: has prompt tuning run (more steps or restarts)?"
            )
    return None


@lru_cache(maxsize=1)
def _two_heads() -> tuple[torch.nn.Module, torch.Tensor, torch.Tensor, float]:
    model = single_layer_model(d=3, seed=0, heads=2)
    X, Y = unmemorizable_dataset(model, seed=0)
    with torch.no_grad():
        no_prompt = float(fit_loss(model(X), Y))
    return model, X, Y, no_prompt


@exercise_check("ex-unmem-heads")
def check_unmemorizable_dataset_3(answer: Any) -> str | None:
    """``answer``: a pair ``(P, distance)``: the tuned prompt ``P: (3, L_p)`` of the two-head
    model and the two relative distances (one per example) that ``pt.segment_fit`` reports
    for the last attention outputs with this prompt."""
    P, distance = _pair(answer, "P", "distance")
    model, X, Y, no_prompt = _two_heads()
    P = as_array(P, what="P")
    if P.dim() != 2 or P.shape[0] != 3 or P.shape[1] < 1:
        raise Wrong(f"P must be one prompt of shape (3, L_p), got {tuple(P.shape)}")
    with torch.no_grad():
        loss = float(fit_loss(prompt_forward(model, P, X), Y))
        split = prompt_split(model.layers[0], P, X, queries=X[:, :, -1:])
        _, expected = segment_fit(split.output, split.prompt_part, split.input_part)
    if loss > 0.95 * no_prompt:
        raise Wrong(
            "P barely improves on the two-head model without a prompt: tune it first "
            "(cap.prompt_tune on this model and dataset) and use the result's prompt"
        )
    expected = expected.reshape(-1)
    got = as_array(distance, what="distance").reshape(-1)
    if got.numel() != 2:
        raise Wrong(
            f"distance must hold 2 numbers, one per example (the last column's query "
            f"x_0 only), got {got.numel()}"
        )
    for i in range(2):
        expect_close(
            float(got[i]),
            float(expected[i]),
            rtol=1e-5,
            atol=1e-9,
            what=f"the distance of example {i + 1}",
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
