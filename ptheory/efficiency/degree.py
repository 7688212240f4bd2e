"""Degree selection: the smallest polynomial degree that meets an error target.

Serves Hu et al. (2025), the almost-linear inference result (via Alman and Song, 2023). With
entries of ``Q`` and ``K`` bounded by ``B`` and scores scaled by ``1/d``, every score lies in
``[-B^2, B^2]``; a degree-``g`` polynomial with relative error ``eps_g`` there gives attention
within ``2 eps_g / (1 - eps_g) max|V|`` (:mod:`ptheory.efficiency.polynomial`), at rank ``r =
C(d + g, g)`` and cost ``O(n r d)``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from .._validate import check_int, check_real
from ._inputs import check_method
from .exact import exact_attention
from .polynomial import attention_error_bound, entry_error_bound, poly_attention, poly_error_bound

__all__ = [
    "EXP_FLOPS",
    "DegreePlan",
    "error_vs_bound",
    "exact_flops",
    "largest_paying_bound",
    "monomial_count",
    "poly_flops",
    "select_degree",
]


def monomial_count(d: int, degree: int) -> int:
    """``C(d + g, g)``: the number of monomials of degree at most ``g`` in ``d`` variables,
    the rank of the polynomial method."""
    d = check_int(d, "d", minimum=1)
    g = check_int(degree, "degree", minimum=0)
    return math.comb(d + g, g)


#: Flops charged for one ``exp`` in the cost model (a vectorised ``exp`` costs about
#: ten to twenty multiply-adds; the model's conclusions are stated for this value).
EXP_FLOPS = 10


def exact_flops(
    n_q: int, n: int, d: int, d_v: int | None = None, *, exp_flops: float = EXP_FLOPS
) -> float:
    """Flops of exact attention, one unit = one multiply or one add: per (query, key) pair
    ``2 d`` for the score, ``exp_flops`` for its exponential, 1 for the row sum and
    ``2 d_v`` for the weighted value; plus ``n_q d_v`` divisions."""
    n_q = check_int(n_q, "n_q", minimum=0)
    n = check_int(n, "n", minimum=0)
    d = check_int(d, "d", minimum=1)
    d_v = d if d_v is None else check_int(d_v, "d_v", minimum=1)
    exp_flops = check_real(exp_flops, "exp_flops", minimum=0.0)
    return n_q * n * (2 * d + exp_flops + 1 + 2 * d_v) + n_q * d_v


def poly_flops(n_q: int, n: int, d: int, degree: int, d_v: int | None = None) -> float:
    """Flops of the polynomial method, same unit as :func:`exact_flops`: per token (query
    or key) ``r`` multiplies for the monomials and ``2 r (d_v + 1)`` for its product with
    ``[V, 1]`` (keys) or with the state (queries); plus ``r (d_v + 1)`` for the weights
    and ``n_q d_v`` divisions. ``r = C(d + g, g)``."""
    n_q = check_int(n_q, "n_q", minimum=0)
    n = check_int(n, "n", minimum=0)
    d = check_int(d, "d", minimum=1)
    g = check_int(degree, "degree", minimum=0, maximum=64)
    d_v = d if d_v is None else check_int(d_v, "d_v", minimum=1)
    r = math.comb(d + g, g)
    return (n + n_q) * (r + 2 * r * (d_v + 1)) + r * (d_v + 1) + n_q * d_v


@dataclass(frozen=True)
class DegreePlan:
    """What :func:`select_degree` chose and what it implies.

    ``entry_bound`` is ``B``; ``radius`` is ``B^2``, the largest possible score;
    ``entry_error`` the proved relative error of the polynomial there; ``error_bound`` the
    proved max-abs error of the attention output per unit of ``max|V|`` in exact
    arithmetic (:func:`~ptheory.efficiency.poly_error_bound` adds rounding);
    ``rank = C(d + g, g)``; ``flops_per_token`` the flops per query or key of
    :func:`poly_flops` (``r + 2 r (d + 1)``, value dimension ``d``).
    """

    degree: int
    rank: int
    entry_bound: float
    radius: float
    method: str
    entry_error: float
    error_bound: float
    flops_per_token: int
    d: int = 8

    @property
    def bound(self) -> float:
        """Former name of :attr:`entry_bound`."""
        return self.entry_bound

    def flops(self, n: int) -> int:
        """Flops for ``n`` queries and ``n`` keys: ``2 n`` tokens."""
        return 2 * check_int(n, "n", minimum=0) * self.flops_per_token

    def crossover(self, *, exp_flops: float = EXP_FLOPS) -> float:
        """The ``n`` (queries = keys) from which :func:`poly_flops` is below
        :func:`exact_flops`: ``2 r (2 d + 3) / (4 d + 1 + exp_flops)`` up to the
        ``n``-independent terms."""
        exp_flops = check_real(exp_flops, "exp_flops", minimum=0.0)
        return 2 * self.flops_per_token / (4 * self.d + 1 + exp_flops)


_NO_VALUE = object()


def select_degree(
    entry_bound: float = _NO_VALUE,  # type: ignore[assignment]
    eps: float = _NO_VALUE,  # type: ignore[assignment]
    d: int = _NO_VALUE,  # type: ignore[assignment]
    *,
    method: str = "taylor",
    max_degree: int = 64,
    bound: float | None = None,
) -> DegreePlan:
    """The smallest degree ``g`` whose proved attention error (exact arithmetic) is at most
    ``eps`` per unit of ``max|V|`` for every input with ``|Q_ij|, |K_ij| <= entry_bound``
    and score scale ``1/d``.

    ``bound=`` is the former name of ``entry_bound`` (still accepted). Raises
    ``ValueError`` (naming ``eps``) when no degree up to ``max_degree`` reaches it.
    """
    if bound is not None:
        if entry_bound is not _NO_VALUE:
            raise TypeError("give entry_bound or its former name bound, not both")
        entry_bound = bound
    for name, value in (("entry_bound", entry_bound), ("eps", eps), ("d", d)):
        if value is _NO_VALUE:
            raise TypeError(f"select_degree() missing required argument: {name!r}")
    B = check_real(entry_bound, "entry_bound", minimum=0.0)
    eps = check_real(eps, "eps", minimum=0.0, strict_minimum=True)
    d = check_int(d, "d", minimum=1)
    method = check_method(method)
    max_degree = check_int(max_degree, "max_degree", minimum=0, maximum=64)
    R = B * B
    for g in range(max_degree + 1):
        entry = entry_error_bound(g, R, method)
        err = attention_error_bound(entry)
        if err <= eps:
            r = math.comb(d + g, g)
            return DegreePlan(g, r, B, R, method, entry, err, r + 2 * r * (d + 1), d)
    raise ValueError(
        f"eps = {eps:g} cannot be guaranteed with degree <= {max_degree} at entry bound {B:g} "
        f"(scores up to {R:g}); allow a larger max_degree or a larger eps"
    )


def largest_paying_bound(
    n: int, *, d: int = 8, eps: float = 1e-3, method: str = "chebyshev", tol: float = 1e-4
) -> float:
    """The largest entry bound ``B`` at which the degree :func:`select_degree` guarantees
    for ``eps`` costs fewer flops than exact attention on ``n`` queries and ``n`` keys
    (:func:`poly_flops` < :func:`exact_flops`): the line where the guaranteed method stops
    paying, by bisection to ``tol`` (the degree grows with ``B``). ``0.0`` if it never pays.
    """
    n = check_int(n, "n", minimum=1)
    d = check_int(d, "d", minimum=1)
    eps = check_real(eps, "eps", minimum=0.0, strict_minimum=True)
    method = check_method(method)
    tol = check_real(tol, "tol", minimum=0.0, strict_minimum=True)
    exact = exact_flops(n, n, d)

    def pays(B: float) -> bool:
        try:
            g = select_degree(B, eps, d, method=method).degree
        except ValueError:
            return False
        return poly_flops(n, n, d, g) < exact

    if not pays(0.0):
        return 0.0
    lo, hi = 0.0, 1.0
    while pays(hi):
        lo, hi = hi, 2 * hi
        if hi > 64:
            return lo
    while hi - lo > tol:
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if pays(mid) else (lo, mid)
    return lo


def error_vs_bound(
    n: int,
    entry_bounds: Sequence[float],
    degrees: Sequence[int],
    *,
    d: int = 4,
    method: str = "taylor",
    seed: int = 0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Measured and proved max-abs error of the polynomial method as the entry bound grows.

    ``Q = B Q_0``, ``K = B K_0`` with ``Q_0, K_0: (n, d)`` and ``V: (n, d)`` uniform in
    ``[-1, 1]`` (float64, from ``seed``), for each ``B`` in ``entry_bounds`` and each degree.
    Returns ``(measured, proved)``, both ``(len(degrees), len(entry_bounds))``; ``proved`` is
    :func:`~ptheory.efficiency.poly_error_bound` at the data (``inf`` where ``eps >= 1``).
    """
    n = check_int(n, "n", minimum=1)
    if (
        isinstance(entry_bounds, str | bytes)
        or not isinstance(entry_bounds, Sequence)
        or not entry_bounds
    ):
        raise TypeError("entry_bounds must be a non-empty sequence of numbers")
    Bs = [check_real(b, "entry_bounds", minimum=0.0) for b in entry_bounds]
    if isinstance(degrees, str | bytes) or not isinstance(degrees, Sequence) or not degrees:
        raise TypeError("degrees must be a non-empty sequence of integers")
    gs = [check_int(g, "degrees", minimum=0, maximum=64) for g in degrees]
    d = check_int(d, "d", minimum=1)
    method = check_method(method)
    gen = torch.Generator().manual_seed(check_int(seed, "seed", minimum=0))
    Q0, K0, V = (torch.rand(n, d, generator=gen, dtype=torch.float64) * 2 - 1 for _ in range(3))
    measured = torch.empty(len(gs), len(Bs), dtype=torch.float64)
    proved = torch.empty_like(measured)
    for j, B in enumerate(Bs):
        Q, K = B * Q0, B * K0
        exact = exact_attention(Q, K, V)
        for i, g in enumerate(gs):
            approx = poly_attention(Q, K, V, g, method)
            measured[i, j] = (approx - exact).abs().max()
            proved[i, j] = poly_error_bound(Q, K, V, g, method)
    return measured, proved
