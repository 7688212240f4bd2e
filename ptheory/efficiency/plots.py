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
from .timing import crossover_size
from .transition import FeasibleBound, GadgetResult

__all__ = [
    "plot_error_vs_bound",
    "plot_feasible_bound",
    "plot_gadget",
    "plot_planted_mass",
    "plot_runtime",
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


def plot_runtime(result: dict, ax: Axes | None = None) -> Figure:
    """Runtime against ``n`` on log-log axes from :func:`benchmark_attention`'s result, with
    guides of slope 1 and 2 and the crossover (where the polynomial method starts to win)."""
    if not isinstance(result, dict) or "rows" not in result:
        raise TypeError("result must be the dict returned by benchmark_attention")
    rows = result["rows"]
    ax = axes_or_new(ax, width=5.4)
    for key, label, color, marker in (
        ("exact_s", "exact (scaled_dot_product_attention)", PALETTE[3], "s"),
        (
            "poly_s",
            f"polynomial, degree {result['degree']}, rank {result['rank']}",
            PALETTE[0],
            "o",
        ),
    ):
        pts = [(r["n"], 1e3 * r[key]) for r in rows if r[key] is not None]
        if pts:
            n, t = map(np.array, zip(*pts, strict=True))
            ax.plot(n, t, marker=marker, color=color, label=label)
            power = 2 if key == "exact_s" else 1
            ax.plot(n, t[-1] * (n / n[-1]) ** power, ls=":", lw=1.0, color=color)
    cross = crossover_size(result)
    if cross is not None:
        ax.axvline(cross, color="0.3", ls="--", lw=1.0, label=f"crossover, n ≈ {cross:.0f}")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel(r"sequence length $n$ (queries = keys)")
    ax.set_ylabel("time (ms, best of repeats)")
    ax.legend(loc="upper left")
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
