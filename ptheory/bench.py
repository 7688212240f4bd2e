"""Benchmark: the almost-linear algorithm at a certified error, ``python -m ptheory.bench``.

Serves Hu et al. (2025), the almost-linear prompt-tuning inference result. At ``n = 65536``
(default), ``d = 8``, one head, float32, score scale ``1/d``, entry bounds ``B = 0.5`` and
``1`` and error ``eps = 1e-3`` per unit of ``max|V|``, in one run and on the same threads:

1. **Side by side.** The former kernel at the degree the a-priori bound chose (Chebyshev
   interpolation, ``2 eps_g / (1 - eps_g) <= eps`` with the textbook ``eps_g``) against the
   current kernel at the smallest degree the *certificate* proves for the float32 output
   (the best of Taylor, Chebyshev and minimax; rounding of float32 included), and both
   against PyTorch's ``scaled_dot_product_attention`` (exact, float32). Timed interleaved
   (one call of each kernel in turn, in another order each round, ``--runs`` rounds, after
   a warm-up; exact attention in rounds of its own, since a call takes seconds); medians,
   and the ratio new / former as the median of its per-round ratios, which survives load
   on a shared machine better than absolute times.
2. **Guarantees.** The certified bound (exact arithmetic and float32), the float32 bound at
   the timed data, the measured errors against float64 exact attention (random values,
   values correlated with the keys), the error the two-cluster input reaches (the worst
   case the certificate predicts), and the error of returning ``mean(V)``.
3. **Baselines at the same rank**: Performer (FAVOR+), ELU+1 linear attention and Nystrom
   (landmarks = rank): time and error.
4. **One decoding step** as the context grows: the polynomial method's fixed-size state
   (update, answer one query) against attention over a key-value cache.

Timings on a shared machine are noisy: the load average at the start and end is printed.
Examples::

    python -m ptheory.bench                        # the default run (a few minutes)
    python -m ptheory.bench --quick                # n = 16384, fewer decoding sizes
    python -m ptheory.bench --runs 9 --json bench.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import torch

from .efficiency.timing import VALUES, benchmark_attention, decode_benchmark

__all__ = ["main"]

DEFAULT_SIZES = [65536]
QUICK_SIZES = [16384]
DECODE_SIZES = [2**k for k in range(8, 21, 2)]
QUICK_DECODE_SIZES = [2**8, 2**12, 2**16]


def _fmt(x: float | None, spec: str) -> str:
    return "-" if x is None else format(x, spec)


def _ms(row: dict, m: str) -> str:
    t = row["seconds"].get(m)
    return _fmt(None if t is None else 1e3 * t, "9.1f")


def _side_by_side(result: dict, threads: int) -> list[str]:
    lines = [
        f"-- side by side, {threads} thread(s): median of {result['runs']} interleaved rounds "
        "(ms) --",
        f"{'n':>6} {'B':>6} {'former g (rank)':>16} {'new g, poly (rank)':>24} {'former':>9} "
        f"{'new':>9} {'new/former':>10} {'SDPA':>9} {'SDPA/new':>9} {'SDPA/former':>11}",
    ]
    for r in result["rows"]:
        if r["threads"] != threads:
            continue
        old = "-" if r["legacy_degree"] is None else f"{r['legacy_degree']} ({r['legacy_rank']})"
        new = "-" if r["degree"] is None else f"{r['degree']}, {r['method']} ({r['rank']})"
        if not r["guaranteed"] and r["degree"] is not None:
            new += "*"
        ratio = _fmt(r["legacy_ratio"], "10.2f")
        sec = r["seconds"]
        sdpa_new = sec["exact"] / sec["poly"] if "poly" in sec else None
        sdpa_old = sec["exact"] / sec["legacy"] if "legacy" in sec else None
        if not r["affordable"]:
            new += " (does not pay)"
        lines.append(
            f"{r['n']:>6} {r['entry_bound']:>6.3g} {old:>16} {new:>24} {_ms(r, 'legacy')} "
            f"{_ms(r, 'poly')} {ratio:>10} {_ms(r, 'exact')} {_fmt(sdpa_new, '8.1f'):>9} "
            f"{_fmt(sdpa_old, '10.1f'):>11}"
        )
    if any(not r["guaranteed"] for r in result["rows"] if r["degree"] is not None):
        lines.append("  * float32 cannot be certified for eps here: the exact-arithmetic degree")
    return lines


def _guarantees(result: dict) -> list[str]:
    threads = result["rows"][0]["threads"]
    lines = [
        f"-- guarantees and errors per max|V| (float64 reference, first {result['error_rows']} "
        "queries) --",
        f"{'n':>6} {'B':>6} {'certified':>9} {'exact ar.':>9} {'fp32 data':>9} {'random':>9} "
        f"{'correl.':>9} {'adversary':>9} {'(share)':>7} {'mean(V)':>8}",
    ]
    for r in result["rows"]:
        if r["threads"] != threads or "errors" not in r:
            continue
        poly = {k: r["errors"][k].get("poly") for k in VALUES}
        adv = r.get("adversary") or {}
        lines.append(
            f"{r['n']:>6} {r['entry_bound']:>6.3g} {_fmt(r['proved'], '9.2e')} "
            f"{_fmt(r.get('proved_exact'), '9.2e')} {_fmt(r.get('proved_fp32'), '9.2e')} "
            f"{_fmt(poly['random'] and poly['random']['abs'], '9.2e')} "
            f"{_fmt(poly['correlated'] and poly['correlated']['abs'], '9.2e')} "
            f"{_fmt(adv.get('error'), '9.2e')} {_fmt(adv.get('share'), '7.3f')} "
            f"{r['mean_v']['random']['abs']:8.1e}"
        )
    lines.append(
        "  certified: the float32 bound of the chosen degree for every input with entries in "
        "[-B, B]; adversary: the two-cluster input (float64), share = its error / the "
        "exact-arithmetic certificate"
    )
    return lines


def _baselines(result: dict, threads: int) -> list[str]:
    lines = [
        f"-- the same rank, {threads} thread(s): ms and max-abs error per max|V| (random V) --",
        f"{'n':>6} {'B':>6} {'rank':>6} "
        + " ".join(f"{m:>20}" for m in ("poly", "performer", "elu+1", "nystrom")),
    ]
    for r in result["rows"]:
        if r["threads"] != threads or "errors" not in r or not r["affordable"]:
            continue
        cells = []
        for m in ("poly", "performer", "elu", "nystrom"):
            e = r["errors"]["random"].get(m)
            t = r["seconds"].get(m)
            cell = (
                "-"
                if e is None
                else f"{_fmt(None if t is None else 1e3 * t, '.1f')} ms {e['abs']:.1e}"
            )
            cells.append(f"{cell:>20}")
        lines.append(f"{r['n']:>6} {r['entry_bound']:>6.3g} {r['rank']:>6} " + " ".join(cells))
    return lines


def _decode(result: dict) -> list[str]:
    lines = [
        f"-- one decoding step, {result['threads']} thread(s), B = {result['entry_bound']:g}: "
        f"degree {result['degree']} {result['method']} (rank {result['rank']}); "
        f"median of {result['runs']} rounds of {result['steps']} steps --",
        f"{'n':>8} {'KV cache (us)':>14} {'state (us)':>11} {'cache/state':>11} "
        f"{'cache numbers':>14} {'state numbers':>14} {'state error':>11}",
    ]
    for r in result["rows"]:
        lines.append(
            f"{r['n']:>8} {1e6 * r['cache_s']:>14.1f} {1e6 * r['state_s']:>11.1f} "
            f"{r['ratio']:>11.2f} {r['cache_numbers']:>14} {r['state_numbers']:>14} "
            f"{r['error']:>11.1e}"
        )
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark with command-line arguments ``argv`` and print the tables."""
    if argv is not None and (
        isinstance(argv, str | bytes) or not all(isinstance(a, str) for a in argv)
    ):
        raise TypeError("argv must be a sequence of strings (command-line arguments)")
    parser = argparse.ArgumentParser(
        prog="python -m ptheory.bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=None, help="values of n")
    parser.add_argument("--runs", type=int, default=5, help="interleaved rounds (median)")
    parser.add_argument("--quick", action="store_true", help="n = 16384, fewer decode sizes")
    parser.add_argument("--d", type=int, default=8, help="token dimension d")
    parser.add_argument("--eps", type=float, default=1e-3, help="certified error per max|V|")
    parser.add_argument("--bounds", type=float, nargs="+", default=[0.5, 1.0])
    parser.add_argument("--alphas", type=float, nargs="*", default=[])
    parser.add_argument("--threads", type=int, default=None, help="'all' threads (default torch's)")
    parser.add_argument(
        "--no-baselines", action="store_true", help="skip Performer, ELU+1, Nystrom"
    )
    parser.add_argument("--no-decode", action="store_true", help="skip the decoding step")
    parser.add_argument("--decode-sizes", type=int, nargs="+", default=None)
    parser.add_argument("--memory", action="store_true", help="peak memory (after all timings)")
    parser.add_argument("--error-rows", type=int, default=2048, help="queries checked in float64")
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
    print(
        f"d = {args.d}, float32, one head, score scale 1/d, eps = {args.eps:g} per max|V| "
        f"certified for the float32 output; {all_threads} thread(s) available; "
        f"load average {os.getloadavg()[0]:.2f} at start"
    )
    result = benchmark_attention(
        sizes,
        d=args.d,
        eps=args.eps,
        entry_bounds=args.bounds,
        alphas=args.alphas,
        threads=[1, None] if all_threads > 1 else [1],
        runs=args.runs,
        baselines=not args.no_baselines,
        memory=args.memory,
        error_rows=args.error_rows,
    )
    for k in result["threads"]:
        print()
        print("\n".join(_side_by_side(result, k)))
    print()
    print("\n".join(_guarantees(result)))
    if not args.no_baselines:
        for k in result["threads"]:
            print()
            print("\n".join(_baselines(result, k)))
    if args.memory:
        print("\n-- peak resident memory increase (MB), measured after all timings --")
        for r in result["rows"]:
            if r["memory"]:
                cells = "  ".join(
                    f"{m} {'-' if v is None else f'{v / 1e6:.1f}'}" for m, v in r["memory"].items()
                )
                print(f"{r['n']:>6} {r['config']:>8}  {cells}")
    if not args.no_decode:
        decode_sizes = args.decode_sizes or (QUICK_DECODE_SIZES if args.quick else DECODE_SIZES)
        with torch.no_grad():
            torch.set_num_threads(1)
            decode = decode_benchmark(
                decode_sizes,
                d=args.d,
                entry_bound=min(args.bounds),
                eps=args.eps,
                runs=args.runs,
            )
            torch.set_num_threads(all_threads)
        result["decode"] = decode
        print()
        print("\n".join(_decode(decode)))
    load_end = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"\nload average at end {load_end:.2f}")
    if args.json is not None:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
