"""The benchmark's engine: the almost-linear algorithm at a guaranteed error, side by side.

Serves Hu et al. (2025), the almost-linear inference result. Every timing here is *interleaved*:
one call of each method in turn (in another order each round), round after round, on the same
threads, after one warm-up call each, so that load from other processes falls on all methods
alike; medians are kept, and ratios between two methods are the median of their per-round
ratios. Exact attention is timed in rounds of its own, after the others (at large ``n`` a
call takes seconds, and its threads wait busily for milliseconds after it): its ratios to
the other methods compare medians taken in different rounds.

* :func:`benchmark_attention`: for each ``n`` and entry bound ``B`` (fixed, or
  ``alpha sqrt(ln n)``), ``Q, K`` uniform in ``[-B, B]^(n x d)``: the polynomial method at the
  degree :func:`~ptheory.efficiency.select_degree` certifies for ``eps`` *in float32 on n keys*
  (rounding included, the best of Taylor, Chebyshev and minimax), the former kernel at the
  degree the a-priori bound chose (:mod:`ptheory.efficiency._legacy`; with ``apriori=True``
  also the current kernel at that degree, which isolates what the lower degree saves), PyTorch's
  ``scaled_dot_product_attention`` (exact, float32), and Performer, ELU+1 and Nystrom at the
  same rank. Errors against float64 exact attention, on random values, on values correlated
  with the keys, and on the two-cluster input that attains the certificate.
* :func:`decode_benchmark`: one decoding step (add a token's key and value, answer its query)
  with the polynomial method's fixed-size state, against attention over a key-value cache of
  ``n`` tokens.
* :func:`error_time_curve`: error against time for each method as its rank (or degree) grows,
  for the chart at equal error.
"""

from __future__ import annotations

import contextlib
import ctypes
import math
import os
import random
import statistics
import time
from collections.abc import Callable, Mapping, Sequence

import torch

from .._validate import check_int, check_real
from ..model import torch_threads
from ._legacy import legacy_degree, legacy_poly_attention
from .baselines import elu_attention, nystrom_attention, performer_attention
from .cached import PolyDecoder, key_state
from .certificate import certify, two_cluster_input
from .degree import exact_flops, poly_flops, select_degree
from .exact import exact_attention
from .polynomial import poly_attention, poly_error_bound

__all__ = [
    "benchmark_attention",
    "crossover_size",
    "decode_benchmark",
    "error_time_curve",
    "interleaved_samples",
    "interleaved_times",
    "median_time",
    "peak_memory",
]

METHODS = ("exact", "poly", "apriori", "legacy", "performer", "elu", "nystrom")
VALUES = ("random", "correlated")


def interleaved_samples(
    fns: Mapping[str, Callable[[], object]], runs: int = 3
) -> dict[str, list[float]]:
    """Wall-clock seconds of every call: one warm-up call of each function, then ``runs``
    rounds that call every function once in turn, so that load from other processes
    falls on all of them alike. Each round calls them in another order (a fixed
    pseudo-random permutation of round ``k``), so that no function always follows the same
    one: a call can leave work behind (threads that wait busily, a cache filled with its
    data) that slows the next. Returns the ``runs`` times of each function, in round
    order."""
    if not isinstance(fns, Mapping) or not fns or not all(callable(f) for f in fns.values()):
        raise TypeError("fns must be a non-empty mapping from names to callables")
    runs = check_int(runs, "runs", minimum=1)
    for fn in fns.values():
        fn()
    times: dict[str, list[float]] = {name: [] for name in fns}
    order = list(fns.items())
    for k in range(runs):
        random.Random(k).shuffle(order)
        for name, fn in order:
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return times


def interleaved_times(fns: Mapping[str, Callable[[], object]], runs: int = 3) -> dict[str, float]:
    """Median wall-clock seconds of each function over :func:`interleaved_samples`."""
    return {name: statistics.median(t) for name, t in interleaved_samples(fns, runs).items()}


def median_time(fn: Callable[[], object], repeats: int = 3) -> float:
    """Median wall-clock time of ``fn()`` in seconds over ``repeats`` runs after one
    warm-up."""
    if not callable(fn):
        raise TypeError(f"fn must be callable, got {type(fn).__name__}")
    repeats = check_int(repeats, "repeats", minimum=1)
    return interleaved_times({"fn": fn}, repeats)["fn"]


def _ratio(samples: dict[str, list[float]], top: str, bottom: str) -> float:
    """Median over rounds of ``top / bottom``: a ratio measured under the same load."""
    return statistics.median(a / b for a, b in zip(samples[top], samples[bottom], strict=True))


def _status_kb(field: str) -> int | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def peak_memory(fn: Callable[[], object]) -> int | None:
    """Bytes by which ``fn()`` raises the process's peak resident memory (Linux ``VmHWM``,
    reset through ``/proc/self/clear_refs``); ``None`` where that is unavailable.

    It sets glibc's mmap threshold to 128 KiB for the rest of the process (so that freed
    buffers cannot hide later peaks), which changes how later allocations are served:
    call it only after every timing, as :func:`benchmark_attention` does.
    """
    if not callable(fn):
        raise TypeError(f"fn must be callable, got {type(fn).__name__}")
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").mallopt(-3, 128 * 1024)  # M_MMAP_THRESHOLD
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


def _configs(
    n: int, entry_bounds: Sequence[float], alphas: Sequence[float]
) -> list[tuple[str, float]]:
    root = math.sqrt(math.log(n))
    return [(f"B={B:g}", B) for B in entry_bounds] + [
        (f"{a:g}*sqrt(ln n)", a * root) for a in alphas
    ]


def _plan(B: float, eps: float, d: int, n: int, method: str):
    """The certified plan for float32 on ``n`` keys, or, where float32 cannot be
    guaranteed, the exact-arithmetic one (``guaranteed`` False); and whether it pays."""
    try:
        plan = select_degree(B, eps, d, method=method, dtype=torch.float32, n=n)
        guaranteed = True
    except ValueError:
        try:
            plan = select_degree(B, eps, d, method=method)
        except ValueError:
            return None, False, False
        guaranteed = False
    return plan, guaranteed, poly_flops(n, n, d, plan.degree) < exact_flops(n, n, d)


def _errors(out: torch.Tensor, ref: torch.Tensor, v_max: float, spread: float) -> dict:
    err = float((out[: ref.shape[0]].double() - ref).abs().max())
    return {"abs": err / v_max, "rel": err / spread if spread > 0 else math.inf}


def _legacy(B: float, eps: float) -> int | None:
    try:
        return legacy_degree(B, eps)
    except ValueError:
        return None


def benchmark_attention(
    sizes: Sequence[int],
    *,
    d: int = 8,
    eps: float = 1e-3,
    entry_bounds: Sequence[float] = (0.5, 1.0),
    alphas: Sequence[float] = (),
    method: str = "best",
    threads: Sequence[int | None] = (1, None),
    runs: int = 5,
    legacy: bool = True,
    apriori: bool = False,
    baselines: bool = True,
    errors: bool = True,
    error_rows: int = 2048,
    memory: bool = False,
    timing: bool = True,
    baseline_max_rank: int = 4096,
    seed: int = 0,
) -> dict:
    """Time and check the polynomial method at its certified degree against the former
    kernel at its degree, exact attention and the baselines; see the module docstring.

    Returns a JSON-ready dict: the configuration, ``load`` (the 1-minute load average at
    the start and end) and ``rows``, one per (thread count, ``n``, ``B``): ``n, config,
    entry_bound, degree, method, rank`` (the certified plan), ``guaranteed`` (whether
    ``eps`` is certified for the float32 output; where it is not, the exact-arithmetic
    plan is timed and marked), ``affordable`` (the cost model's verdict; the polynomial
    method and the baselines run only where it holds), ``legacy_degree``,
    ``legacy_rank``, ``threads``, ``seconds`` (median per method), ``speedup`` (exact over
    polynomial), ``legacy_ratio`` (polynomial over former kernel, median of per-round
    ratios), ``apriori_ratio`` (with ``apriori``: polynomial over the *current* kernel at
    the a-priori degree, ``seconds["apriori"]``, which isolates what the certified degree
    saves), ``proved`` (the certified bound per ``max|V|`` the plan used),
    ``proved_exact`` (exact arithmetic), ``proved_fp32`` (the float32 output's bound for
    the random values, :func:`~ptheory.efficiency.poly_error_bound`), ``errors`` and
    ``mean_v`` per kind of ``V``, ``adversary`` (the two-cluster input's error in float64,
    the share of the exact-arithmetic certificate it attains, and its error in float32,
    ``error_fp32``, against the certified float32 ``proved``), and ``memory`` (bytes of
    peak-memory increase per method, measured after all timings, with ``memory``). Errors
    are computed on one thread; with ``timing=False`` nothing is timed and the result is
    deterministic.
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
    if method not in ("best", "taylor", "chebyshev", "minimax"):
        raise ValueError(
            f"method must be 'best', 'taylor', 'chebyshev' or 'minimax', got {method!r}"
        )
    if isinstance(threads, str | bytes) or not isinstance(threads, Sequence) or not threads:
        raise TypeError("threads must be a non-empty sequence of thread counts (or None: all)")
    threads = [None if k is None else check_int(k, "threads", minimum=1) for k in threads]
    runs = check_int(runs, "runs", minimum=1)
    flags = (
        ("legacy", legacy),
        ("apriori", apriori),
        ("baselines", baselines),
        ("errors", errors),
        ("memory", memory),
        ("timing", timing),
    )
    for name, flag in flags:
        if not isinstance(flag, bool):
            raise TypeError(f"{name} must be a bool, got {type(flag).__name__}")
    error_rows = check_int(error_rows, "error_rows", minimum=1)
    baseline_max_rank = check_int(baseline_max_rank, "baseline_max_rank", minimum=1)
    seed = check_int(seed, "seed", minimum=0)
    all_threads = torch.get_num_threads()
    load0 = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    rows = []
    memory_jobs = []
    for n in sizes:
        gen = torch.Generator().manual_seed(seed * 1_000_003 + n)
        Q0, K0, V = (torch.rand(n, d, generator=gen) * 2 - 1 for _ in range(3))
        cases = []
        for label, B in _configs(n, entry_bounds, alphas):
            plan, guaranteed, affordable = _plan(B, eps, d, n, method)
            cases.append((label, B, plan, guaranteed, affordable, _legacy(B, eps), B * Q0, B * K0))
        with torch_threads(1):
            checks = (
                _check_cases(cases, V, d, n, error_rows, baselines, baseline_max_rank)
                if errors
                else {}
            )
        for k in threads if timing else [None]:
            seconds: dict[str, float] = {}
            ratios: dict[str, float] = {}
            with torch_threads(k):
                fns = _timed_functions(
                    cases, V, Q0, K0, legacy, apriori, baselines, baseline_max_rank
                )
                if timing:
                    # Exact attention in rounds of its own: a call takes seconds, and its
                    # threads wait busily for milliseconds after it, slowing the next call.
                    exact = {"exact": fns.pop("exact")}
                    samples = interleaved_samples(exact, runs)
                    if fns:  # no polynomial case may be affordable at this size
                        samples |= interleaved_samples(fns, runs)
                    fns = exact | fns
                    seconds = {name: statistics.median(t) for name, t in samples.items()}
                    for label, *_ in cases:
                        for other in ("legacy", "apriori"):
                            if f"poly {label}" in samples and f"{other} {label}" in samples:
                                ratios[f"{other} {label}"] = _ratio(
                                    samples, f"poly {label}", f"{other} {label}"
                                )
                    if memory and k == threads[-1]:
                        memory_jobs.append((n, k, fns))
            for label, B, plan, guaranteed, affordable, g_old, _, _ in cases:
                row = {
                    "n": n,
                    "config": label,
                    "entry_bound": B,
                    "degree": None if plan is None else plan.degree,
                    "method": None if plan is None else plan.method,
                    "rank": None if plan is None else plan.rank,
                    "guaranteed": guaranteed,
                    "affordable": affordable,
                    "legacy_degree": g_old,
                    "legacy_rank": None if g_old is None else math.comb(d + g_old, g_old),
                    "threads": all_threads if k is None else k,
                    "seconds": {m: seconds[m] for m in ("exact",) if m in seconds},
                    "memory": {},
                    "speedup": None,
                    "legacy_ratio": ratios.get(f"legacy {label}"),
                    "apriori_ratio": ratios.get(f"apriori {label}"),
                    "proved": None if plan is None else plan.error_bound,
                }
                for m in METHODS[1:]:
                    if f"{m} {label}" in seconds:
                        row["seconds"][m] = seconds[f"{m} {label}"]
                if "poly" in row["seconds"]:
                    row["speedup"] = seconds["exact"] / row["seconds"]["poly"]
                row.update(checks.get(label, {}))
                rows.append(row)
    for n, k, fns in memory_jobs:  # after every timing: peak_memory changes the allocator
        with torch_threads(k):
            mem = {name: peak_memory(fn) for name, fn in fns.items()}
        for row in rows:
            if row["n"] == n and row["threads"] == (all_threads if k is None else k):
                row["memory"] = {"exact": mem.get("exact")} | {
                    m: mem[f"{m} {row['config']}"]
                    for m in METHODS[1:]
                    if f"{m} {row['config']}" in mem
                }
    load1 = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    return {
        "d": d,
        "eps": eps,
        "method": method,
        "dtype": "float32",
        "runs": runs,
        "statistic": "median (ratios: median of per-round ratios)",
        "threads": [all_threads if k is None else k for k in threads] if timing else [],
        "error_rows": error_rows,
        "load": [load0, load1],
        "rows": rows,
    }


def _timed_functions(cases, V, Q0, K0, legacy, apriori, baselines, max_rank) -> dict:
    fns: dict[str, Callable[[], object]] = {
        "exact": lambda Q0=Q0, K0=K0, V=V: exact_attention(Q0, K0, V)
    }
    for label, B, plan, _, affordable, g_old, Q, K in cases:
        if not affordable:
            continue
        g, m, R = plan.degree, plan.method, B * B
        fns[f"poly {label}"] = lambda Q=Q, K=K, V=V, g=g, m=m, R=R: poly_attention(
            Q, K, V, g, m, radius=R
        )
        if legacy and g_old is not None:
            fns[f"legacy {label}"] = lambda Q=Q, K=K, V=V, g=g_old, R=R: legacy_poly_attention(
                Q, K, V, g, "chebyshev", radius=R
            )
        if apriori and g_old is not None:
            fns[f"apriori {label}"] = lambda Q=Q, K=K, V=V, g=g_old, R=R: poly_attention(
                Q, K, V, g, "chebyshev", radius=R
            )
        if baselines and plan.rank <= max_rank:
            r = plan.rank
            fns[f"performer {label}"] = lambda Q=Q, K=K, V=V, r=r: performer_attention(Q, K, V, r)
            fns[f"elu {label}"] = lambda Q=Q, K=K, V=V, r=r: elu_attention(Q, K, V, r)
            m_land = min(r, Q.shape[0])
            fns[f"nystrom {label}"] = lambda Q=Q, K=K, V=V, m=m_land: nystrom_attention(Q, K, V, m)
    return fns


def _check_cases(cases, V, d, n, error_rows, baselines, max_rank) -> dict:
    """Errors (both kinds of ``V``), the mean(V) row, the bounds and the adversary."""
    out = {}
    for label, B, plan, _, affordable, _, Q, K in cases:
        res: dict = {
            "errors": {},
            "mean_v": {},
            "proved_fp32": None,
            "proved_exact": None,
            "adversary": None,
        }
        for kind in VALUES:
            Vk = V if kind == "random" else K / B
            v_max = float(Vk.abs().max())
            ref = exact_attention(Q[:error_rows], K, Vk, reference=True)
            spread = float((ref - Vk.double().mean(0)).abs().max())
            res["mean_v"][kind] = {"abs": spread / v_max, "rel": 1.0}
            errs = {}
            if affordable:
                g, m, R = plan.degree, plan.method, B * B
                errs["poly"] = _errors(poly_attention(Q, K, Vk, g, m, radius=R), ref, v_max, spread)
                if baselines and plan.rank <= max_rank:
                    r = plan.rank
                    errs["performer"] = _errors(
                        performer_attention(Q, K, Vk, r), ref, v_max, spread
                    )
                    errs["elu"] = _errors(elu_attention(Q, K, Vk, r), ref, v_max, spread)
                    errs["nystrom"] = _errors(
                        nystrom_attention(Q, K, Vk, min(r, Q.shape[0])), ref, v_max, spread
                    )
                if kind == "random":
                    res["proved_fp32"] = poly_error_bound(Q, K, Vk, g, m, radius=R) / v_max
            errs["exact"] = _errors(exact_attention(Q[:error_rows], K, Vk), ref, v_max, spread)
            res["errors"][kind] = errs
        if plan is not None:
            cert = certify(plan.degree, B * B, plan.method)
            res["proved_exact"] = cert.attention_error
            Qa, Ka, Va = two_cluster_input(cert, B, d=d, n=min(n, 4096))
            reached = float(
                (
                    poly_attention(Qa, Ka, Va, plan.degree, plan.method, radius=B * B)
                    - exact_attention(Qa, Ka, Va, reference=True)
                )
                .abs()
                .max()
            )
            # The same input in float32 (entries kept within B), against exact attention on
            # the rounded input itself.
            Q32, K32 = (t.float().clamp(-B, B) for t in (Qa, Ka))
            V32 = Va.float()
            reached32 = float(
                (
                    poly_attention(Q32, K32, V32, plan.degree, plan.method, radius=B * B).double()
                    - exact_attention(Q32.double(), K32.double(), V32.double(), reference=True)
                )
                .abs()
                .max()
            )
            res["adversary"] = {
                "error": reached,
                "share": reached / cert.attention_error,
                "error_fp32": reached32,
            }
        out[label] = res
    return out


def crossover_size(
    result: dict, config: str | None = None, threads: int | None = None
) -> float | None:
    """The ``n`` from which the polynomial method is faster than exact attention at every
    measured size, for one ``config`` (default: the first) and thread count (default: the
    first): log-log interpolation between the last slower size and the next; ``None`` if
    it is slower at the largest size, the smallest size if it is never slower."""
    if not isinstance(result, dict) or "rows" not in result:
        raise TypeError("result must be the dict returned by benchmark_attention")
    rows = result["rows"]
    if not rows:
        return None
    config = rows[0]["config"] if config is None else config
    threads = rows[0]["threads"] if threads is None else threads
    pts = sorted(
        (r["n"], r["speedup"])
        for r in rows
        if r["config"] == config and r["threads"] == threads and r["speedup"] is not None
    )
    if not pts or pts[-1][1] < 1.0:
        return None
    slower = [i for i, (_, s) in enumerate(pts) if s < 1.0]
    if not slower:
        return float(pts[0][0])
    i = slower[-1]
    (n0, s0), (n1, s1) = pts[i], pts[i + 1]
    t = -math.log(s0) / (math.log(s1) - math.log(s0))
    return float(math.exp(math.log(n0) + t * (math.log(n1) - math.log(n0))))


def decode_benchmark(
    sizes: Sequence[int],
    *,
    d: int = 8,
    entry_bound: float = 0.5,
    eps: float = 1e-3,
    method: str = "best",
    steps: int = 64,
    runs: int = 5,
    seed: int = 0,
) -> dict:
    """One decoding step, timed as the context grows: for each ``n`` in ``sizes``, the
    context holds ``n`` tokens (keys and values uniform in ``[-B, B]``) and each step
    adds one token and answers its query.

    ``cache``: append the key and value to a preallocated key-value cache (float32) and run
    PyTorch's ``scaled_dot_product_attention`` of the one query over the ``n + 1`` cached
    tokens (``O(n d)`` a step). ``state``: :class:`~ptheory.efficiency.PolyDecoder` at the
    degree certified for ``eps`` (exact arithmetic; its state is float64), whose step costs
    ``O(r (d + d_v))`` whatever ``n``. Each timing is the median over ``runs`` interleaved
    rounds of the mean over ``steps`` steps, on the current threads. Returns per ``n`` the
    seconds per step of both, the numbers each keeps (``n (d + d_v)`` against
    ``r (d_v + 1)``) and the largest error of the state's answers against float64 exact
    attention over the same prefix.
    """
    if isinstance(sizes, str | bytes) or not isinstance(sizes, Sequence) or not sizes:
        raise TypeError("sizes must be a non-empty sequence of integers")
    sizes = [check_int(n, "sizes", minimum=1) for n in sizes]
    d = check_int(d, "d", minimum=1)
    B = check_real(entry_bound, "entry_bound", minimum=0.0, strict_minimum=True)
    eps = check_real(eps, "eps", minimum=0.0, strict_minimum=True)
    steps = check_int(steps, "steps", minimum=1)
    runs = check_int(runs, "runs", minimum=1)
    plan = select_degree(B, eps, d, method=method)
    rows = [_decode_row(n, d, B, plan, steps, runs, seed) for n in sizes]
    return {
        "d": d,
        "entry_bound": B,
        "eps": eps,
        "degree": plan.degree,
        "method": plan.method,
        "rank": plan.rank,
        "threads": torch.get_num_threads(),
        "steps": steps,
        "runs": runs,
        "rows": rows,
    }


def _decode_row(n: int, d: int, B: float, plan, steps: int, runs: int, seed: int) -> dict:
    """One size of :func:`decode_benchmark`."""
    R = B * B
    gen = torch.Generator().manual_seed(seed + n)
    total = n + steps * (runs + 1)
    K, V, Q = (B * (torch.rand(total, d, generator=gen) * 2 - 1) for _ in range(3))
    V = V / B
    cache_k = torch.empty(1, 1, total, d)
    cache_v = torch.empty(1, 1, total, d)
    cache_k[0, 0, :n], cache_v[0, 0, :n] = K[:n], V[:n]
    prompt_state = key_state(K[:n].double(), V[:n].double(), plan.degree, plan.method, radius=R)
    pos = {"cache": n, "state": n}
    dec = PolyDecoder(d, d, plan.degree, plan.method, radius=R, prompt=prompt_state)
    outs: list[tuple[int, torch.Tensor]] = []

    def cache_steps() -> None:
        for _ in range(steps):
            i = pos["cache"]
            cache_k[0, 0, i] = K[i]
            cache_v[0, 0, i] = V[i]
            torch.nn.functional.scaled_dot_product_attention(
                Q[i].view(1, 1, 1, d), cache_k[:, :, : i + 1], cache_v[:, :, : i + 1], scale=1 / d
            )
            pos["cache"] = i + 1

    def state_steps() -> None:
        for _ in range(steps):
            i = pos["state"]
            out = dec.step(Q[i], K[i], V[i])
            if len(outs) < 4:
                outs.append((i, out))
            pos["state"] = i + 1

    with torch.no_grad():
        samples = interleaved_samples({"cache": cache_steps, "state": state_steps}, runs)
    err = 0.0
    for i, out in outs:
        ref = exact_attention(Q[i : i + 1].double(), K[: i + 1].double(), V[: i + 1].double())
        err = max(err, float((out - ref[0]).abs().max()))
    return {
        "n": n,
        "cache_s": statistics.median(samples["cache"]) / steps,
        "state_s": statistics.median(samples["state"]) / steps,
        "ratio": _ratio(samples, "cache", "state"),
        "cache_numbers": n * 2 * d,
        "state_numbers": dec.numbers,
        "error": err,
    }


def error_time_curve(
    n: int,
    entry_bound: float,
    *,
    d: int = 8,
    degrees: Sequence[int] = (0, 1, 2, 3, 4),
    ranks: Sequence[int] = (16, 64, 256, 1024),
    runs: int = 3,
    error_rows: int = 512,
    seed: int = 0,
) -> dict:
    """Error against time for each method as its size grows (for the chart at equal error):
    ``Q, K`` uniform in ``[-B, B]^(n x d)``, values uniform in ``[-1, 1]``, float32.

    ``poly``: the minimax polynomial of each degree in ``degrees`` (fitted on ``B^2``),
    with its certified worst-case error; ``performer``, ``elu``, ``nystrom``: each rank in
    ``ranks`` (landmarks for Nystrom). Errors are max-abs against float64 exact attention
    on the first ``error_rows`` queries, per unit of ``max|V|``; times are medians of
    interleaved runs on the current threads. Also the time of exact attention (SDPA) and
    the error of returning ``mean(V)``.
    """
    n = check_int(n, "n", minimum=2)
    B = check_real(entry_bound, "entry_bound", minimum=0.0, strict_minimum=True)
    d = check_int(d, "d", minimum=1)
    runs = check_int(runs, "runs", minimum=1)
    gen = torch.Generator().manual_seed(seed + n)
    Q, K = (B * (torch.rand(n, d, generator=gen) * 2 - 1) for _ in range(2))
    V = torch.rand(n, d, generator=gen) * 2 - 1
    v_max = float(V.abs().max())
    ref = exact_attention(Q[:error_rows], K, V, reference=True)
    R = B * B
    fns: dict[str, Callable[[], torch.Tensor]] = {"exact": lambda: exact_attention(Q, K, V)}
    sizes: dict[str, tuple[str, int]] = {}
    for g in degrees:
        fns[f"poly {g}"] = lambda g=g: poly_attention(Q, K, V, g, "minimax", radius=R)
        sizes[f"poly {g}"] = ("poly", g)
    for r in ranks:
        fns[f"performer {r}"] = lambda r=r: performer_attention(Q, K, V, r)
        fns[f"elu {r}"] = lambda r=r: elu_attention(Q, K, V, r)
        sizes[f"performer {r}"] = ("performer", r)
        sizes[f"elu {r}"] = ("elu", r)
        if r <= n:
            fns[f"nystrom {r}"] = lambda r=r: nystrom_attention(Q, K, V, r)
            sizes[f"nystrom {r}"] = ("nystrom", r)
    with torch.no_grad():
        errs = {
            name: float((fn()[:error_rows].double() - ref).abs().max()) / v_max
            for name, fn in fns.items()
        }
        times = interleaved_times(fns, runs)
    curves: dict[str, list[dict]] = {m: [] for m in ("poly", "performer", "elu", "nystrom")}
    for name, (m, size) in sizes.items():
        entry = {"size": size, "seconds": times[name], "error": errs[name]}
        if m == "poly":
            entry["certified"] = certify(size, R, "minimax").attention_error
            entry["rank"] = math.comb(d + size, size)
        curves[m].append(entry)
    trivial = float((ref - V.double().mean(0)).abs().max()) / v_max
    return {
        "n": n,
        "d": d,
        "entry_bound": B,
        "threads": torch.get_num_threads(),
        "exact_seconds": times["exact"],
        "exact_error": errs["exact"],
        "mean_v_error": trivial,
        "curves": curves,
    }
