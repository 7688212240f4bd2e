"""The polynomial kernel as it stood before the tight certificate (for the benchmark only).

The benchmark (``python -m ptheory.bench``) times, side by side in one run, this kernel at the
degree the a-priori bound chose (:func:`legacy_degree`) and the current
:func:`~ptheory.efficiency.poly_attention` at the certified degree. The code below is the
kernel of commit ``66e598c`` (features up to rank 256, above it the top-degree block as ``d``
thinner products; chunks of up to 8192 keys accumulated in the input's dtype), unchanged
except for its name; it shares the monomial table, the feature builder and the thread pool
with the current kernel, which build the same numbers.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import torch

from .._validate import check_int, check_real
from ..model import ScoreScale, resolve_scale
from ._inputs import check_degree, check_method, check_qkv
from .polynomial import _coefficients, _features, _run_pool, _score_radius, _table

__all__ = ["legacy_degree", "legacy_poly_attention"]

_CHUNK_FLOATS = 1 << 20


def legacy_degree(entry_bound: float, eps: float, method: str = "chebyshev") -> int:
    """The degree the a-priori bound chose: the smallest ``g`` with
    ``2 eps_g / (1 - eps_g) <= eps`` for ``eps_g`` the Taylor or Chebyshev formula at
    ``R = B^2`` (:func:`~ptheory.efficiency.entry_error_bound`)."""
    from .polynomial import entry_error_bound

    B = check_real(entry_bound, "entry_bound", minimum=0.0)
    eps = check_real(eps, "eps", minimum=0.0, strict_minimum=True)
    for g in range(65):
        e = entry_error_bound(g, B * B, method)
        if e < 1 and 2 * e / (1 - e) <= eps:
            return g
    raise ValueError(f"no degree up to 64 reaches eps = {eps:g} at B = {B:g}")


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


def legacy_poly_attention(
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
    if method not in ("taylor", "chebyshev"):
        raise ValueError("the former kernel knew only 'taylor' and 'chebyshev'")
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
