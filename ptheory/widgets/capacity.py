"""Explorers for the Capacity part.

:func:`ray_bound_explorer` serves the theorem of the chapter
``notebooks/unmemorizable_dataset.md`` (this book's precise version of Wang et al.'s
single-layer limitation): on a frozen single-layer, single-head transformer, the loss of
**every** prompt, of any length, on the two-example dataset whose rays do not meet is at
least the certified bound ``ell*``. The figure shows the best prompt-tuning loss against
the prompt length beside ``ell*``; the slider moves the radius ``rho`` of the dataset (how
far the needed attention outputs lie from where the model puts them without a prompt).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import lru_cache

import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.ticker import NullLocator

from .._validate import check_int, check_real
from ..capacity import (
    fit_loss,
    prompt_tune,
    ray_lower_bound,
    single_layer_model,
    unmemorizable_dataset,
)
from ..plotting import MARKERS, PALETTE
from ._core import Explorer

__all__ = ["ray_bound_explorer"]

RADII = (0.25, 0.5, 1.0, 2.0, 4.0)
LENGTHS = (1, 2, 4, 8, 16, 32)


@lru_cache(maxsize=1)
def _model() -> torch.nn.Module:
    """The chapter's frozen model: ``d = 3``, one head, ``kappa = 0.2``."""
    return single_layer_model(d=3, seed=0)


@lru_cache(maxsize=64)
def _panel(
    radius: float, lengths: tuple[int, ...], steps: int, restarts: int, seed: int
) -> dict[str, object]:
    """Losses of every tuning run, the ray bound and the no-prompt loss at one radius."""
    model = _model()
    X, Y = unmemorizable_dataset(model, seed=0, radius=radius)
    res = prompt_tune(model, X, Y, list(lengths), steps=steps, restarts=restarts, seed=seed)
    with torch.no_grad():
        no_prompt = float(fit_loss(model(X), Y))
    return {
        "losses": res.losses.detach().cpu().double().numpy(),
        "bound": ray_lower_bound(model, X, Y),
        "no_prompt": no_prompt,
    }


def _draw(value: float, ax: Axes, lengths: tuple[int, ...], steps: int, restarts: int, seed: int):
    panel = _panel(value, lengths, steps, restarts, seed)
    losses: np.ndarray = panel["losses"]  # type: ignore[assignment]
    x = np.asarray(lengths, dtype=float)
    jitter = np.linspace(0.93, 1.07, losses.shape[1])
    ax.scatter(
        (x[:, None] * jitter).ravel(),
        losses.ravel(),
        s=9,
        color=PALETTE[0],
        alpha=0.45,
        lw=0,
        label="prompt tuning, every run",
    )
    ax.plot(
        x,
        losses.min(axis=1),
        marker=MARKERS[0],
        color=PALETTE[0],
        label="prompt tuning, best restart",
    )
    ax.axhline(panel["bound"], ls="--", color="0.2", label=r"bound $\ell^*$ (every prompt)")
    ax.axhline(panel["no_prompt"], ls=":", color=PALETTE[1], label="no prompt")
    ax.set_xscale("log", base=2)
    ax.set_xticks(x, [str(n) for n in lengths])
    ax.xaxis.set_minor_locator(NullLocator())
    ax.set_ylim(0.0, 1.15 * max(float(losses.max()), panel["no_prompt"]))
    ax.set_xlabel(r"prompt length $L_p$ (tokens)")
    ax.set_ylabel("training loss (mean squared error)")
    ax.legend(loc="lower right", fontsize="x-small")


def ray_bound_explorer(
    radii: Sequence[float] = RADII,
    *,
    lengths: Sequence[int] = LENGTHS,
    steps: int = 60,
    restarts: int = 6,
    seed: int = 0,
) -> Explorer:
    """Prompt tuning against the ray bound of the unmemorizable dataset, radius on a slider.

    For each radius ``rho`` in ``radii`` the panel tunes prompts of every length in
    ``lengths`` (``restarts`` L-BFGS runs of ``steps`` steps each, seeds from ``seed``) on
    ``cap.unmemorizable_dataset(model, seed=0, radius=rho)`` for the frozen model
    ``cap.single_layer_model(d=3, seed=0)``, and draws every run's final loss (dots), the
    best per length (line), the certified bound ``ell*`` (dashed) and the loss without a
    prompt (dotted). The theorem says no dot can go below the dashed line, whatever the
    length; both grow like ``rho^2``. Panels are computed once and cached, so the static grid
    and the live widget share them.
    """
    if isinstance(radii, (str, bytes)) or not isinstance(radii, Sequence):
        raise TypeError(f"radii must be a sequence of numbers, got {type(radii).__name__}")
    radii = tuple(
        check_real(r, "radii", minimum=0.0, strict_minimum=True, maximum=16.0) for r in radii
    )
    if len(radii) < 2:
        raise ValueError(f"radii must hold at least two values, got {len(radii)}")
    if len(set(radii)) != len(radii):
        raise ValueError(f"radii must be distinct, got {radii}")
    if isinstance(lengths, (str, bytes)) or not isinstance(lengths, Sequence):
        raise TypeError(f"lengths must be a sequence of ints, got {type(lengths).__name__}")
    lengths = tuple(check_int(n, "lengths", minimum=1, maximum=256) for n in lengths)
    if not lengths:
        raise ValueError("lengths must hold at least one prompt length")
    if len(set(lengths)) != len(lengths):
        raise ValueError(f"lengths must be distinct, got {lengths}")
    steps = check_int(steps, "steps", minimum=1, maximum=1000)
    restarts = check_int(restarts, "restarts", minimum=1, maximum=64)
    seed = check_int(seed, "seed", minimum=0)
    initial = min(range(len(radii)), key=lambda i: abs(math.log(radii[i])))  # nearest r = 1

    def draw(value: float, ax: Axes) -> None:
        _draw(value, ax, lengths, steps, restarts, seed)

    return Explorer(
        name="No prompt beats the ray bound",
        parameter=r"$\varrho$",
        values=radii,
        draw=draw,
        initial=initial,
    )
