"""Small measurement helpers shared by the chapters.

Scaling laws are read off log-log plots: :func:`loglog_slope` fits the exponent ``k`` of
``y ~ c x^k`` by least squares on ``(log x, log y)``, the number a chapter compares with
the theory's prediction (an attention share falling like ``1/L_p``, a runtime growing
like ``n`` or ``n^2``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

__all__ = ["loglog_slope"]


def loglog_slope(
    x: Sequence[float] | np.ndarray | torch.Tensor, y: Sequence[float] | np.ndarray | torch.Tensor
) -> float:
    """Least-squares slope of ``log y`` against ``log x``: the ``k`` in ``y ~ c x^k``.

    ``x`` and ``y`` are one-dimensional, of equal length (at least 2), positive and
    finite; ``x`` must not be constant.
    """
    arrays = []
    for name, v in (("x", x), ("y", y)):
        if isinstance(v, torch.Tensor):
            v = v.detach().cpu().numpy()
        try:
            arr = np.asarray(v, dtype=np.float64)
        except (TypeError, ValueError) as err:
            raise TypeError(f"{name} must be a sequence of real numbers") from err
        if arr.ndim != 1:
            raise ValueError(f"{name} must be one-dimensional, got shape {arr.shape}")
        if not np.isfinite(arr).all() or (arr <= 0).any():
            raise ValueError(f"{name} must hold positive finite numbers for a log-log fit")
        arrays.append(arr)
    lx, ly = np.log(arrays[0]), np.log(arrays[1])
    if lx.shape != ly.shape:
        raise ValueError(f"x and y must have one length, got {lx.size} and {ly.size}")
    if lx.size < 2:
        raise ValueError("x must hold at least two points")
    if np.ptp(lx) == 0:
        raise ValueError("x must not be constant")
    return float(np.polyfit(lx, ly, 1)[0])
