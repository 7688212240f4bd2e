"""Degree selection: the smallest polynomial degree that meets an error target.

Serves Hu et al. (2025), the almost-linear inference result (via Alman and Song, 2023). With
entries of ``Q`` and ``K`` bounded by ``B`` and scores scaled by ``1/d``, every score lies in
``[-B^2, B^2]``; a degree-``g`` polynomial whose relative error lies in ``[eps_-, eps_+]``
there gives attention within the sharp constant of
:func:`~ptheory.efficiency.certificate.range_attention_error` (about ``eps_g max|V|``), at rank
``r = C(d + g, g)`` and cost ``O(n r d)``. The degree is chosen from the certified range
(:func:`~ptheory.efficiency.certify`), not from the textbook formulas.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch

from .._validate import check_int, check_real
from ._inputs import check_method
from .certificate import certify, minimax_lower_bound, range_attention_error
from .exact import exact_attention
from .polynomial import (
    entry_error_bound,
    poly_attention,
    poly_error_bound,
    rounding_error_bound,
)

__all__ = [
    "EXP_FLOPS",
    "SEARCHED",
    "CertificateReport",
    "DegreePlan",
    "certificate_report",
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
    ``method`` the polynomial chosen (``"taylor"``, ``"chebyshev"`` or ``"minimax"``);
    ``low``/``high`` the certified range of its relative error ``p(t) e^-t - 1`` on
    ``[-B^2, B^2]`` (:func:`~ptheory.efficiency.certify`); ``entry_error`` ``= max(high,
    -low)``; ``error_bound`` the proved max-abs error of the attention output per unit of
    ``max|V|`` for every input with entries in ``[-B, B]``: the sharp range bound in exact
    arithmetic, plus the kernel's rounding when a ``dtype`` was given (``rounding`` is
    that part, 0 in exact arithmetic); ``apriori`` the bound the textbook formula would
    give (``2 eps / (1 - eps)`` with the Taylor or Chebyshev formula; ``nan`` for
    minimax); ``rank = C(d + g, g)``; ``flops_per_token`` the flops per query or key of
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
    low: float = math.nan
    high: float = math.nan
    rounding: float = 0.0
    apriori: float = math.nan
    dtype: str | None = None
    n: int | None = None

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

SEARCHED = ("minimax", "chebyshev", "taylor")
"""The polynomials ``method="best"`` compares at each degree."""


def _worst_case_bound(
    g: int, method: str, B: float, d: int, dtype: torch.dtype | None, n: int | None
) -> tuple[float, float, float, float, float]:
    """``(error_bound, rounding part, low, high, entry_error)`` for every input with entries
    in ``[-B, B]`` (``max|V| = 1``), for the kernel in ``dtype`` on ``n`` keys, or in exact
    arithmetic (``dtype=None``)."""
    R = B * B
    cert = certify(g, R, method)
    exact = cert.attention_error
    if dtype is None or not math.isfinite(exact):
        return exact, 0.0, cert.low, cert.high, cert.entry_error
    assert n is not None
    eta = rounding_error_bound(g, R, method, n=n, d=d, dtype=dtype)
    zeta = _underflow(g, method, B, d, n, dtype)
    margin = 1 + cert.low - eta - zeta
    if not margin > 0:
        return math.inf, math.inf, cert.low, cert.high, cert.entry_error
    u = float(torch.finfo(dtype).eps) / 2
    E = exact + (2 * eta + 2 * zeta) / margin
    total = (E + u * (1 + E)) * (1 + 1e-12)
    return total, total - exact, cert.low, cert.high, cert.entry_error


def _underflow(g: int, method: str, B: float, d: int, n: int, dtype: torch.dtype) -> float:
    """:func:`~ptheory.efficiency.poly_error_bound`'s underflow term ``zeta`` for the
    worst input with entries in ``[-B, B]`` and ``max|V| = 1`` (``inf`` on overflow)."""
    from .polynomial import _rounding_counts, _table, _weights_f64

    info = torch.finfo(dtype)
    R = B * B
    w = np.abs(_weights_f64(d, g, method, R if method != "taylor" else 1.0, 1.0 / d))
    m = max(1.0, B)
    log_t = math.log(max(1.0, float(w.max()))) + 2 * g * math.log(m)
    r = _table(d, g).rank
    if log_t + math.log(2 * n * r) >= math.log(info.max) - 1:
        return math.inf
    n_dtype, n_64 = _rounding_counts(g, n, r)
    log_zeta = math.log(2 * (n_dtype + n_64 + 1) * r * info.tiny) + log_t + R
    return math.exp(log_zeta) if log_zeta < 700 else math.inf


def _apriori_attention(g: int, method: str, R: float) -> float:
    if method == "minimax":
        return math.nan
    e = entry_error_bound(g, R, method)
    return 2 * e / (1 - e) if e < 1 else math.inf


def select_degree(
    entry_bound: float = _NO_VALUE,  # type: ignore[assignment]
    eps: float = _NO_VALUE,  # type: ignore[assignment]
    d: int = _NO_VALUE,  # type: ignore[assignment]
    *,
    method: str = "taylor",
    max_degree: int = 64,
    bound: float | None = None,
    dtype: torch.dtype | None = None,
    n: int | None = None,
) -> DegreePlan:
    """The smallest degree ``g`` whose *certified* attention error is at most ``eps`` per
    unit of ``max|V|`` for every input with ``|Q_ij|, |K_ij| <= entry_bound`` and score
    scale ``1/d``.

    Degrees that no polynomial can use (:func:`~ptheory.efficiency.minimax_lower_bound`
    above ``eps``) are skipped. The error of a degree is the sharp bound
    (:func:`~ptheory.efficiency.certificate.range_attention_error`) of the certified range
    of the polynomial's relative error on ``[-B^2, B^2]``
    (:func:`~ptheory.efficiency.certify`): exact arithmetic by default; with ``dtype``
    (and ``n``, the number of keys) the rounding of :func:`poly_attention` in that dtype is
    added, so the guarantee covers the computed output. ``method``: ``"taylor"``,
    ``"chebyshev"``, ``"minimax"``, or ``"best"``, which tries all three at each degree
    and returns, at the smallest degree any of them certifies, the one with the smallest
    bound. ``bound=`` is the former name of ``entry_bound`` (still accepted). Raises
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
    methods = SEARCHED if method == "best" else (check_method(method),)
    max_degree = check_int(max_degree, "max_degree", minimum=0, maximum=64)
    if dtype is not None:
        if dtype not in (torch.float16, torch.bfloat16, torch.float32, torch.float64):
            raise TypeError(f"dtype must be a torch floating dtype, got {dtype}")
        if n is None:
            raise ValueError("give n, the number of keys, with dtype (the rounding grows with n)")
        n = check_int(n, "n", minimum=1)
    elif n is not None:
        n = check_int(n, "n", minimum=1)
    return _select(B, eps, d, methods, max_degree, dtype, n)


@lru_cache(maxsize=4096)
def _select(B, eps, d, methods, max_degree, dtype, n) -> DegreePlan:
    R = B * B
    start = _hopeless_degrees(R, eps, max_degree) + 1
    # the first degree whose sampled error could meet eps, for the best polynomial searched
    # (the minimax one is near-optimal); one degree of margin below it
    screen = "minimax" if "minimax" in methods else methods[0]
    if screen == "minimax" and not _float_resolves(R, eps):
        screen = "chebyshev" if "chebyshev" in methods else "taylor"
    if dtype is None and screen != "taylor":
        start = max(start, _first_sampled(screen, R, eps, start, max_degree) - 1)
    for g in range(start, max_degree + 1):
        found = []
        rounding_too_large = True
        far = False  # the minimax polynomial misses by more than 3x: so do the others
        # (only where float64 resolves it; elsewhere its screen says nothing)
        for m in sorted(methods, key=lambda m: m != "minimax"):
            if far:
                continue
            if dtype is not None:  # the rounding alone, which grows with the degree
                eta = rounding_error_bound(g, R, m, n=n, d=d, dtype=dtype)
                if 2 * eta > eps:
                    continue
            rounding_too_large = False
            sampled = _sampled_error(g, m, R, eps)
            if sampled > 1.01 * eps + 1e-12:
                far = m == "minimax" and sampled > 3 * eps and _float_resolves(R, eps)
                continue
            total, rounding, low, high, entry = _worst_case_bound(g, m, B, d, dtype, n)
            if total <= eps:
                found.append((total, m, rounding, low, high, entry))
        if found:
            total, m, rounding, low, high, entry = min(found)
            r = math.comb(d + g, g)
            return DegreePlan(
                g,
                r,
                B,
                R,
                m,
                entry,
                total,
                r + 2 * r * (d + 1),
                d,
                low,
                high,
                rounding,
                _apriori_attention(g, m, R),
                None if dtype is None else str(dtype).replace("torch.", ""),
                n,
            )
        if dtype is not None and rounding_too_large and g >= 2:
            break  # higher degrees round more: no degree will do
    raise ValueError(
        f"eps = {eps:g} cannot be guaranteed with degree <= {max_degree} at entry bound {B:g} "
        f"(scores up to {R:g}); allow a larger max_degree or a larger eps"
    )


def _float_resolves(R: float, eps: float) -> bool:
    """Whether float64 can see a relative error of ``eps / 100`` over ``[-R, R]``, where
    ``e^t`` spans ``e^(2R)``: ``e^(2R) 1e-15 < eps / 100``."""
    return 2 * R < math.log(1e13 * eps)


@lru_cache(maxsize=4096)
def _sampled_error(g: int, method: str, R: float, eps: float = 1e-3) -> float:
    """A fast float64 look at the polynomial's relative error on 2,001 points of
    ``[-R, R]``, turned into an attention error (``inf`` where the polynomial is not
    positive or the look fails). Where it exceeds ``eps`` by 1 %, the certificate (an
    upper bound on the whole interval) would too. Chebyshev and minimax polynomials are
    evaluated in the Chebyshev basis against ``e^(R (u - 1))``, which leaves relative
    errors unchanged and keeps float64 in range. Where float64 cannot resolve ``eps``
    (:func:`_float_resolves`), Chebyshev gives its textbook bound and minimax ``inf``."""
    from .certificate import _remez

    if R == 0.0:
        return 0.0
    if method != "taylor" and not _float_resolves(R, eps):
        # float64 cannot see the error: the textbook bound for Chebyshev (an upper bound,
        # and what the certificate falls back on there), nothing for minimax
        return _apriori_attention(g, "chebyshev", R) if method == "chebyshev" else math.inf
    u = np.cos(np.pi * np.arange(2001) / 2000)
    with np.errstate(all="ignore"):
        if method == "taylor":
            t = R * u
            h = np.polynomial.polynomial.polyval(t, [1 / math.factorial(m) for m in range(g + 1)])
            h = h * np.exp(-t) - 1
        else:
            f = lambda x: np.exp(R * (x - 1))  # noqa: E731
            cheb = np.polynomial.chebyshev
            a = cheb.chebinterpolate(f, g) if method == "chebyshev" else _remez(g, R)
            h = cheb.chebval(u, a) / f(u) - 1
    low, high = float(np.min(h)), float(np.max(h))
    if not (math.isfinite(low) and math.isfinite(high)) or low <= -1:
        return math.inf
    return range_attention_error(low, high)


def _first_sampled(method: str, R: float, eps: float, lo: int, hi: int) -> int:
    """The smallest degree in ``[lo, hi]`` whose :func:`_sampled_error` meets ``eps`` (by
    1 %), found by bisection (the errors fall with the degree); ``hi + 1`` if none."""
    a, b, first = lo, hi, hi + 1
    while a <= b:
        mid = (a + b) // 2
        if _sampled_error(mid, method, R, eps) <= 1.01 * eps + 1e-12:
            first, b = mid, mid - 1
        else:
            a = mid + 1
    return first


def _lower_bound_radius(R: float) -> float:
    """A radius at most ``R`` on a grid (powers of 2 from 1 to 8), so that lower bounds
    are computed once and reused: a lower bound on a smaller interval holds on a larger
    one. Beyond 8 the relative-error problem spans too many orders of magnitude for the
    Remez exchange in float64."""
    return R if R < 1.0 else 2.0 ** min(3, math.floor(math.log2(R)))


def _hopeless_degrees(R: float, eps: float, max_degree: int) -> int:
    """The largest degree (``-1`` if none) up to which no polynomial can meet ``eps`` on
    ``[-R, R]``: de la Vallee Poussin's lower bound
    (:func:`~ptheory.efficiency.minimax_lower_bound`) on the grid radius below ``R``, by
    bisection (a degree that no polynomial can use makes every lower degree useless)."""
    if R == 0.0:
        return -1
    R0 = _lower_bound_radius(R)
    hopeless, a, b = -1, 0, max_degree
    while a <= b:
        mid = (a + b) // 2
        if _apriori_attention(mid, "chebyshev", R) <= eps:  # usable: no need for a bound
            b = mid - 1
            continue
        lb = minimax_lower_bound(mid, R0)
        if lb >= 1 or range_attention_error(-lb, lb) > eps:
            hopeless, a = mid, mid + 1
        else:
            b = mid - 1
    return hopeless


@dataclass(frozen=True)
class CertificateReport:
    """The certified degree at one entry bound, attacked (:func:`certificate_report`).

    ``degree``, ``method``, ``rank``, ``bound``: the plan of :func:`select_degree` (exact
    arithmetic, the best polynomial); ``apriori_degree``: the degree the textbook
    Chebyshev formula would choose (``2 eps_g / (1 - eps_g) <= eps``); ``reached``: the
    error of the two-cluster input of the chosen polynomial, against float64 exact
    attention; ``random``: the largest error on random inputs with entries in ``[-B, B]``
    and values ``+-1``; ``below_bound``: the smallest certified bound of a polynomial of
    ``degree - 1``; ``below_reached``: the smallest error that the two-cluster inputs of
    the Taylor, Chebyshev and minimax polynomials of ``degree - 1`` reach (each on its
    own input); ``below_lower``: the lower bound on the worst error of every polynomial
    of ``degree - 1``. All per unit of ``max|V|``.
    """

    entry_bound: float
    eps: float
    degree: int
    method: str
    rank: int
    bound: float
    apriori_degree: int
    reached: float
    random: float
    below_bound: float
    below_reached: float
    below_lower: float


def certificate_report(
    entry_bound: float, eps: float, *, d: int = 8, n: int = 4096, seed: int = 0
) -> CertificateReport:
    """Select the degree for ``eps`` at entry bound ``B`` (:func:`select_degree`,
    ``method="best"``) and attack it: the two-cluster input of the chosen polynomial
    (:func:`~ptheory.efficiency.two_cluster_input`, ``n`` keys), random inputs, and the
    two-cluster inputs and the lower bound of the degree below. Needs a degree of at least
    1. See :class:`CertificateReport`."""
    from ._legacy import legacy_degree
    from .certificate import two_cluster_input

    B = check_real(entry_bound, "entry_bound", minimum=0.0, strict_minimum=True)
    eps = check_real(eps, "eps", minimum=0.0, strict_minimum=True)
    d = check_int(d, "d", minimum=1)
    n = check_int(n, "n", minimum=2)
    R = B * B
    plan = select_degree(B, eps, d, method="best")
    if plan.degree < 1:
        raise ValueError(f"degree 0 already meets eps = {eps:g} at B = {B:g}: nothing below")

    def attained(g: int, method: str) -> float:
        cert = certify(g, R, method)
        if not math.isfinite(cert.attention_error):
            return math.inf
        Q, K, V = two_cluster_input(cert, B, d=d, n=n)
        out = poly_attention(Q, K, V, g, method, radius=R)
        return float((out - exact_attention(Q, K, V, reference=True)).abs().max())

    gen = torch.Generator().manual_seed(check_int(seed, "seed", minimum=0))
    Qr, Kr = (B * (torch.rand(n, d, generator=gen, dtype=torch.float64) * 2 - 1) for _ in "qk")
    Vr = torch.sign(torch.rand(n, 1, generator=gen, dtype=torch.float64) - 0.5)
    out = poly_attention(Qr, Kr, Vr, plan.degree, plan.method, radius=R)
    random = float((out - exact_attention(Qr, Kr, Vr, reference=True)).abs().max())
    below = plan.degree - 1
    lb = minimax_lower_bound(below, R)
    return CertificateReport(
        B,
        eps,
        plan.degree,
        plan.method,
        plan.rank,
        plan.error_bound,
        legacy_degree(B, eps),
        attained(plan.degree, plan.method),
        random,
        min(certify(below, R, m).attention_error for m in SEARCHED),
        min(attained(below, m) for m in SEARCHED),
        range_attention_error(-lb, lb) if lb < 1 else math.inf,
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
    method = method if method == "best" else check_method(method)
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
