"""Figures of the chapter *The segment lemma in a real model*: head maps and layer profiles.

Both take what :mod:`ptheory.real.segment` measures, in the book's style
(:mod:`ptheory.plotting`), and return the figure so that a chapter can ``glue`` it.
"""

from __future__ import annotations

from collections.abc import Mapping
from numbers import Real

import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from .. import plotting
from .._validate import as_tensor, check_int

__all__ = ["plot_head_maps", "plot_layer_profiles"]


def plot_head_maps(
    maps: Mapping[str, torch.Tensor],
    *,
    colorbar: str,
    ncols: int = 2,
    vmax: float | None = None,
    cmap: str = "mako_r",
) -> Figure:
    """One heat map per entry of ``maps`` (title -> ``(layers, heads)`` values), layers as
    rows (the first at the top), heads as columns, on one colour scale from 0 to ``vmax``
    (default: the largest value) with the colour bar labelled ``colorbar``."""
    if not isinstance(maps, Mapping) or not maps:
        raise TypeError("maps must be a non-empty mapping of titles to (layers, heads) tensors")
    arrays = {}
    for title, values in maps.items():
        t = as_tensor(values, "maps")
        if t.ndim != 2:
            raise ValueError(f"maps must hold (layers, heads) tensors, got {tuple(t.shape)}")
        arrays[str(title)] = t.detach().cpu().numpy()
    if not isinstance(colorbar, str):
        raise TypeError(f"colorbar must be a str, got {type(colorbar).__name__}")
    ncols = check_int(ncols, "ncols", minimum=1)
    if not isinstance(cmap, str):
        raise TypeError(f"cmap must be a colormap name (str), got {type(cmap).__name__}")
    if vmax is None:
        top = float(max(a.max() for a in arrays.values()))
        if not np.isfinite(top) or top <= 0:
            raise ValueError(f"maps must hold a positive largest value (or pass vmax), got {top}")
    else:
        if isinstance(vmax, bool) or not isinstance(vmax, Real):
            raise TypeError(f"vmax must be a number, got {type(vmax).__name__}")
        top = float(vmax)
        if not np.isfinite(top) or top <= 0:
            raise ValueError(f"vmax must be positive and finite, got {top}")
    nrows = -(-len(arrays) // ncols)
    fig, axes = plotting.new_figure(ncols=ncols, nrows=nrows, width=4.6 * ncols, height=2.7 * nrows)
    image = None
    for ax, (title, a) in zip(axes, arrays.items(), strict=False):
        image = ax.imshow(a, vmin=0.0, vmax=top, cmap=cmap, aspect="auto")
        ax.set_title(title)
        ax.set_xlabel("head")
        ax.set_ylabel("layer")
        ax.set_xticks(range(a.shape[1]), [str(h + 1) for h in range(a.shape[1])], fontsize=8)
        ax.set_yticks(range(a.shape[0]), [str(layer + 1) for layer in range(a.shape[0])])
        ax.grid(False)
    for ax in axes[len(arrays) :]:
        ax.set_visible(False)
    fig.colorbar(image, ax=list(axes[: len(arrays)]), label=colorbar, shrink=0.9)
    return fig


def plot_layer_profiles(
    profiles: Mapping[str, torch.Tensor],
    ax: Axes | None = None,
    *,
    ylabel: str,
    title: str | None = None,
    log: bool = False,
) -> Figure:
    """Per-layer profiles: each entry of ``profiles`` (label -> ``(3, layers)`` quantiles,
    low, median, high, as :func:`~ptheory.real.segment.layer_quantiles` returns for
    ``q=(0.1, 0.5, 0.9)``) as a median line with a shaded band; layers numbered from 1."""
    if not isinstance(profiles, Mapping) or not profiles:
        raise TypeError("profiles must be a non-empty mapping of labels to (3, layers) tensors")
    if not isinstance(ylabel, str):
        raise TypeError(f"ylabel must be a str, got {type(ylabel).__name__}")
    ax = plotting.axes_or_new(ax)
    for i, (label, values) in enumerate(profiles.items()):
        q = as_tensor(values, "profiles").detach().cpu().numpy()
        if q.ndim != 2 or q.shape[0] != 3:
            raise ValueError(f"profiles must hold (3, layers) tensors, got {q.shape}")
        layers = np.arange(1, q.shape[1] + 1)
        colour = plotting.PALETTE[i % len(plotting.PALETTE)]
        marker = plotting.MARKERS[i % len(plotting.MARKERS)]
        ax.plot(layers, q[1], color=colour, marker=marker, label=str(label))
        ax.fill_between(layers, q[0], q[2], color=colour, alpha=0.15, linewidth=0)
    if log:
        ax.set_yscale("log")
    ax.set_xlabel("layer")
    ax.set_ylabel(ylabel)
    ax.set_xticks(layers)
    if title:
        ax.set_title(title)
    ax.legend()
    return ax.figure
