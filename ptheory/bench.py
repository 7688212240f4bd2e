"""Benchmark: the almost-linear algorithm at a guaranteed error, ``python -m ptheory.bench``.

Serves Hu et al. (2025), the almost-linear prompt-tuning inference result. For
``n = 2^10 .. 2^16`` (default) and entry bounds ``B`` fixed (0.25, 0.5, 1) and
``alpha sqrt(ln n)`` (alpha = 1/8, 1/4, 1/2, 1), with ``d = 8``, one head, fp32, score
scale ``1/d``: the polynomial method runs at the Chebyshev degree that
:func:`ptheory.efficiency.select_degree` *guarantees* for the error ``--eps`` (per unit of
``max|V|``, exact arithmetic) on every input with entries in ``[-B, B]``, and only where
the flop model says that degree costs less than exact attention. Beside it: PyTorch's
``scaled_dot_product_attention`` (fp32), Performer (FAVOR+) and ELU+1 linear attention at
the same rank. Every method runs on the same threads (1, then all), is warmed up once and
timed ``--runs`` times interleaved; the median is printed. Errors are against float64
exact attention, per ``max|V|`` and relative to the exact output's spread around
``mean(V)``, for random ``V`` and for ``V = K / B``; the ``mean(V)`` row is the trivial
algorithm. Then peak memory, the speed-up map over ``(n, B)`` with the line where the
guaranteed method stops paying, and the achieved GFLOP/s against a plain matmul of the same
shapes.

What is guaranteed, and in which arithmetic: ``--eps`` bounds the polynomial method's error
in exact arithmetic (column ``proved``). The fp32 output is covered by
:func:`ptheory.efficiency.poly_error_bound`, rounding included (column ``fp32 bnd``), which
at ``d = 8``, ``eps = 1e-3`` exceeds ``eps`` (2.5e-3 at ``B = 1``, ``n = 4096``; 1.1e-3 to
3.1e-3 for every row at ``n = 65536``): there the fp32 errors printed are measured, not
guaranteed to be below ``eps``::

    python -m ptheory.bench                       # the full table (several minutes)
    python -m ptheory.bench --quick               # n = 2^10 .. 2^14
    python -m ptheory.bench --sizes 65536 --bounds 0.5 1 --alphas --json bench.json

Timings on a shared machine are noisy: the load average at the start and end is printed.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import torch

from ._validate import check_int, check_real
from .efficiency.degree import poly_flops, select_degree
from .efficiency.polynomial import poly_attention
from .efficiency.timing import VALUES, benchmark_attention, interleaved_times, matmul_roofline

__all__ = ["main", "roofline"]

DEFAULT_SIZES = [2**k for k in range(10, 17)]
QUICK_SIZES = [2**k for k in range(10, 15)]


def _fmt(x: float | None, spec: str) -> str:
    return "-" if x is None else format(x, spec)


def _ms(row: dict, m: str) -> str:
    t = row["seconds"].get(m)
    return _fmt(None if t is None else 1e3 * t, "9.2f")


def _timing_table(result: dict, threads: int) -> list[str]:
    lines = [
        f"-- times, {threads} thread(s), median of {result['runs']} interleaved runs (ms) --",
        f"{'n':>6} {'B':>17} {'g':>3} {'rank':>7} {'exact':>9} {'poly':>9} {'speed-up':>9} "
        f"{'performer':>9} {'elu+1':>9}",
    ]
    for r in result["rows"]:
        if r["threads"] != threads:
            continue
        g = "-" if r["degree"] is None else str(r["degree"])
        rank = "-" if r["rank"] is None else str(r["rank"])
        speed = "not paid" if not r["affordable"] else _fmt(r["speedup"], "8.1f") + "x"
        lines.append(
            f"{r['n']:>6} {r['config']:>17} {g:>3} {rank:>7} {_ms(r, 'exact')} {_ms(r, 'poly')} "
            f"{speed:>9} {_ms(r, 'performer')} {_ms(r, 'elu')}"
        )
    return lines


def _error_table(result: dict) -> list[str]:
    threads = result["rows"][0]["threads"]
    lines = [
        f"-- errors against float64 exact attention (first {result['error_rows']} queries):"
        " max-abs / max|V|  [max-abs / spread of the output around mean(V)] --",
        f"{'n':>6} {'B':>17} {'V':>10} {'proved':>8} {'fp32 bnd':>8} {'poly':>18} "
        f"{'performer':>18} {'elu+1':>18} {'sdpa fp32':>18} {'mean(V)':>8}",
    ]
    for r in result["rows"]:
        if r["threads"] != threads or "errors" not in r:
            continue
        for kind in VALUES:
            errs = r["errors"][kind]

            def cell(m: str, errs: dict = errs) -> str:
                e = errs.get(m)
                return "-" if e is None else f"{e['abs']:.1e} [{e['rel']:.1e}]"

            proved = _fmt(r["proved"], "8.1e") if kind == "random" else ""
            fp = _fmt(r.get("proved_fp"), "8.1e") if kind == "random" else ""
            lines.append(
                f"{r['n']:>6} {r['config']:>17} {kind:>10} {proved:>8} {fp:>8} {cell('poly'):>18} "
                f"{cell('performer'):>18} {cell('elu'):>18} {cell('exact'):>18} "
                f"{r['mean_v'][kind]['abs']:8.1e}"
            )
    return lines


def _memory_table(result: dict) -> list[str]:
    threads = result["rows"][0]["threads"]
    lines = ["-- peak resident memory increase (MB) --"]
    for r in result["rows"]:
        if r["threads"] == threads and r["memory"]:
            cells = "  ".join(
                f"{m} {_fmt(None if v is None else v / 1e6, '.1f')}" for m, v in r["memory"].items()
            )
            lines.append(f"{r['n']:>6} {r['config']:>17}  {cells}")
    return lines


def _speedup_map(result: dict, threads: int) -> list[str]:
    rows = [r for r in result["rows"] if r["threads"] == threads]
    configs = list(dict.fromkeys(r["config"] for r in rows))
    sizes = sorted({r["n"] for r in rows})
    lines = [
        f"-- speed-up map, {threads} thread(s): exact / poly at the guaranteed degree "
        "('x': the flop model says it does not pay; '<1': slower) --",
        f"{'B':>17} " + " ".join(f"{n:>7}" for n in sizes) + "   pays from n",
    ]
    for c in configs:
        cells, first = [], None
        for n in sizes:
            r = next(r for r in rows if r["n"] == n and r["config"] == c)
            if not r["affordable"]:
                cells.append(f"{'x':>7}")
            else:
                cells.append(f"{r['speedup']:>7.1f}" if r["speedup"] >= 1 else f"{'<1':>7}")
                if r["speedup"] >= 1 and first is None:
                    first = n
        lines.append(f"{c:>17} " + " ".join(cells) + f"   {first if first else 'never here'}")
    return lines


def roofline(n: int, degree: int, *, d: int = 8, runs: int = 3, entry_bound: float = 0.5) -> dict:
    """The polynomial method's achieved GFLOP/s and GB/s at ``n`` and ``degree`` against a
    plain matmul of the same shapes (:func:`ptheory.efficiency.timing.matmul_roofline`),
    on the current threads. Flops: ``4 n r (d + 1)`` (the two products, the matmul's
    count) and the model's :func:`~ptheory.efficiency.poly_flops`; bytes: the matmul's
    operands (as if the ``n x r`` features were read from memory)."""
    n = check_int(n, "n", minimum=1)
    degree = check_int(degree, "degree", minimum=0, maximum=64)
    d = check_int(d, "d", minimum=1)
    runs = check_int(runs, "runs", minimum=1)
    entry_bound = check_real(entry_bound, "entry_bound", minimum=0.0)
    gen = torch.Generator().manual_seed(n)
    Q, K, V = (entry_bound * (torch.rand(n, d, generator=gen) * 2 - 1) for _ in range(3))
    r = math.comb(d + degree, degree)
    t = interleaved_times(
        {"poly": lambda: poly_attention(Q, K, V, degree, "chebyshev", radius=entry_bound**2)}, runs
    )["poly"]
    mm = matmul_roofline(n, r, d, runs=runs)
    gemm_flops = 4.0 * n * r * (d + 1)
    nbytes = 4.0 * (2 * r * n + 2 * n * (d + 1) + 2 * r * (d + 1))
    return {
        "n": n,
        "degree": degree,
        "rank": r,
        "threads": torch.get_num_threads(),
        "poly_s": t,
        "poly_gflops": gemm_flops / t / 1e9,
        "poly_model_gflops": poly_flops(n, n, d, degree) / t / 1e9,
        "poly_gbytes": nbytes / t / 1e9,
        "matmul": mm,
        "share": mm["seconds"] / t,
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark with command-line arguments ``argv`` and print the tables."""
    if argv is not None and (
        isinstance(argv, str | bytes) or not all(isinstance(a, str) for a in argv)
    ):
        raise TypeError("argv must be a sequence of strings (command-line arguments)")
    parser = argparse.ArgumentParser(prog="python -m ptheory.bench", description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=None, help="values of n")
    parser.add_argument("--runs", type=int, default=3, help="timed runs per method (median)")
    parser.add_argument("--quick", action="store_true", help="n = 2^10 .. 2^14")
    parser.add_argument("--d", type=int, default=8, help="token dimension d")
    parser.add_argument("--eps", type=float, default=1e-3, help="guaranteed error per max|V|")
    parser.add_argument("--bounds", type=float, nargs="*", default=[0.25, 0.5, 1.0])
    parser.add_argument("--alphas", type=float, nargs="*", default=[0.125, 0.25, 0.5, 1.0])
    parser.add_argument("--threads", type=int, default=None, help="'all' threads (default torch's)")
    parser.add_argument("--no-baselines", action="store_true", help="skip Performer and ELU+1")
    parser.add_argument("--no-memory", action="store_true", help="skip peak memory")
    parser.add_argument("--error-rows", type=int, default=4096, help="queries checked in float64")
    parser.add_argument("--json", type=Path, default=None, help="also write results here")
    args = parser.parse_args(argv)
    sizes = args.sizes or (QUICK_SIZES if args.quick else DEFAULT_SIZES)
    if min(sizes) < 2 or args.runs < 1 or args.d < 1 or not args.eps > 0:
        parser.error("sizes must be >= 2, runs and d >= 1, eps > 0")
    if args.threads is not None:
        if args.threads < 1:
            parser.error("threads must be >= 1")
        torch.set_num_threads(args.threads)
    all_threads = torch.get_num_threads()
    result = benchmark_attention(
        sizes,
        d=args.d,
        eps=args.eps,
        entry_bounds=args.bounds,
        alphas=args.alphas,
        threads=[1, None] if all_threads > 1 else [1],
        runs=args.runs,
        baselines=not args.no_baselines,
        memory=not args.no_memory,
        error_rows=args.error_rows,
    )
    result["roofline"] = []
    for B in (0.5, 1.0):
        g = select_degree(B, args.eps, args.d, method="chebyshev").degree
        result["roofline"].append(roofline(max(sizes), g, d=args.d, runs=args.runs, entry_bound=B))
    print(
        f"d = {args.d}, fp32, one head, eps = {args.eps:g} guaranteed per max|V| (Chebyshev, "
        f"degree from select_degree); load average {result['load'][0]:.2f} at start"
    )
    for k in result["threads"]:
        print()
        print("\n".join(_timing_table(result, k)))
    print()
    print("\n".join(_error_table(result)))
    if not args.no_memory:
        print()
        print("\n".join(_memory_table(result)))
    for k in result["threads"]:
        print()
        print("\n".join(_speedup_map(result, k)))
    print()
    print(f"-- roofline at n = {max(sizes)}, {all_threads} thread(s) --")
    for rf in result["roofline"]:
        mm = rf["matmul"]
        print(
            f"degree {rf['degree']} (rank {rf['rank']}): poly {1e3 * rf['poly_s']:.1f} ms, "
            f"{rf['poly_gflops']:.1f} GFLOP/s (products) / {rf['poly_model_gflops']:.1f} (flop "
            f"model), {rf['poly_gbytes']:.1f} GB/s; plain matmul {1e3 * mm['seconds']:.1f} ms, "
            f"{mm['gflops']:.1f} GFLOP/s, {mm['gbytes']:.1f} GB/s: poly at "
            f"{100 * rf['share']:.0f}% of the matmul"
        )
    load_end = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"\nload average at end {load_end:.2f}")
    if args.json is not None:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
