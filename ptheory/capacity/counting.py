"""How long a prompt must be to memorize: a counting bound and a lookup construction.

**The counting bound** (this book's own derivation behind Hu et al.'s Theorem 2.3). Put a
grid of ``k = max(1, ceil(C / (4 eps)))`` points per coordinate on ``[0, 1]`` and take the
``N = k^{dL}`` grid inputs in ``[0, 1]^{d x L}``. On each grid input ``g`` and each of the
``dL`` output entries, a bump ``max(0, eta - C ||X - g||_inf)`` of height
``eta = min(C h / 2, 1/2) > 2 eps`` (``h`` the grid spacing) is either added to ``1/2`` or
not: ``2^{dL N}`` different ``C``-Lipschitz targets (in the max norm), any two of which
differ by ``eta > 2 eps`` on some grid input. One prompt cannot fit two of them to accuracy
``eps``. If each prompt token takes at most ``2^b`` values, ``L_p`` tokens give at most
``2^{b L_p}`` prompts, so memorizing every such dataset needs

    L_p >= d L k^{dL} / b.

**The lookup construction** memorizes any dataset on ``N`` single-token inputs (``L = 1``)
with ``N`` prompt tokens: a frozen one-layer model of width ``D = 2d + 1`` whose attention
retrieves the prompt token whose key is nearest to the input, and whose feed-forward layer
copies the retrieved value to the output.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import torch

from .._validate import as_tensor, check_finite, check_int, check_matrix_batch, check_real
from ..model import Attention, FeedForward, Transformer
from ..targets import random_relu_target
from .engine import padded_forward

__all__ = [
    "LookupReport",
    "bump_dataset",
    "counting_lower_bound",
    "embed_tokens",
    "grid_points_per_coordinate",
    "lipschitz_dataset",
    "lookup_model",
    "lookup_prompt",
    "memorize_by_lookup",
    "prompt_bits_needed",
]

MAX_GRID = 5_000


def _check_eps(eps: float) -> float:
    return check_real(eps, "eps", minimum=0.0, maximum=0.25, strict_minimum=True)


def grid_points_per_coordinate(eps: float, lipschitz: float = 1.0) -> int:
    """``k = max(1, ceil(C / (4 eps)))``: grid points per coordinate of the counting bound.

    Requires ``0 < eps < 1/4`` (at ``eps = 1/4`` bumps of height ``1/2`` are no longer
    ``2 eps`` apart). Then the spacing ``h = 1/(k - 1)`` exceeds ``4 eps / C``, so bumps of
    height ``min(C h / 2, 1/2)`` exceed ``2 eps`` and have disjoint supports.
    """
    eps = _check_eps(eps)
    if eps == 0.25:
        raise ValueError("eps must be below 1/4, got 0.25")
    C = check_real(lipschitz, "lipschitz", minimum=0.0, strict_minimum=True)
    return max(1, math.ceil(C / (4.0 * eps) - 1e-12))


def prompt_bits_needed(d: int, L: int, eps: float, *, lipschitz: float = 1.0) -> float:
    """``d L k^{dL}``: log2 of the number of ``eps``-distinguishable Lipschitz datasets, the
    bits any prompt must be able to carry to memorize all of them."""
    d = check_int(d, "d", minimum=1)
    L = check_int(L, "L", minimum=1)
    k = grid_points_per_coordinate(eps, lipschitz)
    if d * L * math.log2(max(k, 2)) > 1000:  # beyond float range
        return math.inf
    return float(d * L * k ** (d * L))  # exact integer arithmetic, then one rounding


def counting_lower_bound(
    d: int, L: int, eps: float, bits: float, *, lipschitz: float = 1.0
) -> float:
    """The counting lower bound ``L_p >= d L k^{dL} / b`` on the prompt length.

    Any frozen model whose prompt tokens each take at most ``2^bits`` values needs at least
    this many prompt tokens to memorize, to accuracy ``eps`` in every output entry, every
    dataset of ``C``-Lipschitz targets (``C = lipschitz``, max norms) on the grid inputs.
    Increasing in ``d``, ``L`` and ``1/eps``; ``inf`` when it exceeds the float range.
    """
    b = check_real(bits, "bits", minimum=0.0, strict_minimum=True)
    return prompt_bits_needed(d, L, eps, lipschitz=lipschitz) / b


def _grid(d: int, L: int, k: int) -> torch.Tensor:
    n = d * L
    if k**n > MAX_GRID:
        raise ValueError(f"eps gives {k}^{n} = {k**n} grid inputs, more than {MAX_GRID}")
    axis = [0.5] if k == 1 else [i / (k - 1) for i in range(k)]
    pts = torch.tensor(list(itertools.product(axis, repeat=n)), dtype=torch.float64)
    return pts.reshape(-1, d, L)


def bump_dataset(
    d: int, eps: float, *, L: int = 1, lipschitz: float = 1.0, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """One random member of the counting bound's family: ``X: (N, d, L)``, ``Y: (N, d, L)``.

    ``X`` holds all ``N = k^{dL}`` grid inputs; each target entry is ``1/2`` or
    ``1/2 + eta`` by a fair coin (from ``seed``), ``eta = min(C h / 2, 1/2)``. The data come
    from a ``C``-Lipschitz target (a sum of disjoint bumps), and any two members of the
    family differ by ``eta > 2 eps`` on some entry.
    """
    d = check_int(d, "d", minimum=1)
    L = check_int(L, "L", minimum=1)
    C = check_real(lipschitz, "lipschitz", minimum=0.0, strict_minimum=True)
    k = grid_points_per_coordinate(eps, C)
    seed = check_int(seed, "seed", minimum=0)
    X = _grid(d, L, k)
    eta = 0.5 if k == 1 else min(C / (2.0 * (k - 1)), 0.5)
    gen = torch.Generator().manual_seed(seed)
    bits = torch.randint(0, 2, X.shape, generator=gen).to(torch.float64)
    return X, 0.5 + eta * bits


def lipschitz_dataset(
    n: int, d: int, L: int, *, lipschitz: float = 1.0, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """A random dataset generated by a Lipschitz target: ``X: (n, d, L)``, ``Y = f(X)``.

    ``X`` is uniform in ``[0, 1]^{d x L}`` and ``f`` is
    :func:`ptheory.targets.random_relu_target` with constant ``lipschitz`` (2-norm), both
    drawn from ``seed``: the kind of dataset Hu et al.'s memorization theorem speaks about.
    """
    n = check_int(n, "n", minimum=1)
    d = check_int(d, "d", minimum=1)
    L = check_int(L, "L", minimum=1)
    seed = check_int(seed, "seed", minimum=0)
    target = random_relu_target(d, L, lipschitz=lipschitz, seed=seed)
    gen = torch.Generator().manual_seed(seed + 1)
    X = torch.rand(n, d, L, generator=gen, dtype=torch.float64)
    with torch.no_grad():
        return X, target(X)


def embed_tokens(X: torch.Tensor) -> torch.Tensor:
    """Embed tokens of dimension ``d`` into the lookup model's width ``D = 2d + 1``:
    ``x -> [x; 0; 1]``. ``X: (..., d, L) -> (..., 2d + 1, L)``."""
    X = check_finite(as_tensor(X, "X", dtype=torch.float64), "X")
    check_matrix_batch(X, "X", layout="(..., d, L)")
    zeros = torch.zeros_like(X)
    ones = torch.ones_like(X[..., :1, :])
    return torch.cat([X, zeros, ones], dim=-2)


def lookup_model(d: int, *, sharpness: float = 200.0) -> Transformer:
    """A frozen ``FF o Attn`` of width ``D = 2d + 1`` that reads a prompt as a lookup table.

    Tokens are ``[key (d); value (d); c]``. Scores are
    ``sharpness * (2 k_key . q_key - gamma k_c q_c)`` with ``gamma = d + 2``: for an input
    ``[x; 0; 1]`` and a prompt token ``[g; v; |g|^2 / gamma]`` this is
    ``sharpness (|x|^2 - |g - x|^2)``, largest for the key nearest to ``x``, while the
    input's own score ``sharpness (2|x|^2 - gamma)`` is far lower. Attention copies the
    value slot (``W_O W_V`` projects on it); the feed-forward layer moves the value slot into
    the key slot (``ReLU(z + 10) - 10 = z`` on the region used), so the output's first ``d``
    rows are the retrieved value.
    """
    d = check_int(d, "d", minimum=1)
    beta = check_real(sharpness, "sharpness", minimum=0.0, strict_minimum=True)
    D = 2 * d + 1
    gamma = d + 2.0
    eye = torch.eye(d, dtype=torch.float64)
    W_K = torch.zeros(D, D, dtype=torch.float64)
    W_Q = torch.zeros(D, D, dtype=torch.float64)
    W_K[:d, :d] = beta**0.5 * eye
    W_K[-1, -1] = beta**0.5
    W_Q[:d, :d] = 2 * beta**0.5 * eye
    W_Q[-1, -1] = -gamma * beta**0.5
    W_V = torch.zeros(D, D, dtype=torch.float64)
    W_V[d : 2 * d, d : 2 * d] = eye
    attn = Attention.from_weights(W_Q, W_K, W_V, torch.eye(D, dtype=torch.float64))
    move = torch.zeros(D, D, dtype=torch.float64)  # (x, v, c) -> (v - x, -v, 0)
    move[:d, :d] = -eye
    move[:d, d : 2 * d] = eye
    move[d : 2 * d, d : 2 * d] = -eye
    shift = 10.0 * torch.ones(D, dtype=torch.float64)
    ff = FeedForward.from_weights(torch.eye(D, dtype=torch.float64), shift, move, -move @ shift)
    return Transformer([attn, ff]).freeze()


def lookup_prompt(X: torch.Tensor, Y: torch.Tensor) -> torch.Tensor:
    """The prompt that stores a single-token dataset in :func:`lookup_model`.

    ``X: (N, d, 1)`` inputs, ``Y: (N, d, 1)`` targets; returns ``P: (2d + 1, N)`` with
    columns ``[x_i; y_i; |x_i|^2 / (d + 2)]``: one prompt token per example.
    """
    X = check_finite(as_tensor(X, "X", dtype=torch.float64), "X")
    check_matrix_batch(X, "X", ndim=3, cols=1, layout="(N, d, 1)")
    Y = check_finite(as_tensor(Y, "Y", dtype=torch.float64), "Y")
    check_matrix_batch(Y, "Y", ndim=3, rows=X.shape[1], cols=1, layout="(N, d, 1)")
    if Y.shape[0] != X.shape[0]:
        raise ValueError(f"Y must have one target per input ({X.shape[0]}), got {Y.shape[0]}")
    d = X.shape[1]
    keys, values = X[..., 0].T, Y[..., 0].T  # (d, N)
    c = keys.pow(2).sum(dim=0, keepdim=True) / (d + 2.0)
    return torch.cat([keys, values, c], dim=0)


@dataclass(frozen=True)
class LookupReport:
    """Memorization by the lookup construction, checked by running the frozen model.

    Attributes:
        d, eps: token dimension and accuracy.
        n_inputs: grid inputs ``N`` (every one of them is an example).
        prompt_length: prompt tokens used (``N``).
        bits_per_token: bits that describe one token of the construction's prompts: the key
            (``d log2 k``) and the value (``d`` bits, a coin per entry).
        counting_bound: :func:`counting_lower_bound` with those bits per token.
        max_error: largest error over all examples and output entries (must be ``<= eps``).
    """

    d: int
    eps: float
    n_inputs: int
    prompt_length: int
    bits_per_token: float
    counting_bound: float
    max_error: float


def memorize_by_lookup(
    d: int, eps: float, *, lipschitz: float = 1.0, seed: int = 0, sharpness: float | None = None
) -> LookupReport:
    """Memorize a random member of the counting family (``L = 1``) with the lookup model.

    Builds :func:`bump_dataset`, the prompt :func:`lookup_prompt` and runs
    :func:`lookup_model` on every grid input. ``sharpness`` defaults to a value that makes
    the softmax leak less than ``eps / 4`` to other keys (the nearest other grid key scores
    at least ``sharpness h^2`` lower).
    """
    X, Y = bump_dataset(d, eps, lipschitz=lipschitz, seed=seed)
    k = grid_points_per_coordinate(eps, lipschitz)
    N = X.shape[0]
    if sharpness is None:
        gap = 1.0 if k == 1 else min(1.0, 1.0 / (k - 1) ** 2)
        sharpness = (math.log(4.0 * (N + 1) / eps) + 1.0) / gap
    model = lookup_model(d, sharpness=sharpness)
    P = lookup_prompt(X, Y)
    with torch.no_grad():  # only the input's own column is computed at the last layer
        out = padded_forward(model, P[None], torch.tensor([N]), embed_tokens(X))[0]
    error = float((out[:, :d] - Y).abs().max())
    bits = d * math.log2(k) + d if k > 1 else float(d)
    return LookupReport(
        d=d,
        eps=float(eps),
        n_inputs=N,
        prompt_length=P.shape[-1],
        bits_per_token=bits,
        counting_bound=counting_lower_bound(d, 1, eps, bits, lipschitz=lipschitz),
        max_error=error,
    )
