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
    _cast_state,
    _default_chunk,
    _features,
    _key_state,
    _query_output,
    _table,
    _weights,
    _weights_f64,
)

__all__ = ["KeyState", "PolyDecoder", "attend_with_state", "causal_poly_attention", "key_state"]


@dataclass(frozen=True)
class KeyState:
    """``S = U_2^T [V, 1]`` of a fixed set of keys, weights included, in float64:
    ``(b, r, d_v + 1)``.

    ``batch`` is the keys' batch shape (``b`` its product), ``n`` the number of keys summed,
    ``radius`` the score radius the coefficients were fitted for (Chebyshev, minimax),
    ``scale`` the score scale ``s`` and ``key_norm`` the largest norm of a summarised key:
    a query ``q`` keeps its scores inside ``[-radius, radius]`` when
    ``s ||q|| key_norm <= radius``, which :func:`attend_with_state` checks.
    """

    S: torch.Tensor
    degree: int
    method: str
    radius: float
    scale: float
    d: int
    n: int
    batch: tuple[int, ...]
    key_norm: float = math.inf

    @property
    def numbers(self) -> int:
        """Numbers stored: ``b r (d_v + 1)``, independent of ``n``."""
        return self.S.numel()


def _radius(method: str, radius: float | None) -> float:
    if radius is None:
        if method != "taylor":
            raise ValueError(
                f"radius is required with method={method!r}: the fit must cover the scores "
                "of queries not seen yet (use B^2 for entries bounded by B)"
            )
        return 1.0
    return check_real(radius, "radius", minimum=0.0)


def _key_norm(K: torch.Tensor) -> float:
    return float(torch.linalg.vector_norm(K.double(), dim=-1).max()) if K.numel() else 0.0


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

    ``radius`` (required for Chebyshev and minimax) is the score radius the polynomial is
    fitted on; queries must keep their scores inside it, and :func:`attend_with_state`
    refuses those that do not.
    """
    K = as_tensor(K, "K")
    check_matrix_batch(K, "K", layout="(..., tokens, features)")
    K, _, V, batch = check_qkv(K, K, V)
    g, method = check_degree(degree), check_method(method)
    R = _radius(method, radius)
    d, n, d_v = K.shape[-1], K.shape[-2], V.shape[-1]
    s = resolve_scale(scale, d)
    b = math.prod(batch)
    r = _table(d, g).rank
    c = _default_chunk(b, r) if chunk is None else check_int(chunk, "chunk", minimum=1)
    c = max(64, c - c % 64)
    with torch.no_grad():
        S = _key_state(K.reshape(b, n, d), V.reshape(b, n, d_v), g, c)
        S *= torch.from_numpy(_weights_f64(d, g, method, R, s)).to(K.device)[:, None]
    if method != "taylor" and s * _key_norm(K) ** 2 > R * (1 + 1e-9):
        raise ValueError(
            f"the keys' own scores reach {s * _key_norm(K) ** 2:.4g}, beyond the fit radius "
            f"{R:g}: give a radius that covers them"
        )
    return KeyState(S, g, method, R, s, d, n, tuple(batch), _key_norm(K))


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

    For Chebyshev and minimax the polynomial is fitted on ``[-state.radius,
    state.radius]``; outside it the polynomial is no approximation of ``exp`` at all, so
    queries (or further keys) whose scores could leave it (``s ||q|| ||k||`` above the
    radius, by Cauchy-Schwarz) raise ``ValueError``.
    """
    if not isinstance(state, KeyState):
        raise TypeError(f"state must be a KeyState (from key_state), got {type(state).__name__}")
    if (K is None) != (V is None):
        raise ValueError("K and V must be given together, or neither")
    Q = as_tensor(Q, "Q")
    check_matrix_batch(Q, "Q", layout="(..., tokens, features)")
    if Q.shape[-1] != state.d:
        raise ValueError(f"Q must have d = {state.d} columns like the state's keys")
    keys = state.S.new_zeros(1, state.d).to(Q.dtype) if K is None else K
    vals = state.S.new_zeros(1, state.S.shape[-1] - 1).to(Q.dtype) if V is None else V
    Q, K2, V2, batch = check_qkv(Q, keys, vals)
    if V2.shape[-1] != state.S.shape[-1] - 1:
        raise ValueError(f"V must have d_v = {state.S.shape[-1] - 1} columns like the state")
    if state.method != "taylor":
        k_norm = max(state.key_norm, _key_norm(K2) if K is not None else 0.0)
        q_norm = _key_norm(Q)
        reach = state.scale * q_norm * k_norm
        if reach > state.radius * (1 + 1e-9) or (
            K is not None and state.scale * _key_norm(K2) ** 2 > state.radius * (1 + 1e-9)
        ):
            raise ValueError(
                f"the scores can reach {reach:.4g}, beyond the radius {state.radius:g} the "
                f"{state.method} polynomial was fitted on: the output would be no "
                "approximation of attention (build the state with a larger radius)"
            )
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
    r = _table(d, g).rank
    c = _default_chunk(b, r) if chunk is None else check_int(chunk, "chunk", minimum=1)
    c = max(64, c - c % 64)
    with torch.no_grad():
        S = S.clone()
        if K is not None:
            n = K2.shape[-2]
            extra = _key_state(K2.reshape(b, n, d), V2.reshape(b, n, -1), g, c)
            w = torch.from_numpy(_weights_f64(d, g, state.method, state.radius, state.scale))
            S += extra * w.to(Q.device)[:, None]
        out = _query_output(Q.reshape(b, Q.shape[-2], d), _cast_state(S, Q.dtype, g), g, c)
    return out.reshape(*batch, Q.shape[-2], -1)


class PolyDecoder:
    """Token-by-token decoding with the polynomial method: after each new token, update a
    state of ``r (d_v + 1)`` numbers and answer the token's query.

    The state is ``S = sum_j w phi(k_j) [v_j, 1]^T`` over the tokens so far (float64; a
    soft prompt's keys can be summarised once with :func:`key_state` and passed as
    ``prompt``). :meth:`step` adds one key and value and returns the attention output of
    one query over every token so far, in ``O(r (d + d_v))`` time whatever their number:
    the fixed-size state replaces a key-value cache of ``n (d + d_v)`` numbers, whose
    attention costs ``O(n (d + d_v))`` per token. For Chebyshev and minimax, ``radius``
    must bound every score (``B^2`` for entries bounded by ``B``); :meth:`step` refuses a
    query or key with an entry above ``sqrt(radius)`` times the scale's ``sqrt(d s)``
    (which keeps all scores in range).
    """

    def __init__(
        self,
        d: int,
        d_v: int,
        degree: int,
        method: str = "taylor",
        *,
        scale: ScoreScale = "1/d",
        radius: float | None = None,
        prompt: KeyState | None = None,
    ) -> None:
        self.d = check_int(d, "d", minimum=1)
        self.d_v = check_int(d_v, "d_v", minimum=1)
        self.degree = check_degree(degree)
        self.method = check_method(method)
        self.radius = _radius(self.method, radius)
        self.scale = resolve_scale(scale, self.d)
        table = _table(self.d, self.degree)
        self.rank = table.rank
        self._w = torch.from_numpy(
            _weights_f64(self.d, self.degree, self.method, self.radius, self.scale)
        )
        # monomial a as a product of g factors of x_ext = [x, 1]: (r, max(g, 1)) indices
        width = max(1, self.degree)
        index = torch.full((self.rank, width), self.d, dtype=torch.long)
        for row, a in enumerate(table.exponents.tolist()):
            factors = [i for i, k in enumerate(a) for _ in range(k)]
            index[row, : len(factors)] = torch.tensor(factors, dtype=torch.long)
        self._index = index
        self._ext = torch.ones(self.d + 1, dtype=torch.float64)
        self._vv = torch.ones(self.d_v + 1, dtype=torch.float64)
        # entries up to this keep every score within the radius (entry bound B, s d B^2 <= R)
        self._entry_max = math.sqrt(self.radius / (self.scale * self.d)) * (1 + 1e-12)
        if prompt is not None:
            if not isinstance(prompt, KeyState):
                raise TypeError("prompt must be a KeyState (from key_state)")
            same = (prompt.degree, prompt.method, prompt.radius, prompt.scale, prompt.d)
            if same != (self.degree, self.method, self.radius, self.scale, self.d):
                raise ValueError(
                    "the prompt's state was built with another degree, method, radius, scale or d"
                )
            if prompt.S.shape[0] != 1 or prompt.S.shape[-1] != self.d_v + 1:
                raise ValueError("the prompt's state must have no batch and d_v + 1 columns")
            self.S = prompt.S[0].clone()
            self.n = prompt.n
        else:
            self.S = torch.zeros(self.rank, self.d_v + 1, dtype=torch.float64)
            self.n = 0

    @property
    def numbers(self) -> int:
        """Numbers in the state: ``r (d_v + 1)``."""
        return self.S.numel()

    def _phi(self, x: torch.Tensor) -> torch.Tensor:
        """The ``r`` monomials of one token ``x: (d,)``, float64."""
        self._ext[: self.d] = x
        return self._ext[self._index].prod(dim=1)

    def step(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        """Add the key ``k: (d,)`` with value ``v: (d_v,)`` and return the attention output
        ``(d_v,)`` (float64) of the query ``q: (d,)`` over all tokens so far."""
        with torch.no_grad():
            if self.method != "taylor" and bool(
                (q.abs() > self._entry_max).any() | (k.abs() > self._entry_max).any()
            ):
                top = max(float(q.abs().max()), float(k.abs().max()))
                raise ValueError(
                    f"an entry of {top:.4g} could take a score beyond the radius "
                    f"{self.radius:g} the polynomial was fitted on"
                )
            self._vv[: self.d_v] = v
            self.S.addr_(self._phi(k).mul_(self._w), self._vv)
            self.n += 1
            num = self._phi(q) @ self.S
            return num[: self.d_v] / num[self.d_v]


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
