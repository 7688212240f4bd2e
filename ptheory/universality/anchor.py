"""Sizes of this book's construction against a Jackson-type count, as functions of ``eps``.

Petrov, Torr and Bibi (ICML 2024) prove that prefix-tuning a single attention head
approximates continuous functions (on the hypersphere) and give Jackson-type bounds on the
prefix length; the form and constants of their bound could not be verified for this book.
This module computes only what can be computed honestly:

* :func:`resolution_for` and :func:`construction_size`: the grid ``delta = 1/V_1`` that
  this book's reconstruction of Hu et al.'s universality theorem needs for ``d_p`` error
  ``eps`` (ramp term neglected, ``eta -> 0``), and the sizes of the resulting model (prompt
  length, number of contextual codes ``K``, width of the wide ``FF_2``), from
  :func:`~.build.dimensions`;
* :func:`sphere_polynomial_dim` and :func:`jackson_count`: the dimension of the space of
  polynomials of degree at most ``n`` restricted to the sphere ``S^m``, at the degree
  ``n = ceil(C / eps)`` that a Jackson-type theorem asks of a ``C``-Lipschitz target up to a
  constant. That count is the book's reading of what "Jackson-type" means, not Petrov et
  al.'s bound.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

from .._validate import check_int, check_p, check_real
from .build import dimensions
from .grid import quantization_bound

__all__ = [
    "construction_size",
    "jackson_count",
    "max_loglog_slope",
    "resolution_for",
    "size_comparison",
    "sphere_polynomial_dim",
]


def _quantization_term(v1: int, lipschitz: float, d: int, L: int, p: float) -> float:
    return quantization_bound(lipschitz, d, L, 1 / v1, p)


def resolution_for(eps: float, lipschitz: float, d: int, L: int, *, p: float = 2) -> int:
    """The smallest ``V_1 >= 2`` with ``(C + 1) (delta / 2) (dL)^{1/p} <= eps`` at
    ``delta = 1/V_1``: the grid the bound of the universality theorem (this book's
    reconstruction) needs for ``d_p`` error ``eps`` when its ramp term is made negligible."""
    eps = check_real(eps, "eps", minimum=0.0, strict_minimum=True)
    lipschitz = check_real(lipschitz, "lipschitz", minimum=0.0)
    d = check_int(d, "d", minimum=1)
    L = check_int(L, "L", minimum=1)
    p = check_p(p)
    v1 = max(2, math.ceil((lipschitz + 1) * (d * L) ** (1 / p) / (2 * eps)))
    while v1 > 2 and _quantization_term(v1 - 1, lipschitz, d, L, p) <= eps:
        v1 -= 1
    while _quantization_term(v1, lipschitz, d, L, p) > eps:
        v1 += 1
    return v1


def construction_size(eps: float, lipschitz: float, d: int, L: int, *, p: float = 2) -> dict:
    """``log10`` of the sizes of this book's construction at the grid
    :func:`resolution_for` picks: ``{"resolution": V_1, "log10 prompt length",
    "log10 codes" (K), "log10 FF2 width", "log10 weights"}``. Nothing is built."""
    v1 = resolution_for(eps, lipschitz, d, L, p=p)
    dims = dimensions(d, L, 1 / v1)
    return {
        "resolution": v1,
        "log10 prompt length": math.log10(dims.prompt_length),
        "log10 codes": math.log10(dims.n_codes),
        "log10 FF2 width": math.log10(dims.value_width),
        "log10 weights": math.log10(dims.n_params),
    }


def sphere_polynomial_dim(n: int, m: int) -> int:
    """Dimension of the polynomials of degree ``<= n`` in ``m + 1`` variables restricted to
    the sphere ``S^m``: ``binom(n + m, m) + binom(n + m - 1, m)`` (the spherical harmonics
    of degrees ``0..n``). ``m = 1``: ``2n + 1``; ``m = 2``: ``(n + 1)^2``."""
    n = check_int(n, "n", minimum=0)
    m = check_int(m, "m", minimum=1)
    return math.comb(n + m, m) + (math.comb(n + m - 1, m) if n >= 1 else 0)


def jackson_count(eps: float, lipschitz: float, m: int) -> int:
    """:func:`sphere_polynomial_dim` at ``n = max(1, ceil(C / eps))``: the number of basis
    functions of a degree-``n`` approximation on ``S^m``, the degree a Jackson-type
    theorem (error at most a constant times ``C / n``) needs for error ``eps``, with the
    constant set to one. The book's reading, not Petrov et al.'s bound."""
    eps = check_real(eps, "eps", minimum=0.0, strict_minimum=True)
    lipschitz = check_real(lipschitz, "lipschitz", minimum=0.0, strict_minimum=True)
    m = check_int(m, "m", minimum=1)
    return sphere_polynomial_dim(max(1, math.ceil(lipschitz / eps)), m)


def max_loglog_slope(inv_eps: Sequence[float], log10_sizes: Sequence[float]) -> float:
    """The largest slope of ``log10(size)`` against ``log10(1/eps)`` between neighbouring
    points: bounded by ``a`` (plus rounding) for a size that grows like ``(1/eps)^a``,
    unbounded for a size exponential in a power of ``1/eps``."""
    if isinstance(inv_eps, (str, bytes)) or not isinstance(inv_eps, Sequence):
        raise TypeError(f"inv_eps must be a sequence of numbers, got {type(inv_eps).__name__}")
    if isinstance(log10_sizes, (str, bytes)) or not isinstance(log10_sizes, Sequence):
        raise TypeError(
            f"log10_sizes must be a sequence of numbers, got {type(log10_sizes).__name__}"
        )
    x = [math.log10(check_real(v, "inv_eps", minimum=0.0, strict_minimum=True)) for v in inv_eps]
    y = [check_real(v, "log10_sizes") for v in log10_sizes]
    if len(x) != len(y) or len(x) < 2:
        raise ValueError("inv_eps and log10_sizes must have one length, at least 2")
    if any(b <= a for a, b in itertools.pairwise(x)):
        raise ValueError("inv_eps must be strictly increasing")
    steps = zip(itertools.pairwise(x), itertools.pairwise(y), strict=True)
    return max((y1 - y0) / (x1 - x0) for (x0, x1), (y0, y1) in steps)


def size_comparison(
    inv_eps: Sequence[int],
    shapes: Sequence[tuple[int, int]],
    *,
    lipschitz: float = 1.0,
    p: float = 2,
) -> dict[str, dict[str, list[float]]]:
    """``log10`` sizes at ``eps = 1 / v`` for each ``v`` in ``inv_eps`` and each ``(d, L)``
    in ``shapes``: ``{"codes", "prompt", "jackson"}``, each label -> one value per ``v``.
    ``codes`` and ``prompt`` are :func:`construction_size`'s; ``jackson`` is
    :func:`jackson_count` on ``S^{dL}``."""
    if isinstance(inv_eps, (str, bytes)) or not isinstance(inv_eps, Sequence) or not inv_eps:
        raise TypeError("inv_eps must be a non-empty sequence of positive numbers")
    if isinstance(shapes, (str, bytes)) or not isinstance(shapes, Sequence) or not shapes:
        raise TypeError("shapes must be a non-empty sequence of (d, L) pairs")
    out: dict[str, dict[str, list[float]]] = {"codes": {}, "prompt": {}, "jackson": {}}
    for shape in shapes:
        if not isinstance(shape, tuple) or len(shape) != 2:
            raise TypeError(f"shapes must hold (d, L) pairs, got {shape!r}")
        d, L = shape
        rows = [construction_size(1 / v, lipschitz, d, L, p=p) for v in inv_eps]
        m = d * L
        out["codes"][f"number of codes, dL={m}"] = [r["log10 codes"] for r in rows]
        out["prompt"][f"prompt length, dL={m}"] = [r["log10 prompt length"] for r in rows]
        out["jackson"][f"Jackson-type count, $S^{m}$"] = [
            math.log10(jackson_count(1 / v, lipschitz, m)) for v in inv_eps
        ]
    return out
