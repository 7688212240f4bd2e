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
from ..plotting import (
    MARKERS,
    PALETTE,
    axes_or_new,
    new_figure,
    plain_log_ticks,
    shared_legend,
)
from .transition import FeasibleBound, GadgetResult

__all__ = [
    "plot_certificate",
    "plot_certificate_panels",
    "plot_decode",
    "plot_error_time",
    "plot_error_vs_bound",
    "plot_feasible_bound",
    "plot_gadget",
    "plot_planted_mass",
    "plot_speedup",
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


def plot_certificate(
    profile: dict, eps: float | None = None, ax: Axes | None = None, *, title: str = ""
) -> Figure:
    """What each degree buys (:func:`~ptheory.efficiency.degree_profile`): the attention
    error bound per unit of ``max|V|`` against the degree, a-priori (Chebyshev formula,
    dashed) and certified (Taylor, Chebyshev, minimax, solid), the error the two-cluster
    input reaches (crosses) and, shaded, the region below the lower bound that holds for
    every polynomial; ``eps`` draws the target."""
    if not isinstance(profile, dict) or "degrees" not in profile:
        raise TypeError("profile must be the dict returned by degree_profile")
    ax = axes_or_new(ax, width=5.4)
    g = np.array(profile["degrees"], dtype=float)

    def finite(values):
        v = np.array(values, dtype=float)
        return np.where(np.isfinite(v) & (v < 10), v, np.nan)

    ax.plot(
        g,
        finite(profile["apriori"]),
        ls="--",
        marker="s",
        ms=4,
        color=PALETTE[3],
        label="a-priori bound (Chebyshev formula)",
    )
    styles = (
        ("taylor", "Taylor", PALETTE[2], "v"),
        ("chebyshev", "Chebyshev", PALETTE[1], "^"),
        ("minimax", "minimax", PALETTE[0], "o"),
    )
    for key, label, color, marker in styles:
        ax.plot(
            g, finite(profile[key]), marker=marker, ms=4, color=color, label=f"certified, {label}"
        )
    ax.plot(
        g,
        finite(profile["attained"]),
        ls="none",
        marker="x",
        ms=8,
        mew=1.6,
        color="0.1",
        label="reached by two clusters (minimax)",
    )
    lower = finite(profile["lower"])
    ax.fill_between(g, 1e-12, lower, color="0.85", lw=0, label="impossible for any polynomial")
    if eps is not None:
        ax.axhline(eps, color="0.3", ls=":", lw=1.2, label=f"target {eps:g}")
    ax.set_yscale("log")
    top = np.nanmax(finite(profile["apriori"] + profile["taylor"]))
    ax.set_ylim(max(1e-9, np.nanmin(lower) / 3), min(3.0, 3 * top))
    ax.set_xticks(g)
    ax.set_xlabel("degree $g$ of the polynomial")
    ax.set_ylabel(r"attention error per $\|V\|_{\max}$")
    if title:
        ax.set_title(title)
    ax.legend(loc="lower left", fontsize="x-small")
    return ax.figure


def plot_certificate_panels(profiles: dict, eps: float | None = None) -> Figure:
    """:func:`plot_certificate` side by side for ``{entry bound B: degree_profile(B, ...)}``
    (titled by ``B``), with one legend below the panels."""
    if not isinstance(profiles, dict) or not profiles:
        raise TypeError("profiles must be a non-empty dict {entry bound: degree_profile(...)}")
    fig, axes = new_figure(ncols=len(profiles), width=4.0 * len(profiles), height=4.6)
    for ax, (B, profile) in zip(axes, profiles.items(), strict=True):
        plot_certificate(profile, eps, ax, title=f"entry bound B = {B:g}")
    shared_legend(fig, axes, ncols=3, fontsize="small")
    return fig


def plot_speedup(result: dict, threads: int | None = None, ax: Axes | None = None) -> Figure:
    """Speed-up over exact attention (SDPA) against ``n`` from
    :func:`~ptheory.efficiency.benchmark_attention`: for each entry bound, the current kernel
    at the certified degree (solid) and at the a-priori degree (dashed): in the same kernel
    where the result holds ``seconds["apriori"]`` (``benchmark_attention(apriori=True)``),
    else in the former kernel; with the line where the speed-up is 1."""
    rows = _result_rows(result)
    ax = axes_or_new(ax, width=5.4)
    threads = rows[0]["threads"] if threads is None and rows else threads
    rows = [r for r in rows if r["threads"] == threads and r["affordable"]]
    configs = list(dict.fromkeys(r["config"] for r in rows))
    for i, c in enumerate(configs):
        sel = sorted((r for r in rows if r["config"] == c), key=lambda r: r["n"])
        color, marker = PALETTE[i % len(PALETTE)], MARKERS[i % len(MARKERS)]
        B = sel[0]["entry_bound"]
        n = [r["n"] for r in sel]
        new = [r["seconds"]["exact"] / r["seconds"]["poly"] for r in sel]
        ax.plot(
            n,
            new,
            marker=marker,
            color=color,
            label=f"$B = {B:g}$, certified degree {sel[0]['degree']}",
        )
        other = next((k for k in ("apriori", "legacy") if all(k in r["seconds"] for r in sel)), "")
        if other:
            old = [r["seconds"]["exact"] / r["seconds"][other] for r in sel]
            kernel = "" if other == "apriori" else " (former kernel)"
            ax.plot(
                n,
                old,
                marker=marker,
                mfc="white",
                ls="--",
                color=color,
                label=f"$B = {B:g}$, a-priori degree {sel[0]['legacy_degree']}{kernel}",
            )
    ax.axhline(1.0, color="0.4", lw=0.9)
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel(r"sequence length $n$ (queries = keys)")
    ax.set_ylabel("speed-up over exact attention")
    plain_log_ticks(ax.yaxis)
    ax.legend(loc="upper left", fontsize="x-small")
    return ax.figure


def plot_error_time(curve: dict, eps: float | None = None, ax: Axes | None = None) -> Figure:
    """Error against time (:func:`~ptheory.efficiency.error_time_curve`): one line per method,
    through its sizes in increasing order; the vertical line is exact attention's time, ``eps``
    the target. Read it at equal error: the leftmost method below a horizontal line is the
    fastest at that error."""
    if not isinstance(curve, dict) or "curves" not in curve:
        raise TypeError("curve must be the dict returned by error_time_curve")
    ax = axes_or_new(ax, width=5.4)
    names = (
        ("poly", "polynomial (minimax), degree"),
        ("performer", "Performer, rank"),
        ("elu", "ELU+1, rank"),
        ("nystrom", "Nyström, landmarks"),
    )
    for i, (key, label) in enumerate(names):
        pts = sorted(curve["curves"].get(key, []), key=lambda e: e["size"])  # size order
        if not pts:
            continue
        t = [1e3 * e["seconds"] for e in pts]
        err = [max(e["error"], 1e-9) for e in pts]
        sizes = ", ".join(str(e["size"]) for e in pts)
        ax.plot(t, err, marker=MARKERS[i], color=PALETTE[i], label=f"{label} {sizes}")
        if key == "poly":  # each point's degree beside it
            for e, ti, ei in zip(pts, t, err, strict=True):
                ax.annotate(
                    f"{e['size']}",
                    (ti, ei),
                    xytext=(5, -9),
                    textcoords="offset points",
                    fontsize="small",
                    color=PALETTE[i],
                )
    ax.axvline(
        1e3 * curve["exact_seconds"], color="0.3", ls="--", lw=1.0, label="exact attention (SDPA)"
    )
    if eps is not None:
        ax.axhline(eps, color="0.3", ls=":", lw=1.2, label=f"target {eps:g}")
    ax.axhline(curve["mean_v_error"], color="0.6", lw=0.9, label=r"returning mean$(V)$")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("time (ms, median)")
    ax.set_ylabel(r"max-abs error per $\|V\|_{\max}$")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncols=2, fontsize="small")
    return ax.figure


def plot_decode(result: dict, ax: Axes | None = None) -> Figure:
    """Time of one decoding step against the context length ``n``
    (:func:`~ptheory.efficiency.decode_benchmark`): attention over a key-value cache and
    the polynomial method's fixed-size state."""
    if not isinstance(result, dict) or "rows" not in result:
        raise TypeError("result must be the dict returned by decode_benchmark")
    ax = axes_or_new(ax, width=5.4)
    n = [r["n"] for r in result["rows"]]
    ax.plot(
        n,
        [1e6 * r["cache_s"] for r in result["rows"]],
        marker="s",
        color=PALETTE[3],
        label=f"key-value cache of $n$ tokens ({2 * result['d']} numbers a token)",
    )
    ax.plot(
        n,
        [1e6 * r["state_s"] for r in result["rows"]],
        marker="o",
        color=PALETTE[0],
        label=f"fixed state, degree {result['degree']} "
        f"({result['rows'][0]['state_numbers']} numbers)",
    )
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel(r"tokens in the context, $n$")
    ax.set_ylabel(r"time of one decoding step ($\mu$s)")
    plain_log_ticks(ax.yaxis)
    ax.legend(loc="upper left", fontsize="small")
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
    attention and, where computed, the polynomial method within its rank budget (dotted),
    one colour per ``n``. ``results`` maps ``n`` to :func:`nn_gadget`'s output. Curves that
    coincide stay visible: the first ``n`` is drawn solid with large open markers, the
    next ones dashed with smaller filled markers on top."""
    if not isinstance(results, dict) or not results:
        raise TypeError("results must be a non-empty dict {n: nn_gadget(n, ...)}")
    ax = axes_or_new(ax, width=5.4)
    for i, (n, res) in enumerate(results.items()):
        color = PALETTE[i % len(PALETTE)]
        x = [g.bound / math.sqrt(math.log(n)) for g in res]
        first = i == 0
        ax.plot(
            x,
            [g.accuracy for g in res],
            marker=MARKERS[i % 6],
            ms=11 if first else 5,
            mfc="none" if first else color,
            mew=1.6,
            ls="-" if first else "--",
            lw=2.4 if first else 1.4,
            color=color,
            label=f"exact attention, n = {n}",
            zorder=2 + i,
        )
        poly = [g.poly_accuracy for g in res]
        if not all(math.isnan(p) for p in poly):
            ax.plot(
                x,
                poly,
                ls=":",
                color=color,
                label=f"polynomial, rank {res[0].poly_rank} (degree {res[0].poly_degree}), n = {n}",
            )
    ax.axhline(0.5, color="0.5", lw=0.8)
    ax.axvline(1.0, color="0.3", ls=":", lw=1.2)
    ax.set_ylim(0.4, 1.05)
    ax.set_xlabel(r"$B / \sqrt{\ln n}$")
    ax.set_ylabel("accuracy of the close-pair decision")
    ax.legend(loc="lower right")
    return ax.figure


def _dim_label(d: int | str) -> str:
    """The dimension's label in a legend: ``"ln"`` is ``round(ln n)``."""
    return r"\mathrm{round}(\ln n)" if d == "ln" else str(d)


def plot_feasible_bound(
    results: dict[int | str, Sequence[FeasibleBound]], ax: Axes | None = None
) -> Figure:
    """Largest entry bound ``B`` that a polynomial of rank at most ``sqrt(n)`` guarantees
    (:func:`~ptheory.efficiency.largest_feasible_bound`) against ``n``, one line per
    dimension ``d`` (``results`` maps ``d`` to its results; the key ``"ln"`` labels a
    line whose dimension is ``round(ln n)`` at each ``n``), with ``B = sqrt(ln n)``."""
    if not isinstance(results, dict) or not results:
        raise TypeError("results must be a non-empty dict {d: [FeasibleBound, ...]}")
    ax = axes_or_new(ax, width=5.4, height=4.6)
    all_n = []
    for i, (d, res) in enumerate(results.items()):
        if not res or not all(isinstance(r, FeasibleBound) for r in res):
            raise TypeError("results must map each d to a non-empty sequence of FeasibleBound")
        n = [r.n for r in res]
        all_n += n
        ax.plot(
            n,
            [r.proved for r in res],
            marker=MARKERS[i % 6],
            color=PALETTE[i],
            label=f"$d = {_dim_label(d)}$: largest certified $B$, rank $\\leq \\sqrt{{n}}$",
        )
    grid = np.geomspace(min(all_n), max(all_n), 60)
    ax.plot(grid, np.sqrt(np.log(grid)), ls=":", color="0.3", label=r"$B = \sqrt{\ln n}$")
    ax.set_xscale("log", base=2)
    ax.set_xlabel(r"sequence length $n$")
    ax.set_ylabel(r"entry bound $B$")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=1)
    return ax.figure
