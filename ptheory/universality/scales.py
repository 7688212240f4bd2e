"""At which attention scales two contextual codes coincide (the book's own lemma, checked).

The code of the triple ``t`` = (grid prompt, grid input, input position) is, as a function
of the attention scale ``beta``,

    zeta_t(beta) = q + sum_i theta_i e^{beta q theta_i} / sum_i e^{beta q theta_i},

with ``theta`` the integer token codes of ``[P, X]`` (:func:`~.precision.token_codes`) and
``q`` the query's own code. For two distinct triples the difference ``zeta_t - zeta_u`` is
a real-analytic function of ``beta``, not identically zero, with finitely many zeros
(the lemma of the chapter on contextual mappings). So the scales at which two codes
coincide form a finite set; this module locates them and measures what the lemma
predicts:

* :func:`taylor_order`: expand every code in powers of ``beta``, exactly (rational
  arithmetic); the largest number ``nu`` of leading coefficients that two triples share
  is the order to which they collide at ``beta = 0``, so the smallest gap shrinks like
  ``beta^nu`` as ``beta -> 0``;
* :func:`small_scale_slope`: that exponent measured, from exact codes at two small scales;
* :func:`collision_sweep`: exact codes on a grid of scales; between two neighbouring
  scales, every pair of triples whose order changes coincides somewhere in between
  (intermediate value theorem), so each change is a collision, found exactly;
* :func:`nearest_collisions`: the collisions nearest to a scale, found by a certified
  search (every code moves with the scale at a bounded rate, :func:`slope_bound`) and
  located in ``mpmath`` to many digits.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

import mpmath
import numpy as np

from .._validate import check_int, check_real
from .build import dimensions
from .precision import as_beta, exact_codes, log10_relative_separation, token_codes

__all__ = [
    "Collision",
    "CollisionSweep",
    "TaylorOrder",
    "code_at",
    "collision_sweep",
    "nearest_collisions",
    "slope_bound",
    "small_scale_slope",
    "taylor_order",
    "triple",
]


def triple(d: int, L: int, delta: float, index: int) -> tuple[int, int, int]:
    """``(m, g, k)``: grid prompt, grid input and input position (from 0) of the code with
    ``index`` in the order of :func:`~.precision.exact_codes`."""
    dims = dimensions(d, L, delta)
    index = check_int(index, "index", minimum=0, maximum=dims.n_codes - 1)
    mg, k = divmod(index, L)
    m, g = divmod(mg, dims.grid_size)
    return m, g, k


def _sequence(d: int, L: int, delta: float, index: int) -> tuple[list[int], int]:
    prompt, inputs = token_codes(d, L, delta)
    m, g, k = triple(d, L, delta, index)
    x = inputs[g].tolist()
    return prompt[m].tolist() + x, x[k]


# ------------------------------------------------------------------ small scales
@dataclass(frozen=True)
class TaylorOrder:
    """``nu``: the largest number of leading Taylor coefficients (in ``beta``) that the
    codes of two distinct triples share; ``pair``: two triples (indices in the order of
    :func:`~.precision.exact_codes`) that share ``nu``; ``same_query``: whether their
    queries have the same code; ``n``: the sequence length ``L_p + L``."""

    nu: int
    pair: tuple[int, int]
    same_query: bool
    n: int


class _Series:
    """Taylor coefficients of one code in ``beta``, computed exactly on demand.

    ``zeta(beta) = q + A + boltz(beta q)`` with ``boltz(s) = sum_j b_j s^j`` the Boltzmann
    average of the centred codes ``theta - A``: ``b = N / Z`` with ``N_j = p_{j+1} / j!``,
    ``Z_j = p_j / j!`` and ``p_j`` the power sums. Coefficient ``j`` is ``b_j q^j`` (plus
    ``q + A`` for ``j = 0``).
    """

    def __init__(self, centred: list[int], q: int, shift: int) -> None:
        self.values, self.q, self.shift = centred, q, shift
        self.p: list[int] = [len(centred)]
        self.b: list[Fraction] = []

    def coefficient(self, j: int) -> Fraction:
        while len(self.b) <= j:
            i = len(self.b)
            while len(self.p) < i + 2:
                m = len(self.p)
                self.p.append(sum(v**m for v in self.values))
            num = Fraction(self.p[i + 1], math.factorial(i))
            num -= sum(
                (self.b[r] * Fraction(self.p[i - r], math.factorial(i - r)) for r in range(i)),
                Fraction(0),
            )
            self.b.append(num / self.p[0])
        if j == 0:
            return self.q + self.shift + self.b[0]
        return self.b[j] * self.q**j


def taylor_order(d: int, L: int, delta: float, *, max_order: int | None = None) -> TaylorOrder:
    """The exponent ``nu`` of the smallest gap at small scales, in exact arithmetic.

    Groups the triples by their Taylor coefficients, one order at a time, until every
    group is a single triple: ``nu`` is the number of orders at which some group still
    held two. Raises ``RuntimeError`` if two triples agree beyond ``max_order``
    (default ``4 n``), which the lemma rules out.
    """
    prompt, inputs = token_codes(d, L, delta)
    M, L_p = prompt.shape
    G = inputs.shape[0]
    n = L_p + L
    cap = 4 * n if max_order is None else check_int(max_order, "max_order", minimum=1)
    shift = int(prompt.min())
    P = (prompt - shift).tolist()
    X = (inputs - shift).tolist()
    series = {}

    def coef(t: int, j: int) -> Fraction:
        if t not in series:
            mg, k = divmod(t, L)
            m, g = divmod(mg, G)
            series[t] = _Series(P[m] + X[g], X[g][k] + shift, shift)
        return series[t].coefficient(j)

    groups = [list(range(M * G * L))]
    nu, pair = 0, (0, 1)
    for level in range(cap + 1):
        refined = []
        for group in groups:
            by_value: dict[Fraction, list[int]] = {}
            for t in group:
                by_value.setdefault(coef(t, level), []).append(t)
            refined += [g for g in by_value.values() if len(g) > 1]
        if not refined:
            break
        nu, pair, groups = level + 1, (refined[0][0], refined[0][1]), refined
    else:
        raise RuntimeError(f"two triples share more than {cap} Taylor coefficients")
    q = [_sequence(d, L, delta, t)[1] for t in pair]
    return TaylorOrder(nu=nu, pair=pair, same_query=q[0] == q[1], n=n)


def small_scale_slope(
    d: int,
    L: int,
    delta: float,
    factors: tuple[float, float] = (1e-4, 1e-3),
    *,
    beta: float | None = None,
) -> float:
    """Log-log slope of the smallest relative gap (exact codes) between ``factors[0] beta``
    and ``factors[1] beta`` (``beta``: the construction's scale by default)."""
    if len(factors) != 2:
        raise ValueError(f"factors must be two scales, got {factors!r}")
    lo = check_real(factors[0], "factors", minimum=0.0, strict_minimum=True)
    hi = check_real(factors[1], "factors", minimum=0.0, strict_minimum=True)
    if not lo < hi:
        raise ValueError(f"factors must increase, got {factors!r}")
    b = float(as_beta(d, L, delta, beta))
    gaps = [log10_relative_separation(exact_codes(d, L, delta, beta=f * b)) for f in (lo, hi)]
    return (gaps[1] - gaps[0]) / (math.log10(hi) - math.log10(lo))


# ------------------------------------------------------------------ a sweep of scales
@dataclass(frozen=True)
class CollisionSweep:
    """Exact codes at the scales ``factors * beta``.

    ``log10_gap``: ``log10`` of the smallest gap over the code range at each scale (exact;
    ``-inf`` where two codes coincide); ``swaps``: for each pair of neighbouring scales, how many
    pairs of triples change order between them, each pair at least one exact collision in
    between.
    """

    d: int
    L: int
    delta: float
    beta: float
    factors: np.ndarray
    log10_gap: np.ndarray
    swaps: np.ndarray

    @property
    def collisions(self) -> int:
        """Pairs that change order between neighbouring scales, summed over the sweep."""
        return int(self.swaps.sum())


def _ranks(codes: np.ndarray) -> np.ndarray:
    order = sorted(range(len(codes)), key=codes.__getitem__)
    ranks = np.empty(len(codes), dtype=np.int64)
    ranks[order] = np.arange(len(codes))
    return ranks


def _order_changes(before: np.ndarray, after: np.ndarray) -> tuple[int, tuple[int, int] | None]:
    """How many pairs of triples are ordered differently by the ranks ``before`` and
    ``after`` (the inversions, counted by merge sort), and one such pair (``None`` if
    the orders agree): two triples adjacent in the first order and swapped in the second,
    which exists whenever the orders differ."""
    order = np.argsort(before)
    later = after[order].tolist()
    pair = None
    for i in range(len(later) - 1):
        if later[i] > later[i + 1]:
            pair = (int(order[i]), int(order[i + 1]))
            break
    if pair is None:
        return 0, None

    def count(xs: list[int]) -> tuple[list[int], int]:
        if len(xs) <= 1:
            return xs, 0
        mid = len(xs) // 2
        left, a = count(xs[:mid])
        right, b = count(xs[mid:])
        merged, inv, i, j = [], a + b, 0, 0
        while i < len(left) and j < len(right):
            if left[i] <= right[j]:
                merged.append(left[i])
                i += 1
            else:
                merged.append(right[j])
                inv += len(left) - i
                j += 1
        return merged + left[i:] + right[j:], inv

    return count(later)[1], pair


def collision_sweep(
    d: int, L: int, delta: float, factors: Sequence[float], *, beta: float | None = None
) -> CollisionSweep:
    """Exact codes at ``factors[i] * beta`` (increasing factors; ``beta`` the construction's
    by default): the smallest gap at each scale and the collisions between neighbouring
    scales (see :class:`CollisionSweep`)."""
    if isinstance(factors, (str, bytes)) or not isinstance(factors, Sequence) or len(factors) < 2:
        raise TypeError("factors must be a sequence of at least two positive numbers")
    f = np.array([check_real(x, "factors", minimum=0.0, strict_minimum=True) for x in factors])
    if not np.all(np.diff(f) > 0):
        raise ValueError("factors must increase")
    b = float(as_beta(d, L, delta, beta))
    gaps, swaps, previous = [], [], None
    for x in f:
        codes = exact_codes(d, L, delta, beta=x * b)
        gaps.append(log10_relative_separation(codes))
        ranks = _ranks(codes)
        if previous is not None:
            swaps.append(_order_changes(previous, ranks)[0])
        previous = ranks
    dims = dimensions(d, L, delta)
    return CollisionSweep(
        d=dims.d,
        L=dims.L,
        delta=dims.delta,
        beta=b,
        factors=f,
        log10_gap=np.array(gaps),
        swaps=np.array(swaps, dtype=np.int64),
    )


# ------------------------------------------------------------------ one collision
def code_at(
    d: int, L: int, delta: float, index: int, beta: object, *, digits: int = 80
) -> mpmath.mpf:
    """The code of triple ``index`` at scale ``beta`` (see :func:`~.precision.as_beta`),
    in ``mpmath`` with ``digits`` decimal digits: an ``mpmath.mpf``."""
    digits = check_int(digits, "digits", minimum=15)
    values, q = _sequence(d, L, delta, index)
    with mpmath.workdps(digits):
        b = as_beta(d, L, delta, beta)
        return _code(values, q, b)


def _code(values: list[int], q: int, beta: mpmath.mpf) -> mpmath.mpf:
    """``q + sum_i a_i e^{beta q a_i} / sum_i e^{beta q a_i}`` at the working precision."""
    top = max(values)
    w = [mpmath.exp(beta * q * (a - top)) for a in values]
    return q + mpmath.fsum(a * wi for a, wi in zip(values, w, strict=True)) / mpmath.fsum(w)


def slope_bound(d: int, L: int, delta: float) -> float:
    """``D``: a bound on ``|d/dbeta (zeta_t - zeta_u)|`` for every two triples, at every
    ``beta >= 0``.

    ``d zeta_t / d beta = q Var(theta)``, the query's code times the variance of the codes
    under the softmax weights, which lies in ``[0, q (max - min)^2 / 4]`` (Popoviciu's
    inequality). A difference of two numbers in ``[0, c]`` is at most ``c`` in absolute
    value, so ``D = max_t q_t (max_t - min_t)^2 / 4`` over the triples' sequences."""
    prompt, inputs = token_codes(d, L, delta)
    lo = int(prompt.min(dim=1).values.min())  # the smallest code of any sequence
    hi = int(inputs.max())  # the largest, and the largest query
    return hi * (hi - lo) ** 2 / 4


@dataclass(frozen=True)
class Collision:
    """Two triples (``pair``, indices) whose codes coincide at ``beta`` (an ``mpmath``
    number, located to ``digits`` digits: the codes change order within
    ``beta (1 +- 10^-digits)``); ``ratio = beta / beta_0`` for the reference scale
    ``beta_0``. :func:`nearest_collisions` certifies that no two codes coincide strictly
    between ``beta_0`` and ``beta`` (up to that location)."""

    pair: tuple[int, int]
    beta: object
    ratio: float
    digits: int


def _bisect(d, L, delta, pair, lo, hi, digits):
    with mpmath.workdps(digits + 20):
        lo, hi = mpmath.mpf(lo), mpmath.mpf(hi)

        def diff(b):
            return code_at(d, L, delta, pair[0], b, digits=digits + 20) - code_at(
                d, L, delta, pair[1], b, digits=digits + 20
            )

        f_lo = diff(lo)
        if f_lo * diff(hi) > 0:
            raise RuntimeError("the pair does not change order between the two scales")
        for _ in range(math.ceil((digits + 2) * math.log2(10))):
            mid = (lo + hi) / 2
            f_mid = diff(mid)
            if f_mid == 0:
                return mid
            if (f_mid > 0) == (f_lo > 0):
                lo, f_lo = mid, f_mid
            else:
                hi = mid
        return (lo + hi) / 2


def _candidates(
    near: dict[int, mpmath.mpf],
    far: dict[int, mpmath.mpf],
    pairs: list[tuple[int, int]],
    reach: mpmath.mpf,
) -> list[tuple[int, int]]:
    """The pairs that can coincide between two scales ``reach / D`` apart: a zero of
    ``g = zeta_t - zeta_u`` there needs ``|g(near)| + |g(far)| <= D |far - near|``."""
    return [(t, u) for t, u in pairs if abs(near[t] - near[u]) + abs(far[t] - far[u]) <= reach]


def _close_pairs(codes: dict[int, mpmath.mpf], width: mpmath.mpf) -> list[tuple[int, int]]:
    """Every pair of triples whose codes are at most ``width`` apart (sorted sweep)."""
    order = sorted(codes, key=codes.__getitem__)
    pairs = []
    for i, t in enumerate(order):
        for u in order[i + 1 :]:
            if codes[u] - codes[t] > width:
                break
            pairs.append((t, u) if t < u else (u, t))
    return pairs


def nearest_collisions(
    d: int,
    L: int,
    delta: float,
    *,
    beta: float | None = None,
    window: float = 0.01,
    digits: int = 60,
) -> tuple[Collision | None, Collision | None]:
    """The collisions nearest to ``beta`` (the construction's scale by default), below and
    above, within ``beta (1 -+ window)``, certified to be the nearest.

    A certified search, not sampling. Every code moves with the scale at a rate of at most
    ``D`` (:func:`slope_bound`), so two codes whose gap is ``g_1`` at one scale and ``g_2``
    at another, ``h`` apart, can only coincide in between if ``|g_1| + |g_2| <= D h``.
    The search starts with the whole interval from ``beta`` to the end of the window and
    the pairs that pass this test; it halves the interval, nearer half first, keeping in
    each half the pairs that still pass, and drops halves where none does. The first
    interval shorter than ``beta 10^-digits`` in which a pair changes order holds the
    nearest collision; the pair's crossing is then located by bisection. No pair is
    skipped, however many times it crosses, and ``None`` means that no two codes
    coincide in the window. Codes are computed in ``mpmath`` with ``digits + 30`` digits.
    """
    window = check_real(window, "window", minimum=0.0, strict_minimum=True, maximum=0.5)
    digits = check_int(digits, "digits", minimum=15)
    b0 = float(as_beta(d, L, delta, beta))
    values = [_sequence(d, L, delta, t) for t in range(dimensions(d, L, delta).n_codes)]
    D = slope_bound(d, L, delta)
    found = []
    with mpmath.workdps(digits + 30):
        base = mpmath.mpf(b0)
        tol = base * mpmath.mpf(10) ** -digits

        def codes(b: mpmath.mpf, triples) -> dict[int, mpmath.mpf]:
            weight: dict[tuple[int, int], mpmath.mpf] = {}  # one exponential per (q, a)
            out = {}
            for t in triples:
                seq, q = values[t]
                top = max(seq)
                w = []
                for a in seq:
                    if (q, a - top) not in weight:
                        weight[q, a - top] = mpmath.exp(b * q * (a - top))
                    w.append(weight[q, a - top])
                out[t] = q + mpmath.fsum(a * x for a, x in zip(seq, w, strict=True)) / mpmath.fsum(
                    w
                )
            return out

        everyone = range(len(values))
        at_base = codes(base, everyone)
        for side in (-1, 1):
            end = base * (1 + side * mpmath.mpf(window))
            at_end = codes(end, everyone)
            reach = D * abs(end - base)
            pairs = _candidates(at_base, at_end, _close_pairs(at_base, reach), reach)
            stack = [(base, end, at_base, at_end, pairs)]  # the nearest interval on top
            hit = None
            while stack and hit is None:
                near, far, c_near, c_far, pairs = stack.pop()
                if not pairs:
                    continue
                crossing = [
                    (t, u) for t, u in pairs if (c_near[t] - c_near[u]) * (c_far[t] - c_far[u]) <= 0
                ]
                if abs(far - near) <= tol and crossing:
                    pair = crossing[0]
                    lo, hi = sorted((near, far))
                    root = _bisect(d, L, delta, pair, lo, hi, digits + 5)
                    hit = Collision(pair, root, float(root / base), digits)
                    continue
                mid = (near + far) / 2
                triples = {t for p in pairs for t in p}
                c_mid = codes(mid, triples)
                reach = D * abs(mid - near)
                outer = _candidates(c_mid, c_far, pairs, reach)
                inner = _candidates(c_near, c_mid, pairs, reach)
                stack.append((mid, far, c_mid, c_far, outer))
                stack.append((near, mid, c_near, c_mid, inner))
            found.append(hit)
    return found[0], found[1]
