"""Argument checks shared by the public functions of :mod:`ptheory`.

Every check raises :class:`TypeError` (wrong kind of object) or :class:`ValueError`
(wrong shape, range or non-finite value) with a message that starts with the
argument's name, so a reader sees at once which argument is wrong.
"""

from __future__ import annotations

import math
from numbers import Integral, Real
from typing import Any

import numpy as np
import torch

__all__ = [
    "as_tensor",
    "check_finite",
    "check_int",
    "check_matrix_batch",
    "check_p",
    "check_real",
]


def as_tensor(
    x: Any,
    name: str,
    *,
    dtype: torch.dtype | None = None,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """Return ``x`` as a floating-point tensor, or raise ``TypeError`` naming ``name``.

    Accepts tensors and NumPy arrays of real numbers. Integer and boolean inputs are
    converted to ``dtype`` (default: ``torch.get_default_dtype()``); complex inputs are
    refused.
    """
    if isinstance(x, np.ndarray):
        if not (np.issubdtype(x.dtype, np.number) or x.dtype == np.bool_):
            raise TypeError(f"{name} must hold real numbers, got a NumPy array of {x.dtype}")
        x = torch.from_numpy(np.ascontiguousarray(x))
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor or numpy.ndarray, got {type(x).__name__}")
    if x.is_complex():
        raise TypeError(f"{name} must be real, got complex dtype {x.dtype}")
    target = dtype
    if target is None:
        target = x.dtype if x.is_floating_point() else torch.get_default_dtype()
    return x.to(dtype=target, device=device)


def check_finite(x: torch.Tensor, name: str) -> torch.Tensor:
    """Raise ``ValueError`` naming ``name`` if ``x`` holds NaN or infinity."""
    if not bool(torch.isfinite(x).all()):
        raise ValueError(f"{name} must be finite, but it contains NaN or infinity")
    return x


def check_matrix_batch(
    x: torch.Tensor,
    name: str,
    *,
    rows: int | None = None,
    cols: int | None = None,
    ndim: int | tuple[int, ...] | None = None,
    layout: str = "(..., d, L)",
) -> torch.Tensor:
    """Check a batch of matrices ``x: (..., rows, cols)``; tokens are columns.

    ``ndim`` restricts the number of dimensions (an int or a tuple of allowed ints);
    ``rows``/``cols`` fix the last two sizes. ``layout`` only enters the error message.
    """
    allowed = (ndim,) if isinstance(ndim, int) else ndim
    if allowed is not None and x.dim() not in allowed:
        want = " or ".join(str(a) for a in allowed)
        raise ValueError(f"{name} must have {want} dimensions {layout}, got shape {tuple(x.shape)}")
    if x.dim() < 2:
        raise ValueError(
            f"{name} must be a matrix or a batch of matrices {layout}, got shape {tuple(x.shape)}"
        )
    if rows is not None and x.shape[-2] != rows:
        raise ValueError(
            f"{name} must have {rows} rows (the token dimension d) {layout}, "
            f"got shape {tuple(x.shape)}"
        )
    if cols is not None and x.shape[-1] != cols:
        raise ValueError(
            f"{name} must have {cols} columns (tokens) {layout}, got shape {tuple(x.shape)}"
        )
    return x


def check_int(
    value: Any, name: str, *, minimum: int | None = None, maximum: int | None = None
) -> int:
    """Return ``value`` as ``int`` after checking its type and range."""
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__}")
    value = int(value)
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be at most {maximum}, got {value}")
    return value


def check_real(
    value: Any,
    name: str,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    strict_minimum: bool = False,
) -> float:
    """Return ``value`` as a finite ``float`` after checking its type and range.

    With ``strict_minimum`` the value must exceed ``minimum`` rather than equal it.
    """
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    if minimum is not None:
        if strict_minimum and value <= minimum:
            raise ValueError(f"{name} must be greater than {minimum}, got {value}")
        if not strict_minimum and value < minimum:
            raise ValueError(f"{name} must be at least {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be at most {maximum}, got {value}")
    return value


def check_p(p: Any, name: str = "p") -> float:
    """Check the exponent of a ``d_p`` distance: a real number with ``1 <= p < inf``."""
    if isinstance(p, bool) or not isinstance(p, Real):
        raise TypeError(f"{name} must be a real number, got {type(p).__name__}")
    p = float(p)
    if not (1.0 <= p < math.inf):
        raise ValueError(f"{name} must satisfy 1 <= {name} < inf, got {p}")
    return p
