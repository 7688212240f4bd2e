"""The phase transition at ``B ~ sqrt(ln n)``: retrieval, the hardness gadget, feasibility.

Serves the hardness beyond the norm criterion (Alman and Song, 2023, whose result Hu et al.,
2025, apply to prompt tuning). Entries of queries and keys are ``+-B`` (Boolean vectors scaled
by ``B``), scores are scaled by ``1/d``, so a key equal to the query scores ``B^2`` and a random
key about ``B^2 / sqrt(d)``. The softmax mass of one planted key against ``n`` others is about
``1 / (1 + n e^{-B^2})``: it jumps from near 0 to near 1 as ``B`` passes ``sqrt(ln n)``. Past
that point attention can retrieve the key closest to a query, the mechanism of the hardness
reduction. The hardness itself (no truly sub-quadratic algorithm under SETH) holds for
``d = Theta(log n)``, a small approximation gap and error ``1/poly(n)``; the small instances
here have a large gap and fixed ``d``, and locality-sensitive hashing decides them quickly
(:func:`lsh_gadget`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from .._validate import check_int, check_real
from .certificate import certify, minimax_lower_bound, range_attention_error, two_cluster_input
from .exact import exact_attention
from .polynomial import poly_attention

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
    decision read off the polynomial method at the largest degree whose rank fits the
    budget, with the better of the Taylor, Chebyshev and minimax polynomials (``nan``
    when not computed); ``poly_degree``/``poly_rank``: that degree and its rank.
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
    rank_budget: float | None = None,
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
    With ``poly`` the same decision is read off the polynomial method at the largest
    degree with rank ``C(d + g, g) <= rank_budget`` (default ``sqrt(n)``, which keeps its
    time ``O(n^1.5 d)``), the better of the Taylor, Chebyshev and minimax polynomials.
    At ``d = 64`` no degree above 0 fits a budget below 65: the method is then the plain
    average of the values.
    """
    n = check_int(n, "n", minimum=2)
    Bs = _bounds(entry_bounds)
    d = check_int(d, "d", minimum=2)
    m = check_int(queries, "queries", minimum=2)
    flips = d // 16 if flips is None else check_int(flips, "flips", minimum=0, maximum=d // 2)
    seed = check_int(seed, "seed", minimum=0)
    budget = (
        math.sqrt(n) if rank_budget is None else check_real(rank_budget, "rank_budget", minimum=1.0)
    )
    keys, A, close, threshold = _gadget_instance(n, d, m, flips, seed)
    g = max(0, _largest_degree(d, budget))
    results = []
    for B in Bs:
        out = exact_attention(B * A, B * keys, keys)
        corr = (out * A).sum(-1) / d
        accuracy = float(((corr > threshold) == close).double().mean())
        retrieved = float((corr[close] > threshold).double().mean())
        poly_acc = math.nan
        if poly:
            best = -1.0
            for method in ("taylor", "chebyshev", "minimax"):
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
    """The largest entry bound ``B`` at which a polynomial of rank at most ``max_rank``
    (degree at most ``max_degree``) guarantees ``target`` (:func:`largest_feasible_bound`).

    ``proved``: that ``B`` (certified, the rounding of ``dtype`` included); ``method``:
    the polynomial that reaches it; ``above``: ``B`` a little beyond it (``proved`` times
    ``1 + step``), where ``attained`` is the error that the two-cluster input reaches for
    the best polynomial of degree ``max_degree`` (the minimax one) and ``lower`` the
    proved lower bound on the worst error of *every* polynomial of that degree: both above
    ``target`` show that the limit is sharp.
    """

    n: int
    d: int
    target: float
    max_degree: int
    max_rank: int
    proved: float
    method: str
    above: float
    attained: float
    lower: float

    @property
    def ratio(self) -> float:
        """``proved / sqrt(ln n)``."""
        return self.proved / math.sqrt(math.log(self.n))


def largest_feasible_bound(
    n: int,
    *,
    d: int = 8,
    target: float = 1e-2,
    rank_exponent: float = 0.5,
    dtype: torch.dtype | None = torch.float64,
    tol: float = 1e-3,
    step: float = 0.02,
) -> FeasibleBound:
    """The largest ``B`` at which the polynomial method with rank at most ``n^rank_exponent``
    guarantees ``target`` (per unit of ``max|V|``) for every input with entries in
    ``[-B, B]``, ``n`` keys and ``d`` dimensions.

    The default budget ``sqrt(n)`` keeps the method's time ``O(n r d) = O(n^1.5 d)``,
    truly sub-quadratic. The guarantee is the certified worst-case bound of
    :func:`~ptheory.efficiency.select_degree` (with ``dtype``, the kernel's rounding on
    ``n`` keys included) for the minimax or Chebyshev polynomial of the largest affordable
    degree ``g`` or of ``g - 1``, ``g - 2`` (which round less); ``B`` is found by
    bisection to ``tol`` (relative). The limit is then
    checked from above: at ``B (1 + step)`` the two-cluster input of the minimax
    polynomial of the largest affordable degree (:func:`~ptheory.efficiency.certificate.
    two_cluster_input`, float64) and de la Vallee Poussin's lower bound for every
    polynomial of that degree (:func:`~ptheory.efficiency.minimax_lower_bound`).
    """
    n = check_int(n, "n", minimum=2)
    d = check_int(d, "d", minimum=1)
    target = check_real(target, "target", minimum=0.0, strict_minimum=True)
    rank_exponent = check_real(rank_exponent, "rank_exponent", minimum=0.0, maximum=2.0)
    tol = check_real(tol, "tol", minimum=0.0, strict_minimum=True)
    step = check_real(step, "step", minimum=0.0, strict_minimum=True)
    budget = n**rank_exponent
    g = _largest_degree(d, budget)
    if g < 0:
        return FeasibleBound(n, d, target, -1, 0, 0.0, "", 0.0, math.nan, math.nan)

    from .degree import _worst_case_bound

    def plan(B: float) -> str | None:
        """The polynomial that certifies ``target`` at ``B`` with degree ``g`` or one of the
        two below it (higher degrees approximate better but round more), else None."""
        for g_try in range(g, max(-1, g - 3), -1):
            for m in ("minimax", "chebyshev"):
                if _worst_case_bound(g_try, m, B, d, dtype, n)[0] <= target:
                    return m
        return None

    lo, hi = 0.0, 1.0
    while plan(hi) is not None:
        lo, hi = hi, 2 * hi
    while hi - lo > tol * max(lo, 1e-3):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if plan(mid) is not None else (lo, mid)
    method = plan(lo) or ""
    above = lo * (1 + step)
    R = above * above
    cert = certify(g, R, "minimax")
    Q, K, V = two_cluster_input(cert, above, d=d, n=4096)
    err = float(
        (poly_attention(Q, K, V, g, "minimax", radius=R) - exact_attention(Q, K, V, reference=True))
        .abs()
        .max()
    )
    lb = minimax_lower_bound(g, R)
    lower = range_attention_error(-lb, lb) if lb < 1 else math.inf
    return FeasibleBound(n, d, target, g, math.comb(d + g, g), lo, method, above, err, lower)
