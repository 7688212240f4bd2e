"""Figures of the chapter ``real_soft_prompts``: the capacity of each method, its learning
curves, the one-token prompt's stall, and the ray dataset at three levels of the model."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from .._validate import check_real
from ..plotting import MARKERS, PALETTE, new_figure, plain_log_ticks, shared_legend
from .comparison import curve, interval, losses, point

__all__ = [
    "capacity_points",
    "method_label",
    "plot_capacity",
    "plot_curves",
    "plot_levels",
    "plot_stall",
]

_NAMES = {
    "prompt": "soft prompt, {size} token{s}",
    "prefix": "prefix, {size} token{s}",
    "lora_first": "LoRA rank {size}, layer 1",
    "lora": "LoRA rank {size}, all layers",
    "layer": "layer 6, all weights",
}


def method_label(method: str, size: int | None) -> str:
    """The figure and table label of a method of a size."""
    if method not in _NAMES:
        raise ValueError(f"method must be one of {sorted(_NAMES)}, got {method!r}")
    return _NAMES[method].format(size=size, s="" if size == 1 else "s")


def _check_points(points: object) -> list[tuple[str, int | None]]:
    if not isinstance(points, Sequence) or not points:
        raise TypeError("points must be a non-empty list of (method, size)")
    return [(str(m), s) for m, s in points]


def capacity_points(
    results: dict[str, Any], method: str, size: int | None, *, minimum: int = 2
) -> list[int]:
    """The ``N`` at which the capacity study ran ``method`` of ``size`` at least
    ``minimum`` times, in increasing order."""
    counts: dict[int, int] = {}
    for r in results["runs"]:
        if r["study"] == "capacity" and (r["method"], r["size"]) == (method, size):
            counts[r["n"]] = counts.get(r["n"], 0) + 1
    return sorted(n for n, c in counts.items() if c >= minimum)


def plot_capacity(
    results: dict[str, Any],
    points: Sequence[tuple[str, int | None]],
    plan: Mapping[tuple[str, int | None], Sequence[int]] | None = None,
) -> Figure:
    """Relative loss after the budget against targets per parameter, one line per method
    of ``points`` (mean of its runs, 95% interval as bars) at the ``N`` of ``plan``
    (default: every ``N`` with at least two runs); the dashed curve is
    ``max(0, 1 - 1/x)``, a method whose parameters act linearly."""
    points = _check_points(points)
    fig, (ax,) = new_figure(width=6.6, height=4.2)
    for j, (method, size) in enumerate(points):
        xs, mids, los, his = [], [], [], []
        ns = capacity_points(results, method, size) if plan is None else plan[(method, size)]
        for n in ns:
            run = point(results, "capacity", method, size, n)[0]
            mean, lo, hi = interval(losses(results, "capacity", method, size, n))
            xs.append(run["targets"] / run["parameters"])
            mids.append(mean)
            los.append(mean - lo)
            his.append(hi - mean)
        ax.errorbar(xs, mids, yerr=[los, his], color=PALETTE[j % len(PALETTE)],
                    marker=MARKERS[j % len(MARKERS)], capsize=3,
                    label=method_label(method, size))  # fmt: skip
    every = [x for line in ax.get_lines() for x in np.asarray(line.get_xdata(), dtype=float)]
    grid = np.geomspace(min(every) / 2, max(every) * 2, 200)
    ax.plot(grid, np.maximum(0, 1 - 1 / grid), color="0.3", ls="--", lw=1.2,
            label="parameters acting linearly")  # fmt: skip
    ax.axvline(1.0, color="0.6", lw=0.8, ls=":")
    ax.set_xscale("log")
    ax.set_xlabel("targets per trainable parameter")
    ax.set_ylabel("relative loss after the budget")
    ax.set_ylim(-0.03, 1.05)
    ax.legend(loc="upper left", fontsize=8)
    return fig


def plot_curves(
    results: dict[str, Any], points: Sequence[tuple[str, int | None]], ns: Sequence[int]
) -> Figure:
    """Learning curves: the lowest loss so far against L-BFGS evaluations, one panel per
    ``N`` of ``ns``, one line per method of ``points`` that ran at that ``N`` (mean of its
    runs, 95% interval shaded); log scale."""
    points = _check_points(points)
    if not isinstance(ns, Sequence) or not ns:
        raise TypeError("ns must be a non-empty list of N")
    fig, axes = new_figure(ncols=len(ns), width=3.5 * len(ns), height=3.6)
    for ax, n in zip(axes, ns, strict=True):
        for j, (method, size) in enumerate(points):
            if n not in capacity_points(results, method, size):
                continue
            xs, stats = curve(results, "capacity", method, size, n)
            mean = [s[0] for s in stats]
            colour = PALETTE[j % len(PALETTE)]
            ax.plot(xs, mean, color=colour, marker=MARKERS[j % len(MARKERS)], markevery=3,
                    label=method_label(method, size))  # fmt: skip
            ax.fill_between(xs, [s[1] for s in stats], [s[2] for s in stats], color=colour,
                            alpha=0.2, linewidth=0)  # fmt: skip
        run = next(r for r in results["runs"] if r["study"] == "capacity" and r["n"] == n)
        ax.set_title(f"N = {n} sequences, {run['targets']:,} targets")
        ax.set_yscale("log")
        plain_log_ticks(ax.yaxis)
        ax.set_xlabel("function evaluations (L-BFGS)")
    axes[0].set_ylabel("lowest relative loss so far")
    shared_legend(fig, axes, ncol=3, fontsize=8)
    return fig


def plot_stall(results: dict[str, Any]) -> Figure:
    """The one-token prompt on the 128-target task: its loss with 20 Adam steps and with
    L-BFGS (left; every run a thin line), and the singular values of the Jacobian of its
    128 outputs at the end of each L-BFGS run (right)."""
    runs = [r for r in results["runs"] if r["study"] == "stall"]
    if not runs:
        raise ValueError("results hold no runs of the stall study")
    fig, (left, right) = new_figure(ncols=2, width=9.0, height=3.6)
    for r in runs:
        best = np.minimum.accumulate(
            np.asarray(
                r["curve"] if "curve" in r else [r["best"][k] for k in sorted(r["best"], key=int)]
            )
        )
        if r["optimizer"] == "adam":  # dashed and on top: L-BFGS would hide it
            left.plot(np.arange(len(best)), best, color=PALETTE[0], lw=1.2, ls="--",
                      alpha=0.9, zorder=3)  # fmt: skip
        else:
            ks = sorted(map(int, r["best"]))
            left.plot(ks, [r["best"][str(k)] for k in ks], color=PALETTE[1], lw=0.8, alpha=0.7)
            sv = np.asarray(r["spectrum"])
            right.plot(np.arange(1, len(sv) + 1), sv / sv[0], color=PALETTE[1], lw=0.8,
                       alpha=0.7)  # fmt: skip
    left.plot([], [], color=PALETTE[0], ls="--", label="Adam, 20 steps")
    left.plot([], [], color=PALETTE[1], label="L-BFGS")
    left.set_xscale("symlog", linthresh=10)
    left.set_yscale("log")
    left.set_xlabel("steps or function evaluations")
    left.set_ylabel("lowest relative loss so far")
    left.legend(fontsize=8)
    right.set_yscale("log")
    right.set_xlabel("index of the singular value")
    right.set_ylabel("singular value / largest")
    right.set_title("Jacobian of the 128 outputs at the end")
    return fig


def plot_ranks(results: dict[str, Any], *, rel: float = 1e-5) -> Figure:
    """The singular values of the Jacobian of the 768 outputs at ``N = 1`` with respect to
    the 1,536 parameters of LoRA on layer 1 and of the 4-token prompt, at the end of each
    L-BFGS run (the ``"jacobian"`` study), divided by the largest; the dotted line is
    ``rel``, below which a singular value counts as zero."""
    rel = check_real(rel, "rel", minimum=0.0, strict_minimum=True)
    runs = [r for r in results["runs"] if r["study"] == "jacobian"]
    if not runs:
        raise ValueError("results hold no runs of the jacobian study")
    fig, (ax,) = new_figure(width=6.0, height=3.8)
    for j, (method, size) in enumerate((("prompt", 4), ("lora_first", 1))):
        first = True
        for r in runs:
            if (r["method"], r["size"]) != (method, size) or "spectrum" not in r:
                continue
            sv = np.asarray(r["spectrum"])
            ax.plot(np.arange(1, len(sv) + 1), sv / sv[0], color=PALETTE[j], lw=0.8, alpha=0.7,
                    label=method_label(method, size) if first else None)  # fmt: skip
            first = False
    ax.axhline(rel, color="0.3", ls=":", lw=1.2, label="counted as zero below")
    ax.set_yscale("log")
    ax.set_xlabel("index of the singular value")
    ax.set_ylabel("singular value / largest")
    ax.legend(fontsize=8)
    return fig


def plot_levels(
    table: Mapping[tuple[str, str, str], Sequence[float]],
    bounds: Sequence[float] = (),
    threshold: float = 0.05,
) -> Figure:
    """The best tuned loss over the loss without a prompt, one dot per seed, for each kind
    of prompt (``"prompt"``, ``"prefix"``), dataset (``"ray"``, ``"same"``, ``"control"``)
    and level (``"head"``, ``"layer"``, ``"model"``): ``table[(kind, dataset, level)]``.
    ``bounds``: the certified bounds at the head level on the same scale (black bars);
    ``threshold``: the check's level (dashed)."""
    if not isinstance(table, Mapping) or not table:
        raise TypeError("table must be a non-empty mapping {(kind, dataset, level): values}")
    threshold = check_real(threshold, "threshold", minimum=0.0, strict_minimum=True)
    levels = ("head", "layer", "model")
    datasets = {"ray": "ray dataset", "same": "rays turned the same way",
                "control": "targets made by a prompt"}  # fmt: skip
    kinds = {"prompt": "soft prompt", "prefix": "prefix"}
    fig, (ax,) = new_figure(width=7.2, height=4.0)
    slots = [(k, d) for k in kinds for d in datasets]
    width = 0.8 / len(slots)
    for s, (kind, dataset) in enumerate(slots):
        colour = PALETTE[list(datasets).index(dataset)]
        marker = "o" if kind == "prompt" else "s"
        for i, level in enumerate(levels):
            values = np.asarray(table.get((kind, dataset, level), []), dtype=float)
            if values.size == 0:
                continue
            x = i - 0.4 + (s + 0.5) * width + np.linspace(-0.02, 0.02, values.size)
            ax.scatter(x, values, color=colour, marker=marker,
                       facecolors=colour if kind == "prompt" else "none")  # fmt: skip
    for kind, name in kinds.items():
        ax.scatter([], [], color="0.3", marker="o" if kind == "prompt" else "s",
                   facecolors="0.3" if kind == "prompt" else "none", label=name)  # fmt: skip
    for d, name in datasets.items():  # colour only: the marker says the kind
        ax.plot([], [], color=PALETTE[list(datasets).index(d)], lw=6, label=name)
    if len(bounds):
        b = np.asarray(bounds, dtype=float)
        ax.scatter(np.full(b.size, -0.45), b, color="black", marker="_", s=200,
                   label="certified bound (one head)")  # fmt: skip
    ax.axhline(threshold, color="0.3", lw=1, ls="--", label=f"the check: {threshold:.0%}")
    ax.axhline(1.0, color="0.5", lw=1, ls=":")
    ax.set_xticks(range(len(levels)))
    ax.set_xticklabels(["one head\nof layer 1", "layer 1\n(12 heads, LN, FF)", "all 6 layers"])
    ax.set_yscale("log")
    ax.set_ylabel("best tuned loss / loss without a prompt")
    fig.legend(loc="outside right upper", fontsize=8)
    return fig
