"""The sharp check of the universality construction: equality off the quantizer's ramps.

The model built by :func:`~ptheory.universality.construct` is exact except where an input
entry lies within ``eta`` above a cell boundary (the ramps of ``FF_1``). Off those ramps
the prompt-tuned model must equal the quantized target ``q o f o q`` *exactly* (up to
float64 rounding), for every target, at every size. :func:`off_ramp_agreement` measures
the largest difference on random inputs; a wrong prompt (a constant one, another
target's, a random one) gives differences of the order of ``delta`` and fails
:meth:`Agreement.passes`. This is the check the chapters use, not the ``d_p`` bound, which
is loose at the sizes that can be built.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from .._validate import as_tensor, check_finite, check_int, check_real
from ..distance import uniform_inputs
from .build import UniversalModel
from .grid import levels, quantized_target

__all__ = ["Agreement", "off_ramp_agreement", "on_ramp"]

TOL = 1e-9


def on_ramp(X: torch.Tensor, delta: float, eta: float) -> torch.Tensor:
    """``(N,)`` bool: whether some entry of ``X: (N, ...)`` lies on a ramp of ``FF_1``,
    i.e. in ``[r delta, r delta + 2 eta]`` for a boundary ``r = 1, ..., V1 - 1`` (twice the
    ramp width, to stay clear of rounding at its end)."""
    v1 = levels(delta)
    eta = check_real(eta, "eta", minimum=0.0, strict_minimum=True)
    X = check_finite(as_tensor(X, "X", dtype=torch.float64), "X")
    if X.dim() < 1:
        raise ValueError("X must have a batch dimension, shape (N, ...)")
    above = X * v1 - torch.floor(X * v1)  # position inside the cell, in cells
    inside = (X > 0) & (X < 1) & (above * (1.0 / v1) <= 2 * eta)
    return inside.reshape(X.shape[0], -1).any(dim=1)


@dataclass(frozen=True)
class Agreement:
    """``max_error``: the largest entry-wise ``|tau_P(X) - q(f(q(X)))|`` over the inputs
    off the ramps; ``n_inputs`` drawn, ``n_off_ramp`` used."""

    max_error: float
    n_inputs: int
    n_off_ramp: int

    def passes(self, tol: float = TOL) -> bool:
        """Whether the tuned model equals the quantized target to ``tol`` off the ramps."""
        return self.max_error <= check_real(tol, "tol", minimum=0.0)


def off_ramp_agreement(
    model: UniversalModel,
    P: torch.Tensor,
    target: Callable[[torch.Tensor], torch.Tensor],
    *,
    n_samples: int = 4096,
    seed: int = 0,
) -> Agreement:
    """Compare ``model.forward(P, X)`` with ``q o target o q`` on ``n_samples`` uniform
    inputs ``X: (N, d, L)``, dropping those with an entry on a ramp (:func:`on_ramp`).

    For ``P = model.prompt_for(target)`` the construction says the difference is zero;
    any other prompt of a different table differs by at least one grid step somewhere.
    """
    if not isinstance(model, UniversalModel):
        raise TypeError(f"model must be a UniversalModel, got {type(model).__name__}")
    if not callable(target):
        raise TypeError(f"target must be callable, got {type(target).__name__}")
    n_samples = check_int(n_samples, "n_samples", minimum=1)
    seed = check_int(seed, "seed", minimum=0)
    X = uniform_inputs(n_samples, model.d, model.L, seed=seed)
    X = X[~on_ramp(X, model.delta, model.eta)]
    f_bar = quantized_target(target, model.d, model.L, model.delta)
    gap = (model.forward(P, X) - f_bar(X)).abs()
    return Agreement(
        max_error=float(gap.max()) if gap.numel() else 0.0,
        n_inputs=n_samples,
        n_off_ramp=int(X.shape[0]),
    )
