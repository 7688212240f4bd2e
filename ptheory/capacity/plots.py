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

from .._validate import as_tensor, check_real
from ..plotting import MARKERS, PALETTE, axes_or_new
from ..segments import prompt_split
from .engine import PromptTuneResult
from .rays import _single_layer_parts, ray_geometry
from .studies import LengthStudy

__all__ = [
    "plot_bound_slack",
    "plot_length_study",
    "plot_loss_by_length",
    "plot_parameters",
    "plot_rays",
]

FLOOR = 1e-20  # losses below this are drawn at this height on logarithmic axes


def plot_rays(
    model: torch.nn.Module,
    X: torch.Tensor,
    Y: torch.Tensor,
    prompt: torch.Tensor | None = None,
    ax: Axes | None = None,
) -> Figure:
    """The two rays of :func:`~ptheory.capacity.unmemorizable_dataset`, seen in a plane.

    Draws, projected on the plane through ``b_1, b_2`` spanned by ``b_1 - b_2`` and the
    common part ``g`` of the two ray directions: the outputs without prompt ``b_i``
    (squares), the needed outputs ``c_i`` (diamonds), the rays from ``c_i`` away from
    ``b_i`` (arrows). With a ``prompt: (d, L_p)`` it adds ``a = Att(x_0, P)`` (a star), the
    segments ``[b_i, a]`` of the segment lemma and the outputs reached (dots).
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

    ax = axes_or_new(ax, width=5.4, height=4.6)
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
        ax.plot(*pts[-1], alpha=0.0)  # keep the arrow head inside the view
    if prompt is not None:
        attn, _ = _single_layer_parts(model)
        P = as_tensor(prompt, "prompt", dtype=attn.W_Q.dtype)
        if P.dim() != 2 or P.shape[0] != attn.d:
            raise ValueError(f"prompt must have shape (d, L_p) = ({attn.d}, L_p), got {P.shape}")
        with torch.no_grad():
            split = prompt_split(attn, P, X, queries=X[:, :, -1:])
        a = coords(split.prompt_part[0, :, 0])
        for i in range(2):
            bi = coords(b[i])
            out = coords(split.output[i, :, 0])
            ax.plot([bi[0], a[0]], [bi[1], a[1]], ls="--", color="0.45", lw=1.0)
            ax.plot(*out, "o", color=PALETTE[i], ms=6, mec="0.1")
        ax.plot(*a, "*", color="0.15", ms=13, label=r"$a = \mathrm{Att}(x_0, P)$, tuned")
    ax.set_xlabel(r"coordinate along $g$ (attention-output units)")
    ax.set_ylabel(r"coordinate along $b_1 - b_2$")
    ax.set_aspect("equal", adjustable="datalim")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=3)
    return fig


def plot_loss_by_length(
    result: PromptTuneResult,
    bound: float,
    baselines: Mapping[str, float] | None = None,
    ax: Axes | None = None,
) -> Figure:
    """Final prompt-tuning losses against prompt length, beside a lower bound.

    Every restart is a small dot, the best restart of each length a line; the dashed line
    is ``bound``. ``baselines`` maps a label (say ``"LoRA rank 2"``) to a loss drawn as a
    horizontal line. The vertical axis is logarithmic; losses below ``1e-20`` are drawn
    at ``1e-20``.
    """
    if not isinstance(result, PromptTuneResult):
        raise TypeError(f"result must be a PromptTuneResult, got {type(result).__name__}")
    bound = check_real(bound, "bound", minimum=0.0)
    baselines = {} if baselines is None else baselines
    if not isinstance(baselines, Mapping):
        raise TypeError(f"baselines must be a mapping of label to loss, got {type(baselines)}")
    values = {str(k): check_real(v, "baselines", minimum=0.0) for k, v in baselines.items()}
    ax = axes_or_new(ax, width=5.6, height=4.0)
    fig = ax.figure
    x = np.asarray(result.lengths, dtype=float)
    losses = result.losses.detach().cpu().double().numpy().clip(FLOOR)
    jitter = np.linspace(0.93, 1.07, losses.shape[1])
    ax.scatter(
        (x[:, None] * jitter).ravel(), losses.ravel(), s=9, color=PALETTE[0], alpha=0.45, lw=0
    )
    ax.plot(x, losses.min(axis=1), "o-", color=PALETTE[0], label="prompt tuning, best restart")
    ax.axhline(max(bound, FLOOR), ls="--", color="0.2", label="lower bound, every prompt")
    for j, (label, value) in enumerate(values.items()):
        ax.axhline(max(value, FLOOR), ls="-.", color=PALETTE[(j + 1) % len(PALETTE)], label=label)
    ax.set_xscale("log", base=2)
    shown = [losses.min(), losses.max(), max(bound, FLOOR)]
    _loss_axis(ax, shown + [max(v, FLOOR) for v in values.values()])
    ax.set_xlabel(r"prompt length $L_p$ (tokens)")
    ax.legend(loc="center right")
    return fig


def plot_parameters(
    curves: Mapping[str, tuple[Sequence[float], Sequence[float]]],
    ax: Axes | None = None,
) -> Figure:
    """Training loss against the number of tuned parameters, one line per method.

    ``curves`` maps a label (say ``"prompt, n = 3"``) to ``(parameters, losses)``. Lines
    whose label starts with ``"LoRA"`` are dashed. Logarithmic loss axis; losses below
    ``1e-20`` are drawn at ``1e-20``.
    """
    if not isinstance(curves, Mapping) or not curves:
        raise TypeError("curves must be a non-empty mapping of label to (parameters, losses)")
    ax = axes_or_new(ax, width=6.0, height=4.2)
    fig = ax.figure
    shown = []
    for j, (label, pair) in enumerate(curves.items()):
        if not isinstance(pair, (tuple, list)) or len(pair) != 2:
            raise TypeError(f"curves[{label!r}] must be a pair (parameters, losses)")
        x = _check_sequence(pair[0], "curves")
        y = _check_sequence(pair[1], "curves").clip(FLOOR)
        if x.size != y.size:
            raise ValueError(f"curves[{label!r}] has {x.size} parameters and {y.size} losses")
        lora = str(label).startswith("LoRA")
        color = PALETTE[(j // 2) % len(PALETTE)]
        ax.plot(
            x,
            y,
            "s--" if lora else "o-",
            color=color,
            label=str(label),
            mfc="none" if lora else None,
        )
        shown += [y.min(), y.max()]
    _loss_axis(ax, shown)
    ax.set_xlabel("tuned parameters")
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


def _check_studies(studies: object) -> None:
    if not isinstance(studies, Sequence) or not studies:
        raise TypeError("studies must be a non-empty sequence of LengthStudy records")
    for s in studies:
        if not isinstance(s, LengthStudy):
            raise TypeError(f"studies must hold LengthStudy records, got {type(s).__name__}")


def plot_length_study(studies: Sequence[LengthStudy], ax: Axes | None = None) -> Figure:
    """Best loss against prompt length, relative to the best one-token loss, one line per
    seed: solid when the best pair needs entropy and a longer built prompt gains more than
    ``1e-5`` of the loss (longer prompts help), dashed otherwise. Dots: prompt tuning;
    lines: the reachable-pair loss."""
    _check_studies(studies)
    ax = axes_or_new(ax, width=6.0, height=4.2)
    fig = ax.figure
    helped = labelled = None
    for j, s in enumerate(studies):
        helps = s.entropy_any > 1e-3 and s.gain > 1e-5
        x = np.asarray(s.lengths, dtype=float)
        base = s.reduced[0]
        color = PALETTE[0] if helps else PALETTE[1]
        label = None
        if helps and helped is None:
            label = helped = "best pair needs entropy: longer prompts help"
        elif not helps and labelled is None:
            label = labelled = "one token reaches the best pair"
        ax.plot(x, np.asarray(s.reduced[:-1]) / base, "-" if helps else "--", color=color,
                label=label, lw=1.4)  # fmt: skip
        ax.plot(x, np.asarray(s.tuned) / base, MARKERS[j % len(MARKERS)], color=color, ms=5)
    ax.set_xscale("log", base=2)
    ax.set_xlabel(r"prompt length $L_p$ (tokens)")
    ax.set_ylabel("best loss / best one-token loss")
    ax.legend(loc="lower left")
    return fig


def plot_bound_slack(studies: Sequence[LengthStudy], ax: Axes | None = None) -> Figure:
    """Per seed: the certified ray bound, the best loss found (tuning over the lengths tried,
    and the reachable-pair search over every length) and the certified upper value
    ``(1 + kappa)^2 / (1 - kappa)^2`` times the relaxation's estimate."""
    _check_studies(studies)
    ax = axes_or_new(ax, width=6.4, height=4.0)
    fig = ax.figure
    x = np.arange(len(studies))
    ax.plot(x, [s.bound for s in studies], "_", ms=18, mew=2.5, color="0.15",
            label="certified lower bound $B$")  # fmt: skip
    ax.plot(x, [s.upper for s in studies], "_", ms=18, mew=1.5, color=PALETTE[2],
            label=r"$(1+\kappa)^2/(1-\kappa)^2 \times$ estimate")  # fmt: skip
    ax.plot(x, [min(s.tuned) for s in studies], "o", color=PALETTE[0], label="best tuned prompt")
    ax.plot(x, [s.reduced[-1] for s in studies], "x", color=PALETTE[1], ms=8,
            label="best reachable pair, any length")  # fmt: skip
    ax.set_xticks(x, [str(s.seed) for s in studies])
    ax.set_xlabel("seed of the model and the dataset")
    ax.set_ylabel("training loss (mean squared error)")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.18), ncol=2)
    return fig
