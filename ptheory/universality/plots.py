"""Figures of the universality chapters, in the book's style (:mod:`ptheory.plotting`).

Each function takes ``ax=None`` (or draws into the given axes) and returns the figure.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from ..plotting import MARKERS, PALETTE, axes_or_new

__all__ = [
    "plot_class_size",
    "plot_error_vs_delta",
    "plot_precision",
    "plot_separation",
    "plot_width_depth",
]


def _series(data: Mapping[str, Sequence[float]], name: str, n: int) -> dict[str, np.ndarray]:
    if not isinstance(data, Mapping) or not data:
        raise TypeError(f"{name} must be a non-empty mapping from labels to sequences")
    out = {}
    for label, values in data.items():
        arr = np.asarray(values, dtype=float)
        if arr.shape != (n,):
            raise ValueError(f"{name}[{label!r}] must have {n} values, got shape {arr.shape}")
        out[str(label)] = arr
    return out


def _positive_axis(values: Sequence[float], name: str) -> np.ndarray:
    x = np.asarray(values, dtype=float)
    if x.ndim != 1 or x.size < 1 or not np.all(x > 0):
        raise ValueError(f"{name} must be a non-empty sequence of positive numbers")
    return x


def plot_error_vs_delta(
    deltas: Sequence[float],
    errors: Mapping[str, Sequence[float]],
    bounds: Mapping[str, Sequence[float]],
    ax: Axes | None = None,
    *,
    quantized: tuple[Sequence[float], Mapping[str, Sequence[float]]] | None = None,
) -> Figure:
    """Measured ``d_p`` error of the built transformers (filled markers) and their bound
    (dashed, same colour) against ``delta``.

    ``errors`` and ``bounds`` map a target's label to one value per ``delta``.
    ``quantized = (fine_deltas, errors)`` adds the error of ``q o f o q`` alone on finer
    grids, where no transformer was built (open markers, dotted).
    """
    x = _positive_axis(deltas, "deltas")
    errs = _series(errors, "errors", x.size)
    bnds = _series(bounds, "bounds", x.size) if bounds else {}
    if quantized is not None:
        qx = _positive_axis(quantized[0], "quantized deltas")
        qerrs = _series(quantized[1], "quantized errors", qx.size)
    ax = axes_or_new(ax)
    for i, (label, e) in enumerate(errs.items()):
        color, marker = PALETTE[i % len(PALETTE)], MARKERS[i % len(MARKERS)]
        ax.plot(x, e, marker + "-", color=color, lw=1.2, label=f"{label}: transformer")
        if label in bnds:
            ax.plot(x, bnds[label], "--", color=color, lw=1.2)
        if quantized is not None and label in qerrs:
            ax.plot(qx, qerrs[label], marker + ":", color=color, mfc="white", lw=1.0)
    if quantized is not None:
        ax.plot([], [], "o:", color="0.4", mfc="white", label=r"$q\circ f\circ q$ only (no model)")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel(r"resolution $\delta$")
    ax.set_ylabel(r"$d_p$ error (dashed: bound)")
    ax.legend(loc="lower right", fontsize=7)
    return ax.figure


def plot_separation(
    scales: Sequence[float],
    separations: Mapping[str, Sequence[float]],
    ax: Axes | None = None,
    *,
    tol: float = 1e-9,
    default: float | None = None,
) -> Figure:
    """Relative separation ``delta_cm / range`` of the contextual codes against ``lam``.

    Zeros (exact collisions) are drawn at the bottom edge. The dotted line is ``tol``:
    below it :func:`~ptheory.universality.construct` refuses to build (its
    ``min_separation``). ``default`` marks the construction's ``lam``.
    """
    x = _positive_axis(scales, "scales")
    seps = _series(separations, "separations", x.size)
    ax = axes_or_new(ax)
    floor = tol / 100
    for i, (label, s) in enumerate(seps.items()):
        color, marker = PALETTE[i % len(PALETTE)], MARKERS[i % len(MARKERS)]
        ax.plot(x, np.maximum(s, floor), marker=marker, color=color, label=label)
    ax.axhline(tol, ls=":", color="0.3", label="construct refuses below")
    if default is not None:
        ax.axvline(default, ls="--", color="0.5", lw=1.0, label=r"construction's $\lambda$")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_ylim(bottom=floor / 2)
    ax.set_xlabel(r"$\lambda$ in $W_K^\top W_Q = \lambda e_1 e_1^\top$")
    ax.set_ylabel(r"separation $\delta_{cm}$ / code range")
    ax.legend(loc="lower center", fontsize=8)
    return ax.figure


def plot_width_depth(
    depths: Sequence[int], widths: Sequence[int], n_params: Sequence[int], ax: Axes | None = None
) -> Figure:
    """The value map's width against its depth, with the parameter count beside each point."""
    x, y = np.asarray(depths, dtype=float), np.asarray(widths, dtype=float)
    n = np.asarray(n_params, dtype=float)
    if x.ndim != 1 or x.shape != y.shape or x.shape != n.shape or x.size < 1:
        raise ValueError("depths, widths and n_params must be sequences of one length")
    ax = axes_or_new(ax)
    ax.plot(x, y, "o-", color=PALETTE[0])
    for xi, yi, ni in zip(x, y, n, strict=True):
        ax.annotate(
            f"{int(ni):,} weights", (xi, yi), textcoords="offset points", xytext=(5, 5), fontsize=8
        )
    ax.set_xscale("log", base=2)
    ax.set_yscale("log", base=2)
    ax.set_xlabel("value-map depth (feed-forward layers)")
    ax.set_ylabel("value-map width (hidden units per layer)")
    return ax.figure


def plot_class_size(
    inv_deltas: Sequence[int], log10_sizes: Mapping[str, Sequence[float]], ax: Axes | None = None
) -> Figure:
    """``log10`` of the number of quantized targets against ``1/delta``, one line per ``(d, L)``."""
    x = _positive_axis(inv_deltas, "inv_deltas")
    sizes = _series(log10_sizes, "log10_sizes", x.size)
    ax = axes_or_new(ax)
    for i, (label, s) in enumerate(sizes.items()):
        ax.plot(
            x, s, marker=MARKERS[i % len(MARKERS)], color=PALETTE[i % len(PALETTE)], label=label
        )
    ax.set_yscale("log")
    ax.set_xlabel(r"cells per entry $1/\delta$")
    ax.set_ylabel(r"$\log_{10}$ (number of quantized targets)")
    ax.legend(loc="upper left")
    return ax.figure


def plot_precision(
    n_codes: Sequence[int],
    separations: Mapping[str, Sequence[float]],
    ax: Axes | None = None,
    *,
    resolutions: Mapping[str, float] | None = None,
    refuse_separation: float | None = None,
    refuse_codes: int | None = None,
    breaks: Mapping[str, float] | None = None,
) -> Figure:
    """Relative separation of the contextual codes against their number ``K``, one line per
    arithmetic (``separations``: label -> one value per ``K``; zeros drawn at the bottom).

    ``resolutions``: label -> a horizontal line (e.g. a format's unit roundoff);
    ``refuse_separation`` / ``refuse_codes``: where ``construct`` refuses (a horizontal and a
    vertical line); ``breaks``: label -> the ``K`` where that arithmetic breaks (a marker).
    """
    x = _positive_axis(n_codes, "n_codes")
    seps = _series(separations, "separations", x.size)
    ax = axes_or_new(ax)
    positive = [v for s in seps.values() for v in s if v > 0]
    floor = min(positive) / 100 if positive else 1e-20
    for i, (label, s) in enumerate(seps.items()):
        color, marker = PALETTE[i % len(PALETTE)], MARKERS[i % len(MARKERS)]
        ax.plot(x, np.maximum(s, floor), marker + "-", color=color, label=label)
        if breaks and label in breaks and breaks[label] is not None:
            ax.axvline(breaks[label], color=color, ls="-.", lw=0.9)
    for label, level in (resolutions or {}).items():
        ax.axhline(level, color="0.55", ls=":", lw=1.0)
        ax.annotate(label, (x[0], level), textcoords="offset points", xytext=(2, 3), fontsize=7)
    if refuse_separation is not None:
        ax.axhline(refuse_separation, color="0.2", ls="--", lw=1.0, label="construct refuses below")
    if refuse_codes is not None:
        ax.axvline(refuse_codes, color="0.2", ls="--", lw=1.0)
        ax.annotate(
            "construct: too many codes",
            (refuse_codes, floor * 10),
            fontsize=7,
            textcoords="offset points",
            xytext=(3, 0),
        )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_ylim(bottom=floor / 2)
    ax.set_xlabel(r"number of contextual codes $K$")
    ax.set_ylabel("smallest gap / code range")
    ax.legend(loc="lower left", fontsize=7)
    return ax.figure
