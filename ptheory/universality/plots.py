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
    "plot_pipeline",
    "plot_precision",
    "plot_scale_sweep",
    "plot_size_comparison",
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
    legend: bool = True,
) -> Figure:
    """Measured ``d_p`` error of the built transformers (filled markers) and their bound
    (dashed, same colour) against ``delta``.

    ``errors`` and ``bounds`` map a target's label to one value per ``delta``.
    ``quantized = (fine_deltas, errors)`` adds the error of ``q o f o q`` alone on finer
    grids, where no transformer was built (open markers, dotted). ``legend=False`` leaves
    the legend to the caller (panels that share one).
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
    if legend:
        ax.plot([], [], "--", color="0.4", label="bound of the theorem")
        ax.legend(loc="lower right", fontsize=8)
    return ax.figure


def plot_scale_sweep(
    sweep: object,
    *,
    slope: float | None = None,
    collisions: Sequence[float] = (),
    resolution: float | None = 2.0**-53,
) -> Figure:
    """Two panels against the attention scale ``beta / beta_0`` (``beta_0`` the
    construction's), from a :class:`~ptheory.universality.scales.CollisionSweep`.

    Top: the smallest gap between exact contextual codes over their range (log-log), with
    ``beta_0`` marked (dashed), ``collisions`` (ratios ``beta / beta_0``) as crosses at the
    bottom edge, ``resolution`` as a dotted line, and a guide of log-log ``slope`` through
    the first point. Bottom: for each pair of neighbouring scales, how many pairs of
    triples change order between them (each change an exact collision).
    """
    from .scales import CollisionSweep

    if not isinstance(sweep, CollisionSweep):
        raise TypeError(f"sweep must be a CollisionSweep, got {type(sweep).__name__}")
    x = np.asarray(sweep.factors, dtype=float)
    gap = 10.0 ** np.asarray(sweep.log10_gap, dtype=float)
    from ..plotting import new_figure

    fig, (top, bottom) = new_figure(nrows=2, width=6.6, height=5.6)
    bottom.sharex(top)
    top.plot(x, gap, "-", color=PALETTE[0], lw=1.4, label="smallest gap, exact arithmetic")
    floor = float(np.min(gap[gap > 0])) / 30 if np.any(gap > 0) else 1e-20
    if slope is not None:
        guide = gap[0] * (x / x[0]) ** float(slope)
        keep = x <= 0.1  # the small scales, where the slope holds
        top.plot(
            x[keep],
            guide[keep],
            ":",
            color=PALETTE[1],
            lw=1.6,
            label=rf"$\propto \beta^{{{float(slope):g}}}$ (predicted)",
        )
    if resolution is not None:
        top.axhline(resolution, color="0.55", ls=":", lw=1.0)
        top.annotate(
            "float64 unit roundoff",
            (x[0], resolution),
            textcoords="offset points",
            xytext=(2, 3),
            fontsize=8,
        )
    if len(collisions):
        top.plot(
            list(collisions),
            [floor * 2] * len(collisions),
            "x",
            color=PALETTE[3],
            ms=8,
            mew=2,
            label="collisions located (60 digits)",
        )
        text = " and ".join(f"{c:.4g}" for c in sorted(collisions))
        top.annotate(
            f"at {text}",
            (max(collisions), floor * 2),
            textcoords="offset points",
            xytext=(8, -3),
            fontsize=8,
            color=PALETTE[3],
        )
    for ax in (top, bottom):
        ax.axvline(1.0, color="0.3", ls="--", lw=1.0)
        ax.set_xscale("log")
    top.annotate(
        r"construction's $\beta$",
        (1.0, gap.max()),
        textcoords="offset points",
        xytext=(4, -10),
        fontsize=8,
    )
    top.set_yscale("log")
    top.set_ylim(bottom=floor)
    top.set_ylabel("smallest gap / code range")
    top.legend(loc="upper left", fontsize=8)
    mids = np.sqrt(x[1:] * x[:-1])
    swaps = np.asarray(sweep.swaps, dtype=float)
    bottom.bar(
        mids,
        np.where(swaps > 0, swaps, np.nan),
        width=np.diff(x) * 0.9,
        color=PALETTE[2],
        label="pairs that change order",
    )
    bottom.set_yscale("log")
    bottom.set_xlabel(r"attention scale $\beta$ / the construction's $\beta$")
    bottom.set_ylabel("collisions between\nneighbouring scales")
    return fig


def plot_width_depth(
    depths: Sequence[int],
    widths: Sequence[int],
    n_params: Sequence[int],
    ax: Axes | None = None,
    *,
    wide: tuple[int, int] | None = None,
) -> Figure:
    """``FF_2``'s width against its depth for the deep stacks (bumps, four ReLUs per code),
    with the parameter count beside each point; ``wide = (width, n_params)`` adds the one
    wide layer (a ramp between neighbouring codes, two ReLUs per code) at depth 1."""
    x, y = np.asarray(depths, dtype=float), np.asarray(widths, dtype=float)
    n = np.asarray(n_params, dtype=float)
    if x.ndim != 1 or x.shape != y.shape or x.shape != n.shape or x.size < 1:
        raise ValueError("depths, widths and n_params must be sequences of one length")
    ax = axes_or_new(ax)
    ax.plot(x, y, "o-", color=PALETTE[0], label="deep stack of bumps (4 ReLUs per code)")
    for xi, yi, ni in zip(x, y, n, strict=True):
        ax.annotate(
            f"{int(ni):,} weights", (xi, yi), textcoords="offset points", xytext=(6, 4), fontsize=9
        )
    if wide is not None:
        if len(wide) != 2:
            raise ValueError("wide must be (width, n_params)")
        ax.plot(
            [1],
            [wide[0]],
            "s",
            color=PALETTE[1],
            ms=9,
            mfc="white",
            mew=2,
            label="one wide layer of ramps (2 ReLUs per code)",
        )
        ax.annotate(
            f"{int(wide[1]):,} weights",
            (1, wide[0]),
            textcoords="offset points",
            xytext=(10, 0),
            va="center",
            fontsize=9,
            color=PALETTE[1],
        )
    ax.set_xscale("log", base=2)
    ax.set_yscale("log", base=2)
    ax.set_xlabel(r"layers of $\mathrm{FF}_2$")
    ax.set_ylabel(r"hidden units per layer of $\mathrm{FF}_2$")
    ax.legend(loc="lower left")
    return ax.figure


def plot_class_size(
    inv_deltas: Sequence[int], digits: Mapping[str, Sequence[float]], ax: Axes | None = None
) -> Figure:
    """The number of decimal digits of the number of quantized targets against ``1/delta``,
    one line per ``(d, L)``, both axes logarithmic."""
    x = _positive_axis(inv_deltas, "inv_deltas")
    sizes = _series(digits, "digits", x.size)
    ax = axes_or_new(ax)
    for i, (label, s) in enumerate(sizes.items()):
        ax.plot(
            x, s, marker=MARKERS[i % len(MARKERS)], color=PALETTE[i % len(PALETTE)], label=label
        )
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel(r"cells per entry $1/\delta$")
    ax.set_ylabel("decimal digits of the number\nof quantized targets")
    ax.legend(loc="upper left")
    return ax.figure


def plot_precision(
    n_codes: Sequence[int],
    separations: Mapping[str, Sequence[float]],
    ax: Axes | None = None,
    *,
    resolutions: Mapping[str, float] | None = None,
    refuse_separation: float | None = None,
    misorders: Mapping[str, float] | None = None,
    pigeonhole: bool = True,
) -> Figure:
    """Relative separation of the contextual codes against their number ``K``, one line per
    arithmetic (``separations``: label -> one value per ``K``; zeros drawn at the bottom).

    ``resolutions``: label -> a horizontal line (e.g. a format's unit roundoff);
    ``refuse_separation``: where ``construct`` refuses (a dashed line); ``misorders``:
    label -> the first ``K`` at which that arithmetic puts two codes in the wrong order (a
    vertical line in its colour); ``pigeonhole``: the line ``1 / (K - 1)``, above which no
    ``K`` distinct numbers in one interval can all be apart.
    """
    x = _positive_axis(n_codes, "n_codes")
    seps = _series(separations, "separations", x.size)
    ax = axes_or_new(ax, width=6.4, height=4.4)
    positive = [v for s in seps.values() for v in s if v > 0]
    positive += [v for v in (resolutions or {}).values() if v > 0]
    floor = min(positive) / 100 if positive else 1e-20
    if pigeonhole:
        ax.plot(x, 1.0 / (x - 1.0), "-", color="0.75", lw=3, label=r"$1/(N_{\mathrm{code}}-1)$")
    for i, (label, s) in enumerate(seps.items()):
        color, marker = PALETTE[i % len(PALETTE)], MARKERS[i % len(MARKERS)]
        size = max(4.0, 11.0 - 3.5 * i)  # later series smaller, drawn over earlier ones
        face = "white" if i == 0 else color
        ax.plot(
            x,
            np.maximum(s, floor),
            marker + "-",
            color=color,
            label=label,
            ms=size,
            mfc=face,
            mew=1.8,
            lw=2.6 if i == 0 else 1.6,
        )
        if misorders and misorders.get(label) is not None:
            ax.axvline(misorders[label], color=color, ls="-.", lw=1.0)
            ax.annotate(
                f"{label}: codes out of order",
                (misorders[label], floor * 3),
                textcoords="offset points",
                xytext=(3, 0),
                fontsize=9,
                color=color,
            )
    for label, level in (resolutions or {}).items():
        ax.axhline(level, color="0.55", ls=":", lw=1.0)
        ax.annotate(label, (x[0], level), textcoords="offset points", xytext=(0, 3), fontsize=9)
    if refuse_separation is not None:
        ax.axhline(refuse_separation, color="0.2", ls="--", lw=1.0, label="construct refuses below")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_ylim(bottom=floor / 2)
    ax.set_xlabel(r"number of contextual codes $N_{\mathrm{code}}$")
    ax.set_ylabel("smallest gap / code range")
    ax.legend(loc="lower left", bbox_to_anchor=(0.0, 0.2))
    return ax.figure


def plot_pipeline(model: object, *, n_points: int = 4000) -> Figure:
    """Three panels, one above the other, for a built ``d = 1`` model
    (:func:`~ptheory.universality.construct`), each computed with the model's own layers:
    ``FF_1`` as a staircase (code against the entry, at the first prompt position and the
    first input position); for each input cell, the contextual code of input position 1
    under every grid prompt, minus the smallest of them (before the attention layer all
    prompts give one code); ``FF_2`` from the contextual code to the output over the lowest
    codes, with the table's points there.
    """
    import torch

    from ..plotting import new_figure
    from .build import UniversalModel

    if not isinstance(model, UniversalModel) or model.d != 1:
        raise ValueError("model must be a built model with d = 1 (plot_pipeline draws d = 1 only)")
    from matplotlib import colormaps

    fig, grid_axes = new_figure(nrows=3, width=6.6, height=9.6)
    axes = np.asarray(grid_axes).reshape(-1)
    ff1 = model.model.layers[0]
    x = torch.linspace(0, 1, n_points, dtype=torch.float64)
    L_p = model.prompt_length
    with torch.no_grad():
        for i, label in ((0, "a token at prompt position 1"), (L_p, "a token at input position 1")):
            t = x + float(model.model.positions[0, i])
            code = ff1(t.reshape(1, -1))[0]
            axes[0].plot(x.numpy(), code.numpy(), label=label)
    axes[0].set_xlabel("entry $x$ of the token")
    axes[0].set_ylabel("token code")
    axes[0].legend(loc="center right")
    axes[0].set_title(r"$\mathrm{FF}_1$: one step per cell, a range per position")
    before, after = model.context_codes()  # (M, G, L, 1)
    before, after = before[:, :, 0, 0].numpy(), after[:, :, 0, 0].numpy()
    M, G = after.shape
    colors = colormaps["viridis"](np.linspace(0, 1, M))
    for g in range(G):
        spread = after[:, g] - after[:, g].min()
        axes[1].scatter(spread, np.full(M, g + 1), c=colors, s=22, label=None)
        axes[1].scatter(
            before[:, g] - before[:, g].min(), np.full(M, g + 1.3), c="0.3", marker="|", s=90
        )
    axes[1].scatter([], [], c=[colors[M // 2]], s=22, label="after the head: one dot a prompt")
    axes[1].scatter([], [], c="0.3", marker="|", s=90, label="before it: every prompt at 0")
    axes[1].set_yticks(range(1, G + 1), [f"input cell {g + 1}" for g in range(G)])
    axes[1].set_ylim(0.5, G + 1.2)
    axes[1].set_xlabel("contextual code minus the smallest, over the grid prompts")
    axes[1].legend(loc="upper right", ncols=2)
    axes[1].set_title("the head: each prompt moves the input's code differently")
    shown = min(24, M * G)
    order = np.argsort(after.reshape(-1))[:shown]  # the lowest codes, every input cell
    codes = after.reshape(-1)[order]
    values = _prompt_values(model)[order]
    pad = 0.5 * float(np.min(np.diff(codes))) if shown > 1 else 1.0
    z = torch.linspace(float(codes[0]) - pad, float(codes[-1]) + pad, n_points, dtype=torch.float64)
    out = model.decode(z.reshape(-1, 1))[:, 0]
    axes[2].plot(z.numpy(), out.numpy(), lw=1.2, color=PALETTE[0], label=r"$\mathrm{FF}_2$")
    axes[2].plot(
        codes, values, "o", ms=6, color=PALETTE[1], label="a code and the value its prompt lists"
    )
    axes[2].set_xlabel("contextual code of input position 1")
    axes[2].set_ylabel("output")
    axes[2].legend(loc="upper center", ncols=2)
    axes[2].set_ylim(0, 1.2)
    axes[2].set_title(
        rf"$\mathrm{{FF}}_2$: one step per code (the {shown} lowest of {M * G} codes)"
    )
    return fig


def _prompt_values(model: object) -> np.ndarray:
    """The output each (grid prompt, grid input, position 1) must give, in the order of
    :meth:`~ptheory.universality.build.UniversalModel.context_codes` (``d = 1``)."""
    from .build import all_prompts

    prompts = all_prompts(model.d, model.L, model.delta)
    table = prompts.transpose(1, 2).reshape(len(prompts), -1, model.L, model.d)
    return table[:, :, 0, 0].reshape(-1).numpy()


def plot_size_comparison(
    inv_eps: Sequence[float],
    codes: Mapping[str, Sequence[float]],
    prompt: Mapping[str, Sequence[float]],
    jackson: Mapping[str, Sequence[float]],
) -> Figure:
    """Sizes against ``1/eps`` on two panels, one colour per dimension (paired by order).

    Left: this book's prompt length (``prompt``, dashed) and a Jackson-type count
    (``jackson``, dotted, open markers), both given as ``log10`` and drawn as numbers on a
    logarithmic axis. Right: the number of decimal digits of this book's number of
    contextual codes (``codes``, given as ``log10``), on a logarithmic axis.
    """
    from ..plotting import new_figure

    x = _positive_axis(inv_eps, "inv_eps")
    cds = _series(codes, "codes", x.size)
    groups = [
        (_series(prompt, "prompt", x.size), "--", None),
        (_series(jackson, "jackson", x.size), ":", "none"),
    ]
    fig, (left, right) = new_figure(ncols=2, width=8.8, height=4.2)
    for series, style, face in groups:
        for i, (label, s) in enumerate(series.items()):
            c, mk = PALETTE[i % len(PALETTE)], MARKERS[i % len(MARKERS)]
            left.plot(
                x, 10.0 ** np.asarray(s), style, marker=mk, mfc=face or c, color=c, label=label
            )
    for i, (label, s) in enumerate(cds.items()):
        c, mk = PALETTE[i % len(PALETTE)], MARKERS[i % len(MARKERS)]
        right.plot(x, np.floor(np.asarray(s)) + 1, "-", marker=mk, color=c, label=label)
    for ax in (left, right):
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel(r"accuracy $1/\varepsilon$")
        ax.legend(loc="upper left")
    left.set_ylabel("prompt tokens, or basis functions")
    right.set_ylabel("decimal digits of the number of codes")
    return fig
