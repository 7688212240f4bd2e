"""The book's figures: one look for every chapter, readable in print and on screen.

Call :func:`use_style` once (every chapter does), then the ``plot_*`` functions, which
take an ``ax`` (or make a figure) and return the figure so that a chapter can ``glue``
it. Colours come from seaborn's colour-blind palette; markers differ as well as colours
so that a greyscale print stays readable.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import matplotlib as mpl
import numpy as np
import seaborn as sns
import torch
from matplotlib import ticker
from matplotlib.axes import Axes
from matplotlib.axis import Axis
from matplotlib.figure import Figure

from ._validate import as_tensor, check_int, check_real
from .segments import PromptSplit

__all__ = [
    "DPI",
    "MARKERS",
    "MIN_PIXELS",
    "PALETTE",
    "axes_or_new",
    "new_figure",
    "plain_log_ticks",
    "plot_segments",
    "plot_weight_by_length",
    "shared_legend",
    "use_style",
]

PALETTE: list[tuple[float, float, float]] = sns.color_palette("colorblind")
"""The book's colours, in order of use."""

MARKERS: list[str] = ["o", "s", "^", "D", "v", "P"]
"""Markers, in order of use beside the colours, so that a greyscale print stays readable."""

DPI = 200
"""Resolution of every figure: sharp on a high-resolution screen and in print."""

MIN_PIXELS = 1300
"""Width in pixels below which :func:`new_figure` raises the resolution (narrow figures)."""

_STYLE = {
    "figure.dpi": DPI,
    "savefig.dpi": DPI,
    "figure.constrained_layout.use": True,
    "font.size": 10.5,
    "axes.titlesize": 11,
    "axes.labelsize": 10.5,
    "legend.fontsize": 9,
    "legend.frameon": False,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.35,
    "lines.linewidth": 1.8,
    "lines.markersize": 6,
    "svg.hashsalt": "ptheory",  # deterministic ids in SVG output
}


def use_style() -> None:
    """Apply the book's matplotlib style (idempotent).

    In a Jupyter kernel it also registers the PNG display of figures, so that a figure
    returned from a cell or glued into the book is shown as an image (figures here are
    made outside pyplot, which would otherwise register it on first use).
    """
    sns.set_theme(context="notebook", style="whitegrid", palette=PALETTE)
    mpl.rcParams.update(_STYLE)
    _register_notebook_display()


def _register_notebook_display() -> None:
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython is a dependency of the book only
        return
    if get_ipython() is None:
        return
    from matplotlib_inline.backend_inline import set_matplotlib_formats

    set_matplotlib_formats("png")


def new_figure(
    ncols: int = 1, nrows: int = 1, *, width: float = 6.4, height: float = 4.0
) -> tuple[Figure, np.ndarray]:
    """A figure of ``nrows x ncols`` panels in the book's style; axes always as an array."""
    ncols = check_int(ncols, "ncols", minimum=1)
    nrows = check_int(nrows, "nrows", minimum=1)
    width = check_real(width, "width", minimum=0.0, strict_minimum=True)
    height = check_real(height, "height", minimum=0.0, strict_minimum=True)
    use_style()
    # A Figure outside pyplot's registry: nothing is shown twice in a notebook, nothing
    # accumulates across a chapter, and returning it from a cell still displays it.
    # At least DPI, and enough for MIN_PIXELS across, so a narrow figure is as sharp.
    dpi = max(DPI, math.ceil(MIN_PIXELS / width))
    fig = Figure(figsize=(width, height), dpi=dpi, layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False)
    return fig, axes.ravel()


def axes_or_new(ax: Axes | None = None, *, width: float = 5.6, height: float = 4.0) -> Axes:
    """``ax`` itself, or the single panel of a new ``width x height`` figure if ``None``.

    The ``plot_*`` functions of every part take ``ax=None`` through this, and return
    ``ax.figure``.
    """
    if ax is None:
        return new_figure(width=width, height=height)[1][0]
    if not isinstance(ax, Axes):
        raise TypeError(f"ax must be a matplotlib Axes, got {type(ax).__name__}")
    return ax


def plain_log_ticks(axis: Axis) -> None:
    """Plain numbers on a log axis (60, not 6 x 10^1), at 1, 2 and 5 times each power of
    ten, so that an axis spanning less than a power of ten still has labelled ticks."""
    if not isinstance(axis, Axis):
        raise TypeError(f"axis must be a matplotlib Axis (ax.yaxis), got {type(axis).__name__}")
    axis.set_major_locator(ticker.LogLocator(subs=(1.0, 2.0, 5.0)))
    axis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:g}"))
    axis.set_minor_formatter(ticker.NullFormatter())


def shared_legend(fig: Figure, axes: Sequence[Axes], **kwargs: object) -> None:
    """One legend below the panels ``axes`` of ``fig`` for all of them: each label once, in
    the order the panels first show it; the panels' own legends are removed. ``kwargs`` go
    to :meth:`~matplotlib.figure.Figure.legend` (``ncols``, ``fontsize``)."""
    if not isinstance(fig, Figure):
        raise TypeError(f"fig must be a matplotlib Figure, got {type(fig).__name__}")
    if isinstance(axes, Axes) or not all(isinstance(ax, Axes) for ax in axes):
        raise TypeError("axes must be a sequence of matplotlib Axes")
    handles, labels = [], []
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            if label not in labels:
                handles.append(handle)
                labels.append(label)
        if ax.get_legend() is not None:
            ax.get_legend().remove()
    if handles:
        fig.legend(handles, labels, loc="outside lower center", **kwargs)


def _as_points(t: torch.Tensor, name: str) -> np.ndarray:
    arr = t.detach().cpu().double().numpy()
    if arr.shape[-2] != 2:
        raise ValueError(
            f"{name} must hold points in the plane (d = 2), got shape {tuple(arr.shape)}"
        )
    return arr


def plot_segments(
    split: PromptSplit,
    ax: Axes | None = None,
    *,
    title: str | None = None,
    legend: bool = True,
) -> Figure:
    """Draw the segment lemma in the plane for ``K`` prompts and ``N`` inputs.

    ``split`` comes from :func:`ptheory.segments.prompt_split` with shapes ``(K, N, 2, 1)``:
    one query per input (for example each input's last column), prompt ``k`` in the first
    dimension. For every prompt the figure draws ``a_k = Att(x, P_k)`` (a star), the
    segments from each ``b_i = Att(x, X_i)`` (squares) to ``a_k``, and the outputs
    ``Att(x, [P_k, X_i])`` (dots) that the lemma puts on those segments.
    """
    if not isinstance(split, PromptSplit):
        raise TypeError(f"split must be a PromptSplit, got {type(split).__name__}")
    if split.output.dim() != 4 or split.output.shape[-1] != 1:
        raise ValueError(
            "split must have shape (K, N, 2, 1): K prompts, N inputs, one "
            f"query each; got {tuple(split.output.shape)}"
        )
    out = _as_points(split.output, "split.output")[..., 0]
    a = _as_points(split.prompt_part, "split.prompt_part")[..., 0]
    b = _as_points(split.input_part, "split.input_part")[..., 0]
    ax = axes_or_new(ax, width=5.2, height=4.6)
    fig = ax.figure
    K, N = out.shape[:2]
    input_colors = [PALETTE[i % len(PALETTE)] for i in range(N)]
    for k in range(K):
        for i in range(N):
            ax.plot(
                [b[k, i, 0], a[k, i, 0]],
                [b[k, i, 1], a[k, i, 1]],
                ls="--",
                lw=1.0,
                color=input_colors[i],
                alpha=0.55,
                zorder=1,
            )
            ax.plot(
                out[k, i, 0],
                out[k, i, 1],
                "o",
                color=input_colors[i],
                ms=5,
                zorder=3,
                label=f"output for input {i + 1}" if k == 0 else None,
            )
        ax.plot(
            a[k, 0, 0],
            a[k, 0, 1],
            "*",
            color="0.15",
            ms=11,
            zorder=4,
            label=r"$a = \mathrm{Att}(x, P)$, one per prompt" if k == 0 else None,
        )
    for i in range(N):
        ax.plot(
            b[0, i, 0],
            b[0, i, 1],
            "s",
            color=input_colors[i],
            ms=9,
            mec="0.1",
            zorder=5,
            label=rf"$b_{i + 1} = \mathrm{{Att}}(x, X_{i + 1})$",
        )
    ax.set_xlabel("first coordinate of the attention output")
    ax.set_ylabel("second coordinate")
    ax.set_aspect("equal", adjustable="datalim")
    if title is not None:
        ax.set_title(title)
    if legend:
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2)
    return fig


def plot_weight_by_length(
    lengths: Sequence[int],
    weights: torch.Tensor,
    labels: Sequence[str],
    ax: Axes | None = None,
    *,
    input_share: bool = False,
) -> Figure:
    """The prompt's softmax mass ``lam`` (or the input's share ``1 - lam``) against ``L_p``.

    ``weights: (S, len(lengths), M)`` holds ``M`` samples for each of ``S`` settings
    (labelled by ``labels``) and each length. Draws the median and the 5-95% band on a
    logarithmic length axis. With ``input_share=True`` the samples are ``1 - lam``
    (from :func:`ptheory.segments.prompt_weight_by_length` with ``input_share=True``)
    and the vertical axis is logarithmic too, so a power law shows as a line; a dotted
    guide of slope -1 starts at the first setting's first median.
    """
    w = as_tensor(weights, "weights").detach().cpu().double().numpy()
    if w.ndim != 3 or w.shape[1] != len(lengths) or w.shape[0] != len(labels):
        raise ValueError(
            f"weights must have shape (len(labels), len(lengths), M) = "
            f"({len(labels)}, {len(lengths)}, M), got {tuple(w.shape)}"
        )
    ax = axes_or_new(ax, width=5.2, height=4.0)
    fig = ax.figure
    x = np.asarray(lengths, dtype=float)
    for s, label in enumerate(labels):
        lo, med, hi = np.quantile(w[s], [0.05, 0.5, 0.95], axis=-1)
        color = PALETTE[s % len(PALETTE)]
        ax.fill_between(x, lo, hi, color=color, alpha=0.2, lw=0)
        ax.plot(x, med, marker=MARKERS[s % len(MARKERS)], color=color, label=label)
    ax.set_xscale("log", base=2)
    ax.set_xlabel(r"prompt length $L_p$")
    if input_share:
        first = float(np.median(w[0, 0]))
        ax.plot(x, first * x[0] / x, ls=":", color="0.3", label=r"guide $\propto 1/L_p$")
        ax.set_yscale("log")
        ax.set_ylabel(r"input's share of the attention, $1 - \lambda$")
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2)
    else:
        ax.set_ylim(0, 1)
        ax.axhline(1.0, color="0.3", lw=0.8)
        ax.set_ylabel(r"prompt's softmax mass $\lambda$")
        ax.legend(loc="lower right")
    return fig
