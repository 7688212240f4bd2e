"""Lipschitz sequence-to-sequence targets with a known constant.

A target maps ``[0, 1]^{d x L}`` into ``[0, 1]^{d x L}`` and satisfies

    ||f(X) - f(X')||_p <= C ||X - X'||_p      (entry-wise p-norms of d x L matrices),

the class of Hu et al. (2025, Def. 2.3) with ``C`` written ``lipschitz``. Each family
below proves its bound in its docstring; :func:`empirical_lipschitz` measures a lower
estimate of the true constant so the bound can be checked.
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass

import torch

from ._validate import as_tensor, check_finite, check_int, check_matrix_batch, check_p, check_real

__all__ = [
    "LipschitzTarget",
    "empirical_lipschitz",
    "mean_pool_target",
    "operator_norm_bound",
    "random_relu_target",
    "shift_target",
]


@dataclass(frozen=True)
class LipschitzTarget:
    """A function ``(N, d, L) -> (N, d, L)`` on ``[0, 1]^{d x L}`` with values in ``[0, 1]``.

    Attributes:
        fn: the map itself, on float64 tensors ``(N, d, L)``.
        d, L: token dimension and sequence length.
        lipschitz: a proved upper bound ``C`` on its Lipschitz constant in the p-norm.
        p: the norm in which ``lipschitz`` holds.
        name: a short description for tables and legends.
    """

    fn: Callable[[torch.Tensor], torch.Tensor]
    d: int
    L: int
    lipschitz: float
    p: float
    name: str

    def __call__(self, X: torch.Tensor) -> torch.Tensor:
        X = check_finite(as_tensor(X, "X", dtype=torch.float64), "X")
        check_matrix_batch(X, "X", rows=self.d, cols=self.L, layout="(..., d, L)")
        return self.fn(X)


def _squash(u: torch.Tensor, lipschitz: float) -> torch.Tensor:
    # phi(u) = 1/2 + tanh(2 C u) / 2 maps R into (0, 1) with |phi'| <= C and phi(0) = 1/2.
    return 0.5 + 0.5 * torch.tanh(2.0 * lipschitz * u)


def operator_norm_bound(W: torch.Tensor, p: float = 2) -> float:
    """An upper bound on ``||W||_{p -> p}`` for a matrix ``W``.

    For ``p = 2`` this is the spectral norm (exact). Otherwise the Riesz-Thorin bound
    ``||W||_{1->1}^{1/p} ||W||_{inf->inf}^{1 - 1/p}`` (max column sum, max row sum).
    """
    W = check_matrix_batch(as_tensor(W, "W"), "W", ndim=2, layout="(m, n)")
    p = check_p(p)
    if p == 2:
        return float(torch.linalg.matrix_norm(W.double(), ord=2))
    col = float(W.abs().sum(dim=0).max())
    row = float(W.abs().sum(dim=1).max())
    return col ** (1.0 / p) * row ** (1.0 - 1.0 / p)


_MAX_REDRAWS = 100


def _draw_relu_net(
    sizes: list[int], p: float, gen: torch.Generator
) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    weights = []
    for fan_in, fan_out in itertools.pairwise(sizes):
        W = torch.randn(fan_out, fan_in, generator=gen, dtype=torch.float64)
        weights.append(W / operator_norm_bound(W, p))
    biases = [torch.randn(m, generator=gen, dtype=torch.float64) * 0.1 for m in sizes[1:-1]]
    return weights, biases


def _relu_net(
    weights: list[torch.Tensor], biases: list[torch.Tensor], v: torch.Tensor
) -> torch.Tensor:
    for W, b in zip(weights[:-1], biases, strict=True):
        v = torch.relu(v @ W.T + b)
    return v @ weights[-1].T


def random_relu_target(
    d: int,
    L: int,
    *,
    lipschitz: float = 1.0,
    p: float = 2,
    width: int = 32,
    depth: int = 2,
    seed: int = 0,
) -> LipschitzTarget:
    """A random ReLU network on the whole sequence, squashed into ``[0, 1]``.

    ``h = W_depth o ReLU o ... o ReLU o W_1`` acts on ``vec(X)`` (length ``dL``); every
    ``W_i`` has Gaussian entries divided by :func:`operator_norm_bound`, so ``h`` is
    1-Lipschitz in the p-norm (ReLU is 1-Lipschitz entry-wise). The target is
    ``f(X) = phi(h(vec X) - h(vec X_c))`` with ``X_c`` the centre of the cube and
    ``phi(u) = 1/2 + tanh(2 C u)/2`` entry-wise; ``|phi'| <= C``, so ``f`` is
    ``C``-Lipschitz, maps into ``(0, 1)``, and every output column depends on every
    input column (a genuinely contextual target). A draw whose ReLUs are all dead on the
    cube (a constant function) is replaced by the generator's next draw.
    """
    d = check_int(d, "d", minimum=1)
    L = check_int(L, "L", minimum=1)
    C = check_real(lipschitz, "lipschitz", minimum=0.0, strict_minimum=True)
    p = check_p(p)
    width = check_int(width, "width", minimum=1)
    depth = check_int(depth, "depth", minimum=1)
    seed = check_int(seed, "seed", minimum=0)
    gen = torch.Generator().manual_seed(seed)
    n = d * L
    sizes = [n] + [width] * (depth - 1) + [n]
    # Probe points from their own generator, so the weights are the seed's first draw.
    probe_gen = torch.Generator().manual_seed(0)
    probes = torch.rand(256, n, generator=probe_gen, dtype=torch.float64)
    for _ in range(_MAX_REDRAWS):
        weights, biases = _draw_relu_net(sizes, p, gen)
        h = functools.partial(_relu_net, weights, biases)
        # A narrow deep net can have every ReLU dead on the cube, i.e. be constant: redraw
        # (deterministically, from the same generator) so that targets are never trivial.
        if float(h(probes).std(dim=0).max()) > 1e-9:
            break
    else:  # pragma: no cover - needs _MAX_REDRAWS dead nets in a row
        raise ValueError(
            f"width={width}, depth={depth} gave only constant networks; "
            "use a wider or shallower net"
        )
    centre = h(torch.full((1, n), 0.5, dtype=torch.float64))

    def fn(X: torch.Tensor) -> torch.Tensor:
        v = X.reshape(*X.shape[:-2], n)
        return _squash(h(v) - centre, C).reshape(X.shape)

    return LipschitzTarget(fn, d, L, C, p, f"random ReLU net (C={C:g}, seed={seed})")


def mean_pool_target(d: int, L: int, *, lipschitz: float = 1.0, p: float = 2) -> LipschitzTarget:
    """Every output column is ``phi(mean of the input columns - 1/2)``.

    The mean-pooling map ``X -> m(X) 1^T`` is 1-Lipschitz in the entry-wise p-norm:
    ``L ||m - m'||_p^p <= L (L^{-1} sum_j ||x_j - x'_j||_p)^p <= ||X - X'||_p^p`` by
    Hoelder. With ``phi(u) = 1/2 + tanh(2 C u)/2`` the target is ``C``-Lipschitz and
    permutation-invariant: the simplest target that needs attention to mix tokens.
    """
    d = check_int(d, "d", minimum=1)
    L = check_int(L, "L", minimum=1)
    C = check_real(lipschitz, "lipschitz", minimum=0.0, strict_minimum=True)
    p = check_p(p)

    def fn(X: torch.Tensor) -> torch.Tensor:
        mean = X.mean(dim=-1, keepdim=True)
        return _squash(mean - 0.5, C).expand(X.shape).clone()

    return LipschitzTarget(fn, d, L, C, p, f"mean pooling (C={C:g})")


def shift_target(d: int, L: int, *, shift: int = 1, p: float = 2) -> LipschitzTarget:
    """Cyclic shift of the columns: ``f(X)_{:, k} = X_{:, k - shift mod L}``.

    A permutation of entries is an isometry of every entry-wise p-norm, so ``C = 1``.
    It is not permutation-equivariant: a model must know positions to compute it.
    """
    d = check_int(d, "d", minimum=1)
    L = check_int(L, "L", minimum=1)
    shift = check_int(shift, "shift")
    p = check_p(p)

    def fn(X: torch.Tensor) -> torch.Tensor:
        return torch.roll(X, shifts=shift, dims=-1)

    return LipschitzTarget(fn, d, L, 1.0, p, f"cyclic shift by {shift}")


def empirical_lipschitz(
    f: Callable[[torch.Tensor], torch.Tensor],
    d: int,
    L: int,
    *,
    p: float = 2,
    n_pairs: int = 4096,
    radii: tuple[float, ...] = (1e-3, 1e-2, 1e-1),
    seed: int = 0,
) -> float:
    """A lower estimate of the Lipschitz constant of ``f`` in the p-norm on ``[0, 1]^{d x L}``.

    Returns ``max ||f(X) - f(X')||_p / ||X - X'||_p`` over ``n_pairs`` pairs at each
    radius (``X`` uniform, ``X' = X + r U`` with ``||U||_p = 1``) and ``n_pairs`` pairs of
    independent points. Any value is at most the true constant, so an estimate above a
    claimed bound refutes the bound.
    """
    if not callable(f):
        raise TypeError(f"f must be callable, got {type(f).__name__}")
    d = check_int(d, "d", minimum=1)
    L = check_int(L, "L", minimum=1)
    p = check_p(p)
    n_pairs = check_int(n_pairs, "n_pairs", minimum=1)
    if not radii:
        raise ValueError("radii must hold at least one radius")
    radii = tuple(check_real(r, "radii", minimum=0.0, strict_minimum=True) for r in radii)
    seed = check_int(seed, "seed", minimum=0)
    gen = torch.Generator().manual_seed(seed)

    def pnorm(Z: torch.Tensor) -> torch.Tensor:
        return Z.abs().pow(p).flatten(1).sum(dim=1).pow(1.0 / p)

    best = 0.0
    with torch.no_grad():
        X = torch.rand(n_pairs, d, L, generator=gen, dtype=torch.float64)
        fX = as_tensor(f(X), "f(X)", dtype=torch.float64)
        pairs = [torch.rand(n_pairs, d, L, generator=gen, dtype=torch.float64)]
        for r in radii:
            U = torch.randn(n_pairs, d, L, generator=gen, dtype=torch.float64)
            pairs.append(X + r * U / pnorm(U)[:, None, None])
        for Y in pairs:
            fY = as_tensor(f(Y), "f(X)", dtype=torch.float64)
            ratio = pnorm(fX - fY) / pnorm(X - Y)
            if not bool(torch.isfinite(ratio).all()):
                raise ValueError("f returned NaN or infinity")
            best = max(best, float(ratio.max()))
    if not math.isfinite(best):
        raise ValueError("f returned NaN or infinity")
    return best
