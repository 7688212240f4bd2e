"""One attention layer as a contextual mapping, measured on the whole grid.

For the token codes of :func:`~ptheory.universality.layers.ff1_layer`, the attention
layer of :func:`~ptheory.universality.layers.contextual_attention` sends column ``k`` of
``[P, X]`` to ``a_k + boltz(a; lam a_k)`` where ``boltz(a; beta) = sum_i a_i e^{beta a_i}
/ sum_i e^{beta a_i}`` is the Boltzmann operator (Kajitsuka and Sato 2024). It is a
*contextual mapping* on the grid when distinct (prompt, input, position) triples get
distinct codes; :func:`contextual_separation` measures the smallest gap ``delta_cm``
over every grid prompt and grid input. At ``lam = 0`` the layer averages the codes and
distinct sequences with the same code sum collide. In float64 a very small or very large
``lam`` also loses the codes to rounding (the relative gap shrinks like ``lam^3`` for small
``lam``; for large ``lam`` the weights of low tokens underflow), although the exact map
stays injective there: compare :mod:`.precision`, which computes the same codes exactly.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from .._validate import check_int, check_real
from .build import grid_codes
from .grid import levels

__all__ = ["Separation", "contextual_separation", "separation_curve"]


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
    d: int, L: int, delta: float, lam: float, *, rank: str = "one", tol: float = 1e-9
) -> Separation:
    """Codes of every (grid prompt, grid input, position) after the attention layer, in
    float64 (for exact arithmetic see :mod:`.precision`).

    ``lam`` is ``lambda`` (``W_K^T W_Q = lam e_1 e_1^T`` or ``lam I``); ``0`` is allowed
    and gives the averaging layer. Lists all ``V^{L_p} G L`` triples, so only toy sizes
    run (see :func:`~ptheory.universality.build.dimensions`).
    """
    d = check_int(d, "d", minimum=1)
    L = check_int(L, "L", minimum=1)
    levels(delta)
    lam = check_real(lam, "lam", minimum=0.0)
    tol = check_real(tol, "tol", minimum=0.0)
    codes = torch.sort(grid_codes(d, L, delta, lam=lam, rank=rank).reshape(-1)).values
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


def separation_curve(
    d: int, L: int, delta: float, lams: Sequence[float], *, rank: str = "one"
) -> torch.Tensor:
    """``contextual_separation(...).relative`` for each ``lambda``: ``(len(lams),)``."""
    if len(lams) == 0:
        raise ValueError("lams must hold at least one lambda")
    return torch.tensor(
        [contextual_separation(d, L, delta, s, rank=rank).relative for s in lams],
        dtype=torch.float64,
    )
