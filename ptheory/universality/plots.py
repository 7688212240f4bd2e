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
    "plot_separation",
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
    floor: float | None = None,
) -> Figure:
    """Relative separation ``delta_cm / range`` of the contextual codes against ``lam``.

    Zeros (exact collisions) are drawn at the bottom edge. The dotted line is ``tol``:
    below it :func:`~ptheory.universality.construct` refuses to build (its
    ``min_separation``). ``default`` marks the construction's ``lam``.
    """
    x = _positive_axis(scales, "scales")
    seps = _series(separations, "separations", x.size)
    ax = axes_or_new(ax)
    floor = tol / 100 if floor is None else floor
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
    extrapolated: tuple[float, float] | None = None,
) -> Figure:
    """Relative separation of the contextual codes against their number ``K``, one line per
    arithmetic (``separations``: label -> one value per ``K``; zeros drawn at the bottom).

    ``resolutions``: label -> a horizontal line (e.g. a format's unit roundoff);
    ``refuse_separation`` / ``refuse_codes``: where ``construct`` refuses (a horizontal and a
    vertical line); ``breaks``: label -> the ``K`` where that arithmetic breaks (a marker);
    ``extrapolated = (K, separation)``: a dotted line from the first series' last point to
    that point, marked as an extrapolation.
    """
    x = _positive_axis(n_codes, "n_codes")
    seps = _series(separations, "separations", x.size)
    ax = axes_or_new(ax)
    positive = [v for s in seps.values() for v in s if v > 0]
    positive += [v for v in (resolutions or {}).values() if v > 0]
    if extrapolated is not None:
        positive.append(float(extrapolated[1]))
    floor = min(positive) / 100 if positive else 1e-20
    for i, (label, s) in enumerate(seps.items()):
        color, marker = PALETTE[i % len(PALETTE)], MARKERS[i % len(MARKERS)]
        ax.plot(x, np.maximum(s, floor), marker + "-", color=color, label=label)
        if breaks and label in breaks and breaks[label] is not None:
            ax.axvline(breaks[label], color=color, ls="-.", lw=0.9)
    if extrapolated is not None:
        first = next(iter(seps.values()))
        ax.plot([x[-1], extrapolated[0]], [first[-1], extrapolated[1]], ":", color="0.3")
        ax.plot([extrapolated[0]], [extrapolated[1]], "x", color="0.3", label="extrapolated")
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
    ax.legend(loc="upper right", fontsize=7)
    return ax.figure


def plot_pipeline(model: object, *, n_points: int = 4000) -> Figure:
    """Three panels for a built ``d = 1`` model (:func:`~ptheory.universality.construct`):
    ``FF_1`` as a staircase (code against the entry, at the first prompt and the first
    input position); the codes of the first input position before and after ``Attn``,
    one row per input cell, coloured by prompt; ``FF_2`` as a ``K``-step staircase from
    the contextual code to the output.
    """
    import torch

    from .build import ff2_table
    from .grid import grid_sequences

    if getattr(model, "d", None) != 1:
        raise ValueError("model must be a built model with d = 1 (plot_pipeline draws d = 1 only)")
    from matplotlib import colormaps

    from ..plotting import new_figure

    fig, grid_axes = new_figure(ncols=3, width=11.0, height=3.6)
    axes = np.asarray(grid_axes).reshape(-1)
    ff1, attn = model.model.layers[0], model.model.layers[1]
    x = torch.linspace(0, 1, n_points, dtype=torch.float64)
    L_p = model.prompt_length
    with torch.no_grad():
        for i, label in ((0, "prompt position 1"), (L_p, "input position 1")):
            t = x + float(model.model.positions[0, i])
            code = ff1(t.reshape(1, -1))[0]
            axes[0].plot(x.numpy(), code.numpy(), label=label)
    axes[0].set_xlabel("entry $x$ of the token")
    axes[0].set_ylabel(r"code $a$ after $\mathrm{FF}_1$")
    axes[0].legend(fontsize=7)
    axes[0].set_title(r"$\mathrm{FF}_1$: a staircase", fontsize=9)
    from .build import all_prompts

    prompts = all_prompts(1, model.L, model.delta)
    grid = grid_sequences(1, model.L, model.delta)
    with torch.no_grad():
        Z = (
            torch.cat(
                [
                    prompts[:, None].expand(-1, len(grid), -1, -1),
                    grid[None].expand(len(prompts), -1, -1, -1),
                ],
                dim=-1,
            )
            + model.model.positions
        )
        before = ff1(Z)[..., 0, L_p]  # (M, G)
        after = attn(ff1(Z))[..., 0, L_p]
    colors = colormaps["viridis"](np.linspace(0, 1, len(prompts)))
    for g in range(len(grid)):
        b, a = before[:, g].numpy(), after[:, g].numpy()
        lo, hi = a.min(), a.max()
        scale = hi - lo if hi > lo else 1.0
        axes[1].scatter(np.full_like(b, 0.5), np.full_like(b, 2 * g + 1), c=colors, s=12)
        axes[1].scatter((a - lo) / scale, np.full_like(a, 2 * g), c=colors, s=12)
    axes[1].set_yticks(
        [v for g in range(len(grid)) for v in (2 * g, 2 * g + 1)],
        [s for g in range(len(grid)) for s in (f"cell {g + 1}: after", f"cell {g + 1}: before")],
        fontsize=7,
    )
    axes[1].set_xlabel("code, rescaled within each row")
    axes[1].set_title("input codes, coloured by prompt", fontsize=9)
    codes, values = ff2_table(1, model.L, model.delta)
    z = torch.linspace(float(codes[0]), float(codes[-1]), n_points, dtype=torch.float64)
    with torch.no_grad():
        out = z.reshape(1, -1)
        for layer in model.model.layers[2:]:
            out = layer(out)
    axes[2].plot(z.numpy(), out[0].numpy(), lw=0.8, color=PALETTE[0])
    axes[2].plot(codes.numpy(), values[:, 0].numpy(), ".", ms=3, color=PALETTE[1])
    axes[2].set_xlabel(r"contextual code $c$")
    axes[2].set_ylabel("output")
    axes[2].set_title(rf"$\mathrm{{FF}}_2$: a {len(codes)}-step table", fontsize=9)
    return fig


def plot_size_comparison(
    inv_eps: Sequence[float],
    codes: Mapping[str, Sequence[float]],
    prompt: Mapping[str, Sequence[float]],
    jackson: Mapping[str, Sequence[float]],
    ax: Axes | None = None,
) -> Figure:
    """``log10`` of sizes against ``1/eps``, one colour per dimension (paired by order):
    this book's number of contextual codes (``codes``, solid), its prompt length
    (``prompt``, dashed) and a Jackson-type count (``jackson``, dotted, open markers)."""
    x = _positive_axis(inv_eps, "inv_eps")
    groups = [
        (_series(codes, "codes", x.size), "-", None),
        (_series(prompt, "prompt", x.size), "--", None),
        (_series(jackson, "jackson", x.size), ":", "none"),
    ]
    ax = axes_or_new(ax)
    for series, style, face in groups:
        for i, (label, s) in enumerate(series.items()):
            c, mk = PALETTE[i % len(PALETTE)], MARKERS[i % len(MARKERS)]
            ax.plot(x, s, style, marker=mk, mfc=face or c, color=c, label=label)
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel(r"accuracy $1/\varepsilon$")
    ax.set_ylabel(r"$\log_{10}$ (size)")
    ax.legend(loc="upper left", fontsize=8)
    return ax.figure
