"""Exact softmax attention: the fast path and the float64 reference.

``Att(Q, K, V) = softmax(s Q K^T) V`` row by row, with score scale ``s`` (``1/d`` by
default, Alman and Song's convention). The fast path is PyTorch's
``scaled_dot_product_attention``, called on 4-d tensors so that its CPU kernel streams
over the keys (flash attention) instead of materialising the ``n_q x n`` score matrix.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ..model import ScoreScale, resolve_scale
from ._inputs import check_qkv

__all__ = ["exact_attention"]


def exact_attention(
    Q: torch.Tensor,
    K: torch.Tensor,
    V: torch.Tensor,
    *,
    scale: ScoreScale = "1/d",
    reference: bool = False,
) -> torch.Tensor:
    """Softmax attention ``softmax(s Q K^T) V`` for ``Q: (..., n_q, d)``, ``K: (..., n, d)``,
    ``V: (..., n, d_v)``; batch dimensions broadcast. Returns ``(..., n_q, d_v)``.

    ``reference=False``: PyTorch's ``scaled_dot_product_attention`` in ``Q``'s dtype (the
    baseline the benchmark beats). ``reference=True``: the same computed in float64, and
    returned in float64, the yardstick for errors. Time ``O(n_q n d)``, memory linear.
    """
    if not isinstance(reference, bool):
        raise TypeError(f"reference must be a bool, got {type(reference).__name__}")
    Q, K, V, batch = check_qkv(Q, K, V)
    s = resolve_scale(scale, Q.shape[-1])
    if reference:
        Q, K, V = Q.double(), K.double(), V.double()
    b = math.prod(batch)
    n_q, n, d, d_v = Q.shape[-2], K.shape[-2], Q.shape[-1], V.shape[-1]
    if n_q == 0:
        return torch.empty(*batch, 0, d_v, dtype=Q.dtype, device=Q.device)
    with torch.no_grad():
        out = F.scaled_dot_product_attention(
            Q.reshape(b, 1, n_q, d),
            K.reshape(b, 1, n, d),
            V.reshape(b, 1, n, d_v),
            scale=s,
        )
    return out.reshape(*batch, n_q, d_v)
