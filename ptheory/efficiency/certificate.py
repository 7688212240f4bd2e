"""The tight certificate: a polynomial's worst relative error on ``[-R, R]``, proved.

Serves Hu et al. (2025), the almost-linear inference result, in the book's precise form. The
polynomial method replaces ``exp`` by a polynomial ``p``; what matters is the range of the
relative error ``h(t) = p(t) e^(-t) - 1`` over the scores ``t`` in ``[-R, R]``:

* :func:`certify` encloses that range rigorously, ``low <= h(t) <= high`` for every ``t``,
  by cutting ``[-R, R]`` into cells (denser near the ends, where the error of a good
  polynomial oscillates fastest) and bounding ``h`` on each cell by its value and slope
  at the cell's centre plus a bound on ``h''`` there. Every float64 operation of the
  certificate is accounted for (Higham's ``gamma_k`` bounds, exponentials from 30-digit
  arithmetic), so the enclosure holds in exact arithmetic for the float64 coefficients
  the kernel uses.
* :func:`range_attention_error` turns the range into the sharp bound on the attention
  output, ``2 (sqrt(1 + high) - sqrt(1 + low)) / (sqrt(1 + high) + sqrt(1 + low))`` per
  unit of ``max|V|``: two clusters of keys, at the scores where ``h`` is largest and
  smallest, with values ``+1`` and ``-1`` and masses in the ratio
  ``sqrt(1 + low) : sqrt(1 + high)``, attain it (:func:`two_cluster_input`).
* :func:`minimax_coefficients` builds the polynomial of each degree with the smallest
  worst relative error (Remez exchange); :func:`minimax_lower_bound` proves, by de la
  Vallee Poussin's theorem, that *no* polynomial of that degree does better than a
  stated error, so no choice of polynomial saves a degree.

The a-priori formulas (Taylor ``e^R R^(g+1) / (g+1)!``, Chebyshev
``e^(2R) R^(g+1) / (2^g (g+1)!)``, :func:`~ptheory.efficiency.entry_error_bound`) are
several times larger than the certified range at the degrees that matter.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch

from .._validate import check_int, check_real

__all__ = [
    "Certificate",
    "certify",
    "coefficient_certificate",
    "degree_profile",
    "minimax_coefficients",
    "minimax_lower_bound",
    "range_attention_error",
    "two_cluster_input",
]

_U = 2.0**-53  # unit roundoff of float64


def _gamma(k: int) -> float:
    """Higham's ``gamma_k = k u / (1 - k u)`` for float64."""
    return k * _U / (1 - k * _U)


def range_attention_error(low: float, high: float, v_max: float = 1.0) -> float:
    """The sharp max-abs error of attention whose entries are ``A_ij (1 + delta_ij)`` with
    ``low <= delta_ij <= high``: ``2 (sqrt(1 + high) - sqrt(1 + low)) / (sqrt(1 + high) +
    sqrt(1 + low)) * v_max`` (``inf`` when ``low <= -1``; ``2 eps / (1 + sqrt(1 - eps^2))``,
    about ``eps``, for ``low = -eps``, ``high = eps``).

    Proof in the chapter *Almost-linear prompt-tuning inference*: the output moves by at
    most the total variation ``sum_j |w~_j - w_j|`` times ``max|V|``; the variation is
    largest for two clusters at ``delta = high`` and ``delta = low``, with the first
    holding the share ``sqrt(1 + low) / (sqrt(1 + high) + sqrt(1 + low))`` of the mass.
    """
    low = check_real(low, "low") if math.isfinite(low) else low
    high = check_real(high, "high") if math.isfinite(high) else high
    v_max = check_real(v_max, "v_max", minimum=0.0)
    if not low <= high:
        raise ValueError(f"low must be at most high, got {low} and {high}")
    if low <= -1.0 or math.isinf(high):
        return math.inf
    a, b = math.sqrt(1.0 + high), math.sqrt(1.0 + low)
    return 2.0 * (a - b) / (a + b) * v_max


def _cells(R: float, g: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Edges of ``M`` cells covering ``[-R, R]`` (Chebyshev-spaced, exact ends), their
    float centres ``m`` and radii ``rho`` (rounded up): every ``t`` in ``[-R, R]`` lies
    within ``rho_k`` of some ``m_k``."""
    M = max(64, 24 * (g + 1))
    edges = -R * np.cos(np.pi * np.arange(M + 1) / M)
    edges[0], edges[-1] = -R, R
    edges = np.maximum.accumulate(edges)  # monotone even after rounding
    mid = (edges[:-1] + edges[1:]) / 2
    rho = np.maximum(mid - edges[:-1], edges[1:] - mid) * (1 + 4 * _U) + 1e-300
    return edges, mid, rho


@lru_cache(maxsize=64)
def _exp_neg(points: tuple[float, ...]) -> np.ndarray:
    """``e^(-t)`` at float ``t`` from 30-digit arithmetic, rounded once: relative error at
    most ``u``."""
    import mpmath

    with mpmath.workdps(30):
        return np.array([float(mpmath.exp(-mpmath.mpf(t))) for t in points])


def _taylor_shift(c: np.ndarray, m: np.ndarray) -> np.ndarray:
    """Coefficients of ``p(m + s)`` in ``s`` for every centre ``m``: ``(len(m), g + 1)``
    (Horner's repeated synthetic division)."""
    out = np.broadcast_to(c, (m.size, c.size)).copy()
    g = c.size - 1
    for i in range(g):
        for j in range(g - 1, i - 1, -1):
            out[:, j] += m * out[:, j + 1]
    return out


@dataclass(frozen=True)
class Certificate:
    """A proved enclosure of ``h(t) = p(t) e^(-t) - 1`` on ``[-radius, radius]``.

    ``low <= h(t) <= high`` for every ``t`` there, in exact arithmetic, for the float64
    coefficients ``p`` that :func:`~ptheory.efficiency.exp_poly_coefficients` returns for
    ``(degree, method, fit_radius)``. ``t_low``/``t_high`` are scores where ``h`` comes
    closest to ``low``/``high`` (found by root-finding; used by the adversary) and
    ``h_low``/``h_high`` the values there (30-digit arithmetic).
    """

    degree: int
    method: str
    radius: float
    fit_radius: float
    low: float
    high: float
    t_low: float
    t_high: float
    h_low: float
    h_high: float

    @property
    def entry_error(self) -> float:
        """``max |h|``: the certified relative error of the polynomial."""
        return max(self.high, -self.low)

    @property
    def attention_error(self) -> float:
        """:func:`range_attention_error` of the certified range: the attention error per
        unit of ``max|V|``, exact arithmetic."""
        return range_attention_error(self.low, self.high)

    @property
    def attained(self) -> float:
        """:func:`range_attention_error` of the values found at ``t_low``, ``t_high``:
        what the two-cluster input reaches (a lower bound on the worst case)."""
        return range_attention_error(min(self.h_low, self.h_high), max(self.h_low, self.h_high))


def coefficient_certificate(
    coefficients: Sequence[float] | np.ndarray, radius: float
) -> tuple[float, float]:
    """``(low, high)`` with ``low <= p(t) e^(-t) - 1 <= high`` on ``[-radius, radius]`` for
    ``p(t) = sum_m c_m t^m`` (float64 ``coefficients``), proved cell by cell.

    On a cell with centre ``m`` and radius ``rho``:
    ``|h(m + s) - h(m) - s h'(m)| <= rho^2 / 2 max |h''|`` with
    ``h' = (p' - p) e^(-t)`` and ``h'' = (p'' - 2 p' + p) e^(-t)``; the polynomials are
    expanded about ``m`` and bounded by their absolute coefficients, ``e^(-t)`` by
    ``e^(-m) e^rho``. Rounding of every step is added (``gamma`` bounds on the same
    computations with absolute values), and a final relative margin of ``1e-12``.
    """
    c = np.asarray(coefficients, dtype=np.float64)
    if c.ndim != 1 or c.size == 0 or not np.isfinite(c).all():
        raise ValueError("coefficients must be a non-empty 1-d array of finite numbers")
    R = check_real(radius, "radius", minimum=0.0)
    g = c.size - 1
    if R == 0.0:
        h0 = c[0] - 1.0
        err = 2 * _U * (abs(c[0]) + 1)
        return h0 - err, h0 + err
    if R > 700.0:  # e^R beyond float64: no certificate
        return -math.inf, math.inf
    with np.errstate(all="ignore"):
        low, high = _cell_enclosure(c, R, g)
    if not (math.isfinite(low) and math.isfinite(high)):
        return -math.inf, math.inf
    return low, high


def _cell_enclosure(c: np.ndarray, R: float, g: int) -> tuple[float, float]:
    """The enclosure of :func:`coefficient_certificate` (may be infinite or NaN)."""
    _, mid, rho = _cells(R, g)
    E0 = _exp_neg(tuple(mid.tolist()))  # e^(-m), relative error at most u
    E = E0 * (1 + 2 * _U)  # an upper bound on e^(-m)
    shifted = _taylor_shift(c, mid)
    shifted_abs = _taylor_shift(np.abs(c), np.abs(mid))
    err = _gamma(2 * g + 4) * shifted_abs  # error of each shifted coefficient
    zero = np.zeros_like(mid)
    p0, p1 = shifted[:, 0], (shifted[:, 1] if g >= 1 else zero)
    e0, e1 = err[:, 0], (err[:, 1] if g >= 1 else zero)
    h = p0 * E0 - 1.0
    h_err = (e0 + 4 * _U * np.abs(p0)) * E + 4 * _U * (np.abs(h) + 1)
    slope = (np.abs(p1 - p0) + e0 + e1 + 4 * _U * (np.abs(p1) + np.abs(p0))) * E
    # r2 = p'' - 2 p' + p about m: coefficient j is (j+2)(j+1) c_{j+2} - 2 (j+1) c_{j+1} + c_j
    j = np.arange(g + 1)
    pad = np.zeros((mid.size, 2))
    cs, es = np.hstack([shifted, pad]), np.hstack([err, pad])
    r2 = (j + 2) * (j + 1) * cs[:, 2:] - 2 * (j + 1) * cs[:, 1:-1] + cs[:, :-2]
    r2_err = (j + 2) * (j + 1) * es[:, 2:] + 2 * (j + 1) * es[:, 1:-1] + es[:, :-2]
    r2_abs = np.abs(r2) * (1 + 4 * _U) + r2_err
    powers = rho[:, None] ** j[None, :]
    curv = (r2_abs * powers).sum(axis=1) * (1 + _gamma(g + 2))
    curv = curv * E * np.exp(rho) * (1 + 1e-12)
    spread = (h_err + rho * slope + rho**2 / 2 * curv) * (1 + 1e-12) + 1e-300
    return float((h - spread).min()), float((h + spread).max())


def _h_exact(c: np.ndarray, t: float) -> float:
    """``p(t) e^(-t) - 1`` in 30-digit arithmetic for float64 coefficients and ``t``."""
    import mpmath

    with mpmath.workdps(30):
        x = mpmath.mpf(float(t))
        p = mpmath.fsum(mpmath.mpf(float(cm)) * x**m for m, cm in enumerate(c))
        return float(p * mpmath.exp(-x) - 1)


def _extremes(c: np.ndarray, R: float) -> tuple[float, float, float, float]:
    """Scores in ``[-R, R]`` where ``h`` is smallest and largest, among the ends and the
    real roots of ``p' - p`` (where ``h' = 0``), with the values there."""
    g = c.size - 1
    cand = [-R, R]
    if g >= 1:
        q = np.append(c[1:] * np.arange(1, g + 1), 0.0) - c  # p' - p, ascending
        nz = np.nonzero(q)[0]
        if nz.size and nz[-1] >= 1:
            roots = np.polynomial.polynomial.polyroots(q[: nz[-1] + 1])
            real = roots[np.abs(roots.imag) <= 1e-7 * (1 + np.abs(roots))].real
            cand += [float(t) for t in real if -R < t < R]
    vals = [(_h_exact(c, t), t) for t in cand]
    h_lo, t_lo = min(vals)
    h_hi, t_hi = max(vals)
    return t_lo, h_lo, t_hi, h_hi


@lru_cache(maxsize=1024)
def _certify(g: int, method: str, R: float, fit: float) -> Certificate:
    from .polynomial import _apriori_float_bound, _minimax_is_chebyshev, exp_poly_coefficients

    c = exp_poly_coefficients(g, method, fit)
    low, high = coefficient_certificate(c, R)
    as_method = "chebyshev" if method == "minimax" and _minimax_is_chebyshev(g, fit) else method
    if as_method != "minimax":  # a second proved bound, better at high degree
        prior = _apriori_float_bound(g, R, as_method, fit)
        low, high = max(low, -prior), min(high, prior)
    t_lo, h_lo, t_hi, h_hi = _extremes(c, R)
    return Certificate(g, method, R, fit, low, high, t_lo, t_hi, h_lo, h_hi)


def certify(
    degree: int, radius: float, method: str = "chebyshev", *, fit_radius: float | None = None
) -> Certificate:
    """The proved range of the relative error of the polynomial of ``degree`` (``method``:
    ``"taylor"``, ``"chebyshev"`` or ``"minimax"``, fitted on ``[-fit_radius,
    fit_radius]``, default ``radius``) over the scores in ``[-radius, radius]``.

    The enclosure is :func:`coefficient_certificate`'s, intersected, for Taylor and
    Chebyshev, with the a-priori formula (plus the rounding of the coefficients to
    float64), which is tighter at high degree where float64 cannot resolve the error.
    """
    from ._inputs import check_degree, check_method

    g, method = check_degree(degree), check_method(method)
    R = check_real(radius, "radius", minimum=0.0)
    fit = R if fit_radius is None else check_real(fit_radius, "fit_radius", minimum=0.0)
    if method != "taylor" and fit < R * (1 - 1e-12):
        raise ValueError(
            f"fit_radius = {fit:g} is below radius = {R:g}: a {method} polynomial fitted on "
            "a smaller interval has no certificate on the larger one"
        )
    return _certify(g, method, float(R), float(fit) if method != "taylor" else 1.0)


# ----------------------------------------------------------------------- minimax
def _sign_run_extrema(e: np.ndarray) -> list[int]:
    """One index per run of equal sign in ``e`` (0 counts as positive), where ``|e|`` is
    largest in the run: the candidate alternation points of an error curve."""
    s = np.sign(e)
    s[s == 0] = 1
    runs = np.split(np.arange(e.size), np.flatnonzero(np.diff(s)) + 1)
    return [int(r[np.argmax(np.abs(e[r]))]) for r in runs]


def _exchange_points(e: np.ndarray, count: int) -> list[int] | None:
    """The next reference of a Remez exchange: the sign-run extrema of ``e``, the smaller
    end dropped until ``count`` remain; ``None`` when there are fewer."""
    ext = _sign_run_extrema(e)
    while len(ext) > count:
        ext = ext[1:] if abs(e[ext[0]]) < abs(e[ext[-1]]) else ext[:-1]
    return ext if len(ext) == count else None


def _remez(g: int, R: float) -> np.ndarray:
    """Chebyshev coefficients (in ``u = t / R``) of the polynomial ``p~`` of degree ``g`` that
    minimises ``max |p~(u) / f(u) - 1|`` on ``[-1, 1]`` for ``f(u) = e^(R (u - 1))`` (the
    exponential scaled by ``e^-R``, which leaves relative errors unchanged and keeps every
    number at most 1); Remez exchange on a fine grid, the Chebyshev interpolant when it
    does not converge."""
    cheb = np.polynomial.chebyshev
    f = lambda u: np.exp(R * (u - 1))  # noqa: E731
    m = 4000 + 50 * g
    grid = np.concatenate([[-1.0], -np.cos(np.pi * (np.arange(m) + 0.5) / m), [1.0]])
    fg = f(grid)
    ref = -np.cos(np.pi * np.arange(g + 2) / (g + 1))
    signs = (-1.0) ** np.arange(g + 2)
    best, best_err = cheb.chebinterpolate(f, g), math.inf
    with np.errstate(all="ignore"):
        for _ in range(40):
            A = np.hstack([cheb.chebvander(ref, g), -(signs * f(ref))[:, None]])
            try:
                sol = np.linalg.solve(A, f(ref))
            except np.linalg.LinAlgError:
                break
            if not np.isfinite(sol).all():
                break
            a, level = sol[:-1], abs(sol[-1])
            e = cheb.chebval(grid, a) / fg - 1
            err = float(np.abs(e).max())
            if not math.isfinite(err):
                break
            if err < best_err:
                best, best_err = a, err
            ext = _exchange_points(e, g + 2)
            if ext is None:
                break
            ref = grid[ext]
            signs = np.sign(e[ext])
            if err <= level * (1 + 1e-9):
                break
    return best


def _cheb_to_monomial(cheb: np.ndarray, R: float, log_scale: float = 0.0) -> tuple[float, ...]:
    """Monomial coefficients in ``t`` of ``e^log_scale sum_j a_j T_j(t / R)``, converted
    exactly enough (:func:`~ptheory.efficiency.polynomial._digits` digits) and rounded
    once to float64."""
    import mpmath

    from .polynomial import _chebyshev_to_power_mp, _digits

    g = cheb.size - 1
    with mpmath.workdps(_digits(g, R)):
        Rm = mpmath.mpf(R)
        scale = mpmath.exp(mpmath.mpf(log_scale))
        mono = _chebyshev_to_power_mp([mpmath.mpf(float(c)) for c in cheb])
        return tuple(float(scale * a / Rm**m) for m, a in enumerate(mono))


@lru_cache(maxsize=256)
def minimax_coefficients(degree: int, radius: float) -> tuple[float, ...]:
    """Monomial coefficients (float64) of the polynomial of ``degree`` with the smallest
    worst relative error ``max |p(t) e^(-t) - 1|`` on ``[-radius, radius]`` (Remez)."""
    g = check_int(degree, "degree", minimum=0, maximum=64)
    R = check_real(radius, "radius", minimum=0.0)
    if R == 0.0:
        return (1.0,) + (0.0,) * g
    return _cheb_to_monomial(_remez(g, R), R, log_scale=R)


_LB_RADIUS = 200.0
"""Radius beyond which :func:`minimax_lower_bound` uses a sub-interval of this half-width
(a lower bound there is one on the whole interval, and float64 stays in range)."""


@lru_cache(maxsize=256)
def minimax_lower_bound(degree: int, radius: float) -> float:
    """A proved lower bound on the worst relative error ``max_t |p(t) e^(-t) - 1|`` over
    ``[-radius, radius]`` of *every* polynomial ``p`` of degree at most ``degree``.

    De la Vallee Poussin: if some polynomial's relative error takes alternating signs at
    ``degree + 2`` increasing points, no polynomial of that degree has a worst error
    below the smallest of those ``|errors|``. The points are the extrema of the Remez
    polynomial's error, evaluated in 30-digit arithmetic (rounded down by ``1e-12``).
    Where the float64 Remez exchange does not resolve the degree, and at every radius above
    8 (where it can settle on a poor alternation: a valid but weak bound), the bound of a
    levelled reference in
    high precision (:func:`_levelled_lower_bound`) is used as well, the larger of the two
    returned. Relative errors do not change when the interval is
    shifted (``e^t = e^c e^(t - c)``), so for a radius above 200 the bound of
    ``[-200, 200]``, a sub-interval up to a shift, is returned.
    """
    g = check_int(degree, "degree", minimum=0, maximum=64)
    R = min(check_real(radius, "radius", minimum=0.0), _LB_RADIUS)
    if R == 0.0:
        return 0.0
    found = _remez_lower_bound(g, R)
    if found == 0.0 or R > _REMEZ_RADIUS:
        found = max(found, _levelled_lower_bound(g, R))
    return found


_REMEZ_RADIUS = 8.0
"""Radius up to which the float64 Remez exchange alone gives the lower bound."""


def _remez_lower_bound(g: int, R: float) -> float:
    """De la Vallee Poussin's bound from the extrema of the float64 Remez polynomial's error,
    evaluated in 30 digits; 0 where they do not alternate."""
    import mpmath

    a = _remez(g, R)
    cheb = np.polynomial.chebyshev
    n_grid = 4000 + 50 * g
    u = np.concatenate([[-1.0], -np.cos(np.pi * (np.arange(n_grid) + 0.5) / n_grid), [1.0]])
    with np.errstate(all="ignore"):
        e = cheb.chebval(u, a) / np.exp(R * (u - 1)) - 1
    if not np.isfinite(e).all():
        return 0.0
    ext = _sign_run_extrema(e)
    if len(ext) < g + 2:
        return 0.0

    def h(x: float) -> float:  # the scaled polynomial's relative error, 30 digits
        with mpmath.workdps(30):
            xm = mpmath.mpf(float(x))
            t_prev, t_cur, total = mpmath.mpf(1), xm, mpmath.mpf(0)
            for j, aj in enumerate(a):
                t_j = t_prev if j == 0 else t_cur
                if j >= 2:
                    t_prev, t_cur = t_cur, 2 * xm * t_cur - t_prev
                    t_j = t_cur
                total += mpmath.mpf(float(aj)) * t_j
            return float(total / mpmath.exp(R * (xm - 1)) - 1)

    if len(ext) > 4 * (g + 2):  # many sign changes: Remez did not resolve this degree
        return 0.0
    vals_all = [h(u[k]) for k in ext]
    best = 0.0
    for start in range(len(ext) - (g + 2) + 1):  # any g + 2 consecutive alternating points
        vals = vals_all[start : start + g + 2]
        if all(p * q < 0 for p, q in itertools.pairwise(vals)):
            best = max(best, min(abs(v) for v in vals))
    return best * (1 - 1e-12)


def _levelled_lower_bound(g: int, R: float, iterations: int = 12) -> float:
    """De la Vallee Poussin's bound from a *levelled reference*, where the float64 Remez
    exchange fails (large ``R``: the relative error spans too many orders of magnitude).

    For ``g + 2`` points ``t_0 < ... < t_(g+1)`` of ``[-R, R]`` the polynomial ``p`` of
    degree ``g`` with ``p(t_i) e^(-t_i) - 1 = (-1)^i E`` exists and is unique, and no
    polynomial of degree ``g`` has a smaller largest relative error on those points than
    ``|E|`` (the alternation theorem on a finite set; the weight ``e^(-t)`` is positive),
    so ``|E|`` bounds the worst error on ``[-R, R]`` from below for *any* points. The
    points start at the Chebyshev extrema and move by Remez exchange on a grid; each
    levelled system is solved with enough digits for ``e^(-2R)`` (at least 40), and the
    largest ``|E|`` met, rounded down, is returned. Below 1 by construction.
    """
    import mpmath

    m = (g + 1) * math.ceil((400 + 20 * g) / (g + 1)) + 1  # m - 1 a multiple of g + 1
    with mpmath.workdps(40 + int(2 * R / math.log(10))):
        Rm = mpmath.mpf(R)
        pi = mpmath.pi
        # a grid that holds the Chebyshev extrema of degree g + 1 (the first reference)
        grid = [-Rm * mpmath.cos(pi * k / (m - 1)) for k in range(m)]
        pts = [i * (m - 1) // (g + 1) for i in range(g + 2)]  # indices into grid

        def cheb(t: mpmath.mpf) -> list[mpmath.mpf]:
            u = t / Rm
            T = [mpmath.mpf(1), u]
            while len(T) < g + 1:
                T.append(2 * u * T[-1] - T[-2])
            return T[: g + 1]

        # the grid's Chebyshev values and exponentials (e^t scaled by e^-R, which leaves
        # relative errors unchanged), once for every exchange
        basis = [cheb(t) for t in grid]
        scale = [mpmath.exp(t - Rm) for t in grid]
        best = mpmath.mpf(0)
        for _ in range(iterations):
            A = mpmath.matrix(g + 2, g + 2)
            b = mpmath.matrix(g + 2, 1)
            for i, k in enumerate(pts):
                for j, Tj in enumerate(basis[k]):
                    A[i, j] = Tj
                A[i, g + 1] = -((-1) ** i) * scale[k]
                b[i] = scale[k]
            try:
                x = mpmath.lu_solve(A, b)
            except ZeroDivisionError:
                break
            level = abs(x[g + 1])
            if not level < 1:  # not a valid levelled solution: stop exchanging
                break
            best = max(best, level)
            a = [x[j] for j in range(g + 1)]
            e = [
                mpmath.fsum(aj * Tj for aj, Tj in zip(a, T, strict=True)) / f - 1
                for T, f in zip(basis, scale, strict=True)
            ]
            # the exchange picks points in float64 (only which points: the level above is
            # exact for any points)
            new = _exchange_points(np.array([float(v) for v in e]), g + 2)
            if new is None:
                break
            if max(abs(v) for v in e) <= level * (1 + mpmath.mpf(10) ** -9) or new == pts:
                break
            pts = new
        return float(mpmath.mpf(best) * (1 - mpmath.mpf(10) ** -12)) if best < 1 else 0.0


# ----------------------------------------------------------------------- adversary
def two_cluster_input(
    cert: Certificate,
    entry_bound: float,
    *,
    d: int = 8,
    n: int = 4096,
    dtype: torch.dtype = torch.float64,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The input on which the certified polynomial errs the most: ``(Q, K, V)`` with one
    query ``B 1`` and ``n`` keys in two clusters, ``(t_high / B) 1`` and
    ``(t_low / B) 1`` (scores ``t_high`` and ``t_low`` with scale ``1/d``, entries in
    ``[-B, B]``), values ``+1`` and ``-1``, and key counts chosen so that the first
    cluster holds the share ``sqrt(1 + h_low) / (sqrt(1 + h_high) + sqrt(1 + h_low))``
    of the softmax mass. Needs ``t_high, t_low`` in ``[-B^2, B^2]``.
    """
    if not isinstance(cert, Certificate):
        raise TypeError(f"cert must be a Certificate (from certify), got {type(cert).__name__}")
    B = check_real(entry_bound, "entry_bound", minimum=0.0, strict_minimum=True)
    d = check_int(d, "d", minimum=1)
    n = check_int(n, "n", minimum=2)
    if max(abs(cert.t_low), abs(cert.t_high)) > B * B * (1 + 1e-12):
        raise ValueError(
            f"entry_bound = {B:g} is too small for the certificate: its scores exceed B^2"
        )
    lo, hi = min(cert.h_low, cert.h_high), max(cert.h_low, cert.h_high)
    t_hi, t_lo = (
        (cert.t_high, cert.t_low) if cert.h_high >= cert.h_low else (cert.t_low, cert.t_high)
    )
    share = math.sqrt(1 + lo) / (math.sqrt(1 + hi) + math.sqrt(1 + lo)) if lo > -1 else 0.5
    # n_hi e^t_hi / (n_hi e^t_hi + n_lo e^t_lo) = share
    ratio = share / (1 - share) * math.exp(t_lo - t_hi)
    n_hi = min(n - 1, max(1, round(n * ratio / (1 + ratio))))
    q = torch.full((1, d), B, dtype=dtype)
    K = torch.empty(n, d, dtype=dtype)
    K[:n_hi] = min(B, max(-B, t_hi / B))
    K[n_hi:] = min(B, max(-B, t_lo / B))
    V = torch.ones(n, 1, dtype=dtype)
    V[n_hi:] = -1.0
    return q, K, V


def degree_profile(
    entry_bound: float,
    degrees: Iterable[int],
    *,
    d: int = 8,
    n: int = 4096,
) -> dict:
    """What each degree buys at entry bound ``B`` (scores in ``[-B^2, B^2]``), per unit of
    ``max|V|``, exact arithmetic: for each degree in ``degrees``, the a-priori bound
    (Chebyshev formula, ``2 eps_g / (1 - eps_g)``), the certified bound of each of the
    Taylor, Chebyshev and minimax polynomials (:func:`certify`), the error the two-cluster
    input of the minimax polynomial reaches (:func:`two_cluster_input` with ``n`` keys,
    measured against float64 exact attention) and the lower bound that holds for *every*
    polynomial of the degree (:func:`minimax_lower_bound`, turned into an attention error
    by :func:`range_attention_error`). Returns lists keyed ``"degrees"``, ``"apriori"``,
    ``"taylor"``, ``"chebyshev"``, ``"minimax"``, ``"attained"``, ``"lower"``.
    """
    from .exact import exact_attention
    from .polynomial import entry_error_bound, poly_attention

    B = check_real(entry_bound, "entry_bound", minimum=0.0, strict_minimum=True)
    degrees = [check_int(g, "degrees", minimum=0, maximum=64) for g in degrees]
    R = B * B
    out: dict = {k: [] for k in ("apriori", "taylor", "chebyshev", "minimax", "attained", "lower")}
    out["degrees"] = degrees
    for g in degrees:
        e = entry_error_bound(g, R, "chebyshev")
        out["apriori"].append(2 * e / (1 - e) if e < 1 else math.inf)
        for m in ("taylor", "chebyshev", "minimax"):
            out[m].append(certify(g, R, m).attention_error)
        cert = certify(g, R, "minimax")
        Q, K, V = two_cluster_input(cert, B, d=d, n=n)
        err = poly_attention(Q, K, V, g, "minimax", radius=R) - exact_attention(
            Q, K, V, reference=True
        )
        out["attained"].append(float(err.abs().max()))
        lb = minimax_lower_bound(g, R)
        out["lower"].append(range_attention_error(-lb, lb) if lb < 1 else math.inf)
    return out
