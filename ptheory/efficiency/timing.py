"""The benchmark's engine: the almost-linear algorithm at a guaranteed error, against fair
baselines.

Serves Hu et al. (2025), the almost-linear inference result. For each ``n`` and each entry bound
``B`` (fixed, or ``alpha sqrt(ln n)``): ``Q, K`` uniform in ``[-B, B]^(n x d)``; the polynomial
method at the degree :func:`~ptheory.efficiency.select_degree` guarantees for ``eps``
(Chebyshev, scores in ``[-B^2, B^2]``); exact attention (PyTorch's
``scaled_dot_product_attention``, same dtype); Performer (FAVOR+) and ELU+1 linear attention at
the same rank. All methods run on the same thread count, are warmed up once, then timed ``runs``
times *interleaved* (one run of each in turn, so load on a shared machine hits all alike), and
the median is kept. Errors are max-abs against float64 exact attention on the first
``error_rows`` queries, per unit of ``max|V|`` and relative to the exact output's spread around
``mean(V)`` (the error of the trivial algorithm that returns ``mean(V)``, reported as its own
row), for ``V`` uniform in ``[-1, 1]`` (``random``) and ``V = K / B`` (``correlated``).
"""

from __future__ import annotations

import contextlib
import ctypes
import itertools
import math
import os
import statistics
import time
from collections.abc import Callable, Mapping, Sequence

import torch

from .._validate import check_int, check_real
from ..model import torch_threads
from ._inputs import check_method
from .baselines import elu_attention, performer_attention
from .degree import exact_flops, poly_flops, select_degree
from .exact import exact_attention
from .polynomial import poly_attention, poly_error_bound

__all__ = [
    "benchmark_attention",
    "best_time",
    "crossover_size",
    "interleaved_times",
    "matmul_roofline",
    "peak_memory",
]

METHODS = ("exact", "poly", "performer", "elu")
VALUES = ("random", "correlated")


def best_time(fn: Callable[[], object], repeats: int = 3) -> float:
    """Median wall-clock time of ``fn()`` in seconds over ``repeats`` runs after one
    warm-up (the name is kept from an earlier version, which took the minimum)."""
    if not callable(fn):
        raise TypeError(f"fn must be callable, got {type(fn).__name__}")
    repeats = check_int(repeats, "repeats", minimum=1)
    return interleaved_times({"fn": fn}, repeats)["fn"]


def interleaved_times(fns: Mapping[str, Callable[[], object]], runs: int = 3) -> dict[str, float]:
    """Median wall-clock seconds of each function: one warm-up call each, then ``runs``
    rounds that call every function once in turn, so that load from other processes falls
    on all of them alike."""
    if not isinstance(fns, Mapping) or not fns or not all(callable(f) for f in fns.values()):
        raise TypeError("fns must be a non-empty mapping from names to callables")
    runs = check_int(runs, "runs", minimum=1)
    for fn in fns.values():
        fn()
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(runs):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def _status_kb(field: str) -> int | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


_MMAP_FIXED = False


def _fix_mmap_threshold() -> None:
    """Make glibc serve every block of 128 KiB or more by ``mmap`` and return it on free
    (a fixed ``M_MMAP_THRESHOLD``), so that freed buffers do not hide later peaks."""
    global _MMAP_FIXED
    if not _MMAP_FIXED:
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL("libc.so.6").mallopt(-3, 128 * 1024)  # M_MMAP_THRESHOLD
        _MMAP_FIXED = True


def peak_memory(fn: Callable[[], object]) -> int | None:
    """Bytes by which ``fn()`` raises the process's peak resident memory (Linux ``VmHWM``,
    reset through ``/proc/self/clear_refs``); ``None`` where that is unavailable. Fixes
    glibc's mmap threshold at 128 KiB for the rest of the process (see the source)."""
    if not callable(fn):
        raise TypeError(f"fn must be callable, got {type(fn).__name__}")
    _fix_mmap_threshold()
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        return None
    before = _status_kb("VmRSS")
    fn()
    after = _status_kb("VmHWM")
    if before is None or after is None:
        return None
    return max(0, after - before) * 1024


def matmul_roofline(n: int, rank: int, d_v: int, *, runs: int = 3) -> dict:
    """The same machine's plain matmuls of the polynomial method's shapes: ``(r x n) @
    (n x (d_v + 1))`` (keys) and ``((d_v + 1) x r) @ (r x n)`` (queries), fp32, on the
    current threads. Returns ``seconds``, ``gflops`` (``4 n r (d_v + 1)`` flops) and
    ``gbytes`` (operands read and result written, GB/s)."""
    n = check_int(n, "n", minimum=1)
    rank = check_int(rank, "rank", minimum=1)
    d_v = check_int(d_v, "d_v", minimum=1)
    gen = torch.Generator().manual_seed(0)
    F = torch.rand(rank, n, generator=gen)
    VV = torch.rand(n, d_v + 1, generator=gen)
    S = torch.rand(d_v + 1, rank, generator=gen)
    t = interleaved_times({"mm": lambda: (F @ VV, S @ F)}, runs)["mm"]
    flops = 4.0 * n * rank * (d_v + 1)
    nbytes = 4.0 * (2 * rank * n + n * (d_v + 1) * 2 + 2 * rank * (d_v + 1))
    return {"seconds": t, "gflops": flops / t / 1e9, "gbytes": nbytes / t / 1e9}


def _configs(
    n: int, entry_bounds: Sequence[float], alphas: Sequence[float]
) -> list[tuple[str, float]]:
    root = math.sqrt(math.log(n))
    return [(f"B={B:g}", B) for B in entry_bounds] + [
        (f"{a:g}*sqrt(ln n)", a * root) for a in alphas
    ]


def _plan(B: float, eps: float, d: int, n: int, method: str):
    try:
        plan = select_degree(B, eps, d, method=method)
    except ValueError:
        return None, False
    return plan, poly_flops(n, n, d, plan.degree) < exact_flops(n, n, d)


def _errors(out: torch.Tensor, ref: torch.Tensor, v_max: float, spread: float) -> dict:
    err = float((out[: ref.shape[0]].double() - ref).abs().max())
    return {"abs": err / v_max, "rel": err / spread if spread > 0 else math.inf}


def benchmark_attention(
    sizes: Sequence[int],
    *,
    d: int = 8,
    eps: float = 1e-3,
    entry_bounds: Sequence[float] = (0.25, 0.5, 1.0),
    alphas: Sequence[float] = (0.125, 0.25, 0.5, 1.0),
    method: str = "chebyshev",
    threads: Sequence[int | None] = (1, None),
    runs: int = 3,
    baselines: bool = True,
    errors: bool = True,
    error_rows: int = 4096,
    memory: bool = False,
    timing: bool = True,
    baseline_max_rank: int = 8192,
    seed: int = 0,
) -> dict:
    """Time and check the polynomial method at its guaranteed degree against exact
    attention and the baselines; see the module docstring for the protocol.

    Returns a JSON-ready dict: the configuration, ``load`` (the 1-minute load average at
    the start and end), and ``rows``, one per (thread count, ``n``, ``B``): ``n, config,
    entry_bound, degree, rank, affordable`` (the cost model's verdict; the polynomial
    method and the baselines run only when it holds), ``threads``, ``seconds`` (median
    per method), ``speedup`` (exact over polynomial), ``proved`` (the exact-arithmetic
    bound per ``max|V|``, at most ``eps``), ``proved_fp`` (with fp32 rounding,
    :func:`~ptheory.efficiency.poly_error_bound`), ``errors`` and ``mean_v`` per kind of
    ``V`` and ``memory`` (bytes of peak-memory increase per method, with ``memory``).
    The baselines run only up to rank ``baseline_max_rank`` (their ``n x r`` feature
    chunks grow with the rank). Errors are computed on one thread, so they do not depend
    on the thread count; with ``timing=False`` nothing is timed (one row per ``n`` and
    ``B``, ``seconds`` empty) and the result is deterministic.
    """
    if isinstance(sizes, str | bytes) or not isinstance(sizes, Sequence):
        raise TypeError(f"sizes must be a sequence of integers, got {type(sizes).__name__}")
    if not sizes:
        raise ValueError("sizes must hold at least one size")
    sizes = [check_int(n, "sizes", minimum=2) for n in sizes]
    d = check_int(d, "d", minimum=1)
    eps = check_real(eps, "eps", minimum=0.0, strict_minimum=True)
    for name, seq in (("entry_bounds", entry_bounds), ("alphas", alphas)):
        if isinstance(seq, str | bytes) or not isinstance(seq, Sequence):
            raise TypeError(f"{name} must be a sequence of numbers")
    entry_bounds = [
        check_real(b, "entry_bounds", minimum=0.0, strict_minimum=True) for b in entry_bounds
    ]
    alphas = [check_real(a, "alphas", minimum=0.0, strict_minimum=True) for a in alphas]
    if not entry_bounds and not alphas:
        raise ValueError("entry_bounds and alphas must not both be empty")
    method = check_method(method)
    if isinstance(threads, str | bytes) or not isinstance(threads, Sequence) or not threads:
        raise TypeError("threads must be a non-empty sequence of thread counts (or None: all)")
    threads = [None if k is None else check_int(k, "threads", minimum=1) for k in threads]
    runs = check_int(runs, "runs", minimum=1)
    flags = (("baselines", baselines), ("errors", errors), ("memory", memory), ("timing", timing))
    for name, flag in flags:
        if not isinstance(flag, bool):
            raise TypeError(f"{name} must be a bool, got {type(flag).__name__}")
    error_rows = check_int(error_rows, "error_rows", minimum=1)
    baseline_max_rank = check_int(baseline_max_rank, "baseline_max_rank", minimum=1)
    seed = check_int(seed, "seed", minimum=0)
    all_threads = torch.get_num_threads()
    load0 = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    rows = []
    for n in sizes:
        gen = torch.Generator().manual_seed(seed * 1_000_003 + n)
        Q0, K0, V = (torch.rand(n, d, generator=gen) * 2 - 1 for _ in range(3))
        cases = []
        for label, B in _configs(n, entry_bounds, alphas):
            plan, affordable = _plan(B, eps, d, n, method)
            cases.append((label, B, plan, affordable, B * Q0, B * K0))
        with torch_threads(1):
            checks = (
                _check_cases(cases, V, d, error_rows, baselines, baseline_max_rank)
                if errors
                else {}
            )
        for k in threads if timing else [None]:
            seconds: dict[str, float] = {}
            mem: dict = {}
            with torch_threads(k):
                fns: dict[str, Callable[[], object]] = {
                    "exact": lambda Q0=Q0, K0=K0, V=V: exact_attention(Q0, K0, V)
                }
                for label, B, plan, affordable, Q, K in cases:
                    if not affordable:
                        continue
                    g, R = plan.degree, B * B
                    fns[f"poly {label}"] = lambda Q=Q, K=K, V=V, g=g, R=R: poly_attention(
                        Q, K, V, g, method, radius=R
                    )
                    if baselines and plan.rank <= baseline_max_rank:
                        r = plan.rank
                        fns[f"performer {label}"] = lambda Q=Q, K=K, V=V, r=r: performer_attention(
                            Q, K, V, r
                        )
                        fns[f"elu {label}"] = lambda Q=Q, K=K, V=V, r=r: elu_attention(Q, K, V, r)
                if timing:
                    seconds = interleaved_times(fns, runs)
                    if memory:
                        mem = {name: peak_memory(fn) for name, fn in fns.items()}
            for label, B, plan, affordable, _, _ in cases:
                row = {
                    "n": n,
                    "config": label,
                    "entry_bound": B,
                    "degree": None if plan is None else plan.degree,
                    "rank": None if plan is None else plan.rank,
                    "affordable": affordable,
                    "threads": all_threads if k is None else k,
                    "seconds": {m: seconds[m] for m in ("exact",) if m in seconds},
                    "memory": {"exact": mem.get("exact")} if mem else {},
                    "speedup": None,
                    "proved": None if plan is None else plan.error_bound,
                }
                for m in METHODS[1:]:
                    if f"{m} {label}" in seconds:
                        row["seconds"][m] = seconds[f"{m} {label}"]
                        if mem:
                            row["memory"][m] = mem[f"{m} {label}"]
                if "poly" in row["seconds"]:
                    row["speedup"] = seconds["exact"] / row["seconds"]["poly"]
                row.update(checks.get(label, {}))
                rows.append(row)
    load1 = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    return {
        "d": d,
        "eps": eps,
        "method": method,
        "dtype": "float32",
        "runs": runs,
        "statistic": "median",
        "threads": [all_threads if k is None else k for k in threads] if timing else [],
        "error_rows": error_rows,
        "load": [load0, load1],
        "rows": rows,
    }


def _check_cases(cases, V, d, error_rows, baselines, max_rank) -> dict:
    """Errors (both kinds of ``V``), the mean(V) row and the fp32 bound of each case."""
    out = {}
    for label, B, plan, affordable, Q, K in cases:
        res: dict = {"errors": {}, "mean_v": {}, "proved_fp": None}
        for kind in VALUES:
            Vk = V if kind == "random" else K / B
            v_max = float(Vk.abs().max())
            ref = exact_attention(Q[:error_rows], K, Vk, reference=True)
            spread = float((ref - Vk.double().mean(0)).abs().max())
            res["mean_v"][kind] = {"abs": spread / v_max, "rel": 1.0}
            errs = {}
            if affordable:
                g, R = plan.degree, B * B
                errs["poly"] = _errors(
                    poly_attention(Q, K, Vk, g, "chebyshev", radius=R), ref, v_max, spread
                )
                if baselines and plan.rank <= max_rank:
                    errs["performer"] = _errors(
                        performer_attention(Q, K, Vk, plan.rank), ref, v_max, spread
                    )
                    errs["elu"] = _errors(elu_attention(Q, K, Vk, plan.rank), ref, v_max, spread)
                if kind == "random":
                    res["proved_fp"] = poly_error_bound(Q, K, Vk, g, "chebyshev", radius=R) / v_max
            errs["exact"] = _errors(exact_attention(Q[:error_rows], K, Vk), ref, v_max, spread)
            res["errors"][kind] = errs
        out[label] = res
    return out


def crossover_size(
    result: dict, config: str | None = None, threads: int | None = None
) -> float | None:
    """The ``n`` at which the polynomial method becomes faster than exact attention for one
    ``config`` (default: the first) and thread count (default: the first), by log-log
    interpolation of the measured speed-up; ``None`` if it never does, the smallest size
    if it always does."""
    if not isinstance(result, dict) or "rows" not in result:
        raise TypeError("result must be the dict returned by benchmark_attention")
    rows = result["rows"]
    if not rows:
        return None
    config = rows[0]["config"] if config is None else config
    threads = rows[0]["threads"] if threads is None else threads
    pts = [
        (r["n"], r["speedup"])
        for r in rows
        if r["config"] == config and r["threads"] == threads and r["speedup"] is not None
    ]
    if not pts:
        return None
    if pts[0][1] >= 1.0:
        return float(pts[0][0])
    for (n0, s0), (n1, s1) in itertools.pairwise(pts):
        if s0 < 1.0 <= s1:
            t = -math.log(s0) / (math.log(s1) - math.log(s0))
            return float(math.exp(math.log(n0) + t * (math.log(n1) - math.log(n0))))
    return None
