"""One attention layer as a contextual mapping, measured on the whole grid in float64.

For the token codes of :func:`~ptheory.universality.layers.ff1_layer`, the attention
layer of :func:`~ptheory.universality.layers.contextual_attention` sends column ``k`` of
``[P, X]`` to ``theta_k + sum_i theta_i e^{beta theta_k theta_i} / sum_i e^{beta theta_k
theta_i}``, the query's code plus a Boltzmann average of all codes (Kajitsuka and Sato
2024). It is a *contextual mapping* on the grid when distinct (prompt, input, position)
triples get distinct codes; :func:`contextual_separation` measures the smallest gap
``delta_cm`` over every grid prompt and grid input, in float64. At ``beta = 0`` the layer
averages the codes and distinct sequences with the same code sum collide. For the same
codes in exact arithmetic see :mod:`.precision`, and for the scales at which two codes
coincide, :mod:`.scales`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .._validate import check_int, check_real
from .build import grid_codes
from .grid import levels

__all__ = ["Separation", "contextual_separation"]


@dataclass(frozen=True)
class Separation:
    """``min_gap``: smallest distance between the codes of distinct triples; ``code_range``:
    largest minus smallest code; ``relative = min_gap / code_range``; ``n_codes``: how many
    triples; ``n_collisions``: pairs of neighbouring codes closer than ``tol * code_range``."""

    min_gap: float
    code_range: float
    relative: float
    n_codes: int
    n_collisions: int

    def injective(self, tol: float = 1e-9) -> bool:
        """Whether every gap exceeds ``tol`` times the range (float64 can tell codes apart)."""
        return self.relative > check_real(tol, "tol", minimum=0.0)


def contextual_separation(
    d: int, L: int, delta: float, beta: float, *, rank: str = "one", tol: float = 1e-9
) -> Separation:
    """Codes of every (grid prompt, grid input, position) after the attention layer, in
    float64 (for exact arithmetic see :mod:`.precision`).

    ``beta`` is the attention scale (``W_K^T W_Q = beta e_1 e_1^T`` or ``beta I``); ``0``
    is allowed and gives the averaging layer. Lists all ``V^{L_p} G L`` triples, so only toy sizes
    run (see :func:`~ptheory.universality.build.dimensions`).
    """
    d = check_int(d, "d", minimum=1)
    L = check_int(L, "L", minimum=1)
    levels(delta)
    beta = check_real(beta, "beta", minimum=0.0)
    tol = check_real(tol, "tol", minimum=0.0)
    codes = torch.sort(grid_codes(d, L, delta, beta=beta, rank=rank).reshape(-1)).values
    gaps = codes.diff()
    rng = float(codes[-1] - codes[0])
    min_gap = float(gaps.min())
    return Separation(
        min_gap=min_gap,
        code_range=rng,
        relative=min_gap / rng if rng > 0 else 0.0,
        n_codes=len(codes),
        n_collisions=int((gaps <= tol * rng).sum()),
    )
