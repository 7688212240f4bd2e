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
from ..capacity.single_layer import ff_inverse
from ..model import prompt_forward
from ..segments import prompt_split, segment_fit
from ._core import Wrong, as_array, as_function, call, exercise

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


# ------------------------------------------------------------------ ex-lora-query
@lru_cache(maxsize=1)
def query_problem() -> tuple[torch.nn.Module, torch.Tensor, torch.Tensor]:
    """The chapter's model (d = 4) and its apex dataset of three examples."""
    from ..capacity import apex_dataset

    model = single_layer_model(d=4, seed=0)
    X, Y = apex_dataset(model, 3, seed=0)
    return model, X, Y


def _query_losses(answer: Any) -> torch.Tensor:
    losses = as_array(answer, what="answer").reshape(-1)
    if losses.numel() != 3:
        raise Wrong(f"answer must hold 3 losses (r = 1, 2, 3), got {losses.numel()}")
    return losses


@exercise("ex-lora-query", chapter=LORA, probe=lambda a: _query_losses(a).tolist())
def _quick_query(answer: Any) -> None:
    """Three losses; training has run (below the untuned loss); not an exact fit, which
    an update of ``W_Q`` cannot give (a typical mistake: updating ``W_V``)."""
    losses = _query_losses(answer)
    model, X, Y = query_problem()
    with torch.no_grad():
        untuned = float(fit_loss(model(X), Y))
    for r, value in zip((1, 2, 3), losses.tolist(), strict=True):
        if value <= 1e-6:
            raise Wrong(
                f"the loss for r = {r} is (almost) zero: an update of W_Q only changes the "
                "softmax weights, which move each output along a segment; is it W_V that "
                "was updated (weight='W_Q')?"
            )
        if value >= untuned:
            raise Wrong(
                f"the loss for r = {r} is not below the loss of the model without any "
                "update: has the training run (method='train', steps > 0)?"
            )


# ------------------------------------------------------------------ ex-lora-general
def _general_outputs(answer: Any) -> list[tuple[torch.Tensor, torch.Tensor]]:
    make = as_function(answer)
    model = single_layer_model(d=4, seed=0)
    d = model.layers[0].d
    out = []
    for n, seed in GENERAL_CASES:
        what = f"your function (n = {n}, seed = {seed})"
        X, Y = _pair(call(make, model, n, seed, what=what), "X", "Y")
        X = as_array(X, (n, d, 2), what=f"X (n = {n})")
        Y = as_array(Y, (n, d, 1), what=f"Y (n = {n})")
        out.append((X, Y))
    return out


def _probe_general(answer: Any) -> list[dict[str, list]]:
    return [{"X": X.tolist(), "Y": Y.tolist()} for X, Y in _general_outputs(answer)]


def general_verdict(datasets: list[tuple[torch.Tensor, torch.Tensor]]) -> None:
    """Raise :class:`Wrong` unless the datasets, built on :data:`GENERAL_CASES`, have what
    the exercise states: inputs in ``[0, 1]`` with distinct queries, the same dataset for
    the same seed, rays without a common apex, and offsets ``c_i - b_i`` distributed as
    ``zeta_i / 2`` for independent standard Gaussian ``zeta_i`` (mean 0, variance 1/4, no
    common direction), different for different seeds. No reference dataset is needed."""
    model = single_layer_model(d=4, seed=0)
    attn, ff = model.layers
    offsets, bs = [], []
    for (n, _), (X, Y) in zip(GENERAL_CASES, datasets, strict=True):
        if bool((X < 0).any()) or bool((X > 1).any()):
            raise Wrong("X must be drawn in [0, 1] like cap.apex_dataset's inputs")
        if n > 1 and float(torch.pdist(X[:, :, -1]).min()) == 0.0:
            raise Wrong("the examples must have distinct query tokens (last columns)")
        with torch.no_grad():
            b = attn.attend(X[:, :, -1:], X)[..., 0]
            c = ff_inverse(ff, Y)[..., 0] - X[:, :, -1]
        bs.append(b)
        offsets.append(c - b)
    first, again = offsets[0], offsets[1]
    if not torch.allclose(first, again, rtol=0, atol=1e-12):
        raise Wrong("two calls with the same seed gave different datasets: draw from seed")
    if _apex_miss(bs[0], first) < 1e-6 * float(first.norm()):
        raise Wrong("these rays share an apex: the exercise asks for offsets in general position")
    draws = [first] + [e for (n, _), e in zip(GENERAL_CASES[3:], offsets[3:], strict=True)]
    if any(torch.allclose(first, e, atol=1e-12) for e in draws[1:]):
        raise Wrong("different seeds gave the same offsets: the seed must change the draw")
    g = 2.0 * torch.cat(draws).reshape(-1)  # the entries of the zeta_i
    if abs(float(g.mean())) > 0.3:
        raise Wrong("the offsets c_i - b_i are not centred: zeta_i must be standard Gaussian")
    cosines = [
        float(torch.nn.functional.cosine_similarity(E[i], E[j], dim=0))
        for E in draws
        for i in range(3)
        for j in range(i)
    ]
    if sum(cosines) / len(cosines) > 0.5:
        raise Wrong("the offsets of the examples point the same way: draw one zeta_i per example")
    var = float(g.var())
    if var > 1.6:
        raise Wrong("the offsets c_i - b_i are too large for zeta_i / 2, zeta_i standard Gaussian")
    if var < 0.6:
        raise Wrong("the offsets c_i - b_i are too small for zeta_i / 2, zeta_i standard Gaussian")


def _apex_miss(b: torch.Tensor, e: torch.Tensor) -> float:
    """How far the lines ``b_i + t e_i`` are from passing through one point (least squares).

    Rays with a common apex ``o`` have ``e_i`` parallel to ``b_i - o``: their lines meet."""
    u = e / e.norm(dim=-1, keepdim=True).clamp_min(1e-300)
    proj = torch.eye(u.shape[1], dtype=u.dtype) - u[:, :, None] * u[:, None, :]  # (n, d, d)
    o = torch.linalg.lstsq(proj.sum(0), (proj @ b[:, :, None]).sum(0)).solution[:, 0]
    return float(sum((proj[i] @ (o - b[i])).norm() for i in range(b.shape[0])))


@exercise("ex-lora-general", chapter=LORA, probe=_probe_general)
def _quick_general(answer: Any) -> None:
    """The reader's datasets have every property the exercise states."""
    general_verdict(_general_outputs(answer))
