"""Oracle against gradient: can the construction's prompt be *tuned*, or only read off?

:meth:`~ptheory.universality.UniversalModel.prompt_for` reads the prompt from the target's
table. Prompt tuning proper minimises a loss by gradient. :func:`oracle_vs_gradient` puts
the two side by side on one dataset ``(X, f(X))``, ``d = L = 1``, with the capacity part's
batched engine (:func:`ptheory.capacity.engine.prompt_tune`, L-BFGS, same restarts and
steps for every model):

* the construction itself: its loss is piecewise constant in ``P`` (``FF_1`` is a
  staircase whose ramps have width ``eta``), so the gradient vanishes almost everywhere;
* the construction with the widest ramps ``construct`` allows (``eta = delta / 4``);
* a random frozen one-layer transformer (:func:`ptheory.model.build_transformer`), for
  several prompt lengths;
* the trivial baseline: the best constant output (the variance of ``f(X)``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from .._validate import check_int
from ..distance import uniform_inputs
from ..model import build_transformer, prompt_forward
from .build import cached_construct, one_thread

__all__ = ["TuningComparison", "oracle_vs_gradient"]


@dataclass(frozen=True)
class TuningComparison:
    """Mean squared losses ``(1/N) sum ||tau_P(X_i) - f(X_i)||^2`` on one dataset.

    ``oracle``: the construction with ``prompt_for(f)``; ``trivial``: the best constant;
    ``sharp``, ``smooth``: best loss after tuning the construction (default ``eta``) and its
    smoothed version from random prompts in ``[0, 1]``, with ``sharp_start``,
    ``smooth_start`` the best loss before tuning; ``grad_random``, ``grad_oracle``: the
    largest entry of the loss's gradient in ``P`` for the sharp construction at the
    random starting prompts and at the oracle prompt; ``grad_smooth``: the same at the
    same starting prompts for the smoothed construction; ``random_model``: best loss of a
    random frozen transformer for each of ``lengths``.
    """

    oracle: float
    trivial: float
    sharp: float
    sharp_start: float
    smooth: float
    smooth_start: float
    grad_random: float
    grad_oracle: float
    grad_smooth: float
    lengths: tuple[int, ...]
    random_model: tuple[float, ...]


def _loss(out: torch.Tensor, Y: torch.Tensor) -> torch.Tensor:
    return (out - Y).pow(2).sum(dim=(-2, -1)).mean(dim=-1)


def _grad(model, P: torch.Tensor, X: torch.Tensor, Y: torch.Tensor) -> float:
    P = P.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(_loss(prompt_forward(model, P, X), Y), P)
    return float(grad.abs().max())


@one_thread
def oracle_vs_gradient(
    target: Callable[[torch.Tensor], torch.Tensor],
    delta: float = 0.25,
    *,
    lengths: Sequence[int] = (1, 2, 4, 8, 16),
    n_samples: int = 128,
    restarts: int = 4,
    steps: int = 30,
    seed: int = 0,
) -> TuningComparison:
    """Compare the oracle prompt with gradient-tuned prompts (see the module), ``d = L = 1``.

    ``target`` maps ``(N, 1, 1)`` into ``[0, 1]``; ``delta`` is the construction's grid.
    """
    from ..capacity.engine import prompt_tune  # the capacity part's batched engine

    if not callable(target):
        raise TypeError(f"target must be callable, got {type(target).__name__}")
    n_samples = check_int(n_samples, "n_samples", minimum=1)
    restarts = check_int(restarts, "restarts", minimum=1)
    steps = check_int(steps, "steps", minimum=0)
    seed = check_int(seed, "seed", minimum=0)
    lengths = tuple(check_int(n, "lengths", minimum=1) for n in lengths)
    if not lengths:
        raise ValueError("lengths must hold at least one prompt length")
    X = uniform_inputs(n_samples, 1, 1, seed=seed)
    with torch.no_grad():
        Y = torch.as_tensor(target(X), dtype=torch.float64)
    sharp = cached_construct(1, 1, delta)
    smooth = cached_construct(1, 1, delta, eta=sharp.delta / 4)
    L_p = sharp.prompt_length
    gen = torch.Generator().manual_seed(seed)
    starts = torch.rand(restarts, 1, L_p, generator=gen, dtype=torch.float64)
    oracle_P = sharp.prompt_for(target)
    tuned = {}
    for name, model in (("sharp", sharp), ("smooth", smooth)):
        res = prompt_tune(model.model, X, Y, L_p, steps=steps, restarts=restarts, init=starts)
        tuned[name] = (res.loss, float(res.curve[0].min()))
    rnd = build_transformer(1, max_len=max(lengths) + 1, seed=seed)
    res = prompt_tune(rnd, X, Y, list(lengths), steps=steps, restarts=restarts, seed=seed)
    with torch.no_grad():
        oracle = float(_loss(sharp.forward(oracle_P, X), Y))
    return TuningComparison(
        oracle=oracle,
        trivial=float((Y - Y.mean()).pow(2).sum(dim=(-2, -1)).mean()),
        sharp=tuned["sharp"][0],
        sharp_start=tuned["sharp"][1],
        smooth=tuned["smooth"][0],
        smooth_start=tuned["smooth"][1],
        grad_random=max(_grad(sharp.model, P, X, Y) for P in starts),
        grad_oracle=_grad(sharp.model, oracle_P, X, Y),
        grad_smooth=max(_grad(smooth.model, P, X, Y) for P in starts),
        lengths=lengths,
        random_model=tuple(res.loss_by_length()),
    )
