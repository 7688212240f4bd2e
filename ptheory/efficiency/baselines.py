"""What a practitioner would pick instead: random-feature, linear and Nystrom attention.

Baselines for the benchmark of Hu et al. (2025), the almost-linear inference result. Both replace
``exp(s <q, k>)`` by an inner product ``<phi(q), phi(k)>`` of ``r`` nonnegative features
and compute ``phi(Q) (phi(K)^T [V, 1])`` in time ``O(n r d)``, like the polynomial method,
but without its guarantee:

* Performer, FAVOR+ (Choromanski et al., 2021): positive random features
  ``phi(x) = exp(w_l^T x - ||x||^2 / 2) / sqrt(r)``, ``x = sqrt(s) q``, ``w_l`` Gaussian
  (orthogonal in blocks of ``d``), an unbiased estimate of ``exp(s <q, k>)``;
* linear attention (Katharopoulos et al., 2020): ``phi(x) = elu(x) + 1``, a different
  similarity, not an estimate of ``exp``; at rank ``r > d`` applied to a random
  projection ``W x`` with ``W: (r, d)`` Gaussian of variance ``1/d`` (at ``r = d`` with
  ``W = I`` it is the published map).

Row layout ``Q: (n_q, d)``, ``K, V: (n, d)`` (no batch), features built in chunks.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from .._validate import check_int, check_real
from ..model import ScoreScale, resolve_scale
from ._inputs import check_qkv
from .polynomial import _map_chunks

__all__ = ["elu_attention", "nystrom_attention", "performer_attention", "random_features"]

_CHUNK = 4096


def random_features(d: int, rank: int, *, seed: int = 0, orthogonal: bool = True) -> torch.Tensor:
    """``W: (rank, d)`` float64 with rows ``~ N(0, I_d)``; with ``orthogonal`` each block of
    ``d`` rows is orthogonalised and rescaled to chi-distributed norms (FAVOR+)."""
    d = check_int(d, "d", minimum=1)
    rank = check_int(rank, "rank", minimum=1)
    seed = check_int(seed, "seed", minimum=0)
    if not isinstance(orthogonal, bool):
        raise TypeError(f"orthogonal must be a bool, got {type(orthogonal).__name__}")
    gen = torch.Generator().manual_seed(seed)
    if not orthogonal:
        return torch.randn(rank, d, generator=gen, dtype=torch.float64)
    blocks = []
    for _ in range(-(-rank // d)):
        q, _ = torch.linalg.qr(torch.randn(d, d, generator=gen, dtype=torch.float64))
        norms = torch.randn(d, d, generator=gen, dtype=torch.float64).norm(dim=1)
        blocks.append(q.T * norms[:, None])
    return torch.cat(blocks)[:rank]


def _linear(Q: torch.Tensor, K: torch.Tensor, V: torch.Tensor, phi_q, phi_k, r: int):
    """``phi(Q) (phi(K)^T [V, 1])``, normalised by the last column, over chunks of tokens:
    on ``k`` threads as ``k`` workers taking whole chunks (the polynomial method's pool), the
    chunks' key products summed in order (same bits as one thread)."""
    n, d_v = K.shape[0], V.shape[1]
    workers = torch.get_num_threads()
    starts = list(range(0, n, _CHUNK))
    parts = torch.empty(len(starts), r, d_v + 1, dtype=Q.dtype)

    def key_worker():
        def run(k: int, a: int) -> None:
            fk = phi_k(K[a : a + _CHUNK])
            vv = torch.cat([V[a : a + _CHUNK], V.new_ones(fk.shape[0], 1)], dim=1)
            torch.mm(fk.T, vv, out=parts[k])

        return run

    _map_chunks(workers, key_worker, list(enumerate(starts)))
    S = parts[0].clone()
    for part in parts[1:]:
        S += part
    out = torch.empty(Q.shape[0], d_v, dtype=Q.dtype)

    def query_worker():
        def run(a: int) -> None:
            num = phi_q(Q[a : a + _CHUNK]) @ S
            out[a : a + _CHUNK] = num[:, :d_v] / num[:, d_v:]

        return run

    _map_chunks(workers, query_worker, [(a,) for a in range(0, Q.shape[0], _CHUNK)])
    return out


def _check_2d(Q, K, V):
    Q, K, V, batch = check_qkv(Q, K, V)
    if batch:
        raise ValueError("Q, K and V must have no batch dimensions here: (n, d) each")
    return Q, K, V


def performer_attention(
    Q: torch.Tensor,
    K: torch.Tensor,
    V: torch.Tensor,
    rank: int,
    *,
    scale: ScoreScale = "1/d",
    seed: int = 0,
) -> torch.Tensor:
    """FAVOR+ attention with ``rank`` positive orthogonal random features: ``(n_q, d_v)``.

    For numerical range the keys' features share one shift ``c_K = max`` of their
    exponents and each query's its own, both of which cancel in the normalisation.
    """
    Q, K, V = _check_2d(Q, K, V)
    rank = check_int(rank, "rank", minimum=1)
    s = resolve_scale(scale, Q.shape[-1])
    W = (random_features(Q.shape[-1], rank, seed=seed) * math.sqrt(s)).to(Q.dtype)
    with torch.no_grad():
        starts = list(range(0, K.shape[0], _CHUNK))
        maxima = torch.empty(len(starts), dtype=Q.dtype)

        def max_worker():
            def run(k: int, a: int) -> None:
                x = K[a : a + _CHUNK]
                maxima[k] = (x @ W.T - s * x.pow(2).sum(1, keepdim=True) / 2).max()

            return run

        _map_chunks(torch.get_num_threads(), max_worker, list(enumerate(starts)))
        shift = float(maxima.max())

        def phi_k(x: torch.Tensor) -> torch.Tensor:
            return torch.exp(x @ W.T - s * x.pow(2).sum(1, keepdim=True) / 2 - shift)

        def phi_q(x: torch.Tensor) -> torch.Tensor:
            z = x @ W.T
            return torch.exp(z - z.max(dim=1, keepdim=True).values)

        return _linear(Q, K, V, phi_q, phi_k, rank)


def elu_attention(
    Q: torch.Tensor,
    K: torch.Tensor,
    V: torch.Tensor,
    rank: int | None = None,
    *,
    scale: ScoreScale = "1/d",
    seed: int = 0,
) -> torch.Tensor:
    """Linear attention with ``phi(x) = elu(W x) + 1``, ``x = sqrt(s) q``: ``(n_q, d_v)``.

    ``rank=None`` (or ``d``) uses ``W = I`` (Katharopoulos et al.); a larger ``rank`` a
    Gaussian projection ``W: (rank, d)`` of variance ``1/d`` (from ``seed``).
    """
    Q, K, V = _check_2d(Q, K, V)
    d = Q.shape[-1]
    rank = d if rank is None else check_int(rank, "rank", minimum=1)
    s = resolve_scale(scale, d)
    if rank == d:
        W = torch.eye(d, dtype=Q.dtype) * math.sqrt(s)
    else:
        W = (random_features(d, rank, seed=seed, orthogonal=False) * math.sqrt(s / d)).to(Q.dtype)
    with torch.no_grad():

        def phi(x: torch.Tensor) -> torch.Tensor:
            return F.elu(x @ W.T) + 1

        return _linear(Q, K, V, phi, phi, rank)


def nystrom_attention(
    Q: torch.Tensor,
    K: torch.Tensor,
    V: torch.Tensor,
    landmarks: int,
    *,
    scale: ScoreScale = "1/d",
    rtol: float = 1e-4,
) -> torch.Tensor:
    """Nystrom attention (Xiong et al., 2021, Nystromformer) with ``landmarks`` landmarks:
    ``(n_q, d_v)``.

    The landmarks ``Q~``, ``K~`` are the means of ``landmarks`` consecutive segments of the
    queries and of the keys; the softmax matrix is approximated by
    ``softmax(s Q K~^T) pinv(softmax(s Q~ K~^T)) softmax(s Q~ K^T)`` (each softmax over its
    rows), so the output costs ``O((n_q + n) m d + m^3)``. The ``m x m`` pseudo-inverse is
    computed in float64 and truncated at ``rtol`` times its largest singular value: on
    unstructured inputs the landmarks are nearly alike and the middle matrix nearly
    singular, where the exact inverse (or Nystromformer's six-step iteration) gives
    errors at or above those of returning ``mean(V)``; the truncated one is the stronger
    baseline. With ``landmarks`` equal to ``n_q = n`` and ``rtol = 0`` it is exact.
    """
    Q, K, V = _check_2d(Q, K, V)
    n_q, n = Q.shape[0], K.shape[0]
    m = check_int(landmarks, "landmarks", minimum=1)
    rtol = check_real(rtol, "rtol", minimum=0.0)
    if m > min(n_q, n):
        raise ValueError(f"landmarks must be at most min(n_q, n) = {min(n_q, n)}, got {m}")
    s = resolve_scale(scale, Q.shape[-1])
    with torch.no_grad():
        q_idx = torch.div(torch.arange(n_q) * m, n_q, rounding_mode="floor")
        k_idx = torch.div(torch.arange(n) * m, n, rounding_mode="floor")
        Qt = torch.zeros(m, Q.shape[1], dtype=Q.dtype).index_add_(0, q_idx, Q)
        Qt /= torch.bincount(q_idx, minlength=m).to(Q.dtype)[:, None]
        Kt = torch.zeros(m, K.shape[1], dtype=K.dtype).index_add_(0, k_idx, K)
        Kt /= torch.bincount(k_idx, minlength=m).to(K.dtype)[:, None]
        kernel_1 = torch.softmax(s * (Q @ Kt.T), dim=-1)  # (n_q, m)
        kernel_2 = torch.softmax(s * (Qt @ Kt.T), dim=-1)  # (m, m)
        kernel_3 = torch.softmax(s * (Qt @ K.T), dim=-1)  # (m, n)
        middle = torch.linalg.pinv(kernel_2.double(), rtol=rtol).to(Q.dtype)
        return kernel_1 @ (middle @ (kernel_3 @ V))
