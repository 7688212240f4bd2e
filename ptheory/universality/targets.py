"""Targets with an exact Lipschitz constant, for the universality chapters.

``triangle_wave(C)`` is ``x -> 1 - |(C x mod 2) - 1|`` entry by entry: values in ``[0, 1]``,
slopes ``+-C``, so it is ``C``-Lipschitz in every entry-wise p-norm (and no better).
``sine_wave(C)`` is ``x -> 1/2 + sin(2 C x)/2``: also exactly ``C``-Lipschitz.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from .._validate import check_real

__all__ = ["sine_wave", "triangle_wave"]


def triangle_wave(lipschitz: float) -> Callable[[torch.Tensor], torch.Tensor]:
    """The triangle wave of slope ``+-C`` between 0 and 1, applied to every entry."""
    C = check_real(lipschitz, "lipschitz", minimum=0.0, strict_minimum=True)
    return lambda X: 1.0 - (torch.remainder(C * X, 2.0) - 1.0).abs()


def sine_wave(lipschitz: float) -> Callable[[torch.Tensor], torch.Tensor]:
    """``1/2 + sin(2 C x)/2`` on every entry: values in ``[0, 1]``, Lipschitz constant ``C``."""
    C = check_real(lipschitz, "lipschitz", minimum=0.0, strict_minimum=True)
    return lambda X: 0.5 + 0.5 * torch.sin(2 * C * X)
