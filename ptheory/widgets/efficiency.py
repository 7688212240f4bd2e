"""Explorers for the Efficiency part (Hu et al., 2025: the almost-linear algorithm and the
efficiency criterion).

- :func:`efficiency_explorer`: the polynomial method's measured error, and the bound proved
  in the chapter *Almost-linear prompt-tuning inference*, against the entry bound ``B``;
  the knob is the polynomial's degree.
- :func:`retrieval_explorer`: the softmax mass on a planted duplicate key against
  ``B / sqrt(ln n)`` (the chapter *The phase transition at sqrt(ln n)*); the knob is the
  number of keys ``n``.

Both cache their measurements (one computation for every slider value), so the static grid
and the live widget reuse them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import lru_cache

import numpy as np
import torch
from matplotlib.axes import Axes

from .._validate import check_int, check_real
from ..efficiency import error_vs_bound, planted_mass
from ..efficiency._inputs import check_method
from ..plotting import MARKERS, PALETTE
from ._core import Explorer

__all__ = ["efficiency_explorer", "retrieval_explorer"]

_FLOOR = 1e-17  # errors below float64 resolution are drawn here (log axis)


def _int_values(values: Sequence[int], name: str, minimum: int, maximum: int) -> tuple[int, ...]:
    if isinstance(values, str | bytes) or not isinstance(values, Sequence):
        raise TypeError(f"{name} must be a sequence of integers, got {type(values).__name__}")
    out = tuple(check_int(v, name, minimum=minimum, maximum=maximum) for v in values)
    if len(out) < 2:
        raise ValueError(f"{name} must hold at least two values, got {len(out)}")
    if len(set(out)) != len(out):
        raise ValueError(f"{name} must be distinct, got {list(out)}")
    return out


@lru_cache(maxsize=8)
def _error_table(
    n: int, d: int, bounds: tuple[float, ...], degrees: tuple[int, ...], method: str, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Measured and proved errors, ``(len(degrees), len(bounds))`` each, computed once."""
    measured, proved = error_vs_bound(n, list(bounds), list(degrees), d=d, method=method, seed=seed)
    return measured.numpy(), proved.numpy()


def efficiency_explorer(
    degrees: Sequence[int] = (1, 2, 3, 4, 5, 6),
    *,
    n: int = 1024,
    d: int = 4,
    max_bound: float = 5.0,
    method: str = "taylor",
    seed: int = 0,
) -> Explorer:
    """Error of the polynomial method against the entry bound ``B``, one degree at a time.

    Serves the almost-linear algorithm of Hu et al. (2025) in the book's sharp form
    (``thm-fast-poly``): a degree-``g`` polynomial of ``exp`` with relative error at most
    ``eps`` gives low-rank attention whose max-abs error is at most about ``eps max|V|``.
    The knob is the degree ``g`` (``degrees``). Each panel shows, against ``B`` (20 values
    up to ``max_bound``), the measured max-abs error on ``n`` queries and keys ``B`` times
    uniform in ``[-1, 1]^d`` (values uniform in ``[-1, 1]``, float64, from ``seed``;
    :func:`error_vs_bound`), the proved bound at the same data (dashed, drawn where it is
    finite and below ``10^3``) and the line ``B = sqrt(ln n)``. All panels share the axes,
    so moving the slider shows how much accuracy a degree buys and where it stops buying
    any.
    """
    degrees = _int_values(degrees, "degrees", 0, 64)
    n = check_int(n, "n", minimum=2)
    d = check_int(d, "d", minimum=1)
    max_bound = check_real(max_bound, "max_bound", minimum=0.0, strict_minimum=True)
    method = check_method(method)
    seed = check_int(seed, "seed", minimum=0)
    bounds = tuple(max_bound * k / 20 for k in range(1, 21))
    threshold = math.sqrt(math.log(n))
    ordered = tuple(sorted(degrees))

    def draw(value: float, ax: Axes) -> None:
        measured, proved = _error_table(n, d, bounds, ordered, method, seed)
        i = ordered.index(int(value))
        color = PALETTE[i % len(PALETTE)]
        x = np.array(bounds)
        ax.plot(
            x,
            np.maximum(measured[i], _FLOOR),
            marker=MARKERS[i % len(MARKERS)],
            ms=4,
            color=color,
            label="measured",
        )
        ok = np.isfinite(proved[i]) & (proved[i] < 1e3)
        ax.plot(x[ok], proved[i][ok], ls="--", lw=1.2, color=color, label="proved bound")
        ax.axvline(threshold, color="0.3", ls=":", lw=1.2, label=r"$B = \sqrt{\ln n}$")
        ax.axhline(1.0, color="0.6", lw=0.8, label="size of the values")
        ax.set_yscale("log")
        ax.set_ylim(_FLOOR / 3, 3e3)
        ax.set_xlim(0, max_bound * 1.02)
        ax.set_xlabel(r"entry bound $B$ of $Q$ and $K$")
        ax.set_ylabel("max-abs error of the output")
        ax.legend(loc="lower right", fontsize="small")

    return Explorer(
        f"Polynomial attention error against B (n = {n}, d = {d}, {method})",
        "degree $g$",
        tuple(float(g) for g in degrees),
        draw,
    )


@lru_cache(maxsize=8)
def _mass_table(
    sizes: tuple[int, ...], ratios: tuple[float, ...], d: int, trials: int, seed: int
) -> dict[int, np.ndarray]:
    """Median, 10% and 90% quantiles of the planted mass per size: ``(3, len(ratios))``."""
    out = {}
    for n in sizes:
        root = math.sqrt(math.log(n))
        mass = planted_mass(n, [r * root for r in ratios], d=d, trials=trials, seed=seed)
        q = torch.quantile(mass, torch.tensor([0.5, 0.1, 0.9], dtype=mass.dtype), dim=1)
        out[n] = q.numpy()
    return out


def retrieval_explorer(
    sizes: Sequence[int] = (2**6, 2**8, 2**11, 2**14),
    *,
    d: int = 64,
    trials: int = 16,
    seed: int = 0,
) -> Explorer:
    """Softmax mass on a planted duplicate key against ``B / sqrt(ln n)``, one ``n`` at a time.

    Serves the chapter's proposition ``prop-phase-planted``, the mechanism behind the
    hardness beyond the efficiency criterion (Alman and Song, 2023; Hu et al., 2025): a
    query ``B a`` among ``n`` random sign keys ``B b_j`` (scores scaled by ``1/d``) puts
    mass about ``1 / (1 + n e^{-B^2})`` on its duplicate, so attention turns from averaging
    into retrieval as ``B`` passes ``sqrt(ln n)``. The knob is ``n`` (``sizes``). Each panel
    shows the median over ``trials`` draws and the 10-90% band
    (:func:`~ptheory.efficiency.planted_mass`), the proposition's orthogonal-key curve ``1 /
    (1 + (n - 1) e^{-B^2})`` (dashed) and the line ``B = sqrt(ln n)``; the transition stays
    at 1 on this axis and sharpens as ``n`` grows.
    """
    sizes = _int_values(sizes, "sizes", 2, 2**16)
    d = check_int(d, "d", minimum=1)
    trials = check_int(trials, "trials", minimum=1, maximum=256)
    seed = check_int(seed, "seed", minimum=0)
    ratios = tuple(0.0625 * k for k in range(2, 33))  # B / sqrt(ln n) from 0.125 to 2
    ordered = tuple(sorted(sizes))

    def draw(value: float, ax: Axes) -> None:
        n = int(value)
        median, low, high = _mass_table(ordered, ratios, d, trials, seed)[n]
        i = ordered.index(n)
        color = PALETTE[i % len(PALETTE)]
        x = np.array(ratios)
        ax.fill_between(x, low, high, color=color, alpha=0.25, lw=0, label="10–90%")
        ax.plot(x, median, marker=MARKERS[i % len(MARKERS)], ms=3, color=color, label="median")
        B2 = x**2 * math.log(n)
        ax.plot(
            x,
            1 / (1 + (n - 1) * np.exp(-B2)),
            ls="--",
            lw=1.1,
            color="0.3",
            label="orthogonal",
        )
        ax.axvline(1.0, color="0.3", ls=":", lw=1.2)
        ax.set_ylim(-0.03, 1.03)
        ax.set_xlim(0, x[-1] * 1.02)
        # large enough to read when a two-column grid is shrunk to a page's width
        ax.set_xlabel(r"$B / \sqrt{\ln n}$ (entries $\pm B$)", fontsize=12.5)
        ax.set_ylabel("mass on the planted key", fontsize=12.5)
        ax.tick_params(labelsize=12)
        ax.legend(loc="lower right", fontsize=11, handlelength=1.4, borderaxespad=0.3)

    return Explorer(
        f"Retrieval of a planted key (d = {d}, {trials} draws)",
        "$n$",
        tuple(float(n) for n in sizes),
        draw,
    )
