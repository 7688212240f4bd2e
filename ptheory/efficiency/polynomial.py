"""The polynomial method: low-rank attention from a polynomial approximation of ``exp``.

Serves Hu et al. (2025), the almost-linear inference result, through the algorithm of Alman and
Song (2023). With score scale ``s`` (``1/d`` by default), a polynomial ``p(t) = sum_{m <= g} c_m
t^m`` that approximates ``exp`` on ``[-R, R]`` turns the attention matrix ``A_ij = exp(s <q_i,
k_j>)`` into ``A~ = U_1 U_2^T`` of rank ``r = C(d + g, g)``::

    p(<x, y>) = sum_{|a| <= g} c_{|a|} (|a|! / a!) x^a y^a,   x = sqrt(s) q,  y = sqrt(s) k,

one feature per monomial ``x^a`` of degree at most ``g`` (the minimal basis). Then
``Att~ = D~^{-1} U_1 (U_2^T V)`` with ``D~ = diag(U_1 (U_2^T 1))`` costs ``O((n_q + n) r d)``.

Error (proved in the chapter *Almost-linear prompt-tuning inference*): if every entry
obeys ``|A~_ij - A_ij| <= eps A_ij`` with ``eps < 1``, then
``max |Att~ - Att| <= 2 eps / (1 - eps) * max |V|``. For scores in ``[-R, R]``:

* Taylor, ``c_m = 1/m!``: ``eps <= e^R R^(g+1) / (g+1)!``;
* Chebyshev interpolation of ``exp`` on ``[-R, R]``: ``eps <= e^(2R) R^(g+1) / (2^g (g+1)!)``.
"""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch

from .._validate import as_tensor, check_finite, check_int, check_real
from ..model import ScoreScale, resolve_scale, torch_threads
from ._inputs import check_degree, check_method, check_qkv

__all__ = [
    "attention_error_bound",
    "entry_error_bound",
    "exp_poly_coefficients",
    "feature_map",
    "monomial_exponents",
    "monomial_weights",
    "poly_attention",
    "poly_error_bound",
    "rounding_error_bound",
    "score_radius",
]

_CHUNK_FLOATS = 1 << 20  # feature buffer of about 4 MB in fp32 (fits the L3 cache)


@dataclass(frozen=True)
class _Table:
    """How to build the monomials of degree <= g in d variables, degree by degree.

    Rows: the constant, then ``x_0 .. x_{d-1}``, then for each degree ``m >= 2`` and each
    ``i`` the products ``x_i * (rows of degree m - 1 whose smallest index is >= i)``: a
    contiguous suffix of the previous block, so every step is one broadcast multiply.
    """

    ops: tuple[tuple[int, int, int, int], ...]  # (i, src_start, src_stop, dst_start)
    exponents: np.ndarray  # (r, d) integer exponents a of each row
    degrees: np.ndarray  # (r,) |a|
    multinomial: np.ndarray  # (r,) |a|! / a!
    rank: int


@lru_cache(maxsize=64)
def _table(d: int, g: int) -> _Table:
    exps: list[tuple[int, ...]] = [(0,) * d]
    if g >= 1:
        exps += [tuple(int(j == i) for j in range(d)) for i in range(d)]
    ops = []
    prev_start, prev_first = 1, list(range(d))  # first (smallest) index of each row
    for _ in range(2, g + 1):
        dst = len(exps)
        first: list[int] = []
        for i in range(d):
            offset = next(k for k, f in enumerate(prev_first) if f >= i)
            src_start, src_stop = prev_start + offset, prev_start + len(prev_first)
            ops.append((i, src_start, src_stop, len(exps)))
            for row in range(src_start, src_stop):
                e = list(exps[row])
                e[i] += 1
                exps.append(tuple(e))
                first.append(i)
        prev_start, prev_first = dst, first
    exponents = np.array(exps, dtype=np.int64)
    multinomial = np.array(
        [math.factorial(sum(a)) / math.prod(math.factorial(k) for k in a) for a in exps]
    )
    return _Table(tuple(ops), exponents, exponents.sum(axis=1), multinomial, len(exps))


def monomial_exponents(d: int, degree: int) -> torch.Tensor:
    """Exponents ``a`` of the ``C(d + g, g)`` monomials ``x^a``, ``|a| <= g``: ``(r, d)``.

    Rows are in the order :func:`feature_map` uses (constant first, then by degree).
    """
    d = check_int(d, "d", minimum=1)
    g = check_degree(degree)
    return torch.from_numpy(_table(d, g).exponents.copy())


def _features(x: torch.Tensor, g: int, out: torch.Tensor) -> torch.Tensor:
    """Monomials of the columns of ``x: (b, d, c)`` (any strides) into ``out: (b, r, c)``.

    Row 0 of ``out`` must already hold ones (it is never written here).
    """
    d = x.shape[-2]
    if g >= 1:
        out.narrow(1, 1, d).copy_(x)
    for i, s0, s1, dst in _table(d, g).ops:  # narrow: cheaper views than slicing
        n_rows = s1 - s0
        torch.mul(
            out.narrow(1, s0, n_rows), out.narrow(1, 1 + i, 1), out=out.narrow(1, dst, n_rows)
        )
    return out


def _feature_plan(out: torch.Tensor, d: int, g: int) -> tuple[torch.Tensor | None, list]:
    """The views of ``out: (b, r, c)`` that :func:`_features` writes through, made once:
    the rows that receive ``x`` and, per step of the monomial table, ``(source rows, factor
    row, destination rows)``. Making a view costs about a microsecond, as much as a step on
    a small chunk and, with two threads, time spent holding the interpreter lock; a kernel
    makes its buffers' plans once and reuses them for every chunk of full width
    (:func:`_features_planned`)."""
    ops = [
        (out.narrow(1, s0, s1 - s0), out.narrow(1, 1 + i, 1), out.narrow(1, dst, s1 - s0))
        for i, s0, s1, dst in _table(d, g).ops
    ]
    return (out.narrow(1, 1, d) if g >= 1 else None), ops


def _features_planned(x: torch.Tensor, plan: tuple[torch.Tensor | None, list]) -> None:
    """:func:`_features` through the views of :func:`_feature_plan`: the same numbers."""
    head, ops = plan
    if head is not None:  # degree 0: the constant row only
        head.copy_(x)
    for src, factor, dst in ops:
        torch.mul(src, factor, out=dst)


def feature_map(X: torch.Tensor, degree: int) -> torch.Tensor:
    """All monomials of degree ``<= degree`` of each row of ``X: (..., n, d)``: ``(..., n, r)``.

    ``r = C(d + degree, degree)``; the column order is that of :func:`monomial_exponents`.
    Then ``sum_{|a| = m} (m! / a!) phi(x)_a phi(y)_a = <x, y>^m``.
    """
    X = check_finite(as_tensor(X, "X"), "X")
    if X.dim() < 2:
        raise ValueError(f"X must have shape (..., n, d), got {tuple(X.shape)}")
    g = check_degree(degree)
    d = X.shape[-1]
    if d == 0:
        raise ValueError("X must have at least one feature column (d >= 1)")
    lead = X.shape[:-2]
    xT = X.reshape(-1, *X.shape[-2:]).transpose(-1, -2)
    out = torch.empty(xT.shape[0], _table(d, g).rank, xT.shape[-1], dtype=X.dtype, device=X.device)
    out[:, 0] = 1.0
    return _features(xT, g, out).transpose(-1, -2).reshape(*lead, X.shape[-2], -1)


def _cheb_monomial(g: int, radius: float) -> tuple[float, ...]:
    """Monomial coefficients of the Chebyshev interpolant of ``exp`` on ``[-R, R]``, computed
    in :func:`_digits` digits (the change of basis cancels about
    ``g log10((1 + sqrt 2) / min(R, 1))`` digits) and rounded once to float64."""
    import mpmath

    with mpmath.workdps(_digits(g, radius)):
        R = mpmath.mpf(radius)
        nodes = [mpmath.cos(mpmath.pi * (k + mpmath.mpf(1) / 2) / (g + 1)) for k in range(g + 1)]
        values = [mpmath.exp(R * u) for u in nodes]
        # c_j = (2 / (g + 1)) sum_k f(u_k) T_j(u_k), halved for j = 0; T_j(u_k) by recurrence
        cheb = [mpmath.mpf(0)] * (g + 1)
        for v, u in zip(values, nodes, strict=True):
            t_prev, t_cur = mpmath.mpf(1), u
            for j in range(g + 1):
                t_j = t_prev if j == 0 else t_cur
                if j >= 2:
                    t_prev, t_cur = t_cur, 2 * u * t_cur - t_prev
                    t_j = t_cur
                cheb[j] += v * t_j
        cheb = [c * 2 / (g + 1) / (2 if j == 0 else 1) for j, c in enumerate(cheb)]
        mono = _chebyshev_to_power_mp(cheb)
        return tuple(float(a / R**m) for m, a in enumerate(mono))


def _chebyshev_to_power_mp(cheb: Sequence) -> list:
    """Power-basis coefficients ``b_k`` of ``sum_j cheb[j] T_j(u) = sum_k b_k u^k``, in mpmath
    at the caller's working precision (``T_j`` by the recurrence ``T_{j+1} = 2 u T_j -
    T_{j-1}``). Shared by the Chebyshev interpolant and the minimax polynomial, which
    each divide ``b_k`` by ``R^k`` for the coefficients in ``t = R u``."""
    import mpmath

    g = len(cheb) - 1
    mono = [mpmath.mpf(0)] * (g + 1)
    t_prev, t_cur = [mpmath.mpf(1)], [mpmath.mpf(0), mpmath.mpf(1)]  # T_0, T_1 in u
    for j in range(g + 1):
        t_j = t_prev if j == 0 else t_cur
        if j >= 2:
            t_next = [mpmath.mpf(0)] + [2 * a for a in t_cur]
            for k, a in enumerate(t_prev):
                t_next[k] -= a
            t_prev, t_cur = t_cur, t_next
            t_j = t_cur
        for k, a in enumerate(t_j):
            mono[k] += cheb[j] * a
    return mono


def _digits(g: int, radius: float) -> int:
    """Working digits for a change of basis of degree ``g`` on ``[-R, R]``: 60 plus what the
    cancellation of the Chebyshev-to-monomial conversion and the scaling by ``R^-m`` cost."""
    small = max(0.0, -math.log10(radius)) if radius > 0 else 0.0
    return 60 + math.ceil(g * (0.39 + small))


@lru_cache(maxsize=256)
def _coefficients(g: int, method: str, radius: float) -> tuple[float, ...]:
    if method == "taylor" or radius == 0.0:
        return tuple(1.0 / math.factorial(m) for m in range(g + 1))
    if method == "minimax" and not _minimax_is_chebyshev(g, radius):
        from .certificate import minimax_coefficients

        return minimax_coefficients(g, radius)
    return _cheb_monomial(g, radius)


def _minimax_is_chebyshev(g: int, radius: float) -> bool:
    """Where the Chebyshev interpolant's relative error is already below ``1e-13`` float64
    cannot resolve a better polynomial: ``"minimax"`` then returns the interpolant."""
    return _apriori(g, radius, "chebyshev", radius) < 1e-13


def exp_poly_coefficients(degree: int, method: str = "taylor", radius: float = 1.0) -> np.ndarray:
    """Coefficients ``c_0 .. c_g`` (float64) of the polynomial that approximates ``exp``.

    ``"taylor"``: ``c_m = 1/m!`` (``radius`` unused). ``"chebyshev"``: the interpolant of
    ``exp`` at the ``g + 1`` Chebyshev points of ``[-R, R]``. ``"minimax"``: the
    polynomial with the smallest worst *relative* error ``max |p(t) e^(-t) - 1|`` on
    ``[-R, R]`` (Remez exchange, :func:`~ptheory.efficiency.certificate.minimax_coefficients`).
    All in the monomial basis, converted in 100-digit arithmetic and rounded once.
    """
    g = check_degree(degree)
    method = check_method(method)
    radius = check_real(radius, "radius", minimum=0.0)
    return np.array(_coefficients(g, method, radius))


def _apriori(g: int, R: float, method: str, fit: float) -> float:
    """The textbook relative-error formula of the exact polynomial (``inf`` when huge):
    Taylor ``e^R R^(g+1) / (g+1)!``; Chebyshev interpolation on ``[-F, F]``, scores in
    ``[-R, R]``, ``R <= F``: ``e^(F + R) F^(g+1) / (2^g (g+1)!)``."""
    if method == "taylor":
        if R == 0.0:
            return 0.0
        log_eps = (g + 1) * math.log(R) - math.lgamma(g + 2) + R
    else:
        if fit == 0.0:
            return 0.0
        log_eps = (g + 1) * math.log(fit) - math.lgamma(g + 2) + fit + R - g * math.log(2.0)
        if R > fit:  # |T_{g+1}(t / F)| <= cosh((g + 1) acosh(R / F)) just outside [-F, F]
            log_eps += math.log(math.cosh((g + 1) * math.acosh(R / fit)))
    return math.exp(log_eps) if log_eps < 700 else math.inf


def _apriori_float_bound(g: int, R: float, method: str, fit: float) -> float:
    """:func:`_apriori` for the float64 coefficients: plus ``2u A(R) e^R``, ``A(R) = sum_m
    |c_m| R^m``, for rounding the exact coefficients once (Taylor, Chebyshev only)."""
    coef = _coefficients(g, method, fit if method != "taylor" else 1.0)
    A = math.fsum(abs(cm) * R**m for m, cm in enumerate(coef))
    return _apriori(g, R, method, fit) + 2.0**-52 * A * math.exp(R) * (1 + 1e-12)


def entry_error_bound(degree: int, radius: float, method: str = "taylor") -> float:
    """The a-priori relative error ``eps`` of the polynomial on ``[-R, R]``,
    ``|p(t) - e^t| <= eps e^t``, from the textbook formulas.

    Taylor: ``e^R R^(g+1) / (g+1)!``; Chebyshev: ``e^(2R) R^(g+1) / (2^g (g+1)!)`` (the
    interpolation remainder, divided by ``min e^t = e^-R``). May be ``inf``. These are
    several times larger than the proved range of :func:`~ptheory.efficiency.certify`,
    which the degree selection uses; ``"minimax"`` has no formula and returns the
    certified ``max |p e^-t - 1|``.
    """
    g = check_degree(degree)
    method = check_method(method)
    R = check_real(radius, "radius", minimum=0.0)
    if method == "minimax":
        from .certificate import certify

        return certify(g, R, "minimax").entry_error
    return _apriori(g, R, method, R)


def attention_error_bound(eps: float, v_max: float = 1.0) -> float:
    """The sharp max-abs error of attention whose matrix entries carry relative error at
    most ``eps``: ``2 eps / (1 + sqrt(1 - eps^2)) * v_max`` (about ``eps``; ``inf`` when
    ``eps >= 1``). Attained by two clusters of keys with relative errors ``+eps`` and
    ``-eps`` (:func:`~ptheory.efficiency.certificate.range_attention_error`)."""
    eps = check_real(eps, "eps", minimum=0.0) if eps != math.inf else math.inf
    v_max = check_real(v_max, "v_max", minimum=0.0)
    if eps >= 1.0:
        return math.inf
    return 2.0 * eps / (1.0 + math.sqrt(1.0 - eps * eps)) * v_max


def score_radius(Q: torch.Tensor, K: torch.Tensor, scale: ScoreScale = "1/d") -> float:
    """``R = s max_i ||q_i|| max_j ||k_j||`` (Cauchy-Schwarz): every score lies in ``[-R, R]``.

    With entries bounded by ``B`` and ``s = 1/d`` this is at most ``B^2``.
    """
    Q, K, _, _ = check_qkv(Q, K, K)
    return _score_radius(Q, K, resolve_scale(scale, Q.shape[-1]))


def _score_radius(Q: torch.Tensor, K: torch.Tensor, s: float) -> float:
    """:func:`score_radius` of checked ``Q, K`` for the score scale ``s``."""
    qn = float(torch.linalg.vector_norm(Q.double(), dim=-1).max()) if Q.numel() else 0.0
    kn = float(torch.linalg.vector_norm(K.double(), dim=-1).max())
    return s * qn * kn


def _unit_roundoff(dtype: torch.dtype) -> float:
    return float(torch.finfo(dtype).eps) / 2


_BLOCK = 64
"""Keys summed in ``dtype`` inside one matrix product (and features on the query side);
the partial sums of the blocks are added in float64. This bounds the additions a term
meets in ``dtype`` by about ``2 * 64`` whatever ``n``: the rounding bound of float32 stays
below ``1e-4`` of the softmax denominator at the degrees that pay."""


def _query_blocks(r: int) -> tuple[int, int]:
    """``(number, size)`` of the feature blocks on the query side: ``ceil(r / 64)`` blocks
    of equal size at most 64."""
    nr = -(-r // _BLOCK)
    return nr, -(-r // nr)


def _rounding_counts(g: int, n: int, r: int) -> tuple[int, int]:
    """``(N, N_64)``: rounded operations on one term's path in the input's dtype and in
    float64 (see :func:`rounding_error_bound`)."""
    nr, size = _query_blocks(r)
    block = min(_BLOCK, n)
    n_dtype = 2 * g + 2 + block + size
    n_64 = 12 + -(-n // _BLOCK) + nr
    return n_dtype, n_64


def _theta(g: int, n: int, r: int, dtype: torch.dtype) -> float:
    """Bound on the relative perturbation of one term: ``(1 + gamma_N(u))(1 + gamma_N64(u_64))
    - 1``; ``inf`` when either count times its unit roundoff reaches 1."""
    n_dtype, n_64 = _rounding_counts(g, n, r)
    u, u64 = _unit_roundoff(dtype), _unit_roundoff(torch.float64)
    if n_dtype * u >= 1 or n_64 * u64 >= 1:
        return math.inf
    return (1 + n_dtype * u / (1 - n_dtype * u)) * (1 + n_64 * u64 / (1 - n_64 * u64)) - 1


def rounding_error_bound(
    degree: int,
    radius: float,
    method: str = "taylor",
    *,
    n: int,
    d: int,
    dtype: torch.dtype = torch.float64,
    fit_radius: float | None = None,
    chunk: int | None = None,
) -> float:
    """``eta``: the worst-case rounding error of :func:`poly_attention`'s numerator and
    denominator, as a fraction of the exact softmax denominator ``sum_j e^(s <q, k_j>)``,
    assuming no underflow or overflow (:func:`poly_error_bound` accounts for both).

    Every term ``w_a phi_a(q) phi_a(k_j) [v_j, 1]`` of the computed sums passes, in
    ``dtype``, through at most ``g - 1`` multiplications for each monomial, one for the
    value, at most 63 additions inside a block of 64 keys, one cast of the state, one
    product with the query's monomial and at most 63 additions inside a block of at most
    64 features: ``N = 2 g + 2 + min(64, n) + s_r`` (``s_r`` the query-side block size).
    In float64 it meets the weight (about 8 roundings), the sums over the ``ceil(n / 64)``
    key blocks and the ``ceil(r / 64)`` feature blocks, and the division:
    ``N_64 = 12 + ceil(n / 64) + ceil(r / 64)``. Each sum then errs by at most
    ``theta = (1 + gamma_N)(1 + gamma_N64) - 1`` times the sum of its absolute terms
    (Higham, *Accuracy and Stability of Numerical Algorithms*, section 3.1; ``gamma_k =
    k u / (1 - k u)``, ``u`` the unit roundoff). For scores in ``[-R, R]`` the absolute
    terms sum to at most ``n A(R) max|v|`` with ``A(R) = sum_m |c_m| R^m``, and the
    denominator is at least ``n e^-R``: ``eta = theta A(R) e^R``. ``radius`` is the
    data's score radius ``R``, ``fit_radius`` the fit's (Chebyshev and minimax; default
    ``R``). ``chunk`` is accepted for compatibility and does not change the bound.
    ``inf`` when ``N u >= 1``.
    """
    g, method = check_degree(degree), check_method(method)
    R = check_real(radius, "radius", minimum=0.0)
    n = check_int(n, "n", minimum=1)
    d = check_int(d, "d", minimum=1)
    if dtype not in (torch.float16, torch.bfloat16, torch.float32, torch.float64):
        raise TypeError(f"dtype must be a torch floating dtype, got {dtype}")
    fit = R if fit_radius is None else check_real(fit_radius, "fit_radius", minimum=0.0)
    if chunk is not None:
        check_int(chunk, "chunk", minimum=1)
    theta = _theta(g, n, _table(d, g).rank, dtype)
    if math.isinf(theta):
        return math.inf
    coef = _coefficients(g, method, fit)
    A = math.fsum(abs(cm) * R**m for m, cm in enumerate(coef))
    return theta * A * math.exp(R) * (1 + 1e-12)


def poly_error_bound(
    Q: torch.Tensor,
    K: torch.Tensor,
    V: torch.Tensor,
    degree: int,
    method: str = "taylor",
    *,
    scale: ScoreScale = "1/d",
    radius: float | None = None,
    rounding: bool = True,
    chunk: int | None = None,
) -> float:
    """A bound on ``max |poly_attention(Q, K, V, degree, method, ...) - Att(Q, K, V)|``,
    the computed output (in ``Q``'s dtype) against exact softmax attention in exact
    arithmetic, for these inputs.

    With ``R`` the data's score radius (:func:`score_radius`, enlarged by the float64
    rounding of the norms) and ``[low, high]`` the certified range of the polynomial's
    relative error on ``[-R, R]`` (:func:`~ptheory.efficiency.certify`, fitted on
    ``radius`` when given, else on ``R``; a Chebyshev or minimax fit on a smaller interval
    than the data's has no bound: ``inf``), ``eta`` = :func:`rounding_error_bound` for
    ``Q``'s dtype, and ``zeta`` the underflow term (below), the bound is
    ``E + u (|V|max + E)`` with::

        E = a(low, high) |V|max + (2 eta |V|max + zeta (1 + |V|max)) / (1 + low - eta - zeta)

    (``inf`` when ``1 + low <= eta + zeta``), ``a`` the sharp
    :func:`~ptheory.efficiency.certificate.range_attention_error`. The first term is the
    approximation error (exact arithmetic, attained by two clusters of keys), the second
    the rounding of the sums and the underflow, ``u (|V|max + E)`` the final cast.
    Underflow and overflow: every intermediate product is at most ``T = W M_q^g M_k^g v``
    in size (``W`` the largest weight, ``M_q, M_k, v`` the largest ``|Q|``, ``|K|``,
    ``|V|`` entries, each raised to at least 1), every sum at most ``2 n r T``; if that
    is not below ``dtype``'s largest number the bound is ``inf``. Each of the at most
    ``N + N_64 + 1`` operations on a term's path may add an absolute error up to
    ``dtype``'s smallest normal number ``lambda``, later multiplied by at most ``T``:
    ``zeta = 2 (N + N_64 + 1) r lambda T e^R``. ``rounding=False`` gives the
    exact-arithmetic term alone. ``chunk`` is accepted for compatibility.
    """
    from .certificate import certify

    Q, K, V, _ = check_qkv(Q, K, V)
    g, method = check_degree(degree), check_method(method)
    d, n = Q.shape[-1], K.shape[-2]
    if chunk is not None:
        check_int(chunk, "chunk", minimum=1)
    if not isinstance(rounding, bool):
        raise TypeError(f"rounding must be a bool, got {type(rounding).__name__}")
    s = resolve_scale(scale, d)
    u64 = _unit_roundoff(torch.float64)
    # the norms are computed in float64: enlarge R by their relative rounding error
    raw_radius = _score_radius(Q, K, s)
    R = raw_radius * (1 + 4 * (d + 4) * u64)
    fit = raw_radius if radius is None else check_real(radius, "radius", minimum=0.0)
    if method != "taylor" and fit < R * (1 - 1e-12):
        return math.inf  # fitted on a smaller interval than the data's scores
    cert = certify(g, R, method, fit_radius=fit if method != "taylor" else None)
    v_max = float(V.abs().max()) if V.numel() else 0.0
    range_error = cert.attention_error * v_max if math.isfinite(cert.attention_error) else math.inf
    if not rounding:
        return range_error
    if not math.isfinite(range_error):
        return math.inf
    eta = rounding_error_bound(g, R, method, n=n, d=d, dtype=Q.dtype, fit_radius=fit)
    info = torch.finfo(Q.dtype)
    w = np.abs(_weights_f64(d, g, method, fit if method != "taylor" else 1.0, s))
    m_q = max(1.0, float(Q.abs().max()) if Q.numel() else 0.0)
    m_k = max(1.0, float(K.abs().max()))
    log_t = (
        math.log(max(1.0, float(w.max())))
        + g * (math.log(m_q) + math.log(m_k))
        + math.log(max(1.0, v_max))
    )
    r = _table(d, g).rank
    if log_t + math.log(2 * n * r) >= math.log(info.max) - 1:
        return math.inf
    n_dtype, n_64 = _rounding_counts(g, n, r)
    log_zeta = math.log(2 * (n_dtype + n_64 + 1) * r * info.tiny) + log_t + R
    zeta = math.exp(log_zeta) if log_zeta < 700 else math.inf
    margin = 1 + cert.low - eta - zeta
    if not margin > 0:
        return math.inf
    u = _unit_roundoff(Q.dtype)
    E = range_error + (2 * eta * v_max + zeta * (1 + v_max)) / margin
    return (E + u * (v_max + E)) * (1 + 1e-12)


def monomial_weights(d: int, degree: int, coefficients: Sequence[float]) -> torch.Tensor:
    """``c_|a| |a|! / a!`` for each monomial ``a`` of :func:`feature_map` (float64, ``(r,)``):
    ``p(<x, y>) = sum_a w_a x^a y^a`` for ``p(t) = sum_m c_m t^m`` (multinomial theorem)."""
    d = check_int(d, "d", minimum=1)
    g = check_degree(degree)
    coef = np.asarray(coefficients, dtype=np.float64)
    if coef.shape != (g + 1,) or not np.isfinite(coef).all():
        raise ValueError(f"coefficients must be {g + 1} finite numbers c_0 .. c_g")
    table = _table(d, g)
    return torch.from_numpy(coef[table.degrees] * table.multinomial)


def _weights_f64(d: int, g: int, method: str, R: float, s: float) -> np.ndarray:
    """``c_|a| s^|a| |a|! / a!`` in float64, one per monomial of :func:`feature_map`."""
    table = _table(d, g)
    coef = np.array(_coefficients(g, method, R))
    return coef[table.degrees] * float(s) ** table.degrees * table.multinomial


@lru_cache(maxsize=256)
def _weights(d: int, g: int, method: str, R: float, s: float, dtype: torch.dtype) -> torch.Tensor:
    """Per-monomial weights in ``dtype``: ``p(s <q, k>) = sum_a c_|a| s^|a| (|a|! / a!) q^a
    k^a``, so the score scale goes into the weights and the features are plain monomials.
    Raises ``ValueError`` (naming ``degree``) when a weight underflows or overflows in
    ``dtype`` (in float32 ``1/g!`` underflows from ``g = 34``)."""
    w = _weights_f64(d, g, method, R, s)
    info = torch.finfo(dtype)
    nonzero = np.abs(w[w != 0])
    if nonzero.size and (nonzero.min() < info.tiny or nonzero.max() > info.max):
        raise ValueError(
            f"degree {g} needs weights from {nonzero.min():.1e} to {nonzero.max():.1e}, "
            f"outside the normal range of {dtype}: use float64 or a smaller degree"
        )
    return torch.tensor(w, dtype=dtype)


def _default_chunk(b: int, r: int) -> int:
    """Tokens per chunk: a feature buffer of about ``2^20`` numbers, in whole blocks."""
    c = max(256, min(8192, _CHUNK_FLOATS // max(1, b * r)))
    return c - c % _BLOCK


def poly_attention(
    Q: torch.Tensor,
    K: torch.Tensor,
    V: torch.Tensor,
    degree: int,
    method: str = "taylor",
    *,
    scale: ScoreScale = "1/d",
    radius: float | None = None,
    chunk: int | None = None,
) -> torch.Tensor:
    """Approximate softmax attention by the polynomial method, in time ``O((n_q + n) r d)``.

    ``Q: (..., n_q, d)``, ``K: (..., n, d)``, ``V: (..., n, d_v)`` (one token a row, batch
    dimensions broadcast) give ``(..., n_q, d_v)`` in ``Q``'s dtype and on its device, the
    contract of :func:`~ptheory.efficiency.exact_attention`. ``degree`` is ``g``, the rank
    is ``r = C(d + g, g)``. ``method``: ``"taylor"``, ``"chebyshev"`` or ``"minimax"``,
    the last two fitted on ``[-radius, radius]`` (default: :func:`score_radius` of the
    data). Tokens are processed ``chunk`` at a time (rounded to whole blocks of 64).

    The key side builds a chunk's monomials, multiplies them with ``[V, 1]`` in blocks of
    64 keys (one batched matrix product in ``dtype``) and adds the blocks' partial states
    in float64; the weights multiply the state in float64, which is then cast to ``dtype``.
    The query side multiplies each chunk's monomials with the state in blocks of at most
    64 features and adds the blocks in float64, divides in float64 and casts the output
    (at rank 64 or less there is one block: its sum and the division are in ``dtype``).
    So every sum in ``dtype`` has at most 64 terms whatever ``n``
    (:func:`rounding_error_bound`), and the error is at most :func:`poly_error_bound`;
    if the polynomial is not positive on the scores the normaliser can vanish and the
    output is meaningless. Memory stays ``O(r (d_v + chunk))`` beyond the inputs and
    output; each thread keeps its scratch buffers for the next call of the same shapes
    (:func:`_thread_buffers`).
    """
    Q, K, V, batch = check_qkv(Q, K, V)
    g, method = check_degree(degree), check_method(method)
    d, n, n_q, d_v = Q.shape[-1], K.shape[-2], Q.shape[-2], V.shape[-1]
    s = resolve_scale(scale, d)
    if radius is None:
        R = _score_radius(Q, K, s) if method != "taylor" else 1.0
    else:
        R = check_real(radius, "radius", minimum=0.0)
    if method == "taylor":
        R = 1.0
    b = math.prod(batch)
    r = _table(d, g).rank
    if chunk is None:
        chunk = _default_chunk(b, r)
    chunk = check_int(chunk, "chunk", minimum=1)
    chunk = max(_BLOCK, chunk - chunk % _BLOCK)
    dtype, device = Q.dtype, Q.device
    w = torch.from_numpy(_weights_f64(d, g, method, R, s)).to(device)
    Kb, Vb, Qb = K.reshape(b, n, d), V.reshape(b, n, d_v), Q.reshape(b, n_q, d)
    with torch.no_grad():  # not differentiable: buffers are written in place
        workers = torch.get_num_threads() if device.type == "cpu" else 1
        S = _key_state(Kb, Vb, g, chunk, workers)
        S *= w[:, None]
        S = _cast_state(S, dtype, g)
        return _query_output(Qb, S, g, chunk, workers).reshape(*batch, n_q, d_v)


def _cast_state(S: torch.Tensor, dtype: torch.dtype, g: int) -> torch.Tensor:
    """The float64 state in ``dtype``; ``ValueError`` when an entry overflows there."""
    out = S.to(dtype)
    if dtype != torch.float64 and not bool(torch.isfinite(out).all()):
        raise ValueError(
            f"degree {g}: the weighted key state overflows {dtype}; use float64, smaller "
            "entries or a smaller degree"
        )
    return out


_POOLS: dict[int, ThreadPoolExecutor] = {}
_POOLS_LOCK = threading.Lock()
# Threads do not survive fork: a child process starts with no pools.
os.register_at_fork(after_in_child=_POOLS.clear)


def _pool(workers: int) -> ThreadPoolExecutor:
    """One pool of ``workers`` threads for the whole process, made on first use: starting
    threads costs about 2 ms each here, as much as a third of a kernel call at n = 65536."""
    with _POOLS_LOCK:
        pool = _POOLS.get(workers)
        if pool is None:
            pool = _POOLS[workers] = ThreadPoolExecutor(workers, "ptheory-poly")
        return pool


def _run_pool(workers: int, make_worker, tasks: list) -> None:
    """Run ``tasks`` (argument tuples) on ``workers`` threads, each with its own buffers
    (``make_worker()`` returns the function a task is applied to) and one intra-op thread.

    One parallel region for the whole kernel instead of one per small tensor operation:
    a worker that the operating system deschedules delays only the chunks it holds, and
    the other worker takes the remaining ones from the shared queue. Every chunk runs on
    one thread, so the result does not depend on which worker ran it.
    """
    lock = threading.Lock()
    queue = iter(tasks)
    before = torch.get_num_threads()

    def loop() -> None:
        torch.set_num_threads(1)  # per OS thread (OpenMP) and for MKL
        with torch.no_grad():  # grad mode is thread-local
            run = make_worker()
            while True:
                with lock:
                    task = next(queue, None)
                if task is None:
                    return
                run(*task)

    try:
        pool = _pool(workers)
        for future in [pool.submit(loop) for _ in range(workers)]:
            future.result()
    finally:
        # The workers' count is their own (thread-local in ATen); setting this thread's
        # count again when nothing changed it would only cost time.
        if torch.get_num_threads() != before:
            torch.set_num_threads(before)


def _one_thread(device: torch.device):
    """One intra-op thread for chunks run on the calling thread (CPU), as on a pool worker:
    torch's products on several threads may split a sum differently, and the kernel's
    numbers must not depend on the thread count."""
    return torch_threads(1 if device.type == "cpu" else None)


def _map_chunks(workers: int, make_worker, tasks: list) -> None:
    """Apply ``make_worker()``'s function to every task: in a loop on the calling thread
    (with one intra-op thread, as on a worker) for one worker or one task, else on a pool
    of ``workers`` (:func:`_run_pool`)."""
    if workers <= 1 or len(tasks) <= 1:
        run = make_worker()
        with torch_threads(1):
            for task in tasks:
                run(*task)
    else:
        _run_pool(workers, make_worker, tasks)


_LOCAL = threading.local()


def _thread_buffers(kind: str, key: tuple, make):
    """The buffers a kernel side (``kind``) needs on this thread, made by ``make()`` and kept
    until a call of the same kind needs others (``key``: their shapes, dtype, device).

    Allocating them anew costs a few tenths of a millisecond a call (fresh pages, filling
    the constant rows, making the views), as much as a tenth of the whole kernel at rank
    45. A thread keeps at most one set per kind, and only a set of at most
    :data:`_KEEP_BYTES` (a batch of many heads makes sets of ``O(b r chunk)`` numbers:
    those are made for the call and freed after it). The buffers are scratch: every entry
    a chunk reads was written for that chunk, apart from rows that hold constants (the
    constant feature and the padding rows, never written; the ones of ``[V, 1]``, which a
    padded last chunk zeroes and restores, also when it raises)."""
    cache = getattr(_LOCAL, "buffers", None)
    if cache is None:
        cache = _LOCAL.buffers = {}
    hit = cache.get(kind)
    if hit is not None and hit[0] == key:
        return hit[1]
    cache.pop(kind, None)  # free the old set before making the new one
    value = make()
    storages = {  # views share their buffer's storage: count each storage once
        t.untyped_storage().data_ptr(): t.untyped_storage().nbytes()
        for t in value
        if isinstance(t, torch.Tensor)
    }
    if sum(storages.values()) <= _KEEP_BYTES:
        cache[kind] = (key, value)
    return value


_KEEP_BYTES = 32 << 20
"""Largest set of scratch buffers a thread keeps between calls (32 MiB)."""


def _key_state(
    K: torch.Tensor, V: torch.Tensor, g: int, chunk: int, workers: int = 1
) -> torch.Tensor:
    """``S = U_2^T [V, 1]`` without weights, in float64: ``(b, r, d_v + 1)``.

    Keys go ``chunk`` at a time (a multiple of 64): the chunk's monomials are built, one
    row per monomial, and multiplied with ``[V, 1]`` in blocks of 64 keys (one batched
    matrix product in the input's dtype; the last block padded with zero keys whose
    ``[v, 1]`` row is zero, so they add nothing). The blocks' partial states are added in
    float64, chunk after chunk, so the sum is the same, bit for bit, on any number of
    workers (:func:`_run_pool`).
    """
    b, n, d = K.shape
    d_v = V.shape[-1]
    r = _table(d, g).rank
    c_max = min(chunk, -(-n // _BLOCK) * _BLOCK)
    nb_max = c_max // _BLOCK
    starts = list(range(0, n, chunk))
    dtype, device = K.dtype, K.device

    def make_buffers() -> tuple:
        feats = torch.empty(1, r, c_max, dtype=dtype, device=device)
        feats[:, 0] = 1.0
        xbuf = torch.empty(1, d, c_max, dtype=dtype, device=device)
        vtmp = torch.empty(c_max, d_v, dtype=dtype, device=device)
        vbuf = torch.empty(nb_max, d_v + 1, _BLOCK, dtype=dtype, device=device)
        vbuf[:, d_v] = 1.0
        part = torch.empty(nb_max, d_v + 1, r, dtype=dtype, device=device)
        part64 = torch.empty(nb_max, d_v + 1, r, dtype=torch.float64, device=device)
        # Views for chunks of full width, made once (see _feature_plan).
        plan = _feature_plan(feats, d, g)
        blocks_full = feats[0].view(r, nb_max, _BLOCK).permute(1, 2, 0)  # (nb, 64, r)
        return feats, xbuf, vtmp, vbuf, part, part64, plan, blocks_full, vbuf[:, :d_v]

    key = (d, d_v, g, c_max, dtype, device)

    def make_worker():
        feats, xbuf, vtmp, vbuf, part, part64, plan, blocks_full, v_full = _thread_buffers(
            "key side", key, make_buffers
        )

        def run(i: int, a: int, out: torch.Tensor) -> None:
            c = min(chunk, n - a)
            if c == c_max:  # the common case: every view made in advance
                _features_planned(K[i, a : a + c].T, plan)
                v_full.copy_(V[i, a : a + c].view(nb_max, _BLOCK, d_v).transpose(1, 2))
                torch.bmm(vbuf, blocks_full, out=part)  # 64 terms a sum
                torch.sum(part64.copy_(part), dim=0, out=out)
                return
            nb = -(-c // _BLOCK)
            width = nb * _BLOCK
            vb = vbuf[:nb]  # (nb, d_v + 1, 64): each block's [V, 1], transposed
            if width == c:
                x = K[i, a : a + c].T.unsqueeze(0)  # (1, d, c), a view
                vb[:, :d_v] = V[i, a : a + c].view(nb, _BLOCK, d_v).transpose(1, 2)
            else:  # pad with zero keys whose [v, 1] row is zero: they add nothing
                x = xbuf[:, :, :width]
                x[0, :, :c] = K[i, a : a + c].T
                x[0, :, c:] = 0.0
                vtmp[:c] = V[i, a : a + c]
                vtmp[c:width] = 0.0
                vb[:, :d_v] = vtmp[:width].view(nb, _BLOCK, d_v).transpose(1, 2)
                vb[nb - 1, d_v, c - (nb - 1) * _BLOCK :] = 0.0
            try:
                f = _features(x, g, feats[:, :, :width])[0]  # (r, width)
                blocks = f.view(r, nb, _BLOCK).permute(1, 2, 0)  # (nb, 64, r), a view
                p = torch.bmm(vb, blocks, out=part[:nb])  # (nb, d_v + 1, r): 64 terms a sum
                torch.sum(part64[:nb].copy_(p), dim=0, out=out)
            finally:  # the buffers are kept: restore the ones of [V, 1]
                if width > c:
                    vb[nb - 1, d_v] = 1.0

        return run

    S = torch.zeros(b, d_v + 1, r, dtype=torch.float64, device=device)
    tasks = [(i, a) for i in range(b) for a in starts]
    if workers <= 1 or len(tasks) == 1:
        run, part = make_worker(), torch.empty(d_v + 1, r, dtype=torch.float64, device=device)
        with _one_thread(device):  # as on a worker: the same bits on any thread count
            for i, a in tasks:
                run(i, a, part)
                S[i] += part
        return S.transpose(1, 2)
    parts = torch.empty(len(tasks), d_v + 1, r, dtype=torch.float64, device=device)
    _run_pool(workers, make_worker, [(i, a, parts[k]) for k, (i, a) in enumerate(tasks)])
    for (i, _), part in zip(tasks, parts, strict=True):
        S[i] += part
    return S.transpose(1, 2)


def _query_output(
    Q: torch.Tensor, S: torch.Tensor, g: int, chunk: int, workers: int = 1
) -> torch.Tensor:
    """``(U_1 S)[:, :d_v] / (U_1 S)[:, d_v]`` over chunks of queries: ``(b, n_q, d_v)``.

    ``S: (b, r, d_v + 1)`` in the queries' dtype. The ``r`` features are cut into
    ``ceil(r / 64)`` equal blocks; one batched product per chunk gives each block's
    partial numerator (at most 64 terms a sum), added in float64; the division is in
    float64 and the result cast to the dtype (with one block, ``r <= 64``, the product's
    sums and the division are in the dtype). ``workers > 1`` spreads the chunks over
    threads (:func:`_run_pool`), same result.
    """
    b, n_q, _ = Q.shape
    d_v = S.shape[-1] - 1
    r = S.shape[1]
    dtype, device = Q.dtype, Q.device
    out = torch.empty(b, n_q, d_v, dtype=dtype, device=device)
    if n_q == 0:
        return out
    nr, size = _query_blocks(r)
    r_pad = nr * size
    c_max = min(chunk, n_q)
    S_pad = torch.zeros(b, r_pad, d_v + 1, dtype=dtype, device=device)
    S_pad[:, :r] = S
    ST = S_pad.view(b, nr, size, d_v + 1).transpose(-1, -2).reshape(b * nr, d_v + 1, size)
    starts = list(range(0, n_q, chunk))

    def make_buffers() -> tuple:
        feats = torch.empty(b, r_pad, c_max, dtype=dtype, device=device)
        feats[:, 0] = 1.0
        feats[:, r:] = 0.0  # padding features: zero rows of the state meet zeros
        num = torch.empty(b * nr, d_v + 1, c_max, dtype=dtype, device=device)
        acc = torch.empty(b, d_v + 1, c_max, dtype=torch.float64, device=device)
        res = torch.empty(b, d_v, c_max, dtype=dtype, device=device)
        num64 = torch.empty(b, nr, d_v + 1, c_max, dtype=torch.float64, device=device)
        # Views for chunks of full width, made once (see _feature_plan).
        plan = _feature_plan(feats[:, :r], Q.shape[-1], g)
        views = (
            feats.view(b * nr, size, c_max),  # the feature blocks
            num.view(b, nr, d_v + 1, c_max),
            num if nr == 1 else acc,  # the numerators and denominators
            res.transpose(1, 2),
        )
        return feats, num, acc, res, num64, plan, views

    key = (b, r, nr, size, c_max, Q.shape[-1], d_v, g, dtype, device)

    def make_worker():
        feats, num, acc, res, num64, plan, views = _thread_buffers("query side", key, make_buffers)
        blocks_full, num_full, tot_full, res_full = views

        def run(a: int) -> None:
            c = min(chunk, n_q - a)
            if c == c_max:  # the common case: every view made in advance
                _features_planned(Q[:, a : a + c].transpose(1, 2), plan)
                torch.bmm(ST, blocks_full, out=num)
                if nr > 1:  # add the blocks' partial numerators in float64
                    torch.sum(num64.copy_(num_full), dim=1, out=acc)
                torch.div(tot_full[:, :d_v], tot_full[:, d_v:], out=res)
                out[:, a : a + c] = res_full
                return
            x = Q[:, a : a + c].transpose(1, 2)
            _features(x, g, feats[:, :r, :c])
            blocks = feats[:, :, :c].reshape(b * nr, size, c)
            part = torch.bmm(ST, blocks, out=num[:, :, :c])
            if nr == 1:  # one block: the sum is the product's; divide in dtype
                tot = part
            else:  # add the blocks' partial numerators in float64
                tot = acc[:, :, :c]
                torch.sum(num64[:, :, :, :c].copy_(part.view(b, nr, d_v + 1, c)), dim=1, out=tot)
            torch.div(tot[:, :d_v], tot[:, d_v:], out=res[:, :, :c])
            out[:, a : a + c] = res[:, :, :c].transpose(1, 2)

        return run

    if workers <= 1 or len(starts) == 1:
        run = make_worker()
        with _one_thread(device):  # as on a worker: the same bits on any thread count
            for a in starts:
                run(a)
    else:
        _run_pool(workers, make_worker, [(a,) for a in starts])
    return out
