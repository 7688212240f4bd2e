"""Figures of the chapter ``real_soft_prompts``: loss against trainable parameters, and
the ray dataset against its control at three levels of the model."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.figure import Figure

from .._validate import check_real
from ..plotting import MARKERS, PALETTE, new_figure
from .memorize import METHODS, TuneResult
from .rays import LEVELS

__all__ = ["plot_level_fits", "plot_loss_by_parameters"]

_NAMES = {
    "prompt": "soft prompt",
    "lora_first": "LoRA, layer 1 (query, value)",
    "lora": "LoRA, all layers (query, value)",
    "layer": "one layer (the last), all weights",
}


def _check_results(results: object) -> list[TuneResult]:
    if not isinstance(results, Sequence) or not results:
        raise TypeError("results must be a non-empty list of TuneResult")
    if not all(isinstance(r, TuneResult) for r in results):
        raise TypeError("results must be a non-empty list of TuneResult")
    return list(results)


def plot_loss_by_parameters(results: Sequence[TuneResult]) -> Figure:
    """One panel per ``N``: the final relative loss of every run (dots, one per seed)
    against its number of trainable parameters (log-log), the mean over seeds joined by a
    line per method."""
    results = _check_results(results)
    ns = sorted({r.n for r in results})
    fig, axes = new_figure(ncols=len(ns), width=3.4 * len(ns), height=3.4)
    for ax, n in zip(axes, ns, strict=True):
        for j, method in enumerate(METHODS):
            runs = [r for r in results if r.n == n and r.method == method]
            if not runs:
                continue
            params = sorted({r.parameters for r in runs})
            means = [np.mean([r.loss for r in runs if r.parameters == p]) for p in params]
            colour, marker = PALETTE[j], MARKERS[j]
            ax.plot(params, means, color=colour, marker=marker, label=_NAMES[method])
            ax.scatter(
                [r.parameters for r in runs],
                [r.loss for r in runs],
                color=colour,
                marker=marker,
                s=14,
                alpha=0.45,
            )
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_title(f"N = {n} sequences")
        ax.set_xlabel("trainable parameters")
    lows = [r.loss for r in results]
    for ax in axes:
        ax.set_ylim(0.5 * min(lows), 2.0 * max(max(lows), 1.0))
    axes[0].set_ylabel("relative loss after tuning (1 = untuned)")
    axes[0].legend(loc="upper right")
    return fig


def plot_level_fits(
    table: dict[tuple[str, str], Sequence[float]],
    bounds: Sequence[float] = (),
    threshold: float = 0.05,
) -> Figure:
    """The best relative loss a tuned prompt reaches at each level (``"head"``,
    ``"layer"``, ``"model"``), one dot per seed, for the ray dataset and the control.
    ``table[(dataset, level)]`` holds one value per seed, ``dataset`` in
    ``("ray", "control")``; ``bounds``: the certified bounds of the ray dataset at the
    head level, on the same scale (black bars); ``threshold``: the check's level."""
    if not isinstance(table, dict) or not table:
        raise TypeError("table must be a non-empty dict {(dataset, level): values}")
    threshold = check_real(threshold, "threshold", minimum=0.0, strict_minimum=True)
    fig, (ax,) = new_figure(width=5.6, height=3.6)
    for j, name in enumerate(("ray", "control")):
        for i, level in enumerate(LEVELS):
            values = np.asarray(table.get((name, level), []), dtype=float)
            if values.size == 0:
                continue
            x = i + (j - 0.5) * 0.25 + np.linspace(-0.05, 0.05, values.size)
            label = "ray dataset" if name == "ray" else "control (targets made by a prompt)"
            ax.scatter(
                x, values, color=PALETTE[j], marker=MARKERS[j], label=label if i == 0 else None
            )
    if len(bounds):
        b = np.asarray(bounds, dtype=float)
        x = -0.125 + np.linspace(-0.05, 0.05, b.size)
        ax.scatter(x, b, color="black", marker="_", s=160, label="certified bound (one head)")
    ax.axhline(threshold, color="0.3", lw=1, ls="--", label=f"the check: {threshold:.0%}")
    ax.set_xticks(range(len(LEVELS)))
    ax.set_xticklabels(["one head of layer 1", "layer 1 (12 heads, LN, FF)", "all 6 layers"])
    ax.set_yscale("log")
    ax.set_ylabel("best tuned loss / loss without prompt")
    ax.axhline(1.0, color="0.4", lw=1, ls=":")
    ax.legend(loc="upper left")
    return fig
