"""Timing the polynomial method against exact attention (the benchmark's engine).

Serves Hu et al. (2025), Theorem 3.1: the runtime of the polynomial method grows like
``n`` (slope 1 on log-log axes), exact attention's like ``n^2``. Inputs follow the issue's
protocol: ``Q, K, V`` uniform in ``[-1, 1]``, one head, score scale ``1/d`` for both
methods, errors as max-abs against float64 exact attention.
"""

from __future__ import annotations

import contextlib
import itertools
import math
import time
from collections.abc import Callable, Iterator, Sequence

import torch

from .._validate import check_int, check_real
from ..measure import loglog_slope
from ._inputs import check_degree, check_method
from .exact import exact_attention
from .polynomial import poly_attention, poly_error_bound

__all__ = ["benchmark_attention", "best_time", "crossover_size"]


def best_time(fn: Callable[[], object], repeats: int = 3, *, budget: float = 0.0) -> float:
    """Smallest wall-clock time of ``fn()`` in seconds over ``repeats`` runs after one
    warm-up; fast functions are repeated until about ``budget`` seconds are spent (at most
    200 runs). The minimum is the estimate least disturbed by other load on the machine."""
    if not callable(fn):
        raise TypeError(f"fn must be callable, got {type(fn).__name__}")
    repeats = check_int(repeats, "repeats", minimum=1)
    budget = check_real(budget, "budget", minimum=0.0)
    fn()
    times: list[float] = []
    while len(times) < repeats or (sum(times) < budget and len(times) < 200):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


@contextlib.contextmanager
def _threads(k: int | None) -> Iterator[None]:
    """Run the body with ``k`` intra-op CPU threads (``None``: leave them), then restore."""
    before = torch.get_num_threads()
    if k is not None:
        torch.set_num_threads(k)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _sizes(sizes: Sequence[int], name: str) -> list[int]:
    if isinstance(sizes, str | bytes) or not isinstance(sizes, Sequence):
        raise TypeError(f"{name} must be a sequence of integers, got {type(sizes).__name__}")
    if not sizes:
        raise ValueError(f"{name} must hold at least one size")
    return [check_int(n, name, minimum=2) for n in sizes]


def benchmark_attention(
    sizes: Sequence[int],
    *,
    d: int = 8,
    degree: int = 2,
    method: str = "taylor",
    repeats: int = 3,
    exact_up_to: int | None = None,
    error: bool = True,
    dtype: torch.dtype = torch.float32,
    seed: int = 0,
    poly_threads: int | None = None,
) -> dict:
    """Time exact attention (``scaled_dot_product_attention``) and the polynomial method.

    For each ``n`` in ``sizes``: ``Q, K, V: (n, d)`` uniform in ``[-1, 1]`` (from ``seed``),
    the best of ``repeats`` timings of each method (exact only for ``n <= exact_up_to``,
    default all), the speed-up, and with ``error`` the max-abs error of the polynomial
    output against float64 exact attention and its proved bound. Returns a JSON-ready dict:
    ``rows`` (one dict per ``n``: ``n, exact_s, poly_s, speedup, error, bound``; missing
    values are ``None``), ``slope_exact``, ``slope_poly`` (log-log fits over the sizes
    measured) and the configuration.

    ``poly_threads`` runs the polynomial method with that many CPU threads (exact attention
    keeps PyTorch's setting): with ``1`` the comparison handicaps the polynomial method on a
    multi-core machine, but its timings stay stable when other processes load the cores
    (its many small parallel regions suffer most from contention).
    """
    sizes = _sizes(sizes, "sizes")
    d = check_int(d, "d", minimum=1)
    degree = check_degree(degree)
    method = check_method(method)
    repeats = check_int(repeats, "repeats", minimum=1)
    if exact_up_to is not None:
        exact_up_to = check_int(exact_up_to, "exact_up_to", minimum=0)
    if not isinstance(error, bool):
        raise TypeError(f"error must be a bool, got {type(error).__name__}")
    if dtype not in (torch.float32, torch.float64):
        raise ValueError(f"dtype must be torch.float32 or torch.float64, got {dtype}")
    seed = check_int(seed, "seed", minimum=0)
    if poly_threads is not None:
        poly_threads = check_int(poly_threads, "poly_threads", minimum=1)
    rows = []
    for n in sizes:
        gen = torch.Generator().manual_seed(seed * 1_000_003 + n)
        Q, K, V = (torch.rand(n, d, generator=gen, dtype=dtype) * 2 - 1 for _ in range(3))
        row: dict = {"n": n, "exact_s": None, "poly_s": None, "speedup": None}
        with _threads(poly_threads):
            row["poly_s"] = best_time(
                lambda Q=Q, K=K, V=V: poly_attention(Q, K, V, degree, method), repeats, budget=0.2
            )
        if exact_up_to is None or n <= exact_up_to:
            row["exact_s"] = best_time(lambda Q=Q, K=K, V=V: exact_attention(Q, K, V), repeats)
            row["speedup"] = row["exact_s"] / row["poly_s"]
        row["error"] = row["bound"] = None
        if error:
            approx = poly_attention(Q, K, V, degree, method).double()
            ref = exact_attention(Q, K, V, reference=True)
            row["error"] = float((approx - ref).abs().max())
            row["bound"] = poly_error_bound(Q, K, V, degree, method)
        rows.append(row)
    slopes = {}
    for key in ("exact", "poly"):
        pts = [(r["n"], r[f"{key}_s"]) for r in rows if r[f"{key}_s"] is not None]
        ok = len({n for n, _ in pts}) >= 2
        slopes[key] = loglog_slope(*zip(*pts, strict=True)) if ok else None
    return {
        "d": d,
        "degree": degree,
        "method": method,
        "rank": math.comb(d + degree, degree),
        "dtype": str(dtype).removeprefix("torch."),
        "threads": torch.get_num_threads(),
        "poly_threads": torch.get_num_threads() if poly_threads is None else poly_threads,
        "repeats": repeats,
        "rows": rows,
        "slope_exact": slopes["exact"],
        "slope_poly": slopes["poly"],
    }


def crossover_size(result: dict) -> float | None:
    """The ``n`` at which the polynomial method becomes faster than exact attention, by
    log-log interpolation of the speed-up between measured sizes; ``None`` if it never
    does, the smallest size if it always does."""
    if not isinstance(result, dict) or "rows" not in result:
        raise TypeError("result must be the dict returned by benchmark_attention")
    pts = [(r["n"], r["speedup"]) for r in result["rows"] if r["speedup"] is not None]
    if not pts:
        return None
    if pts[0][1] >= 1.0:
        return float(pts[0][0])
    for (n0, s0), (n1, s1) in itertools.pairwise(pts):
        if s0 < 1.0 <= s1:
            t = -math.log(s0) / (math.log(s1) - math.log(s0))
            return float(math.exp(math.log(n0) + t * (math.log(n1) - math.log(n0))))
    return None
