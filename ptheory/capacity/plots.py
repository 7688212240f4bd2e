"""Figures of the capacity part, in the book's style (:mod:`ptheory.plotting`).

Every function takes ``ax=None`` (or makes a figure with :func:`ptheory.plotting.new_figure`)
and returns the :class:`~matplotlib.figure.Figure`, so a chapter can ``glue`` it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from .._validate import as_tensor, check_real
from ..plotting import MARKERS, PALETTE, axes_or_new, new_figure
from ..segments import prompt_split
from .engine import PromptTuneResult
from .rays import ray_geometry
from .single_layer import single_layer_parts
from .studies import LengthStudy

__all__ = [
    "plot_bound_slack",
    "plot_length_study",
    "plot_loss_by_length",
    "plot_parameters",
    "plot_rays",
]

FLOOR = 1e-20  # losses below this are drawn at this height on logarithmic axes

GAIN_FLOOR = 1e-8
"""Relative gains at or below this (no gain, or none that rounding could not explain) are
drawn at this height in :func:`plot_length_study`."""

GROUPS = {
    "one token": (PALETTE[1], "s", r"$\psi > 0$: one token is best"),
    "longer": (PALETTE[0], "o", r"$\psi < 0$: a longer prompt is better"),
    "undecided": ("0.45", "X", "undecided (no one-token optimum reached)"),
}


def plot_rays(
    model: torch.nn.Module,
    X: torch.Tensor,
    Y: torch.Tensor,
    prompt: torch.Tensor | None = None,
    ax: Axes | None = None,
) -> Figure:
    """The two rays of :func:`~ptheory.capacity.unmemorizable_dataset`, seen in a plane.

    Draws, projected on the plane through ``b_1, b_2`` spanned by ``b_1 - b_2`` and the
    difference of the two ray directions (made orthogonal to ``b_1 - b_2``; what the two
    directions share is projected away): the outputs without prompt ``b_i`` (squares),
    the needed outputs ``c_i`` (diamonds), the rays from ``c_i`` away from ``b_i``
    (arrows). With a ``prompt: (d, L_p)`` it adds ``a = Att(x_0, P)`` (a star), the
    segments ``[b_i, a]`` of the segment lemma (dashed) and the outputs reached (dots).
    """
    geom = ray_geometry(model, X, Y)
    b, c = geom.b.double(), geom.c.double()
    if b.shape[0] != 2:
        raise ValueError(f"X must hold two examples, got {b.shape[0]}")
    origin = 0.5 * (b[0] + b[1])
    u = b[0] - b[1]
    v1 = u / u.norm().clamp_min(1e-300)
    spread = (c[0] - b[0]) - (c[1] - b[1])
    g = spread - (spread @ v1) * v1
    v2 = g / g.norm().clamp_min(1e-300)

    def coords(p: torch.Tensor) -> np.ndarray:
        q = p.double() - origin
        return torch.stack([q @ v2, q @ v1], dim=-1).numpy()

    ax = axes_or_new(ax, width=6.0, height=4.8)
    fig = ax.figure
    s = torch.linspace(0.0, 2.5, 2, dtype=torch.float64)
    rays = geom.ray_points(s)
    for i in range(2):
        color = PALETTE[i]
        pts = coords(rays[i])
        ax.annotate(
            "",
            xy=pts[-1],
            xytext=pts[0],
            arrowprops={"arrowstyle": "-|>", "color": color, "lw": 2.2},
        )
        bi, ci = coords(b[i]), coords(c[i])
        ax.plot([bi[0], ci[0]], [bi[1], ci[1]], ls=":", color=color, lw=1.0)
        ax.plot(*bi, "s", color=color, ms=9, mec="0.1", label=rf"$b_{i + 1}$ (no prompt)")
        ax.plot(*ci, "D", color=color, ms=8, mec="0.1", label=rf"$c_{i + 1}$ (needed)")
        ax.plot([], [], color=color, lw=2.2, label=rf"ray $R_{i + 1}$")
        ax.plot(*pts[-1], alpha=0.0)  # keep the arrow head inside the view
    if prompt is not None:
        attn, _ = single_layer_parts(model)
        P = as_tensor(prompt, "prompt", dtype=attn.W_Q.dtype)
        if P.dim() != 2 or P.shape[0] != attn.d:
            raise ValueError(f"prompt must have shape (d, L_p) = ({attn.d}, L_p), got {P.shape}")
        with torch.no_grad():
            split = prompt_split(attn, P, X, queries=X[:, :, -1:])
        a = coords(split.prompt_part[0, :, 0])
        for i in range(2):
            bi = coords(b[i])
            out = coords(split.output[i, :, 0])
            ax.plot([bi[0], a[0]], [bi[1], a[1]], ls="--", color="0.45", lw=1.0,
                    label="segments $[b_i, a]$" if i == 0 else None)  # fmt: skip
            ax.plot(*out, "o", color=PALETTE[i], ms=6, mec="0.1",
                    label=rf"output reached, example {i + 1}")  # fmt: skip
        ax.plot(*a, "*", color="0.15", ms=13, label=r"$a = \mathrm{Att}(x_0, P)$, best prompt")
    ax.set_xlabel("coordinate along the rays (attention-output units)")
    ax.set_ylabel(r"coordinate along $b_1 - b_2$")
    ax.set_aspect("equal", adjustable="datalim")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=3)
    return fig


def plot_loss_by_length(
    result: PromptTuneResult,
    bound: float,
    *,
    no_prompt: float | None = None,
    lines: Mapping[str, float] | None = None,
    ax: Axes | None = None,
) -> Figure:
    """Final prompt-tuning losses against the prompt length, beside a lower bound.

    Every run is a small dot, the best run of each length a line; the dashed line is
    ``bound``; ``no_prompt`` (dotted) is the loss without a prompt; ``lines`` maps a label
    (say ``"rank-1 LoRA"``) to a loss drawn as a horizontal line. The loss axis is
    **linear** and starts at zero, so that the gap between the best prompt and the bound
    is seen at its true size (a loss of ``1e-30`` is drawn on the axis).
    """
    if not isinstance(result, PromptTuneResult):
        raise TypeError(f"result must be a PromptTuneResult, got {type(result).__name__}")
    bound = check_real(bound, "bound", minimum=0.0)
    lines = {} if lines is None else lines
    if not isinstance(lines, Mapping):
        raise TypeError(f"lines must be a mapping of label to loss, got {type(lines).__name__}")
    values = {str(k): check_real(v, "lines", minimum=0.0) for k, v in lines.items()}
    ax = axes_or_new(ax, width=6.4, height=4.2)
    fig = ax.figure
    x = np.asarray(result.lengths, dtype=float)
    losses = result.losses.detach().cpu().double().numpy()
    jitter = np.linspace(0.93, 1.07, losses.shape[1])
    ax.scatter((x[:, None] * jitter).ravel(), losses.ravel(), s=10, color=PALETTE[0],
               alpha=0.45, lw=0, label="prompt tuning, every run")  # fmt: skip
    ax.plot(x, losses.min(axis=1), "o-", color=PALETTE[0], label="prompt tuning, best run")
    ax.axhline(bound, ls="--", color="0.15", label=r"certified bound $\ell^*$ (every prompt)")
    top = max(float(losses.max()), bound)
    if no_prompt is not None:
        no_prompt = check_real(no_prompt, "no_prompt", minimum=0.0)
        ax.axhline(no_prompt, ls=":", color="0.4", label="no prompt")
        top = max(top, no_prompt)
    styles = ["-.", (0, (5, 2, 1, 2, 1, 2)), (0, (1, 1))]
    for j, (label, value) in enumerate(values.items()):
        ax.axhline(value, ls=styles[j % len(styles)], lw=2.0,
                   color=PALETTE[(j + 2) % len(PALETTE)], label=label)  # fmt: skip
        top = max(top, value)
    ax.set_xscale("log", base=2)
    ax.set_xticks(x, [str(int(n)) for n in x])
    ax.minorticks_off()
    ax.set_ylim(-0.02 * top, 1.08 * top)
    ax.set_xlabel(r"prompt length $L_p$ (tokens)")
    ax.set_ylabel("training loss (mean squared error)")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2)
    return fig


def plot_parameters(
    curves: Mapping[str, tuple[Sequence[float], Sequence[float]]],
    ax: Axes | None = None,
    *,
    floor: float = 1e-16,
) -> Figure:
    """Training loss against the number of tuned parameters, one line per method.

    ``curves`` maps a label (say ``"prompt, n = 3"``) to ``(parameters, losses)``; lines
    whose label starts with ``"LoRA"`` are dashed with open markers, and the pairs of
    lines (prompt, LoRA) of one dataset share a colour. Logarithmic loss axis; losses
    below ``floor`` are drawn at ``floor``, the level marked "exact fit".
    """
    if not isinstance(curves, Mapping) or not curves:
        raise TypeError("curves must be a non-empty mapping of label to (parameters, losses)")
    floor = check_real(floor, "floor", minimum=0.0, strict_minimum=True)
    ax = axes_or_new(ax, width=6.4, height=4.4)
    fig = ax.figure
    shown = []
    for j, (label, pair) in enumerate(curves.items()):
        if not isinstance(pair, (tuple, list)) or len(pair) != 2:
            raise TypeError(f"curves[{label!r}] must be a pair (parameters, losses)")
        x = _check_sequence(pair[0], "curves")
        y = _check_sequence(pair[1], "curves").clip(floor)
        if x.size != y.size:
            raise ValueError(f"curves[{label!r}] has {x.size} parameters and {y.size} losses")
        lora = str(label).startswith("LoRA")
        color = PALETTE[(j // 2) % len(PALETTE)]
        marker = MARKERS[(j // 2) % len(MARKERS)]
        ax.plot(x, y, marker + ("--" if lora else "-"), color=color, label=str(label),
                mfc="white" if lora else color)  # fmt: skip
        shown += [y.min(), y.max()]
    ax.axhline(floor, color="0.3", lw=0.8)
    ax.annotate("exact fit (loss below this line)", (0.99, floor), xycoords=("axes fraction",
                "data"), ha="right", va="bottom", fontsize=8.5, color="0.3")  # fmt: skip
    ax.set_yscale("log")
    ax.set_ylim(floor / 30.0, max(shown) * 5.0)
    ax.set_xlabel("tuned parameters")
    ax.set_ylabel("training loss (mean squared error)")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2)
    return fig


def _loss_axis(ax: Axes, shown: Sequence[float]) -> None:
    """A logarithmic loss axis spanning ``shown`` with a decade to spare on each side
    (``axhline`` does not widen the limits by itself)."""
    ax.set_yscale("log")
    ax.set_ylim(min(shown) / 10.0, max(shown) * 10.0)
    ax.set_ylabel("training loss (mean squared error)")


def _check_sequence(x: Sequence[float], name: str) -> np.ndarray:
    arr = np.asarray(x, dtype=float)
    if arr.ndim != 1 or arr.size == 0 or not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be a non-empty 1-d sequence of finite numbers")
    return arr


def _check_studies(studies: object, name: str = "studies") -> list[LengthStudy]:
    if isinstance(studies, (str, bytes)) or not isinstance(studies, Sequence) or not studies:
        raise TypeError(f"{name} must be a non-empty sequence of LengthStudy records")
    for s in studies:
        if not isinstance(s, LengthStudy):
            raise TypeError(f"{name} must hold LengthStudy records, got {type(s).__name__}")
    return list(studies)


def plot_length_study(studies: Sequence[LengthStudy]) -> Figure:
    """When a longer prompt helps, over many seeds: two panels.

    Left: for every seed where ``psi < 0``, the relative gain of the best prompt of each
    length over the best one-token prompt (lines: the best reachable pair; markers: the
    prompt built from it and run by the model). Right: the multiplier ``psi`` read at the
    best one-token pair against the largest gain of a longer prompt, one point per seed
    (gains at or below ``1e-8``, including none, drawn at ``1e-8``). Colours and markers:
    what ``psi`` predicts.
    """
    studies = _check_studies(studies)
    fig, (left, right) = new_figure(ncols=2, width=10.0, height=4.8)
    for s in studies:
        if s.prediction != "longer" or len(s.lengths) < 2:
            continue
        color, marker, _ = GROUPS[s.prediction]
        x = np.asarray(s.lengths[1:], dtype=float)
        base = s.reduced[0]
        searched = [(base - r) / base for r in s.reduced[1:]]
        built = [(base - r) / base for r in s.built[1:]]
        left.plot(x, np.clip(searched, GAIN_FLOOR, None), "-", color=color, lw=1.2)
        left.plot(x, np.clip(built, GAIN_FLOOR, None), marker, color=color, ms=6, mfc="none")
    left.set_xscale("log", base=2)
    lengths = studies[0].lengths[1:]
    left.set_xticks(lengths, [str(n) for n in lengths])
    left.minorticks_off()
    left.set_yscale("log")
    left.set_xlabel(r"prompt length $L_p$ (tokens)")
    left.set_ylabel("gain over the best one-token prompt")
    left.set_title(r"seeds with $\psi < 0$: the gain against the length")
    handles = [
        Line2D([], [], color=PALETTE[0], lw=1.2, label="best reachable pair (search)"),
        Line2D(
            [],
            [],
            color=PALETTE[0],
            marker="o",
            ls="none",
            mfc="none",
            label="prompt built from it, run by the model",
        ),
    ]
    left.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.18), ncol=1)
    psis = np.array([s.psi for s in studies])
    gains = np.array([max(s.gain, GAIN_FLOOR) for s in studies])
    for name, (color, marker, label) in GROUPS.items():
        sel = np.array([s.prediction == name for s in studies])
        if sel.any():
            count = int(sel.sum())
            right.plot(psis[sel], gains[sel], marker, color=color, ms=7, ls="none",
                       label=f"{label} ({count} seed{'s' if count > 1 else ''})")  # fmt: skip
    right.axvline(0.0, color="0.3", lw=0.8)
    right.axhline(GAIN_FLOOR, color="0.3", lw=0.8, ls=":")
    right.annotate("no gain", (0.02, GAIN_FLOOR), xycoords=("axes fraction", "data"),
                   ha="left", va="bottom", fontsize=8.5, color="0.3")  # fmt: skip
    right.set_xscale("symlog", linthresh=1e-6, linscale=0.5)
    ticks = [-1e-1, -1e-3, -1e-5, 0.0, 1e-5, 1e-3, 1e-1]
    right.set_xticks(ticks, [r"$-10^{-1}$", r"$-10^{-3}$", r"$-10^{-5}$", "0", r"$10^{-5}$",
                             r"$10^{-3}$", r"$10^{-1}$"])  # fmt: skip
    right.minorticks_off()
    right.set_xlim(-0.3, 0.3)
    right.set_yscale("log")
    right.set_xlabel(r"multiplier $\psi$ at the best one-token pair")
    right.set_ylabel(f"largest gain, up to {studies[0].lengths[-1]} tokens")
    right.set_title(r"the sign of $\psi$ predicts the gain")
    right.legend(loc="upper center", bbox_to_anchor=(0.5, -0.18), ncol=1)
    return fig


def plot_bound_slack(
    studies: Mapping[str, Sequence[LengthStudy]], ax: Axes | None = None
) -> Figure:
    """The slack of the certified bound, seed by seed, for several feed-forward layers.

    ``studies`` maps a label (say ``"kappa = 0.2"``) to the studies of one contraction
    ``kappa``. For each seed, the best loss found with prompts of the longest length
    divided by the certified bound over the pairs of that length (filled markers) and by
    ``ell*``, the bound over every pair (open markers); a horizontal line at each
    ``kappa``'s ceiling ``(1 + kappa)^2 / (1 - kappa)^2``, the most the feed-forward layer
    can give away.
    """
    if not isinstance(studies, Mapping) or not studies:
        raise TypeError("studies must be a non-empty mapping of label to LengthStudy records")
    ax = axes_or_new(ax, width=6.6, height=4.4)
    fig = ax.figure
    for j, (label, group) in enumerate(studies.items()):
        group = _check_studies(group, "studies")
        color, marker = PALETTE[j % len(PALETTE)], MARKERS[j % len(MARKERS)]
        x = np.array([s.seed for s in group], dtype=float)
        n = group[0].lengths[-1]
        ax.plot(x, [s.best / s.bounds[-1] for s in group], marker, color=color, ls="none",
                label=f"{label}: best / bound over the pairs of {n} tokens")  # fmt: skip
        ax.plot(x, [s.best / s.bound for s in group], marker, color=color, ls="none",
                mfc="none", ms=9, label=rf"{label}: best / $\ell^*$ (every pair)")  # fmt: skip
        kappa = group[0].kappa
        ax.axhline(((1 + kappa) / (1 - kappa)) ** 2, color=color, ls="--", lw=1.2,
                   label=rf"{label}: ceiling $(1+\kappa)^2/(1-\kappa)^2$")  # fmt: skip
    seeds = sorted({s.seed for g in studies.values() for s in g})
    ax.set_xticks(seeds, [str(s) for s in seeds])
    ax.set_xlabel("seed of the model and the dataset")
    ax.set_ylabel("best loss found / certified bound")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=1)
    return fig
