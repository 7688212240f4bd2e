"""The precision the contextual codes need: exact arithmetic against float64 and float32.

On cell centres, ``FF_1`` gives token ``i`` of ``[P, X]`` an integer code (its cell and
its position, :func:`token_codes`), and the attention layer sends column ``k`` to

    zeta_k = theta_k + sum_i theta_i e^{beta theta_k theta_i} / sum_i e^{beta theta_k theta_i}.

The feed-forward layer after it can only tell two contexts apart if their codes differ
by more than the rounding of the arithmetic. :func:`separation_by_precision` computes the
smallest gap between the codes of distinct (prompt, input, position) triples three ways:

* exactly (:func:`exact_codes`): the exponentials by ``mpmath``, the sums and quotients
  in integer fixed point with at least 256 fractional bits for the smallest weight
  (every rounding far below ``2^-200`` of the code range);
* by the construction's attention layer in float64, and the same layer in float32
  (:func:`float_codes`).

:func:`poly_codes` runs the same codes through the polynomial method of
:func:`ptheory.efficiency.poly_attention` (the almost-linear algorithm of Hu et al. 2025,
cited by content, via Alman and Song 2023), to see whether its approximation error
leaves the codes apart.

Every function lists the triples in one order, that of
:func:`~ptheory.universality.build.grid_codes`: prompt ``m`` (slowest), grid input ``g``,
input position ``k`` (fastest).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from fractions import Fraction
from numbers import Real

import mpmath
import numpy as np
import torch

from .._validate import check_int, check_real
from .build import all_prompts, check_enumerable, dimensions, grid_codes, one_thread
from .grid import grid_sequences
from .layers import code_offset, contextual_attention

__all__ = [
    "PrecisionRow",
    "as_beta",
    "exact_codes",
    "float_codes",
    "log10_relative_separation",
    "model_code_error",
    "poly_codes",
    "relative_separation",
    "separation_by_precision",
    "token_codes",
]

FRAC_BITS = 256


def token_codes(
    d: int, L: int, delta: float, *, positions: bool = True
) -> tuple[torch.Tensor, torch.Tensor]:
    """Integer codes of every grid prompt and grid input, as ``FF_1`` gives them on cell
    centres: ``(prompt_codes (M, L_p), input_codes (G, L))``, ``int64``.

    Token ``i`` (from 0) of ``[P, X]`` with entries ``x_1, ..., x_d`` gets
    ``theta = A + i V + sum_j floor(x_j V1) V1^(j - 1)``, the formula of
    :func:`~ptheory.universality.layers.ff1_layer` (coordinate 1 is the lowest digit),
    with ``V = V1^d`` and ``A`` the offset of
    :func:`~ptheory.universality.layers.code_offset`. The rows are the tensors of
    :func:`~ptheory.universality.build.all_prompts` and
    :func:`~ptheory.universality.grid.grid_sequences` themselves, the one enumeration of
    the grid contexts that :func:`~ptheory.universality.build.context_codes` also uses.
    ``positions=False`` drops the ``i V`` term: codes that name the cell only (the
    construction never does this)."""
    if not isinstance(positions, bool):
        raise TypeError(f"positions must be True or False, got {type(positions).__name__}")
    dims = dimensions(d, L, delta)
    check_enumerable(dims)
    v1, V, L_p = round(1 / dims.delta), dims.vocabulary, dims.prompt_length
    n = L_p + L
    A = code_offset(d, n, delta)
    weights = v1 ** torch.arange(d, dtype=torch.int64)  # coordinate j has weight V1^(j-1)

    def cells(tokens: torch.Tensor) -> torch.Tensor:  # (R, d, k) cell centres -> (R, k)
        level = torch.floor(tokens * v1).to(torch.int64)
        return (level * weights[None, :, None]).sum(dim=1)

    step = V if positions else 0
    prompt = A + step * torch.arange(L_p, dtype=torch.int64) + cells(all_prompts(d, L, delta))
    inputs = A + step * torch.arange(L_p, n, dtype=torch.int64) + cells(grid_sequences(d, L, delta))
    return prompt, inputs


def as_beta(d: int, L: int, delta: float, beta: object = None) -> mpmath.mpf:
    """The attention scale as an ``mpmath`` number: the construction's
    (:func:`~ptheory.universality.build.default_beta`) when ``beta`` is ``None``; a float,
    an ``mpmath.mpf`` or a decimal string otherwise (``>= 0``), so that a scale located
    to many digits keeps them."""
    if beta is None:
        return mpmath.mpf(dimensions(d, L, delta).beta)
    if isinstance(beta, str):
        try:
            with mpmath.workdps(max(mpmath.mp.dps, len(beta) + 5)):
                value = mpmath.mpf(beta)
        except ValueError:
            raise ValueError(f"beta must be a number, got {beta!r}") from None
    elif isinstance(beta, mpmath.mpf):
        value = beta
    elif isinstance(beta, Real) and not isinstance(beta, bool):
        value = mpmath.mpf(check_real(beta, "beta", minimum=0.0))
    else:
        raise TypeError(f"beta must be a real number, got {type(beta).__name__}")
    if not mpmath.isfinite(value) or value < 0:
        raise ValueError(f"beta must be finite and >= 0, got {beta}")
    return value


def exact_codes(
    d: int, L: int, delta: float, *, beta: object = None, positions: bool = True
) -> np.ndarray:
    """The contextual codes of every triple, exactly: an object array ``(M G L,)`` of
    Python ints, each ``zeta * 2^bits`` rounded down, with ``bits = FRAC_BITS`` plus enough
    bits that the smallest softmax weight keeps ``FRAC_BITS`` of its own (see the module).
    ``beta``: see :func:`as_beta`; ``positions``: see :func:`token_codes`."""
    return _fixed_point(d, L, delta, beta, positions)[0]


def _fixed_point(
    d: int, L: int, delta: float, beta: object, positions: bool
) -> tuple[np.ndarray, int]:
    """:func:`exact_codes` and its number of fractional bits."""
    d = check_int(d, "d", minimum=1)
    L = check_int(L, "L", minimum=1)
    prompt, inputs = token_codes(d, L, delta, positions=positions)
    beta_mp = as_beta(d, L, delta, beta)
    M, G = prompt.shape[0], inputs.shape[0]
    top = int(inputs.max())  # every key is at most this: weights e^{beta q (a - top)} <= 1
    spread = float(beta_mp) * top * (top - int(prompt.min())) / math.log(2)
    bits = FRAC_BITS + math.ceil(spread)
    one = 1 << bits
    keys = range(int(prompt.min()), top + 1)
    weight = {}  # (query, key) -> e^{beta q (a - top)} in fixed point
    with mpmath.workprec(bits + 64):
        for q in sorted(set(inputs.reshape(-1).tolist())):
            for a in keys:
                w = mpmath.exp(beta_mp * q * (a - top))
                weight[q, a] = int(mpmath.floor(w * one))
    P, X = prompt.tolist(), inputs.tolist()
    out = [0] * (M * G * L)
    for k in range(L):
        for q in sorted({row[k] for row in X}):
            rows = [g for g in range(G) if X[g][k] == q]
            partial = [sum(weight[q, a] for a in x) for x in (X[g] for g in rows)]
            partial_num = [sum(a * weight[q, a] for a in X[g]) for g in rows]
            for m, prow in enumerate(P):
                num_p = sum(a * weight[q, a] for a in prow)
                den_p = sum(weight[q, a] for a in prow)
                for g, num_x, den_x in zip(rows, partial_num, partial, strict=True):
                    num, den = num_p + num_x, den_p + den_x
                    out[(m * G + g) * L + k] = q * one + (num * one) // den
    return np.array(out, dtype=object), bits


def model_code_error(d: int, L: int, delta: float) -> float:
    """The built model's own contextual codes against the exact ones, triple by triple:
    ``max |zeta_model - zeta_exact|`` over every (grid prompt, grid input, position),
    divided by the smallest gap between exact codes.

    ``zeta_model`` runs the construction's positions, ``FF_1`` and head in float64
    (:func:`~ptheory.universality.build.grid_codes`); ``zeta_exact`` computes the same
    triple from :func:`token_codes`. A value far below 1 says that the model's first
    layer gives every triple the code this module assumes, in the same order."""
    exact, bits = _fixed_point(d, L, delta, None, True)
    model = grid_codes(d, L, delta).reshape(-1).tolist()
    scale = 1 << bits
    error = max(  # a float times 2^bits is exact as a Fraction
        abs(Fraction(m) * scale - e) for m, e in zip(model, exact.tolist(), strict=True)
    )
    s = sorted(exact.tolist())
    gap = min(b - a for a, b in itertools.pairwise(s))
    return float(error) / float(gap)  # both in units of 2^-bits


def _sequences(d: int, L: int, delta: float) -> tuple[torch.Tensor, int]:
    """Every ``[P, X]`` as integer codes, ``(M G, n)`` (prompt slowest), and ``L_p``."""
    prompt, inputs = token_codes(d, L, delta)
    M, G = prompt.shape[0], inputs.shape[0]
    Z = torch.cat(
        [prompt[:, None, :].expand(-1, G, -1), inputs[None, :, :].expand(M, -1, -1)], dim=-1
    )
    return Z.reshape(M * G, -1), prompt.shape[1]


@one_thread
def float_codes(
    d: int, L: int, delta: float, dtype: torch.dtype, *, beta: float | None = None
) -> torch.Tensor:
    """The same codes computed by the construction's attention layer in ``dtype``
    (``torch.float64`` or ``torch.float32``): ``(M G L,)``, in the order of
    :func:`exact_codes`."""
    if dtype not in (torch.float64, torch.float32):
        raise ValueError(f"dtype must be torch.float64 or torch.float32, got {dtype}")
    beta = dimensions(d, L, delta, beta=beta).beta
    Z, L_p = _sequences(d, L, delta)
    layer = contextual_attention(1, beta).to(dtype)
    with torch.no_grad():
        out = layer(Z[:, None, :].to(dtype))[:, 0, L_p:]  # (M G, L)
    return out.reshape(-1)


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
    if not isinstance(codes, np.ndarray) or codes.dtype != object or codes.size < 2:
        raise TypeError("codes must be exact codes (an object array of at least two ints)")
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
    """One size: ``n_codes`` (the number of triples), sequence length ``n``, and the
    relative separation of the codes computed exactly, in float64 and in float32;
    ``order_ok_*``: whether the float codes sort in the exact order (no two contexts
    swapped or merged)."""

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

    def gap_error(self, which: str) -> float:
        """``|separation in which - exact separation| / exact separation``."""
        if which not in ("float64", "float32"):
            raise ValueError(f"which must be 'float64' or 'float32', got {which!r}")
        return abs(getattr(self, which) - self.exact) / self.exact

    def reliable(self, which: str, rtol: float = 0.1) -> bool:
        """Whether ``which`` (``"float64"`` or ``"float32"``) sorts the codes as exact
        arithmetic does and gets the separation to ``rtol``."""
        if which not in ("float64", "float32"):
            raise ValueError(f"which must be 'float64' or 'float32', got {which!r}")
        rtol = check_real(rtol, "rtol", minimum=0.0)
        ok = self.order_ok_64 if which == "float64" else self.order_ok_32
        return ok and self.gap_error(which) <= rtol


def separation_by_precision(
    d: int, L: int, delta: float, *, beta: float | None = None
) -> PrecisionRow:
    """:class:`PrecisionRow` for ``(d, L, delta)`` at ``beta`` (default: the construction's)."""
    d = check_int(d, "d", minimum=1)
    L = check_int(L, "L", minimum=1)
    exact = exact_codes(d, L, delta, beta=beta)
    order = torch.as_tensor(np.array(sorted(range(len(exact)), key=exact.__getitem__)))
    rows = {}
    for name, dt in (("float64", torch.float64), ("float32", torch.float32)):
        c = float_codes(d, L, delta, dt, beta=beta)
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


@one_thread
def poly_codes(
    d: int, L: int, delta: float, degree: int, *, beta: float | None = None
) -> torch.Tensor:
    """The codes with the attention computed by :func:`ptheory.efficiency.poly_attention`
    at ``degree`` (Taylor), in float64: ``(M G L,)``, the order of :func:`exact_codes`.

    Queries and keys are ``sqrt(beta) theta`` (one dimension: the head has rank one),
    values ``theta``, and the residual ``theta_k`` is added, as in the construction's head.
    """
    from ..efficiency import poly_attention  # the efficiency part's public API

    degree = check_int(degree, "degree", minimum=0)
    beta = dimensions(d, L, delta, beta=beta).beta
    Z, L_p = _sequences(d, L, delta)
    Z = Z[:, :, None].to(torch.float64)  # (M G, n, 1)
    root = math.sqrt(beta)
    query = Z[:, L_p:]  # (M G, L, 1)
    att = poly_attention(root * query, root * Z, Z, degree, scale="none")
    return (query + att)[..., 0].reshape(-1)
