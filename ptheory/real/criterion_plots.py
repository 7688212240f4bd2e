"""Figures of the chapter *The efficiency criterion in a real model*, in the book's style
(:mod:`ptheory.plotting`). Each function takes ``ax=None`` and returns the ``Figure``."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from .._validate import as_tensor, check_int
from ..plotting import MARKERS, PALETTE, axes_or_new

__all__ = ["plot_head_bounds", "plot_substitution"]


def _grid(x: object, name: str) -> np.ndarray:
    t = as_tensor(x, name)
    if t.dim() != 2:
        raise ValueError(f"{name} must be a (layers, heads) tensor, got shape {tuple(t.shape)}")
    return t.detach().double().cpu().numpy()


def plot_head_bounds(
    bounds: Mapping[str, torch.Tensor],
    lengths: Sequence[int],
    *,
    cap: torch.Tensor | None = None,
    ax: Axes | None = None,
) -> Figure:
    """The entry bound ``B`` of every head, layer by layer: one marker a head for each
    labelled ``(layers, heads)`` tensor of ``bounds``, the LayerNorm cap (crosses) when
    given, and ``sqrt(ln n)`` for each ``n`` of ``lengths`` (dotted). Log scale."""
    if not isinstance(bounds, Mapping) or not bounds:
        raise TypeError("bounds must be a non-empty mapping from labels to (layers, heads)")
    grids = {str(k): _grid(v, "bounds") for k, v in bounds.items()}
    shapes = {g.shape for g in grids.values()}
    if len(shapes) != 1:
        raise ValueError(f"every tensor of bounds must have one shape, got {sorted(shapes)}")
    layers, heads = shapes.pop()
    ns = [check_int(n, "lengths", minimum=2) for n in lengths]
    ax = axes_or_new(ax, width=6.4, height=4.0)
    k = len(grids) + (cap is not None)
    offsets = np.linspace(-0.3, 0.3, k) if k > 1 else np.zeros(1)
    for j, (label, g) in enumerate(grids.items()):
        for layer in range(layers):
            x = np.full(heads, layer + offsets[j])
            ax.scatter(
                x,
                g[layer],
                s=14,
                color=PALETTE[j % len(PALETTE)],
                marker=MARKERS[j % len(MARKERS)],
                label=label if layer == 0 else None,
                alpha=0.8,
            )
    if cap is not None:
        c = _grid(cap, "cap")
        if c.shape != (layers, heads):
            raise ValueError(f"cap must have shape {(layers, heads)}, got {c.shape}")
        for layer in range(layers):
            ax.scatter(
                np.full(heads, layer + offsets[-1]),
                c[layer],
                s=14,
                color="0.35",
                marker="x",
                label="LayerNorm cap (every prompt)" if layer == 0 else None,
            )
    for n, style in zip(ns, (":", "--", "-."), strict=False):
        ax.axhline(math.sqrt(math.log(n)), color="0.2", ls=style, lw=1.2, label=f"√ln n, n = {n}")
    ax.set_yscale("log")
    ax.set_xticks(range(layers), [str(layer + 1) for layer in range(layers)])
    ax.set_xlabel("layer")
    ax.set_ylabel("entry bound B (scores ⟨q, k⟩ / m)")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=3)
    return ax.figure


def plot_substitution(
    degrees: Sequence[int],
    errors: Mapping[str, Sequence[float]],
    trivial: Mapping[str, float],
    *,
    ax: Axes | None = None,
) -> Figure:
    """Measured max-abs error of one head's polynomial attention against the degree, per
    labelled head (``errors[label][i]`` at ``degrees[i]``), divided by that head's error of
    returning ``mean(V)`` (``trivial[label]``, positive): the trivial algorithm scores 1
    (dotted line). Log scale."""
    gs = [check_int(g, "degrees", minimum=0, maximum=64) for g in degrees]
    if not isinstance(errors, Mapping) or not errors:
        raise TypeError("errors must be a non-empty mapping from labels to error lists")
    if not isinstance(trivial, Mapping) or set(trivial) != set(errors):
        raise TypeError("trivial must map every label of errors to its mean(V) error")
    ax = axes_or_new(ax, width=5.6, height=3.8)
    for j, (label, errs) in enumerate(errors.items()):
        e = np.asarray(list(errs), dtype=float)
        if e.shape != (len(gs),):
            raise ValueError(f"errors[{label!r}] must hold one error per degree")
        t = float(trivial[label])
        if not t > 0:
            raise ValueError(f"trivial[{label!r}] must be positive, got {t}")
        ax.plot(
            gs,
            e / t,
            marker=MARKERS[j % len(MARKERS)],
            color=PALETTE[j % len(PALETTE)],
            label=label,
        )
    ax.axhline(1.0, color="0.2", ls=":", lw=1.2, label="returning mean(V)")
    ax.set_yscale("log")
    ax.set_xticks(gs)
    ax.set_xlabel("degree g of the polynomial")
    ax.set_ylabel("error / error of mean(V)")
    ax.legend()
    return ax.figure
