"""The precision the contextual codes need: exact arithmetic against float64 and float32.

The attention layer of the construction sends the integer token codes ``a`` of ``[P, X]``
(:func:`token_codes`) to ``c_k = a_k + sum_i a_i e^{lam a_i a_k} / sum_i e^{lam a_i a_k}``.
The feed-forward layer after it can only tell two contexts apart if their codes differ
by more than the rounding of the arithmetic. :func:`separation_by_precision` computes the
smallest gap between the codes of distinct (prompt, input, position) triples three ways:

* exactly: the exponentials by ``mpmath``, the sums and quotients in integer fixed point
  with at least 256 fractional bits for the smallest weight (every rounding far below
  ``2^-200`` of the code range: "exact" for every purpose here);
* by the construction's own attention layer in float64, and the same layer in float32.

:func:`poly_codes` runs the same codes through the polynomial method of
:func:`ptheory.efficiency.poly_attention` (the almost-linear algorithm of Hu et al. 2025,
cited by content, via Alman and Song 2023), to see whether its approximation error
leaves the codes apart.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator
from dataclasses import dataclass

import mpmath
import numpy as np
import torch

from .._validate import check_int, check_real
from .build import dimensions
from .grid import levels
from .layers import code_offset, contextual_attention

__all__ = [
    "PrecisionRow",
    "exact_codes",
    "float_codes",
    "log10_relative_separation",
    "poly_codes",
    "relative_separation",
    "separation_by_precision",
    "token_codes",
]

FRAC_BITS = 256
_LIMIT = 400_000  # codes: beyond this the exact computation is refused (time)


def token_codes(d: int, L: int, delta: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Integer codes of every grid prompt and grid input, as ``FF_1`` gives them on cell
    centres: ``(prompt_codes (M, L_p), input_codes (G, L))`` with ``a = A + i V + m``, ``i``
    the position in ``[P, X]``, ``m`` in ``[0, V)`` the token's cell, ``A`` the offset of
    :func:`~ptheory.universality.layers.code_offset`. ``int64``.

    Only the set of sequences matters for separations; the order is the digit order.
    """
    dims = dimensions(d, L, delta)
    V, L_p, M, G = dims.vocabulary, dims.prompt_length, dims.class_size, dims.grid_size
    if M * G * L > _LIMIT:
        raise ValueError(
            f"delta={dims.delta:g} with d={d}, L={L} has {M * G * L} codes (limit {_LIMIT})"
        )
    n = L_p + L
    A = code_offset(d, n, delta)

    def digits(count: int, length: int) -> torch.Tensor:
        idx = torch.arange(count, dtype=torch.int64)[:, None]
        powers = V ** torch.arange(length - 1, -1, -1, dtype=torch.int64)
        return (idx // powers) % V

    prompt = A + V * torch.arange(L_p, dtype=torch.int64) + digits(M, L_p)
    inputs = A + V * torch.arange(L_p, n, dtype=torch.int64) + digits(G, L)
    return prompt, inputs


def _check_lam(d: int, L: int, delta: float, lam: float | None) -> float:
    return dimensions(d, L, delta, lam=lam).lam


def exact_codes(d: int, L: int, delta: float, *, lam: float | None = None) -> np.ndarray:
    """The contextual codes of every triple, exactly: an object array ``(M G L,)`` of Python
    ints, each ``c * 2^bits`` rounded down, with ``bits = FRAC_BITS`` plus enough bits that
    the smallest softmax weight keeps ``FRAC_BITS`` of its own (see the module)."""
    lam = _check_lam(d, L, delta, lam)
    prompt, inputs = token_codes(d, L, delta)
    V, A = levels(delta) ** d, int(prompt.min()) if prompt.numel() else int(inputs.min())
    n = prompt.shape[1] + inputs.shape[1]
    values = list(range(A, A + n * V))  # every token code
    # the smallest weight is about e^{-lam q_max n V}: give it FRAC_BITS bits of its own
    spread = lam * int(inputs.max()) * n * V / math.log(2)
    bits = FRAC_BITS + math.ceil(spread)
    one = 1 << bits
    with mpmath.workprec(bits + 64):
        lam_mp = mpmath.mpf(lam)
        weight = {}  # (query, key) -> e^{lam q (a - A)} in fixed point, in (0, 1] * 2^k
        for q in sorted(set(inputs.reshape(-1).tolist())):
            for a in values:
                w = mpmath.exp(lam_mp * q * (a - A - n * V))  # <= 1: no overflow
                weight[q, a] = int(mpmath.floor(w * one))
    P = prompt.tolist()
    out = []
    for k in range(inputs.shape[1]):
        for q in sorted(set(inputs[:, k].tolist())):
            rows = [g for g in range(inputs.shape[0]) if int(inputs[g, k]) == q]
            for prow in P:
                num_p = sum(a * weight[q, a] for a in prow)
                den_p = sum(weight[q, a] for a in prow)
                for g in rows:
                    xrow = inputs[g].tolist()
                    num = num_p + sum(a * weight[q, a] for a in xrow)
                    den = den_p + sum(weight[q, a] for a in xrow)
                    out.append(q * one + (num * one) // den)
    return np.array(out, dtype=object)


def float_codes(
    d: int, L: int, delta: float, dtype: torch.dtype, *, lam: float | None = None
) -> torch.Tensor:
    """The same codes computed by the construction's attention layer in ``dtype``
    (``torch.float64`` or ``torch.float32``): ``(M G L,)``, in the order of
    :func:`exact_codes`."""
    if dtype not in (torch.float64, torch.float32):
        raise ValueError(f"dtype must be torch.float64 or torch.float32, got {dtype}")
    lam = _check_lam(d, L, delta, lam)
    prompt, inputs = token_codes(d, L, delta)
    layer = contextual_attention(1, lam).to(dtype)
    L_p = prompt.shape[1]
    out = []
    for k, Z in _contexts(prompt, inputs):
        with torch.no_grad():
            c = layer(Z[:, None, :].to(dtype))[:, 0, L_p + k]
        out.append(c)
    return torch.cat(out)


def _contexts(prompt: torch.Tensor, inputs: torch.Tensor) -> Iterator[tuple[int, torch.Tensor]]:
    """``(k, Z)`` per input position ``k`` and query code ``q`` (sorted) at ``k``: ``Z`` holds
    every prompt followed by every input whose token ``k`` is ``q``, ``(M rows, L_p + L)``,
    in the order of :func:`exact_codes`."""
    for k in range(inputs.shape[1]):
        for q in sorted(set(inputs[:, k].tolist())):
            rows = inputs[inputs[:, k] == q]
            Z = torch.cat(
                [
                    prompt[:, None, :].expand(-1, len(rows), -1),
                    rows[None, :, :].expand(len(prompt), -1, -1),
                ],
                dim=-1,
            ).reshape(-1, prompt.shape[1] + inputs.shape[1])
            yield k, Z


def relative_separation(codes: np.ndarray | torch.Tensor) -> float:
    """Smallest gap between sorted codes over their range (0 when two coincide).

    For exact codes (an object array of ints) a ratio below float64's range underflows to
    0: use :func:`log10_relative_separation` there."""
    if isinstance(codes, np.ndarray) and codes.dtype == object:
        return 10.0 ** log10_relative_separation(codes)
    c = torch.sort(torch.as_tensor(codes).double()).values
    rng = float(c[-1] - c[0])
    return float(c.diff().min()) / rng if rng > 0 else 0.0


def log10_relative_separation(codes: np.ndarray) -> float:
    """``log10`` of the smallest gap over the range, for exact codes (``-inf`` if two
    coincide); no underflow, however small the gap."""
    s = sorted(codes.tolist())
    gap = min(b - a for a, b in itertools.pairwise(s))
    if gap <= 0 or s[-1] <= s[0]:
        return -math.inf
    return _log10_int(gap) - _log10_int(s[-1] - s[0])


def _log10_int(x: int) -> float:
    shift = max(0, x.bit_length() - 60)
    return math.log10(x >> shift) + shift * math.log10(2)


@dataclass(frozen=True)
class PrecisionRow:
    """One size: ``n_codes`` K, sequence length ``n``, and the relative separation of the
    codes computed exactly, in float64 and in float32; ``order_ok_*``: whether the float
    codes sort in the exact order (no two contexts swapped or merged)."""

    d: int
    L: int
    delta: float
    n_codes: int
    n: int
    exact: float
    float64: float
    float32: float
    order_ok_64: bool
    order_ok_32: bool

    def reliable(self, which: str, rtol: float = 0.1) -> bool:
        """Whether ``which`` (``"float64"`` or ``"float32"``) sorts the codes as exact
        arithmetic does and gets the separation to ``rtol``."""
        if which not in ("float64", "float32"):
            raise ValueError(f"which must be 'float64' or 'float32', got {which!r}")
        rtol = check_real(rtol, "rtol", minimum=0.0)
        ok = self.order_ok_64 if which == "float64" else self.order_ok_32
        return ok and abs(getattr(self, which) - self.exact) <= rtol * self.exact


def separation_by_precision(
    d: int, L: int, delta: float, *, lam: float | None = None
) -> PrecisionRow:
    """:class:`PrecisionRow` for ``(d, L, delta)`` at ``lam`` (default: the construction's)."""
    d = check_int(d, "d", minimum=1)
    L = check_int(L, "L", minimum=1)
    exact = exact_codes(d, L, delta, lam=lam)
    order = torch.as_tensor(np.array(sorted(range(len(exact)), key=exact.__getitem__)))
    rows = {}
    for name, dt in (("float64", torch.float64), ("float32", torch.float32)):
        c = float_codes(d, L, delta, dt, lam=lam)
        rows[name] = (relative_separation(c), bool((c[order].diff() > 0).all()))
    dims = dimensions(d, L, delta)
    return PrecisionRow(
        d=d,
        L=L,
        delta=dims.delta,
        n_codes=dims.n_codes,
        n=dims.prompt_length + L,
        exact=relative_separation(exact),
        float64=rows["float64"][0],
        float32=rows["float32"][0],
        order_ok_64=rows["float64"][1],
        order_ok_32=rows["float32"][1],
    )


def poly_codes(
    d: int, L: int, delta: float, degree: int, *, lam: float | None = None
) -> torch.Tensor:
    """The codes with the attention computed by :func:`ptheory.efficiency.poly_attention`
    at ``degree`` (Taylor), in float64: ``(M G L,)``, the order of :func:`exact_codes`.

    Queries and keys are ``sqrt(lam) a`` (one dimension: the head has rank one), values
    ``a``, and the residual ``a_k`` is added, as in the construction's head.
    """
    from ..efficiency import poly_attention  # the efficiency part's public API

    degree = check_int(degree, "degree", minimum=0)
    lam = _check_lam(d, L, delta, lam)
    prompt, inputs = token_codes(d, L, delta)
    L_p = prompt.shape[1]
    root = math.sqrt(lam)
    out = []
    for k, Z in _contexts(prompt, inputs):
        Z = Z[:, :, None].to(torch.float64)
        query = Z[:, L_p + k : L_p + k + 1]
        att = poly_attention(root * query, root * Z, Z, degree, scale="none")
        out.append(query[:, 0, 0] + att[:, 0, 0])
    return torch.cat(out)
