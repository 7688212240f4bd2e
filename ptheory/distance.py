"""Distances between sequence-to-sequence functions on ``[0, 1]^{d x L}``.

Both papers measure approximation in

    d_p(f1, f2) = ( integral over [0,1]^{d x L} of ||f1(X) - f2(X)||_p^p dX )^{1/p},   1 <= p < inf,

with ``||.||_p`` the entry-wise norm of a ``d x L`` matrix. The cube has volume 1, so the
integral is an expectation over uniform ``X``, which :func:`dp_distance` estimates by
Monte Carlo with a standard error.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch

from ._validate import as_tensor, check_int, check_matrix_batch, check_p, check_real

__all__ = ["Estimate", "dp_distance", "dp_norm_error", "uniform_inputs"]

SeqFunction = Callable[[torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class Estimate:
    """A Monte Carlo estimate: ``value`` with standard error ``stderr`` from ``n_samples`` draws."""

    value: float
    stderr: float
    n_samples: int

    def __str__(self) -> str:
        return f"{self.value:.4g} ± {self.stderr:.2g}"

    def upper(self, z: float = 3.0) -> float:
        """``value + z * stderr``: an upper confidence limit (``z = 3``: about 99.9%)."""
        return self.value + check_real(z, "z") * self.stderr


def uniform_inputs(
    n: int, d: int, L: int, *, seed: int = 0, dtype: torch.dtype = torch.float64
) -> torch.Tensor:
    """``n`` inputs drawn uniformly from ``[0, 1]^{d x L}``: ``(n, d, L)``, fixed by ``seed``."""
    n = check_int(n, "n", minimum=1)
    d = check_int(d, "d", minimum=1)
    L = check_int(L, "L", minimum=1)
    seed = check_int(seed, "seed", minimum=0)
    gen = torch.Generator().manual_seed(seed)
    return torch.rand(n, d, L, generator=gen, dtype=torch.float64).to(dtype)


def _evaluate(f: SeqFunction, X: torch.Tensor, name: str) -> torch.Tensor:
    out = f(X)
    out = as_tensor(out, f"{name}(X)", dtype=torch.float64, device="cpu")
    if out.shape != X.shape:
        raise ValueError(
            f"{name} must map (N, d, L) to (N, d, L): got {tuple(out.shape)} "
            f"for an input of shape {tuple(X.shape)}"
        )
    if not bool(torch.isfinite(out).all()):
        raise ValueError(f"{name} returned NaN or infinity on inputs in [0, 1]^(d x L)")
    return out


def dp_norm_error(
    f1: SeqFunction, f2: SeqFunction, X: torch.Tensor, *, p: float = 2
) -> torch.Tensor:
    """``||f1(X_i) - f2(X_i)||_p^p`` for each input of ``X: (N, d, L)``, shape ``(N,)``."""
    for name, f in (("f1", f1), ("f2", f2)):
        if not callable(f):
            raise TypeError(f"{name} must be callable, got {type(f).__name__}")
    p = check_p(p)
    X = check_matrix_batch(as_tensor(X, "X"), "X", ndim=3, layout="(N, d, L)")
    diff = _evaluate(f1, X, "f1") - _evaluate(f2, X, "f2")
    return diff.abs().pow(p).flatten(1).sum(dim=1)


def dp_distance(
    f1: SeqFunction,
    f2: SeqFunction,
    d: int,
    L: int,
    *,
    p: float = 2,
    n_samples: int = 4096,
    seed: int = 0,
    batch_size: int = 1024,
    dtype: torch.dtype = torch.float64,
) -> Estimate:
    """Monte Carlo estimate of ``d_p(f1, f2)`` over ``X`` uniform in ``[0, 1]^{d x L}``.

    ``f1`` and ``f2`` map ``(N, d, L)`` to ``(N, d, L)``. With ``m`` the sample mean of
    ``||f1(X) - f2(X)||_p^p`` and ``s_m`` its standard error, the estimate is
    ``m^{1/p}`` with the delta-method standard error ``s_m m^{1/p - 1} / p`` (reported
    as ``0`` when ``m = 0``). Inputs are passed in ``dtype`` and in batches of
    ``batch_size``; the same ``seed`` gives the same inputs for every call.
    """
    d = check_int(d, "d", minimum=1)
    L = check_int(L, "L", minimum=1)
    p = check_p(p)
    n_samples = check_int(n_samples, "n_samples", minimum=2)
    batch_size = check_int(batch_size, "batch_size", minimum=1)
    X = uniform_inputs(n_samples, d, L, seed=seed, dtype=dtype)
    with torch.no_grad():
        terms = torch.cat(
            [
                dp_norm_error(f1, f2, X[i : i + batch_size], p=p)
                for i in range(0, n_samples, batch_size)
            ]
        )
    mean = float(terms.mean())
    se_mean = float(terms.std(unbiased=True)) / math.sqrt(n_samples)
    value = mean ** (1.0 / p)
    stderr = se_mean * mean ** (1.0 / p - 1.0) / p if mean > 0 else 0.0
    return Estimate(value=value, stderr=stderr, n_samples=n_samples)
