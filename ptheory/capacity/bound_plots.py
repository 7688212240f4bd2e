"""Figures of the chapters on memorization capacity and invertible layers, in the book's
style (:mod:`ptheory.plotting`).

Every function takes ``ax=None`` (or makes a figure with
:func:`ptheory.plotting.axes_or_new`) and returns the :class:`~matplotlib.figure.Figure`,
so a chapter can ``glue`` it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from .._validate import check_int, check_real
from ..plotting import MARKERS, PALETTE, axes_or_new
from .counting import counting_lower_bound
from .invertible import InjectivityBound, WorstCase
from .lookup import LookupSearch
from .plots import FLOOR, _check_sequence, _loss_axis
from .quantized import QuantizedReport

__all__ = [
    "plot_branch_constants",
    "plot_counting_bound",
    "plot_lookup_lengths",
    "plot_loss_by_norm",
    "plot_quantized",
    "plot_smallest_lengths",
]


def plot_counting_bound(
    eps_values: Sequence[float],
    max_dl: int,
    bits: float,
    ax: Axes | None = None,
    *,
    lipschitz: float = 1.0,
) -> Figure:
    """The counting lower bound on ``L_p`` against ``d L``, one line per accuracy ``eps``.

    Uses ``d = dL, L = 1`` (the bound depends on ``d`` and ``L`` only through ``dL``) for
    ``dL = 1, ..., max_dL`` and ``bits`` bits per prompt token; logarithmic vertical axis,
    so exponential growth in ``dL`` shows as a straight line.
    """
    eps = _check_sequence(eps_values, "eps_values")
    max_dl = check_int(max_dl, "max_dl", minimum=1)
    bits = check_real(bits, "bits", minimum=0.0, strict_minimum=True)
    ax = axes_or_new(ax, width=5.4, height=4.0)
    fig = ax.figure
    n = np.arange(1, max_dl + 1)
    for j, e in enumerate(eps):
        values = [counting_lower_bound(int(m), 1, float(e), bits, lipschitz=lipschitz) for m in n]
        ax.plot(n, values, marker=MARKERS[j % len(MARKERS)], color=PALETTE[j % len(PALETTE)],
                label=rf"$\varepsilon = {e:g}$")  # fmt: skip
    ax.axhline(1.0, color="0.3", lw=0.8, label="one token")
    ax.set_yscale("log")
    ax.set_xlabel(r"number of input entries $dL$")
    ax.set_ylabel(
        rf"prompt tokens needed, $L_p \geq dL\,k^{{dL}} / \omega$ ($\omega = {bits:g}$ bits)"
    )
    ax.legend(loc="upper left")
    return fig


def plot_lookup_lengths(
    Ns: Sequence[int],
    searches: Sequence[LookupSearch],
    count: Sequence[float] | None = None,
    ax: Axes | None = None,
) -> Figure:
    """How many lookup tokens ``N`` examples need: proved, found, constructed, log-log.

    For each dataset (``Ns[i]`` examples, ``searches[i]`` from
    :func:`~ptheory.capacity.lookup_length_search`): the proved lower bound (triangles), the
    smallest length the search verified (dots) and the merge-aware construction (open
    squares); the fewest tokens lie in the shaded band between the first two. The dotted
    line is one token per example; ``count`` (optional) is drawn dashed.
    """
    ns = _check_sequence(Ns, "Ns")
    searches = list(searches)
    if len(searches) != ns.size or not all(isinstance(s, LookupSearch) for s in searches):
        raise TypeError("searches must hold one LookupSearch per value of Ns")
    found = np.array([np.nan if s.found is None else s.found for s in searches], dtype=float)
    bound = np.array([s.bound for s in searches], dtype=float)
    ax = axes_or_new(ax, width=6.0, height=4.2)
    fig = ax.figure
    ax.fill_between(ns, bound, np.where(np.isnan(found), ns, found), color=PALETTE[0],
                    alpha=0.15, lw=0, label="where the fewest tokens lie")  # fmt: skip
    ax.plot(ns, ns, ":", color="0.3", label="one token per example")
    ax.plot(ns, [s.merged for s in searches], "s", mfc="none", color=PALETTE[2], ms=8,
            label="merge-aware construction")  # fmt: skip
    ax.plot(ns, found, "o-", color=PALETTE[0], label="smallest length found")
    ax.plot(ns, bound, "v-", color=PALETTE[1], label=r"proved lower bound $\lceil\chi/2\rceil$")
    if count is not None:
        c = _check_sequence(count, "count")
        if c.size != ns.size:
            raise ValueError(f"count must have one value per N ({ns.size}), got {c.size}")
        ax.plot(ns, c, "--", color="0.45", label="counting bound, 64-bit entries")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log", base=2)
    plain = FuncFormatter(lambda v, _: f"{v:g}")
    ax.xaxis.set_major_formatter(plain)
    ax.yaxis.set_major_formatter(plain)
    ax.set_xlabel("examples $N$")
    ax.set_ylabel(r"prompt tokens $L_p$")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2)
    return fig


def plot_branch_constants(
    info: InjectivityBound,
    worst: Sequence[WorstCase],
    names: Sequence[str] | None = None,
    ax: Axes | None = None,
) -> Figure:
    """Per layer: the certified Lipschitz constant of its residual branch (bars) and the
    largest ratio an adversarial search reached (dots), with what random sampling saw
    (crosses). ``names`` labels the layers (default ``layer 1, 2, ...``)."""
    if not isinstance(info, InjectivityBound):
        raise TypeError(f"info must be an InjectivityBound, got {type(info).__name__}")
    worst = list(worst)
    if len(worst) != len(info.kappas) or not all(isinstance(w, WorstCase) for w in worst):
        raise TypeError("worst must hold one WorstCase per layer of info")
    k = len(worst)
    names = [f"layer {i + 1}" for i in range(k)] if names is None else [str(n) for n in names]
    if len(names) != k:
        raise ValueError(f"names must name the {k} layers, got {len(names)}")
    ax = axes_or_new(ax, width=6.0, height=4.0)
    fig = ax.figure
    x = np.arange(k)
    ax.bar(x, info.kappas, width=0.6, color=PALETTE[0], alpha=0.35,
           label=r"certified constant $\kappa_k$")  # fmt: skip
    ax.plot(x, [w.value for w in worst], "o", color=PALETTE[0], ms=8,
            label="largest ratio, adversarial search")  # fmt: skip
    ax.plot(x, [w.sampled for w in worst], "x", color=PALETTE[1], ms=8,
            label="largest ratio, random sampling")  # fmt: skip
    ax.set_xticks(x, names)
    ax.set_ylim(0, 1.15 * max(info.kappas))
    ax.set_ylabel("Lipschitz ratio of the residual branch")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=2)
    return fig


def plot_smallest_lengths(
    measured: Mapping[str, tuple[Sequence[int], Sequence[int | None]]],
    bounds: Mapping[str, tuple[Sequence[float], Sequence[float]]],
    ax: Axes | None = None,
) -> Figure:
    """Smallest memorizing prompt length against the number of examples ``N``, log-log.

    ``measured`` maps a label to ``(N values, lengths)`` (``None``: no length tried worked,
    drawn as an open marker at the top of the axis); ``bounds`` maps a label to
    ``(N values, bound values)``, drawn as dashed lines."""
    if not isinstance(measured, Mapping) or not measured:
        raise TypeError("measured must be a non-empty mapping of label to (N, lengths)")
    if not isinstance(bounds, Mapping):
        raise TypeError("bounds must be a mapping of label to (N, bounds)")
    ax = axes_or_new(ax, width=6.0, height=4.2)
    fig = ax.figure
    top = 1.0
    for pair in measured.values():
        top = max(top, *(v for v in pair[1] if v is not None), *pair[0])
    top *= 2.0
    for j, (label, (ns, ls)) in enumerate(measured.items()):
        ns = _check_sequence(ns, "measured")
        ok = [(n, v) for n, v in zip(ns, ls, strict=True) if v is not None]
        miss = [n for n, v in zip(ns, ls, strict=True) if v is None]
        color = PALETTE[j % len(PALETTE)]
        if ok:
            ax.plot(*zip(*ok, strict=True), MARKERS[j % len(MARKERS)] + "-", color=color,
                    label=label)  # fmt: skip
        if miss:
            ax.plot(miss, [top] * len(miss), MARKERS[j % len(MARKERS)], mfc="none",
                    color=color, label=f"{label}: none found")  # fmt: skip
    for j, (label, (ns, bs)) in enumerate(bounds.items()):
        ax.plot(_check_sequence(ns, "bounds"), _check_sequence(bs, "bounds"), "--",
                color=f"{0.2 + 0.25 * j:.2f}", label=label)  # fmt: skip
    ax.set_xscale("log", base=2)
    ax.set_yscale("log", base=2)
    ax.set_xlabel("examples $N$")
    ax.set_ylabel(r"prompt tokens $L_p$")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2)
    return fig


def plot_quantized(reports: Sequence[QuantizedReport], ax: Axes | None = None) -> Figure:
    """Fraction of random datasets memorized by quantized prompts against the bits per
    entry, beside the count's ceiling ``min(1, 2^(b D L_p) / levels^(d N))``."""
    if not isinstance(reports, Sequence) or not reports:
        raise TypeError("reports must be a non-empty sequence of QuantizedReport")
    for r in reports:
        if not isinstance(r, QuantizedReport):
            raise TypeError(f"reports must hold QuantizedReport records, got {type(r).__name__}")
    ax = axes_or_new(ax, width=5.6, height=3.8)
    fig = ax.figure
    b = [r.bits for r in reports]
    ax.step(b, [r.count_ratio for r in reports], where="post", ls="--", color="0.2",
            label="count: largest possible fraction")  # fmt: skip
    ax.plot(b, [r.fraction for r in reports], "o-", color=PALETTE[0],
            label="quantized tuned prompts")  # fmt: skip
    ax.set_xlabel("bits per prompt entry")
    ax.set_ylabel("fraction of datasets memorized")
    ax.set_ylim(-0.05, 1.05)
    ax.legend(loc="center left")
    return fig


def plot_loss_by_norm(
    max_norms: Sequence[float],
    losses: Sequence[float],
    bounds: Sequence[float],
    unbounded: float | None = None,
    ax: Axes | None = None,
) -> Figure:
    """Best prompt-tuning loss against the bound ``R`` on the prompt's column norms.

    ``losses[i]`` is the best loss with every prompt column of norm below ``max_norms[i]``,
    ``bounds[i]`` the certified lower bound there (``0`` where the argument certifies
    nothing: those points are not drawn). ``unbounded`` (optional) is the loss with no
    norm bound, drawn as a horizontal line; when it lies more than four decades below the
    other values it is named in the legend only ("below 1e-10" under that), so that it does
    not squeeze them into the top of the axis. Both axes are logarithmic.
    """
    R = _check_sequence(max_norms, "max_norms")
    loss = _check_sequence(losses, "losses")
    bound = _check_sequence(bounds, "bounds")
    if not (R.size == loss.size == bound.size):
        raise ValueError(
            f"max_norms, losses and bounds must have one length, got {R.size}, "
            f"{loss.size}, {bound.size}"
        )
    if np.any(R <= 0):
        raise ValueError("max_norms must be positive")
    ax = axes_or_new(ax, width=5.6, height=4.0)
    fig = ax.figure
    ax.plot(R, loss.clip(FLOOR), "o-", color=PALETTE[0], label="prompt tuning, best run")
    certified = bound > 0
    if certified.any():
        ax.plot(R[certified], bound[certified], "v--", color="0.2", label="certified lower bound")
    shown = [loss.clip(FLOOR).min(), loss.max()]
    if certified.any():
        shown.append(bound[certified].min())
    if unbounded is not None:
        value = max(check_real(unbounded, "unbounded", minimum=0.0), FLOOR)
        if value >= 1e-4 * min(shown):
            ax.axhline(value, ls="-.", color=PALETTE[1], label="no bound on the prompt's norm")
            shown.append(value)
        else:  # off the scale: a legend entry only
            said = "below 1e-10" if value < 1e-10 else f"{value:.1e}"
            ax.plot([], [], ls="-.", color=PALETTE[1],
                    label=f"no bound on the prompt's norm: {said}, off the axis")  # fmt: skip
    _loss_axis(ax, shown)
    ax.set_xscale("log")
    ax.set_xlabel(r"bound $\rho$ on the norm of every prompt column")
    ax.legend(loc="lower left")  # the losses fall from the top left to the right
    return fig
