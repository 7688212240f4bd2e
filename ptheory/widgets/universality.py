"""Explorers for the Universality part.

:func:`universality_explorer` serves the universality theorem of the chapter
``notebooks/universality.md`` (this book's reconstruction of Hu et al. 2025, Theorems
2.1/2.2): the ``d_2`` error of the prompt-tuned construction against the resolution
``delta`` (built transformers on coarse grids, the quantized target alone on finer ones,
drawn differently), with its bound ``(C + 1)(delta/2)(dL)^{1/p} + ...``, for targets of
Lipschitz constant ``C``; the slider moves ``C``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import lru_cache

from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from .._validate import check_int, check_real
from ..plotting import new_figure
from ..universality import error_sweep, quantized_sweep
from ..universality.plots import plot_error_vs_delta
from ..universality.targets import sine_wave, triangle_wave
from ._core import Explorer

__all__ = ["universality_explorer", "universality_panels"]

BUILT = (1 / 2, 1 / 3, 1 / 4)  # grids whose transformer every panel builds and runs
FINE = (1 / 8, 1 / 16, 1 / 32)  # finer grids: the quantized target alone, no transformer
LIPSCHITZ = (0.5, 1.0, 2.0, 4.0, 8.0)


@lru_cache(maxsize=32)
def _panel(C: float, built: tuple[float, ...], fine: tuple[float, ...], n_samples: int, seed: int):
    """Errors and bounds of the sine and triangle wave of Lipschitz constant ``C``."""
    targets = {"sine": (sine_wave(C), C), "triangle": (triangle_wave(C), C)}
    real = error_sweep(targets, 1, 1, built, n_samples=n_samples, seed=seed)
    quant = quantized_sweep(targets, 1, 1, fine, n_samples=n_samples, seed=seed) if fine else None
    return real, quant


def _resolution(delta: object) -> float:
    delta = check_real(delta, "deltas", minimum=0.0, strict_minimum=True, maximum=0.5)
    v1 = round(1.0 / delta)
    if not math.isclose(delta * v1, 1.0, rel_tol=1e-9):
        raise ValueError(f"deltas must hold resolutions 1/n with n >= 2 an integer, got {delta}")
    return 1.0 / v1


def universality_explorer(
    lipschitz: Sequence[float] = LIPSCHITZ,
    *,
    deltas: Sequence[float] = BUILT,
    fine_deltas: Sequence[float] = FINE,
    n_samples: int = 512,
    seed: int = 0,
) -> Explorer:
    """The universality theorem's error against ``delta``, with a slider over ``C``.

    Each panel shows, for ``d = L = 1``, the measured ``d_2`` error of the built,
    prompt-tuned transformer (filled markers, at ``deltas``) and the bound (dashed), and
    the error of the quantized target ``q o f o q`` alone on the finer ``fine_deltas``
    (open markers: no transformer is built there), for two targets of Lipschitz constant
    exactly ``C``: ``1/2 + sin(2 C x)/2`` and a triangle wave of slope ``+-C``.

    Args:
        lipschitz: the slider's values of ``C`` (at least two, positive, distinct).
        deltas: resolutions ``1/V1`` whose transformer is built (at least two, distinct).
        fine_deltas: finer resolutions, quantized target only (may be empty).
        n_samples: Monte Carlo samples per error (at least 64).
        seed: seed of the Monte Carlo samples.
    """
    if isinstance(lipschitz, (str, bytes)) or not isinstance(lipschitz, Sequence):
        raise TypeError(f"lipschitz must be a sequence of numbers, got {type(lipschitz).__name__}")
    values = tuple(check_real(C, "lipschitz", minimum=0.0, strict_minimum=True) for C in lipschitz)
    if len(values) < 2 or len(set(values)) != len(values):
        raise ValueError(f"lipschitz must hold at least two distinct values, got {values}")
    if isinstance(deltas, (str, bytes)) or not isinstance(deltas, Sequence):
        raise TypeError(f"deltas must be a sequence of numbers, got {type(deltas).__name__}")
    grid = tuple(_resolution(delta) for delta in deltas)
    if len(grid) < 2 or len(set(grid)) != len(grid):
        raise ValueError(f"deltas must hold at least two distinct resolutions, got {grid}")
    grid = tuple(sorted(grid, reverse=True))
    if isinstance(fine_deltas, (str, bytes)) or not isinstance(fine_deltas, Sequence):
        raise TypeError(
            f"fine_deltas must be a sequence of numbers, got {type(fine_deltas).__name__}"
        )
    fine = tuple(sorted((_resolution(x) for x in fine_deltas), reverse=True))
    n_samples = check_int(n_samples, "n_samples", minimum=64)
    seed = check_int(seed, "seed", minimum=0)

    def draw(C: float, ax: Axes, legend: bool = True) -> None:
        real, quant = _panel(C, grid, fine, n_samples, seed)
        extra = (fine, quant["errors"]) if quant else None
        plot_error_vs_delta(
            grid, real["errors"], real["bounds"], ax, quantized=extra, legend=legend
        )
        ax.set_ylim(1e-3, 10.0)

    return Explorer(
        name=r"Universality: $d_2$ error against $\delta$ for $C$-Lipschitz targets",
        parameter="$C$",
        values=values,
        draw=draw,
        initial=min(1, len(values) - 1),
    )


def universality_panels(values: Sequence[float] = (1.0, 2.0, 4.0, 8.0), **kwargs: object) -> Figure:
    """The explorer's panels for ``values`` of ``C`` (at least two), two to a row, with
    one legend for all of them: the static form of :func:`universality_explorer` for a
    page. ``kwargs`` as for :func:`universality_explorer`."""
    explorer = universality_explorer(values, **kwargs)  # checks values (two or more)
    chosen = explorer.values
    rows = math.ceil(len(chosen) / 2)
    fig, axes = new_figure(2, rows, width=8.0, height=3.3 * rows + 0.8)
    for ax, C in zip(axes, chosen, strict=False):
        explorer.draw(C, ax, legend=False)
        ax.set_title(f"$C$ = {C:g}")
    for ax in axes[len(chosen) :]:
        ax.set_visible(False)
    handles, labels = axes[0].get_legend_handles_labels()
    handles.append(Line2D([], [], ls="--", color="0.4"))
    labels.append("bound of the theorem (same colour)")
    fig.legend(handles, labels, loc="outside lower center", ncols=2)
    return fig
