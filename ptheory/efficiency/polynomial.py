"""The polynomial method: low-rank attention from a polynomial approximation of ``exp``.

Serves Hu et al. (2025), Theorem 3.1, through the algorithm of Alman and Song (2023).
With score scale ``s`` (``1/d`` by default), a polynomial ``p(t) = sum_{m <= g} c_m t^m``
that approximates ``exp`` on ``[-R, R]`` turns the attention matrix
``A_ij = exp(s <q_i, k_j>)`` into ``A~ = U_1 U_2^T`` of rank ``r = C(d + g, g)``::

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
    "poly_attention",
    "poly_error_bound",
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


@lru_cache(maxsize=256)
def _coefficients(g: int, method: str, radius: float) -> tuple[float, ...]:
    if method == "taylor" or radius == 0.0:
        return tuple(1.0 / math.factorial(m) for m in range(g + 1))
    cheb = np.polynomial.chebyshev.chebinterpolate(lambda u: np.exp(radius * u), g)
    in_u = np.polynomial.chebyshev.cheb2poly(cheb)  # coefficients in u = t / R
    in_u = np.pad(in_u, (0, g + 1 - in_u.size))
    return tuple(float(c) / radius**m for m, c in enumerate(in_u))


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


def poly_error_bound(
    Q: torch.Tensor,
    K: torch.Tensor,
    V: torch.Tensor,
    degree: int,
    method: str = "taylor",
    *,
    scale: ScoreScale = "1/d",
    radius: float | None = None,
) -> float:
    """The proved bound on ``max |poly_attention(...) - exact attention|`` for these inputs.

    ``2 eps / (1 - eps) max |V|`` with ``eps`` = :func:`entry_error_bound` at the radius
    :func:`score_radius` of the data (or ``radius`` when it is larger; a Chebyshev fit on a
    smaller interval than the data's has no bound: ``inf``). Exact arithmetic assumed.
    """
    Q, K, V, _ = check_qkv(Q, K, V)
    g, method = check_degree(degree), check_method(method)
    data_radius = _score_radius(Q, K, resolve_scale(scale, Q.shape[-1]))
    R = data_radius
    if radius is not None:
        radius = check_real(radius, "radius", minimum=0.0)
        if method == "chebyshev" and radius < data_radius * (1 - 1e-12):
            return math.inf
        R = max(radius, data_radius) if method == "chebyshev" else data_radius
    v_max = float(V.abs().max()) if V.numel() else 0.0
    return attention_error_bound(entry_error_bound(g, R, method), v_max)


@lru_cache(maxsize=256)
def _weights(d: int, g: int, method: str, R: float, s: float, dtype: torch.dtype) -> torch.Tensor:
    """Per-monomial weights: ``p(s <q, k>) = sum_a c_|a| s^|a| (|a|! / a!) q^a k^a``, so the
    score scale goes into the weights and the features are plain monomials."""
    table = _table(d, g)
    coef = np.array(_coefficients(g, method, R))
    degrees = table.degrees
    return torch.tensor(coef[degrees] * s**degrees * table.multinomial, dtype=dtype)


def _default_chunk(b: int, r: int) -> int:
    return max(256, _CHUNK_FLOATS // max(1, b * r))


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
    (default: :func:`score_radius` of the data). Tokens are processed ``chunk`` at a time,
    so memory stays ``O(r * chunk)`` beyond the inputs and output. The error is at most
    :func:`poly_error_bound`; if the polynomial is not positive on the scores (``eps >= 1``)
    the normaliser can vanish and the output is meaningless.
    """
    Q, K, V, batch = check_qkv(Q, K, V)
    g, method = check_degree(degree), check_method(method)
    d, n, n_q, d_v = Q.shape[-1], K.shape[-2], Q.shape[-2], V.shape[-1]
    s = resolve_scale(scale, d)
    if radius is None:
        R = _score_radius(Q, K, s) if method == "chebyshev" else 1.0
    else:
        R = check_real(radius, "radius", minimum=0.0)
    table = _table(d, g)
    b, r = math.prod(batch), table.rank
    if chunk is None:
        chunk = _default_chunk(b, r)
    chunk = check_int(chunk, "chunk", minimum=1)
    dtype, device = Q.dtype, Q.device
    weights = _weights(d, g, method, R, s, dtype).to(device)
    Kb, Vb, Qb = K.reshape(b, n, d), V.reshape(b, n, d_v), Q.reshape(b, n_q, d)
    with torch.no_grad():  # not differentiable: buffers are written in place
        buf = torch.empty(b, r, min(chunk, max(n, n_q, 1)), dtype=dtype, device=device)
        buf[:, 0] = 1.0
        vbuf = torch.empty(b, d_v + 1, buf.shape[-1], dtype=dtype, device=device)
        vbuf[:, d_v] = 1.0
        S = torch.zeros(b, d_v + 1, r, dtype=dtype, device=device)  # (U_2^T [V, 1])^T
        for a in range(0, n, chunk):
            c = min(chunk, n - a)
            feats = _features(Kb[:, a : a + c].transpose(1, 2), g, buf[:, :, :c])
            vbuf[:, :d_v, :c] = Vb[:, a : a + c].transpose(1, 2)
            S.baddbmm_(vbuf[:, :, :c], feats.transpose(1, 2))
        S *= weights
        out = torch.empty(b, n_q, d_v, dtype=dtype, device=device)
        tmp = torch.empty(b, d_v + 1, buf.shape[-1], dtype=dtype, device=device)
        for a in range(0, n_q, chunk):
            c = min(chunk, n_q - a)
            feats = _features(Qb[:, a : a + c].transpose(1, 2), g, buf[:, :, :c])
            num = torch.bmm(S, feats, out=tmp[:, :, :c])
            torch.div(num[:, :d_v], num[:, d_v:], out=out[:, a : a + c].transpose(1, 2))
    return out.reshape(*batch, n_q, d_v)
