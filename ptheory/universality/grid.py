"""Quantization and counting: the first step of every universality proof.

Both universality results start by replacing a target ``f`` by a piecewise-constant one
(the universality result of Wang et al. 2023, cited by content; Hu et al. 2025,
Theorems 2.1 and 2.2). With a resolution
``delta = 1/V1`` (``V1`` an integer), each entry of ``X in [0, 1]^{d x L}`` is snapped to
the centre of its cell, ``q(x) = (floor(x / delta) + 1/2) delta``, and each output entry
likewise. The quantized target

    f_bar(X) = q(f(q(X)))

takes one of ``V1^{dL}`` output matrices on each of the ``G = V1^{dL}`` grid cells, so
there are exactly ``V1^{dL G}`` such functions: the finite class a prompt must index.
For a ``C``-Lipschitz ``f`` (entry-wise p-norm) with values in ``[0, 1]``,

    ||f(X) - f_bar(X)||_p <= C ||X - q(X)||_p + ||f(q X) - q(f(q X))||_p
                          <= (C + 1) (delta / 2) (dL)^{1/p}     for every X,

which is :func:`quantization_bound`.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable

import torch

from .._validate import as_tensor, check_finite, check_int, check_matrix_batch, check_p, check_real

__all__ = [
    "class_size",
    "grid_sequences",
    "levels",
    "log10_class_size",
    "quantization_bound",
    "quantize",
    "quantized_target",
    "target_table",
]

SeqFunction = Callable[[torch.Tensor], torch.Tensor]


def levels(delta: float) -> int:
    """The number of cells per entry, ``V1 = 1 / delta``; ``delta`` must be ``1/V1``.

    Raises ``ValueError`` unless ``1/delta`` is an integer of at least 2 (to 1e-9).
    """
    delta = check_real(delta, "delta", minimum=0.0, strict_minimum=True, maximum=0.5)
    v1 = round(1.0 / delta)
    if abs(v1 * delta - 1.0) > 1e-9:
        raise ValueError(f"delta must be 1/V1 for an integer V1 >= 2, got {delta}")
    return v1


def quantize(X: torch.Tensor, delta: float) -> torch.Tensor:
    """Snap every entry to the centre of its cell: ``(min(floor(x/delta), V1-1) + 1/2) delta``.

    Entries below 0 go to the first cell, entries from 1 up to the last one. Any shape.
    """
    v1 = levels(delta)
    X = check_finite(as_tensor(X, "X", dtype=torch.float64), "X")
    return (_cell_levels(X, v1) + 0.5) / v1


def _cell_levels(X: torch.Tensor, v1: int) -> torch.Tensor:
    """Each entry's cell, ``min(floor(x V1), V1 - 1)`` clamped at 0, as integers."""
    return torch.clamp(torch.floor(X * v1), 0, v1 - 1).long()


def grid_sequences(d: int, L: int, delta: float) -> torch.Tensor:
    """All ``G = V1^{dL}`` cell-centre sequences, ``(G, d, L)``, in a fixed order.

    Sequence ``g`` has entry ``(j, k)`` at level ``digit_{k d + j}(g)`` in base ``V1``
    (the last entry varies fastest), the order :func:`target_table` and the prompt use.
    """
    d = check_int(d, "d", minimum=1)
    L = check_int(L, "L", minimum=1)
    v1 = levels(delta)
    digits = torch.tensor(list(itertools.product(range(v1), repeat=d * L)), dtype=torch.float64)
    return ((digits + 0.5) / v1).reshape(-1, L, d).transpose(1, 2).contiguous()


def class_size(d: int, L: int, delta: float) -> int:
    """``V1^{dL G}`` with ``G = V1^{dL}``: the number of quantized targets (an exact ``int``)."""
    d = check_int(d, "d", minimum=1)
    L = check_int(L, "L", minimum=1)
    v1 = levels(delta)
    return v1 ** (d * L * v1 ** (d * L))


def log10_class_size(d: int, L: int, delta: float) -> float:
    """``log10`` of :func:`class_size`, computed without forming the integer."""
    d = check_int(d, "d", minimum=1)
    L = check_int(L, "L", minimum=1)
    v1 = levels(delta)
    return d * L * v1 ** (d * L) * math.log10(v1)


def target_table(target: SeqFunction, d: int, L: int, delta: float) -> torch.Tensor:
    """The quantized target's values on the grid: ``q(f(centres))``, shape ``(G, d, L)``.

    ``target`` maps ``(N, d, L)`` to ``(N, d, L)`` with values in ``[0, 1]``; it is called
    once, on :func:`grid_sequences`. Values outside ``[0, 1]`` (beyond 1e-12) are refused.
    """
    if not callable(target):
        raise TypeError(f"target must be callable, got {type(target).__name__}")
    centres = grid_sequences(d, L, delta)
    with torch.no_grad():
        out = target(centres)
    out = as_tensor(out, "target(X)", dtype=torch.float64, device="cpu")
    if tuple(out.shape) != tuple(centres.shape):
        raise ValueError(
            f"target(X) must map (N, d, L) to (N, d, L): got {tuple(out.shape)} "
            f"for an input of shape {tuple(centres.shape)}"
        )
    check_finite(out, "target(X)")
    lo, hi = float(out.min()), float(out.max())
    if lo < -1e-12 or hi > 1.0 + 1e-12:
        raise ValueError(
            f"target(X) must take values in [0, 1], got values in [{lo:.4g}, {hi:.4g}]"
        )
    return quantize(out, delta)


def quantized_target(target: SeqFunction, d: int, L: int, delta: float) -> SeqFunction:
    """The function ``X -> q(f(q(X)))`` for ``X: (N, d, L)``, from one call of ``target``.

    It looks up :func:`target_table` by the cell of ``X``: what the construction of
    :func:`ptheory.universality.construct` computes, and what it is compared with.
    """
    table = target_table(target, d, L, delta)
    v1 = levels(delta)
    weights = v1 ** torch.arange(d * L - 1, -1, -1)

    def f_bar(X: torch.Tensor) -> torch.Tensor:
        X = check_finite(as_tensor(X, "X", dtype=torch.float64), "X")
        check_matrix_batch(X, "X", rows=d, cols=L, ndim=3, layout="(N, d, L)")
        index = (_cell_levels(X, v1).transpose(1, 2).reshape(X.shape[0], -1) * weights).sum(dim=1)
        return table[index]

    return f_bar


def quantization_bound(lipschitz: float, d: int, L: int, delta: float, p: float = 2) -> float:
    """``(C + 1) (delta / 2) (dL)^{1/p}``: how far ``q o f o q`` can be from ``f`` anywhere."""
    C = check_real(lipschitz, "lipschitz", minimum=0.0)
    d = check_int(d, "d", minimum=1)
    L = check_int(L, "L", minimum=1)
    p = check_p(p)
    delta = 1.0 / levels(delta)
    return (C + 1.0) * (delta / 2.0) * (d * L) ** (1.0 / p)
