"""Shared argument checks for the attention functions of :mod:`ptheory.efficiency`.

These functions follow the attention literature's row layout (Alman and Song; PyTorch's
``scaled_dot_product_attention``): ``Q: (..., n_q, d)``, ``K: (..., n, d)``,
``V: (..., n, d_v)``, one token a row. The prompt-tuning entry point
(:mod:`ptheory.efficiency.inference`) takes the book's column layout and converts.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from .._validate import as_tensor, check_finite, check_int, check_matrix_batch
from ..model import torch_threads

METHODS = ("taylor", "chebyshev", "minimax")


def check_qkv(
    Q: Any, K: Any, V: Any
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, tuple[int, ...]]:
    """Validate ``Q, K, V`` and broadcast their leading (batch) dimensions.

    Returns the three tensors in ``Q``'s floating dtype and device, expanded to one batch
    shape, and that batch shape.
    """
    # Detached: the efficiency functions compute outputs, not gradients.
    Q = as_tensor(Q, "Q").detach()
    K = as_tensor(K, "K", dtype=Q.dtype, device=Q.device).detach()
    V = as_tensor(V, "V", dtype=Q.dtype, device=Q.device).detach()
    for name, x in (("Q", Q), ("K", K), ("V", V)):
        check_matrix_batch(x, name, layout="(..., tokens, features)")
    if K.shape[-1] != Q.shape[-1]:
        raise ValueError(
            f"K must have d = {Q.shape[-1]} columns like Q (one token a row), "
            f"got shape {tuple(K.shape)}"
        )
    if V.shape[-2] != K.shape[-2]:
        raise ValueError(
            f"V must have n = {K.shape[-2]} rows like K (one value per key), "
            f"got shape {tuple(V.shape)}"
        )
    if K.shape[-2] == 0:
        raise ValueError("K must hold at least one key (row)")
    if Q.shape[-1] == 0:
        raise ValueError("Q must have at least one feature column (d >= 1)")
    same = Q.shape[:-2] == K.shape[:-2] == V.shape[:-2]  # the common case, no broadcasting
    try:
        batch = (
            Q.shape[:-2]
            if same
            else torch.broadcast_shapes(Q.shape[:-2], K.shape[:-2], V.shape[:-2])
        )
    except RuntimeError as err:
        raise ValueError(
            "Q, K and V must have broadcastable leading (batch) dimensions, got shapes "
            f"{tuple(Q.shape)}, {tuple(K.shape)}, {tuple(V.shape)}"
        ) from err
    for name, x in (("Q", Q), ("K", K), ("V", V)):
        _check_finite_fast(x, name)
    if same:
        return Q, K, V, tuple(batch)
    Q = Q.expand(*batch, *Q.shape[-2:])
    K = K.expand(*batch, *K.shape[-2:])
    V = V.expand(*batch, *V.shape[-2:])
    return Q, K, V, tuple(batch)


def _check_finite_fast(x: torch.Tensor, name: str) -> None:
    """A finite sum proves every entry finite (one fast pass); an infinite or NaN sum is
    checked entry by entry, since large finite entries can overflow the sum.

    On the CPU the sum runs on one thread: a sum on several threads wakes the OpenMP
    team, whose threads then wait busily for a few milliseconds (on these machines) and
    take cores from the kernel that follows and runs on its own threads. One thread sums
    ``65536 x 8`` numbers in about 25 microseconds."""
    if not x.numel():
        return
    with torch_threads(1 if x.device.type == "cpu" else None):
        total = float(x.sum())
    if not math.isfinite(total):
        check_finite(x, name)


def check_method(method: Any) -> str:
    if not isinstance(method, str):
        raise TypeError(f"method must be a string, got {type(method).__name__}")
    if method not in METHODS:
        raise ValueError(f"method must be one of {list(METHODS)}, got {method!r}")
    return method


def check_degree(degree: Any) -> int:
    return check_int(degree, "degree", minimum=0, maximum=64)
