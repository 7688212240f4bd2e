"""Figures of the efficiency chapters, in the book's style (:mod:`ptheory.plotting`).

Each function takes ``ax=None`` (or draws a new figure) and returns the ``Figure``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from .._validate import as_tensor
from ..plotting import MARKERS, PALETTE, axes_or_new
from .transition import FeasibleBound, GadgetResult

__all__ = [
    "plot_error_vs_bound",
    "plot_feasible_bound",
    "plot_gadget",
    "plot_planted_mass",
    "plot_runtime",
    "plot_speedup_map",
]


def _array(x: object, name: str, ndim: int) -> np.ndarray:
    arr = as_tensor(x if isinstance(x, torch.Tensor | np.ndarray) else np.asarray(x), name)
    arr = arr.detach().cpu().double().numpy()
    if arr.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} dimensions, got shape {arr.shape}")
    return arr


def plot_error_vs_bound(
    bounds: Sequence[float],
    errors: torch.Tensor,
    degrees: Sequence[int],
    proved: torch.Tensor | None = None,
    ax: Axes | None = None,
    *,
    threshold: float | None = None,
) -> Figure:
    """Measured max-abs error of the polynomial method against the entry bound ``B``.

    ``errors: (len(degrees), len(bounds))``; ``proved`` (same shape) draws the proved bound
    dashed; ``threshold`` marks ``B = sqrt(ln n)`` with a vertical line.
    """
    x = _array(bounds, "bounds", 1)
    err = _array(errors, "errors", 2)
    if err.shape != (len(degrees), x.size):
        raise ValueError(
            f"errors must have shape (len(degrees), len(bounds)) = {(len(degrees), x.size)}, "
            f"got {err.shape}"
        )
    ax = axes_or_new(ax, width=5.4)
    for i, g in enumerate(degrees):
        color = PALETTE[i % len(PALETTE)]
        ax.plot(x, err[i], marker=MARKERS[i % 6], ms=4, color=color, label=f"degree {g}")
        if proved is not None:
            pr = _array(proved, "proved", 2)[i]
            ok = np.isfinite(pr) & (pr < 1e3)
            ax.plot(x[ok], pr[ok], ls="--", lw=1.1, color=color)
    if threshold is not None:
        ax.axvline(threshold, color="0.3", ls=":", lw=1.2, label=r"$B = \sqrt{\ln n}$")
    ax.set_yscale("log")
    ax.set_xlabel(r"entry bound $B$ of $Q$ and $K$ (scores scaled by $1/d$)")
    ax.set_ylabel(r"max-abs error of the attention output")
    ax.legend(loc="lower right", ncol=2)
    return ax.figure


def _result_rows(result: dict) -> list[dict]:
    if not isinstance(result, dict) or not isinstance(result.get("rows"), list):
        raise TypeError("result must be the dict returned by benchmark_attention")
    return result["rows"]


def plot_runtime(
    result: dict, config: str | None = None, threads: int | None = None, ax: Axes | None = None
) -> Figure:
    """Median time against ``n`` on log-log axes from :func:`benchmark_attention`'s result,
    for one entry-bound ``config`` and thread count (default: the first of each): exact
    attention, the polynomial method at its guaranteed degree, and the baselines, with
    guides of slope 2 and 1."""
    rows = _result_rows(result)
    ax = axes_or_new(ax, width=5.4)
    if rows:
        config = rows[0]["config"] if config is None else config
        threads = rows[0]["threads"] if threads is None else threads
        rows = [r for r in rows if r["config"] == config and r["threads"] == threads]
    styles = (
        ("exact", "exact (SDPA, fp32)", PALETTE[3], "s", 2),
        ("poly", "polynomial, guaranteed degree", PALETTE[0], "o", 1),
        ("performer", "Performer, same rank", PALETTE[1], "^", None),
        ("elu", "ELU+1, same rank", PALETTE[2], "v", None),
    )
    for key, label, color, marker, power in styles:
        pts = [(r["n"], 1e3 * r["seconds"][key]) for r in rows if key in r["seconds"]]
        if pts:
            n, t = map(np.array, zip(*pts, strict=True))
            ax.plot(n, t, marker=marker, color=color, label=label)
            if power is not None:
                ax.plot(n, t[-1] * (n / n[-1]) ** power, ls=":", lw=1.0, color=color)
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel(r"sequence length $n$ (queries = keys)")
    ax.set_ylabel(f"time (ms, median), {threads} thread(s)")
    ax.legend(loc="upper left", fontsize="small")
    return ax.figure


def plot_speedup_map(
    result: dict,
    threads: int | None = None,
    *,
    model_line: Sequence[tuple[int, float]] | None = None,
    ax: Axes | None = None,
) -> Figure:
    """Measured speed-up (exact over polynomial at the guaranteed degree) over the
    ``(n, B)`` plane, one marker a benchmark row: filled and labelled where it was
    measured, a cross where the flop model says the guaranteed degree does not pay.
    ``model_line``: ``(n, B)`` points of the model's boundary
    (:func:`largest_paying_bound`); the dotted curve is ``sqrt(ln n)``."""
    rows = _result_rows(result)
    ax = axes_or_new(ax, width=5.4)
    if rows:
        threads = rows[0]["threads"] if threads is None else threads
        rows = [r for r in rows if r["threads"] == threads]
    for r in rows:
        if r["speedup"] is None:
            ax.plot(r["n"], r["entry_bound"], marker="x", color="0.5", ls="none")
            continue
        s = r["speedup"]
        ax.plot(
            r["n"],
            r["entry_bound"],
            marker="o",
            ls="none",
            color=PALETTE[0] if s >= 1 else PALETTE[3],
        )
        ax.annotate(
            f"{s:.0f}" if s >= 10 else f"{s:.1f}",
            (r["n"], r["entry_bound"]),
            textcoords="offset points",
            xytext=(4, 3),
            fontsize="x-small",
        )
    if rows:
        ns = np.array(sorted({r["n"] for r in rows}), dtype=float)
        grid = np.geomspace(ns.min(), ns.max(), 50)
        ax.plot(grid, np.sqrt(np.log(grid)), ls=":", color="0.3", lw=1.0, label=r"$\sqrt{\ln n}$")
    if model_line:
        n_m, b_m = map(np.array, zip(*model_line, strict=True))
        ax.plot(
            n_m,
            b_m,
            ls="--",
            color=PALETTE[3],
            lw=1.2,
            drawstyle="steps-post",
            label="flop model: stops paying",
        )
    ax.plot([], [], marker="o", ls="none", color=PALETTE[0], label="faster (speed-up)")
    ax.plot([], [], marker="o", ls="none", color=PALETTE[3], label="slower")
    ax.plot([], [], marker="x", ls="none", color="0.5", label="does not pay (model)")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel(r"sequence length $n$")
    ax.set_ylabel(r"entry bound $B$")
    ax.legend(loc="upper left", fontsize="x-small")
    return ax.figure


def plot_planted_mass(
    sizes: Sequence[int], ratios: Sequence[float], masses: torch.Tensor, ax: Axes | None = None
) -> Figure:
    """Softmax mass on a planted duplicate against ``B / sqrt(ln n)``, one curve per ``n``.

    ``masses: (len(sizes), len(ratios), trials)``: median line and 10-90% band.
    """
    r = _array(ratios, "ratios", 1)
    m = _array(masses, "masses", 3)
    if m.shape[:2] != (len(sizes), r.size):
        raise ValueError(f"masses must have shape (len(sizes), len(ratios), trials), got {m.shape}")
    ax = axes_or_new(ax, width=5.4)
    for i, n in enumerate(sizes):
        color = PALETTE[i % len(PALETTE)]
        lo, med, hi = np.quantile(m[i], [0.1, 0.5, 0.9], axis=-1)
        ax.fill_between(r, lo, hi, color=color, alpha=0.2, lw=0)
        ax.plot(r, med, marker=MARKERS[i % 6], ms=4, color=color, label=f"n = {n}")
    ax.axvline(1.0, color="0.3", ls=":", lw=1.2)
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel(r"$B / \sqrt{\ln n}$")
    ax.set_ylabel("softmax mass on the planted key")
    ax.legend(loc="upper left")
    return ax.figure


def plot_gadget(results: dict[int, Sequence[GadgetResult]], ax: Axes | None = None) -> Figure:
    """Accuracy of the nearest-neighbour decision against ``B / sqrt(ln n)``: exact
    attention (solid) and the best polynomial of rank ``<= n/5`` (dashed), one colour per
    ``n``. ``results`` maps ``n`` to :func:`nn_gadget`'s output."""
    if not isinstance(results, dict) or not results:
        raise TypeError("results must be a non-empty dict {n: nn_gadget(n, ...)}")
    ax = axes_or_new(ax, width=5.4)
    for i, (n, res) in enumerate(results.items()):
        color = PALETTE[i % len(PALETTE)]
        x = [g.bound / math.sqrt(math.log(n)) for g in res]
        ax.plot(
            x,
            [g.accuracy for g in res],
            marker=MARKERS[i % 6],
            ms=4,
            color=color,
            label=f"exact attention, n = {n}",
        )
        poly = [g.poly_accuracy for g in res]
        if not all(math.isnan(p) for p in poly):
            ax.plot(
                x,
                poly,
                ls="--",
                color=color,
                label=f"rank ≤ n/5 (degree {res[0].poly_degree}), n = {n}",
            )
    ax.axhline(0.5, color="0.5", lw=0.8)
    ax.axvline(1.0, color="0.3", ls=":", lw=1.2)
    ax.set_ylim(0.4, 1.05)
    ax.set_xlabel(r"$B / \sqrt{\ln n}$")
    ax.set_ylabel("accuracy of the close-pair decision")
    ax.legend(loc="lower right", fontsize=8)
    return ax.figure


def plot_feasible_bound(results: Sequence[FeasibleBound], ax: Axes | None = None) -> Figure:
    """Largest ``B`` reachable with rank ``<= n/5`` (proved and measured) against
    ``sqrt(ln n)``, with the line ``B = sqrt(ln n)``."""
    if not results or not all(isinstance(r, FeasibleBound) for r in results):
        raise TypeError("results must be a non-empty sequence of FeasibleBound")
    ax = axes_or_new(ax, width=5.4)
    x = np.array([math.sqrt(math.log(r.n)) for r in results])
    ax.plot(
        x,
        [r.measured for r in results],
        marker="o",
        color=PALETTE[0],
        label="measured on planted instances",
    )
    ax.plot(x, [r.proved for r in results], marker="s", color=PALETTE[1], label="proved bound")
    ax.plot(x, x, ls=":", color="0.3", label=r"$B = \sqrt{\ln n}$")
    for r, xi in zip(results, x, strict=True):
        ax.annotate(
            f"n={r.n}\ng={r.max_degree}",
            (xi, r.measured),
            textcoords="offset points",
            xytext=(4, 4),
            fontsize=7,
        )
    ax.set_xlabel(r"$\sqrt{\ln n}$")
    ax.set_ylabel(r"largest $B$ with error $\leq$ target")
    ax.legend(loc="upper left")
    return ax.figure
