"""Benchmark: the polynomial method against exact attention, ``python -m ptheory.bench``.

Serves Hu et al. (2025), Theorem 3.1 (almost-linear prompt-tuning inference). Prints, for
``n = 2^10 .. 2^16`` by default, the time of PyTorch's ``scaled_dot_product_attention`` and
of :func:`ptheory.efficiency.poly_attention` (``d = 8``, ``Q, K, V`` uniform in ``[-1, 1]``,
one head, fp32, score scale ``1/d`` for both), the speed-up, the max-abs error against
float64 exact attention, the proved bound, and the fitted log-log slope of each runtime::

    python -m ptheory.bench                     # the full table (about a minute)
    python -m ptheory.bench --quick             # n = 2^10 .. 2^14, one repeat
    python -m ptheory.bench --sizes 1024 4096 --repeats 5 --json bench.json

Timings are the best of ``--repeats`` runs; on a shared machine they are noisy, the
minimum least so. Exact attention runs with PyTorch's CPU threads (``--threads``), the
polynomial method with one (``--poly-threads 1``, the default): a handicap for it on a
multi-core machine, chosen because its many small parallel regions make multi-threaded
timings erratic when other processes load the cores.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

import torch

from .efficiency.timing import benchmark_attention

__all__ = ["main"]

DEFAULT_SIZES = [2**k for k in range(10, 17)]
QUICK_SIZES = [2**k for k in range(10, 15)]


def _fmt(x: float | None, spec: str) -> str:
    return "-" if x is None else format(x, spec)


def _table(result: dict) -> str:
    head = (
        f"d = {result['d']}, degree g = {result['degree']} ({result['method']}), "
        f"rank r = C(d+g, g) = {result['rank']}, {result['dtype']}, "
        f"CPU threads: exact {result['threads']}, polynomial {result['poly_threads']}; "
        f"best of {result['repeats']}"
    )
    lines = [
        head,
        "",
        f"{'n':>7}  {'exact (ms)':>11}  {'poly (ms)':>10}  {'speed-up':>9}  "
        f"{'max error':>10}  {'proved bound':>12}",
    ]
    for r in result["rows"]:
        exact = None if r["exact_s"] is None else 1e3 * r["exact_s"]
        lines.append(
            f"{r['n']:>7}  {_fmt(exact, '11.3f')}  {1e3 * r['poly_s']:>10.3f}  "
            f"{_fmt(r['speedup'], '8.1f')}x  {_fmt(r['error'], '10.2e')}  "
            f"{_fmt(r['bound'], '12.2e')}"
        )
    lines += [
        "",
        f"fitted slope of log time against log n: exact {_fmt(result['slope_exact'], '.2f')}, "
        f"polynomial {_fmt(result['slope_poly'], '.2f')}",
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark with command-line arguments ``argv`` and print the table."""
    if argv is not None and (
        isinstance(argv, str | bytes) or not all(isinstance(a, str) for a in argv)
    ):
        raise TypeError("argv must be a sequence of strings (command-line arguments)")
    parser = argparse.ArgumentParser(prog="python -m ptheory.bench", description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=None, help="values of n")
    parser.add_argument("--repeats", type=int, default=3, help="timings per size (best kept)")
    parser.add_argument("--quick", action="store_true", help="n = 2^10 .. 2^14, one repeat")
    parser.add_argument("--d", type=int, default=8, help="token dimension d")
    parser.add_argument("--degree", type=int, default=2, help="polynomial degree g")
    parser.add_argument("--method", choices=["taylor", "chebyshev"], default="taylor")
    parser.add_argument("--no-error", action="store_true", help="skip the float64 error")
    parser.add_argument("--threads", type=int, default=None, help="CPU threads (default: torch's)")
    parser.add_argument(
        "--poly-threads",
        type=int,
        default=1,
        help="CPU threads for the polynomial method (default 1: stable under load, and a "
        "handicap against exact attention, which keeps --threads)",
    )
    parser.add_argument("--json", type=Path, default=None, help="also write results here")
    args = parser.parse_args(argv)
    sizes = args.sizes or (QUICK_SIZES if args.quick else DEFAULT_SIZES)
    repeats = 1 if args.quick and args.repeats == 3 else args.repeats
    if min(sizes) < 2 or args.repeats < 1 or args.d < 1 or args.degree < 0:
        parser.error("sizes must be >= 2, repeats and d >= 1, degree >= 0")
    if args.threads is not None:
        if args.threads < 1:
            parser.error("threads must be >= 1")
        torch.set_num_threads(args.threads)
    if args.poly_threads < 1:
        parser.error("poly-threads must be >= 1")
    result = benchmark_attention(
        sizes,
        d=args.d,
        degree=args.degree,
        method=args.method,
        repeats=repeats,
        error=not args.no_error,
        poly_threads=args.poly_threads,
    )
    print(_table(result))
    if args.json is not None:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
