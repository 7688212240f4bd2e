"""The prompt-tuning case: a soft prompt's keys summarised once, and causal decoding.

Serves Hu et al. (2025), the almost-linear inference result, where the soft prompt ``P`` is
fixed at inference. The polynomial method's key side is a sum over keys, ``S = sum_j w *
phi(k_j) [v_j, 1]^T`` (``(r, d_v + 1)``, weights ``w`` included), so the prompt's share ``S_P``
is computed once and reused by every input: an input's attention over ``[P, X]`` needs ``S_P +
S_X`` only. The same sum taken as a prefix over positions gives causal (decoder) attention with
a state of ``r (d_v + 1)`` numbers, against a key-value cache of ``n (d + d_v)`` numbers. Row
layout as in :mod:`ptheory.efficiency.polynomial`: ``Q: (..., n_q, d)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from .._validate import as_tensor, check_int, check_matrix_batch, check_real
from ..model import ScoreScale, resolve_scale
from ._inputs import check_degree, check_method, check_qkv
from .polynomial import (
    _default_chunk,
    _features,
    _kernel_rows,
    _key_state,
    _query_output,
    _table,
    _weights,
)

__all__ = ["KeyState", "attend_with_state", "causal_poly_attention", "key_state"]


@dataclass(frozen=True)
class KeyState:
    """``S = U_2^T [V, 1]`` of a fixed set of keys, weights included: ``(b, r, d_v + 1)``.

    ``batch`` is the keys' batch shape (``b`` its product), ``n`` the number of keys summed,
    ``radius`` the score radius the coefficients were fitted for (Chebyshev) and ``scale``
    the score scale ``s``.
    """

    S: torch.Tensor
    degree: int
    method: str
    radius: float
    scale: float
    d: int
    n: int
    batch: tuple[int, ...]

    @property
    def numbers(self) -> int:
        """Numbers stored: ``b r (d_v + 1)``, independent of ``n``."""
        return self.S.numel()


def _radius(method: str, radius: float | None) -> float:
    if radius is None:
        if method == "chebyshev":
            raise ValueError(
                "radius is required with method='chebyshev': the fit must cover the scores "
                "of queries not seen yet (use B^2 for entries bounded by B)"
            )
        return 1.0
    return check_real(radius, "radius", minimum=0.0)


def key_state(
    K: torch.Tensor,
    V: torch.Tensor,
    degree: int,
    method: str = "taylor",
    *,
    scale: ScoreScale = "1/d",
    radius: float | None = None,
    chunk: int | None = None,
) -> KeyState:
    """Summarise keys ``K: (..., n, d)`` and values ``V: (..., n, d_v)`` for the polynomial
    method: the :class:`KeyState` that :func:`attend_with_state` reuses for any queries.

    ``radius`` (required for Chebyshev) is the score radius the polynomial is fitted on;
    the queries must keep their scores inside it for the error bound to hold.
    """
    K = as_tensor(K, "K")
    check_matrix_batch(K, "K", layout="(..., tokens, features)")
    K, _, V, batch = check_qkv(K, K, V)
    g, method = check_degree(degree), check_method(method)
    R = _radius(method, radius)
    d, n, d_v = K.shape[-1], K.shape[-2], V.shape[-1]
    s = resolve_scale(scale, d)
    b = math.prod(batch)
    c = (
        _default_chunk(b, _kernel_rows(d, g))
        if chunk is None
        else check_int(chunk, "chunk", minimum=1)
    )
    with torch.no_grad():
        S = _key_state(K.reshape(b, n, d), V.reshape(b, n, d_v), g, c)
        S *= _weights(d, g, method, R, s, K.dtype).to(K.device)[:, None]
    return KeyState(S, g, method, R, s, d, n, tuple(batch))


def attend_with_state(
    Q: torch.Tensor,
    state: KeyState,
    K: torch.Tensor | None = None,
    V: torch.Tensor | None = None,
    *,
    chunk: int | None = None,
) -> torch.Tensor:
    """Polynomial attention of ``Q: (..., n_q, d)`` over the keys summarised in ``state``
    and, when given, the further keys ``K: (..., n, d)`` with values ``V`` (an input's own
    tokens after a prompt): equal, up to rounding, to
    :func:`~ptheory.efficiency.poly_attention` over the concatenated keys with the same
    degree, method, radius and scale. Returns ``(..., n_q, d_v)``.
    """
    if not isinstance(state, KeyState):
        raise TypeError(f"state must be a KeyState (from key_state), got {type(state).__name__}")
    if (K is None) != (V is None):
        raise ValueError("K and V must be given together, or neither")
    Q = as_tensor(Q, "Q")
    check_matrix_batch(Q, "Q", layout="(..., tokens, features)")
    if Q.shape[-1] != state.d:
        raise ValueError(f"Q must have d = {state.d} columns like the state's keys")
    keys = state.S.new_zeros(1, state.d) if K is None else K
    vals = state.S.new_zeros(1, state.S.shape[-1] - 1) if V is None else V
    Q, K2, V2, batch = check_qkv(Q, keys, vals)
    if V2.shape[-1] != state.S.shape[-1] - 1:
        raise ValueError(f"V must have d_v = {state.S.shape[-1] - 1} columns like the state")
    b = math.prod(batch)
    g, d = state.degree, state.d
    S = state.S
    if S.shape[0] != b:
        try:
            S = S.reshape(*state.batch, *S.shape[-2:]).expand(*batch, *S.shape[-2:])
        except RuntimeError as err:
            raise ValueError(
                f"the state's batch {state.batch} does not broadcast to the queries' {batch}"
            ) from err
        S = S.reshape(b, *S.shape[-2:])
    c = (
        _default_chunk(b, _kernel_rows(d, g))
        if chunk is None
        else check_int(chunk, "chunk", minimum=1)
    )
    with torch.no_grad():
        S = S.to(Q.dtype).clone()
        if K is not None:
            n = K2.shape[-2]
            extra = _key_state(K2.reshape(b, n, d), V2.reshape(b, n, -1), g, c)
            w = _weights(d, g, state.method, state.radius, state.scale, Q.dtype)
            S += extra * w.to(Q.device)[:, None]
        out = _query_output(Q.reshape(b, Q.shape[-2], d), S, g, c)
    return out.reshape(*batch, Q.shape[-2], -1)


def causal_poly_attention(
    Q: torch.Tensor,
    K: torch.Tensor,
    V: torch.Tensor,
    degree: int,
    method: str = "taylor",
    *,
    scale: ScoreScale = "1/d",
    radius: float | None = None,
    chunk: int = 64,
) -> torch.Tensor:
    """Causal polynomial attention: token ``i`` attends to keys ``0 .. i`` only.

    ``Q, K: (..., n, d)``, ``V: (..., n, d_v)`` (as many queries as keys). Processed in
    blocks of ``chunk`` positions: within a block the ``chunk x chunk`` lower triangle of
    ``p(s Q K^T)`` is formed, across blocks only the running state
    ``sum_{j < start} w phi(k_j) [v_j, 1]^T`` (``r (d_v + 1)`` numbers) is carried, the
    prefix-sum form of linear attention. Time ``O(n r (d_v + chunk))``. Equal, up to
    rounding, to the masked dense formula; Chebyshev needs ``radius``.
    """
    Q, K, V, batch = check_qkv(Q, K, V)
    if Q.shape[-2] != K.shape[-2]:
        raise ValueError(
            f"Q must have as many rows as K for causal attention, got {Q.shape[-2]} and "
            f"{K.shape[-2]}"
        )
    g, method = check_degree(degree), check_method(method)
    R = _radius(method, radius)
    chunk = check_int(chunk, "chunk", minimum=1)
    d, n, d_v = Q.shape[-1], K.shape[-2], V.shape[-1]
    s = resolve_scale(scale, d)
    b = math.prod(batch)
    r = _table(d, g).rank
    dtype, device = Q.dtype, Q.device
    w = _weights(d, g, method, R, s, dtype).to(device)
    Qb, Kb, Vb = Q.reshape(b, n, d), K.reshape(b, n, d), V.reshape(b, n, d_v)
    out = torch.empty(b, n, d_v, dtype=dtype, device=device)
    with torch.no_grad():
        state = torch.zeros(b, r, d_v + 1, dtype=dtype, device=device)
        fq = torch.empty(b, r, min(chunk, n), dtype=dtype, device=device)
        fk = torch.empty_like(fq)
        fq[:, 0] = 1.0
        fk[:, 0] = 1.0
        mask = torch.ones(min(chunk, n), min(chunk, n), dtype=torch.bool).tril()
        for a in range(0, n, chunk):
            c = min(chunk, n - a)
            uq = _features(Qb[:, a : a + c].transpose(1, 2), g, fq[:, :, :c]) * w[:, None]
            uk = _features(Kb[:, a : a + c].transpose(1, 2), g, fk[:, :, :c])
            vv = torch.cat([Vb[:, a : a + c], Vb.new_ones(b, c, 1)], dim=-1)
            local = (uq.transpose(1, 2) @ uk).masked_fill_(~mask[:c, :c].to(device), 0.0)
            num = local @ vv + uq.transpose(1, 2) @ state
            out[:, a : a + c] = num[..., :d_v] / num[..., d_v:]
            state.baddbmm_(uk, vv)
    return out.reshape(*batch, n, d_v)
