"""The phase transition at ``B ~ sqrt(ln n)``: retrieval, the hardness gadget, feasibility.

Serves Hu et al. (2025), the hardness beyond the norm criterion (SETH hardness, via Alman and
Song, 2023). Entries of queries and keys are ``+-B`` (Boolean vectors scaled by ``B``), scores
are scaled by ``1/d``, so a key equal to the query scores ``B^2`` and a random key about ``B^2 /
sqrt(d)``. The softmax mass of one planted key against ``n`` others is about ``1 / (1 + n
e^{-B^2})``: it jumps from near 0 to near 1 as ``B`` passes ``sqrt(ln n)``. Past that point
attention performs nearest-neighbour retrieval, the problem the hardness reduction starts from,
and a low-rank (polynomial) approximation can no longer follow.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from .._validate import check_int, check_real
from ._inputs import check_method
from .exact import exact_attention
from .polynomial import attention_error_bound, entry_error_bound, poly_attention

__all__ = [
    "FeasibleBound",
    "GadgetResult",
    "LshResult",
    "largest_feasible_bound",
    "lsh_gadget",
    "nn_gadget",
    "planted_mass",
    "sign_vectors",
]


def _bounds(bounds: Sequence[float], name: str = "entry_bounds") -> list[float]:
    if isinstance(bounds, torch.Tensor):
        bounds = bounds.tolist()
    if isinstance(bounds, str | bytes) or not isinstance(bounds, Sequence):
        raise TypeError(f"{name} must be a sequence of numbers, got {type(bounds).__name__}")
    if not bounds:
        raise ValueError(f"{name} must hold at least one number")
    return [check_real(b, name, minimum=0.0) for b in bounds]


def _largest_degree(d: int, budget: float) -> int:
    """The largest degree ``g <= 64`` of rank ``C(d + g, g) <= budget``; ``-1`` if none."""
    g = -1
    while g < 64 and math.comb(d + g + 1, g + 1) <= budget:
        g += 1
    return g


def sign_vectors(n: int, d: int, *, seed: int = 0) -> torch.Tensor:
    """``n`` random vectors of ``{-1, +1}^d`` (float64, ``(n, d)``), from ``seed``."""
    n = check_int(n, "n", minimum=1)
    d = check_int(d, "d", minimum=1)
    gen = torch.Generator().manual_seed(check_int(seed, "seed", minimum=0))
    return torch.randint(0, 2, (n, d), generator=gen).double() * 2 - 1


def planted_mass(
    n: int,
    entry_bounds: Sequence[float],
    *,
    d: int = 64,
    trials: int = 16,
    seed: int = 0,
    with_bounds: bool = False,
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Softmax mass on a planted duplicate key: ``(len(entry_bounds), trials)``, float64.

    Each trial draws ``n`` keys in ``{-B, B}^d`` and takes the first key as the query, so it
    scores ``B^2``; the other keys score ``B^2 rho_j`` with ``rho_j = <a, b_j> / d``. Returns
    the query's softmax weight on its duplicate, ``1 / (1 + sum_j exp(-B^2 (1 - rho_j)))``,
    for each entry bound ``B`` in ``entry_bounds``. With ``with_bounds`` also the two
    bounds on the mass that the extreme correlations give,
    ``1 / (1 + (n - 1) exp(-B^2 (1 - rho)))`` for ``rho`` the largest (lower bound) and
    the smallest (upper bound) ``rho_j`` of the trial.
    """
    n = check_int(n, "n", minimum=2)
    Bs = torch.tensor(_bounds(entry_bounds), dtype=torch.float64)
    d = check_int(d, "d", minimum=1)
    trials = check_int(trials, "trials", minimum=1)
    seed = check_int(seed, "seed", minimum=0)
    if not isinstance(with_bounds, bool):
        raise TypeError(f"with_bounds must be a bool, got {type(with_bounds).__name__}")
    out = torch.empty(len(Bs), trials, dtype=torch.float64)
    lower, upper = torch.empty_like(out), torch.empty_like(out)
    B2 = (Bs**2)[:, None]
    for t in range(trials):
        keys = sign_vectors(n, d, seed=seed * 100_003 + t)
        rho = keys @ keys[0] / d  # rho[0] = 1: the duplicate
        s = B2 * rho[None, :]
        out[:, t] = (s[:, 0] - torch.logsumexp(s, dim=1)).exp()
        for target, r in ((lower, rho[1:].max()), (upper, rho[1:].min())):
            target[:, t] = torch.sigmoid(-(math.log(n - 1) - B2[:, 0] * (1 - r)))
    return (out, lower, upper) if with_bounds else out


@dataclass(frozen=True)
class GadgetResult:
    """One run of the nearest-neighbour gadget at one entry bound ``B`` (``entry_bound``).

    ``accuracy``: share of queries whose "is there a close key?" answer, read off the
    attention output, is right; ``retrieved``: share of planted queries whose output points
    to their close key (correlation above the threshold); ``poly_accuracy``: the same
    decision read off the best polynomial approximation of rank ``<= n / 5`` (``nan`` when
    not computed); ``poly_degree``/``poly_rank``: that approximation.
    """

    entry_bound: float
    accuracy: float
    retrieved: float
    poly_accuracy: float
    poly_degree: int
    poly_rank: int

    @property
    def bound(self) -> float:
        """Former name of :attr:`entry_bound`."""
        return self.entry_bound


def nn_gadget(
    n: int,
    entry_bounds: Sequence[float],
    *,
    d: int = 64,
    queries: int = 32,
    flips: int | None = None,
    poly: bool = True,
    seed: int = 0,
) -> list[GadgetResult]:
    """The approximate nearest-neighbour gadget of the hardness reduction, on a small instance.

    ``n`` keys ``b_j`` are random sign vectors; half of the ``queries`` are a key with
    ``flips`` coordinates flipped (a close pair, Hamming distance ``flips``, default
    ``d/16``), the other half fresh random vectors (every key at distance about ``d/2``).
    Attention with ``Q = B a``, ``K = B b``, ``V = b`` and scale ``1/d`` outputs a weighted
    mean of keys; the decision "a close key exists" is ``<output, a>/d > tau``, ``tau``
    halfway between a close key's correlation ``1 - 2 flips/d`` and ``sqrt(2 ln n / d)``,
    the scale of the largest correlation of a random vector with ``n`` random keys.
    With ``poly`` the same decision is read off the polynomial approximation of largest
    degree with rank ``C(d + g, g) <= n / 5`` (the better of Taylor and Chebyshev).
    """
    n = check_int(n, "n", minimum=2)
    Bs = _bounds(entry_bounds)
    d = check_int(d, "d", minimum=2)
    m = check_int(queries, "queries", minimum=2)
    flips = d // 16 if flips is None else check_int(flips, "flips", minimum=0, maximum=d // 2)
    seed = check_int(seed, "seed", minimum=0)
    keys, A, close, threshold = _gadget_instance(n, d, m, flips, seed)
    g = max(0, _largest_degree(d, n / 5))
    results = []
    for B in Bs:
        out = exact_attention(B * A, B * keys, keys)
        corr = (out * A).sum(-1) / d
        accuracy = float(((corr > threshold) == close).double().mean())
        retrieved = float((corr[close] > threshold).double().mean())
        poly_acc = math.nan
        if poly:
            best = -1.0
            for method in ("taylor", "chebyshev"):
                approx = poly_attention(B * A, B * keys, keys, g, method)
                c = (approx * A).sum(-1) / d
                best = max(best, float(((c > threshold) == close).double().mean()))
            poly_acc = best
        results.append(GadgetResult(B, accuracy, retrieved, poly_acc, g, math.comb(d + g, g)))
    return results


def _gadget_instance(n: int, d: int, m: int, flips: int, seed: int):
    """Keys, queries (the first half planted at Hamming distance ``flips`` from a key),
    which queries are planted, and the decision threshold on ``<output, a> / d``."""
    keys = sign_vectors(n, d, seed=seed)
    gen = torch.Generator().manual_seed(seed + 1)
    close = torch.arange(m) < m // 2
    idx = torch.randint(0, n, (m,), generator=gen)
    A = sign_vectors(m, d, seed=seed + 2)
    for i in range(m // 2):
        flip = torch.randperm(d, generator=gen)[:flips]
        A[i] = keys[idx[i]]
        A[i, flip] *= -1
    threshold = ((1 - 2 * flips / d) + math.sqrt(2 * math.log(n) / d)) / 2
    return keys, A, close, threshold


@dataclass(frozen=True)
class LshResult:
    """Bit-sampling LSH on the nearest-neighbour gadget: ``accuracy`` of the decision "a
    close key exists" (same instances and threshold as :func:`nn_gadget`) and
    ``comparisons``, the mean number of (query, key) inner products per query, against
    the ``n`` that trying every key costs."""

    n: int
    flips: int
    bits: int
    tables: int
    accuracy: float
    comparisons: float


def lsh_gadget(
    n: int,
    *,
    d: int = 64,
    queries: int = 32,
    flips: int | None = None,
    bits: int | None = None,
    tables: int = 8,
    seed: int = 0,
) -> LshResult:
    """Answer :func:`nn_gadget`'s question by bit-sampling locality-sensitive hashing
    (Indyk and Motwani), without attention: each of ``tables`` hash tables keys a vector by
    ``bits`` random coordinates (default ``ceil(log2 n)``), a query compares itself only with
    the keys in its buckets, and answers "yes" when one of them has ``<a, b>/d`` above the
    gadget's threshold. A key at Hamming distance ``f`` collides with probability
    ``(1 - f/d)^bits`` per table, a random key with about ``2^-bits``: with a large gap
    (``f = d/16``) a few tables find the close key at a cost far below ``n`` comparisons.
    """
    n = check_int(n, "n", minimum=2)
    d = check_int(d, "d", minimum=2)
    m = check_int(queries, "queries", minimum=2)
    flips = d // 16 if flips is None else check_int(flips, "flips", minimum=0, maximum=d // 2)
    bits = (
        math.ceil(math.log2(n)) if bits is None else check_int(bits, "bits", minimum=1, maximum=d)
    )
    tables = check_int(tables, "tables", minimum=1)
    seed = check_int(seed, "seed", minimum=0)
    keys, A, close, threshold = _gadget_instance(n, d, m, flips, seed)
    gen = torch.Generator().manual_seed(seed + 3)
    found = torch.zeros(m, dtype=torch.bool)
    compared = 0
    for _ in range(tables):
        coords = torch.randperm(d, generator=gen)[:bits]
        weights = 2 ** torch.arange(bits, dtype=torch.int64)
        h_keys = ((keys[:, coords] > 0).long() * weights).sum(1)
        h_q = ((A[:, coords] > 0).long() * weights).sum(1)
        for i in range(m):
            cand = (h_keys == h_q[i]).nonzero().flatten()
            compared += len(cand)
            if len(cand) and float((keys[cand] @ A[i]).max()) / d > threshold:
                found[i] = True
    accuracy = float((found == close).double().mean())
    return LshResult(n, flips, bits, tables, accuracy, compared / m)


@dataclass(frozen=True)
class FeasibleBound:
    """The largest ``B`` at which a rank-``<= n * rank_fraction`` polynomial reaches
    ``target``: ``proved`` from the error bound (worst case over all inputs with entries
    in ``[-B, B]``), ``measured`` on planted-duplicate instances; with the degree used."""

    n: int
    d: int
    target: float
    max_degree: int
    max_rank: int
    proved: float
    measured: float


def largest_feasible_bound(
    n: int,
    *,
    d: int = 8,
    target: float = 1e-2,
    rank_fraction: float = 0.2,
    grid: Sequence[float] | None = None,
    method: str = "chebyshev",
    seed: int = 0,
    measure: bool = True,
) -> FeasibleBound:
    """Largest ``B`` (on ``grid``, default ``0.05, 0.10, ..., 6``) at which a polynomial of
    rank ``C(d + g, g) <= rank_fraction * n`` approximates attention within ``target``.

    ``proved``: the largest ``B`` whose proved bound (:func:`entry_error_bound`, with the
    largest allowed degree) is at most ``target``. ``measured``: the largest ``B`` on the
    grid up to which the measured max-abs error stays within ``target`` on a planted
    instance: ``n`` keys in ``{-B, B}^d``, the queries duplicates of keys (their scores
    reach ``B^2``), values uniform in ``[-1, 1]``; float64 throughout. With
    ``measure=False`` only the (cheap) proved limit is computed and ``measured`` is ``nan``.
    """
    n = check_int(n, "n", minimum=2)
    d = check_int(d, "d", minimum=1)
    target = check_real(target, "target", minimum=0.0, strict_minimum=True)
    rank_fraction = check_real(rank_fraction, "rank_fraction", minimum=0.0, strict_minimum=True)
    method = check_method(method)
    seed = check_int(seed, "seed", minimum=0)
    if not isinstance(measure, bool):
        raise TypeError(f"measure must be a bool, got {type(measure).__name__}")
    grid = [0.05 * k for k in range(1, 121)] if grid is None else sorted(_bounds(grid, "grid"))
    g = _largest_degree(d, rank_fraction * n)
    if g < 0:
        return FeasibleBound(n, d, target, -1, 0, 0.0, 0.0)
    proved = 0.0
    for B in grid:
        if attention_error_bound(entry_error_bound(g, B * B, method)) <= target:
            proved = B
    if not measure:
        return FeasibleBound(n, d, target, g, math.comb(d + g, g), proved, math.nan)
    keys = sign_vectors(n, d, seed=seed)
    gen = torch.Generator().manual_seed(seed + 1)
    queries = keys[torch.randperm(n, generator=gen)[: min(n, 64)]]
    V = torch.rand(n, d, generator=gen, dtype=torch.float64) * 2 - 1
    measured = 0.0
    for B in grid:
        exact = exact_attention(B * queries, B * keys, V)
        approx = poly_attention(B * queries, B * keys, V, g, method)
        err = float((approx - exact).abs().max())
        if not err <= target:  # also stops at nan
            break
        measured = B
    return FeasibleBound(n, d, target, g, math.comb(d + g, g), proved, measured)
