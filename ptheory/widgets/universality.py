"""Explorers for the Universality part.

:func:`universality_explorer` serves the universality theorem of the chapter
``notebooks/universality.md`` (this book's reconstruction of Hu et al. 2025, Theorems
2.1/2.2): the ``d_2`` error of the prompt-tuned construction against the resolution
``delta``, with its bound ``(C + 1)(delta/2)(dL)^{1/p} + ...``, for targets of Lipschitz
constant ``C``; the slider moves ``C``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from functools import lru_cache

import torch
from matplotlib.axes import Axes

from .._validate import check_int, check_real
from ..distance import dp_distance
from ..universality import construct, dimensions, quantization_bound, quantized_target
from ..universality.experiments import BUILD_LIMIT
from ..universality.plots import plot_error_vs_delta
from ._core import Explorer

__all__ = ["universality_explorer"]

DELTAS = (1 / 2, 1 / 3, 1 / 4, 1 / 8, 1 / 16, 1 / 32)
LIPSCHITZ = (0.5, 1.0, 2.0, 4.0, 8.0)


def _sine(C: float) -> Callable[[torch.Tensor], torch.Tensor]:
    """``x -> 1/2 + sin(2 C x)/2``: values in [0, 1], Lipschitz constant exactly ``C``."""
    return lambda X: 0.5 + 0.5 * torch.sin(2 * C * X)


def _zigzag(C: float) -> Callable[[torch.Tensor], torch.Tensor]:
    """A triangle wave of slope ``+-C`` between 0 and 1: Lipschitz constant exactly ``C``."""
    return lambda X: 1.0 - (torch.remainder(C * X, 2.0) - 1.0).abs()


@lru_cache(maxsize=8)
def _model(delta: float):
    """The fixed model for ``d = L = 1`` at ``delta``, built once for every panel."""
    return construct(1, 1, delta)


@lru_cache(maxsize=32)
def _panel(C: float, deltas: tuple[float, ...], n_samples: int, seed: int) -> dict:
    """Errors and bounds of the sine and zigzag targets of Lipschitz constant ``C``."""
    targets = {
        "sine": _sine(C),
        "zigzag": _zigzag(C),
    }
    built = [dimensions(1, 1, delta).n_codes <= BUILD_LIMIT for delta in deltas]
    errors: dict[str, list[float]] = {}
    bounds: dict[str, list[float]] = {}
    for label, f in targets.items():
        errors[label], bounds[label] = [], []
        for delta, build in zip(deltas, built, strict=True):
            if build:  # the model itself, tuned with the target's prompt
                model = _model(delta)
                g, bound = model.tuned(model.prompt_for(f)), model.error_bound(C)
            else:  # the function the construction computes off the quantizer's ramps
                g, bound = quantized_target(f, 1, 1, delta), quantization_bound(C, 1, 1, delta)
            est = dp_distance(g, f, 1, 1, n_samples=n_samples, seed=seed, batch_size=512)
            errors[label].append(est.value)
            bounds[label].append(bound)
    return {"errors": errors, "bounds": bounds, "built": built}


def _resolution(delta: object) -> float:
    delta = check_real(delta, "deltas", minimum=0.0, strict_minimum=True, maximum=0.5)
    v1 = round(1.0 / delta)
    if not math.isclose(delta * v1, 1.0, rel_tol=1e-9):
        raise ValueError(f"deltas must hold resolutions 1/n with n >= 2 an integer, got {delta}")
    return 1.0 / v1


def universality_explorer(
    lipschitz: Sequence[float] = LIPSCHITZ,
    *,
    deltas: Sequence[float] = DELTAS,
    n_samples: int = 512,
    seed: int = 0,
) -> Explorer:
    """The universality theorem's error against ``delta``, with a slider over ``C``.

    Each panel shows, for ``d = L = 1``, the measured ``d_2`` error of the prompt-tuned
    construction (markers) and the theorem's bound (dashed), against the resolution
    ``delta``, for two targets of Lipschitz constant exactly ``C``: ``1/2 + sin(2 C x)/2``
    and a zigzag (triangle wave) of slope ``+-C`` between 0 and 1.
    Filled markers: the model is built (``delta`` of 1/2, 1/3, 1/4) and run; open
    markers: the quantized target it computes, for grids too fine to build. The knob is
    ``C``: the larger it is, the larger the error on coarse grids and the finer the grid
    needed before the error falls like ``delta``.

    Args:
        lipschitz: the slider's values of ``C`` (at least two, positive, distinct).
        deltas: resolutions ``1/V1`` on the horizontal axis (at least two, distinct).
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
    n_samples = check_int(n_samples, "n_samples", minimum=64)
    seed = check_int(seed, "seed", minimum=0)

    def draw(C: float, ax: Axes) -> None:
        panel = _panel(C, grid, n_samples, seed)
        plot_error_vs_delta(grid, panel["errors"], panel["bounds"], ax, built=panel["built"])
        ax.set_ylim(1e-3, 10.0)

    return Explorer(
        name=r"Universality: $d_2$ error against $\delta$ for $C$-Lipschitz targets",
        parameter="$C$",
        values=values,
        draw=draw,
        initial=min(1, len(values) - 1),
    )
