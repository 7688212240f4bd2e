"""How long a prompt must be to memorize: the counting bound and its covering form.

**The counting bound** (this book's own). Put a grid of ``k = max(1, ceil(C / (4 eps)))``
points per coordinate on ``[0, 1]`` and take the ``N = k^{dL}`` grid inputs in
``[0, 1]^{d x L}``. On each grid input ``g`` and each of the ``dL`` output entries, a bump
``max(0, eta - C ||X - g||_inf)`` of height ``eta = min(C h / 2, 1/2) > 2 eps`` (``h`` the
grid spacing) is either added to ``1/2`` or not (:func:`bump_target`): ``2^{dL N}``
different ``C``-Lipschitz targets (in the max norm), any two of which differ by
``eta > 2 eps`` on some grid input. One prompt cannot fit two of them to accuracy ``eps``.
If each prompt token takes at most ``2^nu`` values, ``L_p`` tokens give at most
``2^{nu L_p}`` prompts, so memorizing every such dataset needs

    L_p >= d L k^{dL} / nu.

The count holds for **any** method whose tunable parameters take at most ``2^nu`` values
each (LoRA or fine-tuning with ``nu``-bit weights included), so it is not a limit of prompt
tuning as such. For real-valued prompts of bounded norm :func:`covering_length_bound`
replaces the count by a covering number and a Lipschitz constant of ``P -> tau_P``
(:func:`ptheory.capacity.prompt_lipschitz`).
"""

from __future__ import annotations

import itertools
import math
from fractions import Fraction

import torch

from .._validate import as_tensor, check_finite, check_int, check_matrix_batch, check_real

__all__ = [
    "bump_dataset",
    "bump_height",
    "bump_lipschitz_ratio",
    "bump_target",
    "counting_lower_bound",
    "covering_length_bound",
    "grid_points_per_coordinate",
    "level_dataset",
]

MAX_GRID = 5_000


def _check_eps(eps: float) -> float:
    """The one check of ``eps`` in this module: ``0 < eps < 1/4``."""
    eps = check_real(eps, "eps", minimum=0.0, maximum=0.25, strict_minimum=True)
    if eps == 0.25:
        raise ValueError("eps must be below 1/4, got 0.25")
    return eps


def grid_points_per_coordinate(eps: float, lipschitz: float = 1.0) -> int:
    """``k = max(1, ceil(C / (4 eps)))``: grid points per coordinate of the counting bound.

    Requires ``0 < eps < 1/4`` (at ``eps = 1/4`` bumps of height ``1/2`` are no longer
    ``2 eps`` apart). Then the spacing ``h = 1/(k - 1)`` exceeds ``4 eps / C``, so bumps of
    height ``min(C h / 2, 1/2)`` exceed ``2 eps`` and have disjoint supports.
    """
    eps = _check_eps(eps)
    C = check_real(lipschitz, "lipschitz", minimum=0.0, strict_minimum=True)
    return max(1, math.ceil(C / (4.0 * eps) - 1e-12))


def counting_lower_bound(
    d: int, L: int, eps: float, bits: float, *, lipschitz: float = 1.0
) -> float:
    """The counting lower bound ``L_p >= d L k^{dL} / nu`` on the prompt length (``nu = bits``).

    Any frozen model whose prompt tokens each take at most ``2^bits`` values needs at least
    this many prompt tokens to memorize, to accuracy ``eps`` in every output entry, every
    dataset of ``C``-Lipschitz targets (``C = lipschitz``, max norms) on the grid inputs.
    Increasing in ``d``, ``L`` and ``1/eps``; ``inf`` when it exceeds the float range.
    """
    b = check_real(bits, "bits", minimum=0.0, strict_minimum=True)
    d = check_int(d, "d", minimum=1)
    L = check_int(L, "L", minimum=1)
    k = grid_points_per_coordinate(eps, lipschitz)
    if d * L * math.log2(max(k, 2)) > 1000:  # beyond float range
        return math.inf
    return float(d * L * k ** (d * L)) / b  # exact integer arithmetic, then one rounding


def _grid(d: int, L: int, k: int) -> torch.Tensor:
    n = d * L
    if k**n > MAX_GRID:
        raise ValueError(f"eps gives {k}^{n} = {k**n} grid inputs, more than {MAX_GRID}")
    axis = [0.5] if k == 1 else [i / (k - 1) for i in range(k)]
    pts = torch.tensor(list(itertools.product(axis, repeat=n)), dtype=torch.float64)
    return pts.reshape(-1, d, L)


def bump_dataset(
    d: int, eps: float, *, L: int = 1, lipschitz: float = 1.0, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """One random member of the counting bound's family: ``X: (N, d, L)``, ``Y: (N, d, L)``.

    ``X`` holds all ``N = k^{dL}`` grid inputs; each target entry is ``1/2`` or
    ``1/2 + eta`` by a fair coin (from ``seed``), ``eta = min(C h / 2, 1/2)``. The data come
    from a ``C``-Lipschitz target (a sum of disjoint bumps), and any two members of the
    family differ by ``eta > 2 eps`` on some entry.
    """
    d = check_int(d, "d", minimum=1)
    L = check_int(L, "L", minimum=1)
    C = check_real(lipschitz, "lipschitz", minimum=0.0, strict_minimum=True)
    k = grid_points_per_coordinate(eps, C)
    seed = check_int(seed, "seed", minimum=0)
    X = _grid(d, L, k)
    gen = torch.Generator().manual_seed(seed)
    bits = torch.randint(0, 2, X.shape, generator=gen).to(torch.float64)
    return X, 0.5 + bump_height(k, C) * bits


def bump_height(k: int, lipschitz: float = 1.0, *, exact: bool = False) -> float | Fraction:
    """``eta = min(C h / 2, 1/2)``: the bump height on a grid of ``k`` points per coordinate
    (spacing ``h = 1/(k - 1)``; ``1/2`` when ``k = 1``). Bumps of this height and slope
    ``C`` have disjoint supports; they are more than ``2 eps`` high exactly when
    ``k <= ceil(C / (4 eps))``.

    ``exact=True`` returns a :class:`~fractions.Fraction`, reading ``C`` as the decimal it
    prints as: comparisons with ``2 eps`` at a tie (``k - 1 = C / (4 eps)``) are then exact.
    """
    k = check_int(k, "k", minimum=1)
    C = check_real(lipschitz, "lipschitz", minimum=0.0, strict_minimum=True)
    if not isinstance(exact, bool):
        raise TypeError(f"exact must be a bool, got {type(exact).__name__}")
    if exact:
        return Fraction(1, 2) if k == 1 else min(Fraction(str(C)) / (2 * (k - 1)), Fraction(1, 2))
    return 0.5 if k == 1 else min(C / (2.0 * (k - 1)), 0.5)


def bump_target(
    Z: torch.Tensor, X: torch.Tensor, Y: torch.Tensor, *, lipschitz: float = 1.0
) -> torch.Tensor:
    """The ``C``-Lipschitz target behind a member ``(X, Y)`` of the counting family, at ``Z``.

    ``X: (N, d, L)`` the grid inputs (spacing ``h``), ``Y: (N, d, L)`` with entries ``1/2``
    or ``1/2 + eta`` (:func:`bump_dataset`); ``Z: (M, d, L)`` any inputs. Returns
    ``f(Z)_{jl} = 1/2 + sum_g s_{g,jl} max(0, eta - C ||Z - g||_inf)`` with
    ``s_{g,jl} = (Y_{g,jl} - 1/2) / eta``, shape ``(M, d, L)``: the target of the proof, defined
    on the whole cube.
    """
    C = check_real(lipschitz, "lipschitz", minimum=0.0, strict_minimum=True)
    X = check_finite(as_tensor(X, "X", dtype=torch.float64), "X")
    check_matrix_batch(X, "X", ndim=3, layout="(N, d, L)")
    Y = check_finite(as_tensor(Y, "Y", dtype=torch.float64), "Y")
    if Y.shape != X.shape:
        raise ValueError(f"Y must have the shape of X {tuple(X.shape)}, got {tuple(Y.shape)}")
    Z = check_finite(as_tensor(Z, "Z", dtype=torch.float64), "Z")
    check_matrix_batch(Z, "Z", ndim=3, rows=X.shape[1], cols=X.shape[2], layout="(M, d, L)")
    eta = float(Y.max()) - 0.5
    if eta <= 0.0:
        return torch.full_like(Z, 0.5)
    dist = (Z[:, None] - X[None]).abs().amax(dim=(-1, -2))  # (M, N), max norm
    bumps = torch.clamp(eta - C * dist, min=0.0)
    return 0.5 + torch.einsum("mn,njl->mjl", bumps, (Y - 0.5) / eta)


def bump_lipschitz_ratio(
    d: int,
    eps: float,
    *,
    L: int = 1,
    lipschitz: float = 1.0,
    pairs: int = 2000,
    seed: int = 0,
    height_factor: float = 1.0,
) -> float:
    """The largest ``||f(Z) - f(Z')||_max / (C ||Z - Z'||_max)`` seen for the target ``f`` of a
    member of the counting family (:func:`bump_target`), over ``pairs`` pairs of points
    within ``0.05`` of a grid input, where the bumps are steepest, and ``0.01`` apart. The
    proof needs it to be at most ``1``; the bumps' slope makes it reach about ``1``.

    ``height_factor`` multiplies every bump's height (slope ``C`` kept): above ``1`` the
    supports overlap, a wrong family whose overlapping bumps add their slopes when the
    input has two or more entries (a control)."""
    d = check_int(d, "d", minimum=1)
    L = check_int(L, "L", minimum=1)
    C = check_real(lipschitz, "lipschitz", minimum=0.0, strict_minimum=True)
    pairs = check_int(pairs, "pairs", minimum=1)
    seed = check_int(seed, "seed", minimum=0)
    factor = check_real(height_factor, "height_factor", minimum=0.0, strict_minimum=True)
    X, Y = bump_dataset(d, eps, L=L, lipschitz=C, seed=seed)
    Y = 0.5 + factor * (Y - 0.5)
    gen = torch.Generator().manual_seed(seed)
    near = X[torch.randint(0, len(X), (pairs,), generator=gen)]
    Z1 = near + 0.1 * torch.rand(near.shape, generator=gen, dtype=torch.float64) - 0.05
    Z2 = Z1 + 0.01 * torch.randn(Z1.shape, generator=gen, dtype=torch.float64)
    Z1, Z2 = Z1.clamp(0.0, 1.0), Z2.clamp(0.0, 1.0)
    gap = (bump_target(Z1, X, Y, lipschitz=C) - bump_target(Z2, X, Y, lipschitz=C)).abs()
    step = (Z1 - Z2).abs().amax(dim=(1, 2)).clamp_min(1e-300)
    return float((gap.amax(dim=(1, 2)) / step).max()) / C


def level_dataset(d: int, N: int, levels: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """A random member of a separated family on ``N`` single-token grid inputs.

    Inputs: the grid ``{0, 1/(k-1), ..., 1}^d`` with ``k^d = N`` points; targets: every
    entry one of ``levels`` equally spaced values in ``[1/4, 3/4]`` (spacing
    ``1/(2 (levels - 1))``), drawn from ``seed``. The family has ``levels^(d N)`` members,
    any two more than ``2 eps`` apart in some entry for ``eps < 1/(4 (levels - 1))``.
    Returns ``X: (N, d, 1)``, ``Y: (N, d, 1)``.
    """
    d = check_int(d, "d", minimum=1)
    N = check_int(N, "N", minimum=1)
    levels = check_int(levels, "levels", minimum=2)
    seed = check_int(seed, "seed", minimum=0)
    k = round(N ** (1.0 / d))
    if k**d != N or k < 2:
        raise ValueError(f"N must be k^d for an integer k >= 2 (d = {d}), got {N}")
    X = _grid(d, 1, k)
    gen = torch.Generator().manual_seed(seed)
    idx = torch.randint(0, levels, (N, d, 1), generator=gen).to(torch.float64)
    return X, 0.25 + 0.5 * idx / (levels - 1)


def covering_length_bound(
    d: int, N: int, levels: int, eps: float, *, width: int, radius: float, lipschitz: float
) -> float:
    """A lower bound on the length of real-valued prompts of column norm at most ``radius``
    that memorize, to accuracy ``eps``, **every** member of a family of ``levels^(d N)``
    datasets on ``N`` inputs whose targets differ by at least ``gap = 1/(2 (levels - 1))`` in
    some entry (:func:`level_dataset`).

    If ``P -> tau_P`` is ``lipschitz``-Lipschitz (column-max norm to every output entry),
    two prompts within ``delta`` of one centre of a cover are within ``2 delta`` of each
    other and give outputs within ``2 lipschitz delta < gap - 2 eps``, so they memorize at
    most one member. The ball of radius ``R`` in ``R^width`` has a ``delta``-cover of at most
    ``(1 + 2R/delta)^width`` points, so ``L_p`` columns need
    ``(1 + 2R/delta)^(width L_p) >= levels^(d N)``:
    ``L_p >= d N log(levels) / (width log(1 + 2R/delta))``, with ``delta`` just below
    ``(gap - 2 eps) / (2 lipschitz)``.
    """
    d = check_int(d, "d", minimum=1)
    N = check_int(N, "N", minimum=1)
    levels = check_int(levels, "levels", minimum=2)
    eps = check_real(eps, "eps", minimum=0.0, strict_minimum=True)
    width = check_int(width, "width", minimum=1)
    radius = check_real(radius, "radius", minimum=0.0, strict_minimum=True)
    lipschitz = check_real(lipschitz, "lipschitz", minimum=0.0, strict_minimum=True)
    gap = 0.5 / (levels - 1)
    if 2 * eps >= gap:
        raise ValueError(f"eps must be below gap / 2 = {gap / 2:.4g}, got {eps}")
    delta = (gap - 2 * eps) / (2 * lipschitz) * (1 - 1e-12)
    return d * N * math.log(levels) / (width * math.log1p(2 * radius / delta))
