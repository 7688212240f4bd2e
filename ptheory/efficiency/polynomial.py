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
from ..model import ScoreScale, resolve_scale
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
    in 100-digit arithmetic (the change of basis cancels about ``g log10(1 + sqrt 2)``
    digits, 25 at ``g = 64``) and rounded once to float64."""
    import mpmath

    with mpmath.workdps(100):
        R = mpmath.mpf(radius)
        nodes = [mpmath.cos(mpmath.pi * (k + mpmath.mpf(1) / 2) / (g + 1)) for k in range(g + 1)]
        values = [mpmath.exp(R * u) for u in nodes]
        cheb = []
        for j in range(g + 1):
            c = 2 * mpmath.fsum(v * mpmath.chebyt(j, u) for v, u in zip(values, nodes, strict=True))
            cheb.append(c / (g + 1) / (2 if j == 0 else 1))
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
        return tuple(float(a / R**m) for m, a in enumerate(mono))


@lru_cache(maxsize=256)
def _coefficients(g: int, method: str, radius: float) -> tuple[float, ...]:
    if method == "taylor" or radius == 0.0:
        return tuple(1.0 / math.factorial(m) for m in range(g + 1))
    return _cheb_monomial(g, radius)


def exp_poly_coefficients(degree: int, method: str = "taylor", radius: float = 1.0) -> np.ndarray:
    """Coefficients ``c_0 .. c_g`` of the polynomial that approximates ``exp`` on ``[-R, R]``.

    ``"taylor"``: ``c_m = 1/m!`` (``radius`` unused). ``"chebyshev"``: the interpolant of
    ``exp`` at the ``g + 1`` Chebyshev points of ``[-R, R]``, in the monomial basis.
    """
    g = check_degree(degree)
    method = check_method(method)
    radius = check_real(radius, "radius", minimum=0.0)
    return np.array(_coefficients(g, method, radius))


def entry_error_bound(degree: int, radius: float, method: str = "taylor") -> float:
    """Proved relative error ``eps`` of the polynomial on ``[-R, R]``: ``|p(t) - e^t| <= eps e^t``.

    Taylor: ``e^R R^(g+1) / (g+1)!``; Chebyshev: ``e^(2R) R^(g+1) / (2^g (g+1)!)``
    (the interpolation remainder, divided by ``min e^t = e^-R``). May be ``inf``.
    """
    g = check_degree(degree)
    method = check_method(method)
    R = check_real(radius, "radius", minimum=0.0)
    if R == 0.0:
        return 0.0
    log_eps = (g + 1) * math.log(R) - math.lgamma(g + 2) + R
    if method == "chebyshev":
        log_eps += R - g * math.log(2.0)
    return math.exp(log_eps) if log_eps < 700 else math.inf


def attention_error_bound(eps: float, v_max: float = 1.0) -> float:
    """``2 eps / (1 - eps) * v_max``: the max-abs error of attention whose matrix entries
    carry relative error at most ``eps``; ``inf`` when ``eps >= 1``."""
    eps = check_real(eps, "eps", minimum=0.0) if eps != math.inf else math.inf
    v_max = check_real(v_max, "v_max", minimum=0.0)
    if eps >= 1.0:
        return math.inf
    return 2.0 * eps / (1.0 - eps) * v_max


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


def _rounding_count(g: int, n: int, c: int, r: int, d: int) -> int:
    """``N``: rounded operations on one term's path (see :func:`rounding_error_bound`)."""
    return 2 * g + 8 + c + -(-n // c) + r + d


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

    Every term ``w_a phi_a(q) phi_a(k_j) [v_j, 1]`` of the computed sums passes through at
    most ``2 g + 8`` rounded multiplications: ``g`` on the key side (the monomial, its
    product with ``[v_j, 1]``), ``g`` on the query side, one for the weight, and six for
    the weight itself (the coefficient rounded from 100 digits, ``s^m``, the multinomial,
    two products, the cast to ``dtype``). Its additions: any order within a chunk of ``c``
    keys (``c - 1``), one per chunk into the state (``ceil(n / c)``; the kernel adds each
    chunk's product once, see :func:`_key_state`), and at most ``r + d`` over the
    features. So each sum errs by at most ``gamma_N = N u / (1 - N u)`` times the sum of
    its absolute terms (Higham, *Accuracy and Stability of Numerical Algorithms*, section
    3.1), ``N = 2 g + 8 + c + ceil(n / c) + r + d``, ``u`` the unit roundoff of ``dtype``
    (a float64 rounding counted as one of ``dtype``'s). For scores in ``[-R, R]`` the
    absolute terms sum to at most ``n A(R) max|v|`` with ``A(R) = sum_m |c_m| R^m``, and
    the denominator is at least ``n e^-R``: ``eta = gamma_N A(R) e^R``. ``radius`` is the
    data's score radius ``R``, ``fit_radius`` the Chebyshev fit's (default ``R``).
    ``inf`` when ``N u >= 1``.
    """
    g, method = check_degree(degree), check_method(method)
    R = check_real(radius, "radius", minimum=0.0)
    n = check_int(n, "n", minimum=1)
    d = check_int(d, "d", minimum=1)
    if dtype not in (torch.float16, torch.bfloat16, torch.float32, torch.float64):
        raise TypeError(f"dtype must be a torch floating dtype, got {dtype}")
    fit = R if fit_radius is None else check_real(fit_radius, "fit_radius", minimum=0.0)
    r = _table(d, g).rank
    c = (
        _default_chunk(1, _kernel_rows(d, g))
        if chunk is None
        else check_int(chunk, "chunk", minimum=1)
    )
    c = min(c, n)
    N = _rounding_count(g, n, c, r, d)
    Nu = N * _unit_roundoff(dtype)
    if Nu >= 1:
        return math.inf
    coef = _coefficients(g, method, fit)
    A = math.fsum(abs(cm) * R**m for m, cm in enumerate(coef))
    return Nu / (1 - Nu) * A * math.exp(R)


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
    arithmetic (score scale ``s`` as the float :func:`poly_attention` uses), for these
    inputs.

    With ``R`` the data's score radius (:func:`score_radius`, enlarged by the float64
    rounding of the norms), ``eps`` = :func:`entry_error_bound` at ``R`` (Taylor) or at the
    fit radius (Chebyshev: ``radius`` when given, else ``R``; a fit on a smaller interval
    than the data's has no bound: ``inf``), ``eta`` = :func:`rounding_error_bound` for
    ``Q``'s dtype, and ``zeta`` the underflow term (below), the bound is ``E + u (|V|max + E)``
    with::

        E = 2 eps / (1 - eps) |V|max + (2 eta |V|max + zeta (1 + |V|max)) / (1 - eps - eta - zeta)

    (``inf`` when ``eps + eta + zeta >= 1``). The first term is the approximation error
    (the chapter's theorem, exact arithmetic), the second the rounding of the sums and the
    underflow, ``u (|V|max + E)`` the final division. Underflow and overflow: every
    intermediate product is at most ``T = W M_q^g M_k^g v`` in size (``W`` the largest
    weight, ``M_q, M_k, v`` the largest ``|Q|``, ``|K|``, ``|V|`` entries, each raised to at
    least 1), every sum at most ``2 n r T``; if that is not below ``dtype``'s largest
    number the bound is ``inf``. Each of the at most ``N + 1`` operations on a term's path
    (``N`` of :func:`rounding_error_bound`) may add an absolute error up to ``dtype``'s
    smallest normal number ``lambda`` (covering gradual underflow and flush-to-zero),
    later multiplied by at most ``T``: ``zeta = 2 (N + 1) r lambda T e^R``. For
    moderate entries ``zeta`` is negligible (``lambda`` is ``1e-38`` in float32).
    ``rounding=False`` gives the exact-arithmetic term alone. ``chunk`` must be the one
    :func:`poly_attention` used (default: its default).
    """
    Q, K, V, batch = check_qkv(Q, K, V)
    g, method = check_degree(degree), check_method(method)
    d, n = Q.shape[-1], K.shape[-2]
    if chunk is None:  # the chunk poly_attention chooses for this batch
        chunk = _default_chunk(math.prod(batch), _kernel_rows(d, g))
    chunk = check_int(chunk, "chunk", minimum=1)
    if not isinstance(rounding, bool):
        raise TypeError(f"rounding must be a bool, got {type(rounding).__name__}")
    s = resolve_scale(scale, d)
    u64 = _unit_roundoff(torch.float64)
    # the norms are computed in float64: enlarge R by their relative rounding error
    raw_radius = _score_radius(Q, K, s)
    data_radius = raw_radius * (1 + 4 * (d + 4) * u64)
    R = data_radius
    fit = raw_radius  # the fit radius poly_attention uses (its coefficients)
    if radius is not None:
        radius = check_real(radius, "radius", minimum=0.0)
        if method == "chebyshev" and radius < data_radius * (1 - 1e-12):
            return math.inf
        R = max(radius, data_radius) if method == "chebyshev" else data_radius
        fit = radius
    v_max = float(V.abs().max()) if V.numel() else 0.0
    eps = entry_error_bound(g, R, method)
    if not rounding:
        return attention_error_bound(eps, v_max)
    eta = rounding_error_bound(
        g, data_radius, method, n=n, d=d, dtype=Q.dtype, fit_radius=fit, chunk=chunk
    )
    info = torch.finfo(Q.dtype)
    w = np.abs(_weights_f64(d, g, method, fit if method == "chebyshev" else 1.0, s))
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
    N = _rounding_count(g, n, min(chunk, n), r, d)
    log_zeta = math.log(2 * (N + 1) * r * info.tiny) + log_t + data_radius
    zeta = math.exp(log_zeta) if log_zeta < 700 else math.inf
    if eps + eta + zeta >= 1:
        return math.inf
    u = _unit_roundoff(Q.dtype)
    E = 2 * eps / (1 - eps) * v_max + (2 * eta * v_max + zeta * (1 + v_max)) / (
        1 - eps - eta - zeta
    )
    return E + u * (v_max + E)


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
    """Per-monomial weights: ``p(s <q, k>) = sum_a c_|a| s^|a| (|a|! / a!) q^a k^a``, so the
    score scale goes into the weights and the features are plain monomials. Raises
    ``ValueError`` (naming ``degree``) when a weight underflows or overflows in ``dtype``
    (in float32 ``1/g!`` underflows from ``g = 34``)."""
    w = _weights_f64(d, g, method, R, s)
    info = torch.finfo(dtype)
    nonzero = np.abs(w[w != 0])
    if nonzero.size and (nonzero.min() < info.tiny or nonzero.max() > info.max):
        raise ValueError(
            f"degree {g} needs weights from {nonzero.min():.1e} to {nonzero.max():.1e}, "
            f"outside the normal range of {dtype}: use float64 or a smaller degree"
        )
    return torch.tensor(w, dtype=dtype)


def _low_rank(d: int, g: int) -> int:
    """Rows of degree below ``g`` (the buffer the kernel materialises); 1 for ``g = 0``."""
    return math.comb(d + g - 1, g - 1) if g >= 1 else 1


@lru_cache(maxsize=64)
def _top_ops(d: int, g: int) -> tuple[tuple[int, int, int, int], ...]:
    """The top-degree rows as ``(i, src_start, src_stop, dst_start)``: rows
    ``dst_start + k`` are ``x_i`` times rows ``src_start + k`` of degree ``g - 1``."""
    if g == 0:
        return ()
    if g == 1:
        return tuple((i, 0, 1, 1 + i) for i in range(d))
    top = _low_rank(d, g)
    return tuple(op for op in _table(d, g).ops if op[3] >= top)


_FULL_RANK_MAX = 256
"""Up to this rank the kernel materialises every monomial of a chunk and multiplies once
(:func:`_kernel_rows`); above it, only those of degree below ``g``."""


def _full(d: int, g: int) -> bool:
    """Whether the kernel materialises all ``r`` monomials (small ranks: one matrix product
    a chunk is faster than ``d + 1`` thin ones, and scales on two threads)."""
    return _table(d, g).rank <= _FULL_RANK_MAX


def _kernel_rows(d: int, g: int) -> int:
    """Rows of the feature buffer the kernel fills per chunk: ``r`` or ``C(d+g-1, g-1)``."""
    return _table(d, g).rank if _full(d, g) else _low_rank(d, g)


def _default_chunk(b: int, r: int) -> int:
    return max(256, min(8192, _CHUNK_FLOATS // max(1, b * r)))


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
    is ``r = C(d + g, g)``. ``method="chebyshev"`` fits ``exp`` on ``[-radius, radius]``
    (default: :func:`score_radius` of the data). Tokens are processed ``chunk`` at a time.
    Up to rank 256 a chunk's ``r`` monomials are materialised and enter one matrix product;
    above it only those of degree below ``g`` are (``C(d + g - 1, g - 1)`` rows a chunk),
    and the top-degree block enters ``d`` thinner products as ``x_i`` times a block of
    degree ``g - 1`` (less memory traffic where ``r`` is large; measured faster there).
    Both ways round the same operations (:func:`rounding_error_bound`). Memory stays
    ``O(r (d_v + chunk))`` beyond the inputs and output. The error
    is at most :func:`poly_error_bound`; if the polynomial is not positive on the scores
    (``eps >= 1``) the normaliser can vanish and the output is meaningless.
    """
    Q, K, V, batch = check_qkv(Q, K, V)
    g, method = check_degree(degree), check_method(method)
    d, n, n_q, d_v = Q.shape[-1], K.shape[-2], Q.shape[-2], V.shape[-1]
    s = resolve_scale(scale, d)
    if radius is None:
        R = _score_radius(Q, K, s) if method == "chebyshev" else 1.0
    else:
        R = check_real(radius, "radius", minimum=0.0)
    b = math.prod(batch)
    if chunk is None:
        chunk = _default_chunk(b, _kernel_rows(d, g))
    chunk = check_int(chunk, "chunk", minimum=1)
    dtype, device = Q.dtype, Q.device
    weights = _weights(d, g, method, R, s, dtype).to(device)
    Kb, Vb, Qb = K.reshape(b, n, d), V.reshape(b, n, d_v), Q.reshape(b, n_q, d)
    with torch.no_grad():  # not differentiable: buffers are written in place
        workers = torch.get_num_threads() if device.type == "cpu" else 1
        S = _key_state(Kb, Vb, g, chunk, workers)
        S *= weights[:, None]
        return _query_output(Qb, S, g, chunk, workers).reshape(*batch, n_q, d_v)


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


def _map_chunks(workers: int, make_worker, tasks: list) -> None:
    """Apply ``make_worker()``'s function to every task: in a loop on the current threads
    for one worker or one task, else on a pool of ``workers`` (:func:`_run_pool`)."""
    if workers <= 1 or len(tasks) <= 1:
        run = make_worker()
        for task in tasks:
            run(*task)
    else:
        _run_pool(workers, make_worker, tasks)


def _key_state(
    K: torch.Tensor, V: torch.Tensor, g: int, chunk: int, workers: int = 1
) -> torch.Tensor:
    """``S = U_2^T [V, 1]`` without weights: ``(b, r, d_v + 1)``, over chunks of keys.

    Each chunk's product goes to a buffer of its own and is added to ``S`` by one
    addition, chunks in order: :func:`rounding_error_bound` counts
    ``c - 1 + ceil(n / c)`` additions per term, which accumulating inside the matrix
    product (``baddbmm_``, whose internal order BLAS does not promise) would not
    guarantee. ``workers > 1`` computes the chunks' products on that many threads
    (:func:`_run_pool`); the sum is the same, bit for bit, as with one worker on one thread.
    """
    b, n, d = K.shape
    d_v = V.shape[-1]
    r, r_low, top = _table(d, g).rank, _low_rank(d, g), _top_ops(d, g)
    c_max = min(chunk, n)
    starts = list(range(0, n, chunk))
    full = _full(d, g)

    def make_worker():
        buf = torch.empty(b, r if full else r_low, c_max, dtype=K.dtype, device=K.device)
        buf[:, 0] = 1.0
        vbuf = torch.empty(b, d_v + 1, c_max, dtype=K.dtype, device=K.device)
        vbuf[:, d_v] = 1.0
        xv = None if full else torch.empty_like(vbuf)  # x_i [v, 1], low layout only

        def run(a: int, part: torch.Tensor) -> None:
            c = min(chunk, n - a)
            x = K[:, a : a + c].transpose(1, 2)
            vv = vbuf[:, :, :c]
            vv[:, :d_v] = V[:, a : a + c].transpose(1, 2)
            if full:  # every monomial, one product
                torch.bmm(_features(x, g, buf[:, :, :c]), vv.transpose(1, 2), out=part)
                return
            low = _features(x, g - 1, buf[:, :, :c]) if g >= 1 else buf[:, :, :c]
            torch.bmm(low, vv.transpose(1, 2), out=part.narrow(1, 0, r_low))
            for i, s0, s1, dst in top:
                xi = torch.mul(vv, x[:, i : i + 1], out=xv[:, :, :c])
                torch.bmm(
                    low.narrow(1, s0, s1 - s0),
                    xi.transpose(1, 2),
                    out=part.narrow(1, dst, s1 - s0),
                )

        return run

    S = torch.zeros(b, r, d_v + 1, dtype=K.dtype, device=K.device)
    if workers <= 1 or len(starts) == 1:
        run, part = make_worker(), torch.empty_like(S)
        for a in starts:
            run(a, part)
            S += part
        return S
    parts = torch.empty(len(starts), b, r, d_v + 1, dtype=K.dtype, device=K.device)
    _run_pool(workers, make_worker, [(a, parts[k]) for k, a in enumerate(starts)])
    for part in parts:
        S += part
    return S


def _query_output(
    Q: torch.Tensor, S: torch.Tensor, g: int, chunk: int, workers: int = 1
) -> torch.Tensor:
    """``(U_1 S)[:, :d_v] / (U_1 S)[:, d_v]`` over chunks of queries: ``(b, n_q, d_v)``;
    ``workers > 1`` spreads the chunks over threads (:func:`_run_pool`), same result."""
    b, n_q, d = Q.shape
    d_v = S.shape[-1] - 1
    r_low, top = _low_rank(d, g), _top_ops(d, g)
    out = torch.empty(b, n_q, d_v, dtype=Q.dtype, device=Q.device)
    if n_q == 0:
        return out
    c_max = min(chunk, n_q)
    ST = S.transpose(1, 2)  # (b, d_v + 1, r)
    starts = list(range(0, n_q, chunk))

    full = _full(d, g)

    def make_worker():
        buf = torch.empty(b, S.shape[1] if full else r_low, c_max, dtype=Q.dtype, device=Q.device)
        buf[:, 0] = 1.0
        num = torch.empty(b, d_v + 1, c_max, dtype=Q.dtype, device=Q.device)
        part = torch.empty_like(num)

        def run(a: int) -> None:
            c = min(chunk, n_q - a)
            x = Q[:, a : a + c].transpose(1, 2)
            if full:  # every monomial, one product
                acc = torch.bmm(ST, _features(x, g, buf[:, :, :c]), out=num[:, :, :c])
                torch.div(acc[:, :d_v], acc[:, d_v:], out=out[:, a : a + c].transpose(1, 2))
                return
            low = _features(x, g - 1, buf[:, :, :c]) if g >= 1 else buf[:, :, :c]
            acc = torch.bmm(ST.narrow(2, 0, r_low), low, out=num[:, :, :c])
            for i, s0, s1, dst in top:
                p = torch.bmm(
                    ST.narrow(2, dst, s1 - s0), low.narrow(1, s0, s1 - s0), out=part[:, :, :c]
                )
                acc.addcmul_(p, x[:, i : i + 1])
            torch.div(acc[:, :d_v], acc[:, d_v:], out=out[:, a : a + c].transpose(1, 2))

        return run

    if workers <= 1 or len(starts) == 1:
        run = make_worker()
        for a in starts:
            run(a)
    else:
        _run_pool(workers, make_worker, [(a,) for a in starts])
    return out
