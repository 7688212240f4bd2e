"""A frozen model that reads its prompt as a lookup table, and how long that prompt must be.

**The construction.** :func:`lookup_model` is a frozen one-layer, one-head model
``FF o Attn`` whose tokens live in ``R^{2d + 1}`` as ``[key; value; c]``; inputs enter
through the embedding ``x -> [x; 0; 1]`` (:func:`embed_tokens`). A prompt token
``[g; v; c]`` scores ``sharpness (2 g . x - (d + 2) c)`` against the input ``x``, the input's
own column ``sharpness (2 |x|^2 - (d + 2))``; attention averages the values with these
weights (the input's own value slot holds ``0``) and the feed-forward layer moves the
average to the output. :func:`lookup_prompt` stores one example per token, with
``c = |g|^2 / (d + 2)``, so that the score is ``sharpness (|x|^2 - |g - x|^2)`` and the
nearest key wins: any dataset on ``N`` distinct single-token inputs is memorized with
``N`` tokens.

**How short can the prompt be** (``d = 1``; this book's own bound). With ``x`` in
``[0, 1]`` the model's output is ``max(V(x), -10)`` where
``V(x) = sum_j v_j e^{l_j(x)} / (sum_j e^{l_j(x)} + e^{q(x)})``, every ``l_j`` affine in
``x`` (the prompt chooses slope and intercept) and ``q(x) = sharpness (2 x^2 - 3)``. For a
level ``t > -10``, ``V - t`` has the sign of ``e^{q} (sum_j (v_j - t) e^{l_j - q} - t)``, whose
derivative is ``e^{-q}`` times an exponential polynomial with ``L_p`` terms of degree one:
at most ``2 L_p - 1`` zeros, so ``V - t`` changes sign at most ``2 L_p`` times on the line.
A dataset memorized to accuracy ``eps`` forces a sign change of ``f - t`` wherever the
targets alternate between above ``t + eps`` and below ``t - eps``; with ``chi`` the largest
number of such alternations over all levels (:func:`forced_crossings`), every memorizing
prompt has ``L_p >= ceil(chi / 2)`` (:func:`lookup_length_bound`).

**What a search finds** (:func:`lookup_length_search`): for every length from ``1`` to the
length of a merge-aware construction (:func:`merged_lookup_prompt`: neighbouring inputs
whose targets lie within ``2 eps`` share a token, and inputs whose target is within ``eps``
of ``0`` are left to the input's own column), prompts started from that construction,
merged further, and tuned. A measurement: a length the search misses may still exist.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import torch

from .._validate import as_tensor, check_finite, check_int, check_matrix_batch, check_real
from ..model import Attention, FeedForward, Transformer
from .counting import bump_dataset, grid_points_per_coordinate
from .engine import padded_forward
from .optim import batched_lbfgs, on_one_thread

__all__ = [
    "LookupReport",
    "LookupSearch",
    "embed_tokens",
    "forced_crossings",
    "lookup_length_bound",
    "lookup_length_search",
    "lookup_model",
    "lookup_prompt",
    "lookup_sharpness",
    "memorize_by_lookup",
    "merged_lookup_prompt",
]

CLIP = -10.0
"""The feed-forward layer of :func:`lookup_model` returns ``max(V, CLIP)``."""


def embed_tokens(X: torch.Tensor) -> torch.Tensor:
    """Embed tokens of dimension ``d`` into the lookup model's width ``2d + 1``:
    ``x -> [x; 0; 1]``. ``X: (..., d, L) -> (..., 2d + 1, L)``."""
    X = check_finite(as_tensor(X, "X", dtype=torch.float64), "X")
    check_matrix_batch(X, "X", layout="(..., d, L)")
    zeros = torch.zeros_like(X)
    ones = torch.ones_like(X[..., :1, :])
    return torch.cat([X, zeros, ones], dim=-2)


def lookup_model(d: int, *, sharpness: float = 200.0) -> Transformer:
    """A frozen ``FF o Attn`` of width ``2d + 1`` that reads a prompt as a lookup table.

    Tokens are ``[key (d); value (d); c]``. Scores are
    ``sharpness * (2 k_key . q_key - (d + 2) k_c q_c)``: for an input ``[x; 0; 1]`` and a
    prompt token ``[g; v; |g|^2 / (d + 2)]`` this is ``sharpness (|x|^2 - |g - x|^2)``,
    largest for the key nearest to ``x``, while the input's own score
    ``sharpness (2|x|^2 - (d + 2))`` is far lower. Attention copies the value slot
    (``W_O W_V`` projects on it); the feed-forward layer moves the value slot into the key
    slot (``ReLU(z + 10) - 10 = z`` for ``z >= -10``), so for inputs in ``[0, 1]^d`` the
    output's first ``d`` rows are the averaged values, clipped below at ``-10``.
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
    shift = -CLIP * torch.ones(D, dtype=torch.float64)
    ff = FeedForward.from_weights(torch.eye(D, dtype=torch.float64), shift, move, -move @ shift)
    return Transformer([attn, ff]).freeze()


def lookup_prompt(X: torch.Tensor, Y: torch.Tensor) -> torch.Tensor:
    """The prompt that stores a single-token dataset in :func:`lookup_model`.

    ``X: (N, d, 1)`` inputs, ``Y: (N, d, 1)`` targets; returns ``P: (2d + 1, N)`` with
    columns ``[x_i; y_i; |x_i|^2 / (d + 2)]``: one prompt token per example.
    """
    X, Y = _dataset(X, Y)
    d = X.shape[1]
    keys, values = X[..., 0].T, Y[..., 0].T  # (d, N)
    c = keys.pow(2).sum(dim=0, keepdim=True) / (d + 2.0)
    return torch.cat([keys, values, c], dim=0)


def _dataset(X: object, Y: object) -> tuple[torch.Tensor, torch.Tensor]:
    X = check_finite(as_tensor(X, "X", dtype=torch.float64), "X")
    check_matrix_batch(X, "X", ndim=3, cols=1, layout="(N, d, 1)")
    Y = check_finite(as_tensor(Y, "Y", dtype=torch.float64), "Y")
    check_matrix_batch(Y, "Y", ndim=3, rows=X.shape[1], cols=1, layout="(N, d, 1)")
    if Y.shape[0] != X.shape[0]:
        raise ValueError(f"Y must have one target per input ({X.shape[0]}), got {Y.shape[0]}")
    return X, Y


def lookup_sharpness(N: int, eps: float, spacing: float) -> float:
    """A sharpness that makes :func:`lookup_prompt` memorize ``N`` inputs whose keys are at
    least ``spacing`` apart to accuracy ``eps`` for targets in ``[0, 1]``: the nearest other
    key scores at least ``sharpness spacing^2`` lower, so the softmax leaks at most
    ``N e^{-sharpness spacing^2} <= eps / 4``."""
    N = check_int(N, "N", minimum=1)
    eps = check_real(eps, "eps", minimum=0.0, strict_minimum=True)
    spacing = check_real(spacing, "spacing", minimum=0.0, strict_minimum=True)
    return (math.log(4.0 * (N + 1) / eps) + 1.0) / spacing**2


@dataclass(frozen=True)
class LookupReport:
    """Memorization by the lookup construction, checked by running the frozen model.

    Attributes:
        d, eps: token dimension and accuracy.
        n_inputs: grid inputs ``N`` (every one of them is an example).
        prompt_length: prompt tokens used (``N``).
        max_error: largest error over all examples and output entries (must be ``<= eps``).
    """

    d: int
    eps: float
    n_inputs: int
    prompt_length: int
    max_error: float


def memorize_by_lookup(
    d: int, eps: float, *, lipschitz: float = 1.0, seed: int = 0, sharpness: float | None = None
) -> LookupReport:
    """Memorize a random member of the counting family (``L = 1``) with the lookup model.

    Builds :func:`~ptheory.capacity.bump_dataset`, the prompt :func:`lookup_prompt` and runs
    :func:`lookup_model` on every grid input. ``sharpness`` defaults to
    :func:`lookup_sharpness` for the grid's spacing.
    """
    X, Y = bump_dataset(d, eps, lipschitz=lipschitz, seed=seed)
    k = grid_points_per_coordinate(eps, lipschitz)
    N = X.shape[0]
    if sharpness is None:
        sharpness = lookup_sharpness(N, eps, 1.0 if k == 1 else min(1.0, 1.0 / (k - 1)))
    model = lookup_model(d, sharpness=sharpness)
    P = lookup_prompt(X, Y)
    with torch.no_grad():  # only the input's own column is computed at the last layer
        out = padded_forward(model, P[None], torch.tensor([N]), embed_tokens(X))[0]
    return LookupReport(
        d=d,
        eps=float(eps),
        n_inputs=N,
        prompt_length=P.shape[-1],
        max_error=float((out[:, :d] - Y).abs().max()),
    )


# ------------------------------------------------------------ how short (d = 1)
def _one_dim(X: object, Y: object, eps: object) -> tuple[torch.Tensor, torch.Tensor, float]:
    """Inputs ``X: (N, 1, 1)`` in ``[0, 1]``, distinct, and targets ``Y: (N, 1, 1)``, sorted
    by input; ``eps > 0``."""
    X, Y = _dataset(X, Y)
    if X.shape[1] != 1:
        raise ValueError(f"X must hold one-dimensional tokens (d = 1), got d = {X.shape[1]}")
    eps = check_real(eps, "eps", minimum=0.0, strict_minimum=True)
    x, y = X[:, 0, 0], Y[:, 0, 0]
    if bool((x < 0).any()) or bool((x > 1).any()):
        raise ValueError("X must lie in [0, 1]")
    order = torch.argsort(x)
    x, y = x[order], y[order]
    if x.numel() > 1 and float(x.diff().min()) <= 0.0:
        raise ValueError("X must hold distinct inputs")
    return x, y, eps


def forced_crossings(Y: torch.Tensor, eps: float) -> int:
    """``chi``: the most sign changes a function within ``eps`` of the targets must make.

    ``Y: (N,)`` targets in the order of their inputs. For a level ``t``, the targets above
    ``t + eps`` and below ``t - eps`` (the others are skipped) force a function within
    ``eps`` of every target to cross ``t`` once between each neighbouring pair on opposite
    sides; ``chi`` is the largest count over all levels (levels between consecutive values
    of ``y_i +- eps`` are enough). Targets exactly ``2 eps`` apart force nothing (a value
    between them is within ``eps`` of both); a gap that exceeds ``2 eps`` only by rounding
    is not counted.
    """
    y = check_finite(as_tensor(Y, "Y", dtype=torch.float64), "Y").reshape(-1)
    eps = check_real(eps, "eps", minimum=0.0, strict_minimum=True)
    edges = torch.unique(torch.cat([y - eps, y + eps]))
    slack = 1e-12 * (1.0 + float(y.abs().max())) if y.numel() else 0.0  # rounding is no gap
    best = 0
    for t in ((edges[1:] + edges[:-1]) / 2).tolist():
        side = torch.where(y > t + eps + slack, 1, torch.where(y < t - eps - slack, -1, 0))
        side = side[side != 0]
        best = max(best, int((side[1:] != side[:-1]).sum()))
    return best


def lookup_length_bound(Y: torch.Tensor, eps: float) -> int:
    """``ceil(chi / 2)``: the fewest prompt tokens with which the lookup model (``d = 1``,
    any sharpness) can memorize targets ``Y`` (in the order of their inputs) to accuracy
    ``eps``; ``chi`` is :func:`forced_crossings`. Valid for targets above ``-10 + eps``."""
    return math.ceil(forced_crossings(Y, eps) / 2)


def _segments(y: list[float], eps: float) -> list[tuple[int, int]]:
    """Fewest runs ``[i, j)`` of neighbouring targets with range at most ``2 eps``; a target
    within ``eps`` of ``0`` may be left between runs (the input's own value is ``0``)."""
    n, inf = len(y), math.inf
    best, prev = [inf] * (n + 1), [(0, False)] * (n + 1)
    best[0] = 0
    for i in range(n):
        if best[i] == inf:
            continue
        if abs(y[i]) <= eps and best[i] < best[i + 1]:
            best[i + 1], prev[i + 1] = best[i], (i, False)
        lo = hi = y[i]
        for j in range(i, n):
            lo, hi = min(lo, y[j]), max(hi, y[j])
            if hi - lo > 2 * eps:
                break
            if best[i] + 1 < best[j + 1]:
                best[j + 1], prev[j + 1] = best[i] + 1, (i, True)
    runs, k = [], n
    while k > 0:
        i, is_run = prev[k]
        if is_run:
            runs.append((i, k))
        k = i
    return runs[::-1]


def _merge(runs: list[tuple[int, int]], y: list[float], length: int) -> list[tuple[int, int]]:
    """Merge neighbouring runs, the pair whose union has the smallest range first."""
    runs = list(runs)
    while len(runs) > length:
        spans = [max(y[a:d]) - min(y[a:d]) for (a, _), (_, d) in itertools.pairwise(runs)]
        k = spans.index(min(spans))
        runs[k : k + 2] = [(runs[k][0], runs[k + 1][1])]
    return runs


def _secant_tokens(
    x: torch.Tensor, y: torch.Tensor, runs: list[tuple[int, int]]
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(lo, hi, value)`` of each run: its token's logit equals the input's own score
    ``q(x) = sharpness (2x^2 - 3)`` at ``lo`` and ``hi`` (half-way to the neighbouring inputs)
    and exceeds it in between."""
    n = x.numel()
    h = float(x.diff().min()) if n > 1 else 1.0
    lo, hi, val = [], [], []
    for i, j in runs:
        left = float(x[i] - x[i - 1]) / 2 if i > 0 else h / 2
        right = float(x[j] - x[j - 1]) / 2 if j < n else h / 2
        lo.append(float(x[i]) - left)
        hi.append(float(x[j - 1]) + right)
        val.append(float(y[i:j].max() + y[i:j].min()) / 2)
    f64 = torch.float64
    return torch.tensor(lo, dtype=f64), torch.tensor(hi, dtype=f64), torch.tensor(val, dtype=f64)


def merged_lookup_prompt(
    X: torch.Tensor, Y: torch.Tensor, eps: float, length: int | None = None
) -> torch.Tensor:
    """A merge-aware lookup prompt for a one-dimensional dataset: ``P: (3, K)``.

    Neighbouring inputs whose targets lie within ``2 eps`` share one token (the fewest such
    runs, a target within ``eps`` of ``0`` being left to the input's own column); the token
    of the run ``[x_i, x_j]`` is the secant of the input's own score ``q`` over
    ``(x_i - h/2, x_j + h/2)`` (``h/2`` half-way to the neighbours), with the middle of the
    run's targets as value. ``length`` (at most ``K``) merges neighbouring runs further.
    The model's sharpness does not enter: every score scales with it. How accurate the
    prompt is depends on the sharpness; run the model to see.
    """
    x, y, eps = _one_dim(X, Y, eps)
    runs = _segments(y.tolist(), eps)
    if length is not None:
        length = check_int(length, "length", minimum=1, maximum=len(runs))
        runs = _merge(runs, y.tolist(), length)
    lo, hi, val = _secant_tokens(x, y, runs)
    # score beta (2 g x - 3 c) = beta (2 (lo + hi) x - 2 lo hi - 3): the secant of q
    return torch.stack([lo + hi, val, (2.0 * lo * hi + 3.0) / 3.0])


@dataclass(frozen=True)
class LookupSearch:
    """What :func:`lookup_length_search` found on one dataset.

    Attributes:
        bound: the proved lower bound ``ceil(chi / 2)`` (:func:`lookup_length_bound`).
        merged: the length ``K`` of the merge-aware construction (the longest length tried).
        lengths: every length tried, ``1, ..., K``.
        errors: the smallest max error over the output entries reached at each length.
        found: the smallest length whose max error is at most ``eps``, or ``None``.
    """

    bound: int
    merged: int
    lengths: list[int]
    errors: list[float]
    found: int | None


def _prompt_from(theta: torch.Tensor, beta: float, h: float) -> torch.Tensor:
    """Prompt tokens from ``theta = (slope, offset, value)`` per column: the token's score is
    ``slope (x - 1/2) / h + offset``; ``(runs, 3, L) -> (runs, 3, L)``."""
    u, w, v = theta[:, 0], theta[:, 1], theta[:, 2]
    g = u / (2.0 * beta * h)
    c = (u / (2.0 * h) - w) / (3.0 * beta)
    return torch.stack([g, v, c], dim=1)


def _theta_from(P: torch.Tensor, beta: float, h: float) -> torch.Tensor:
    g, v, c = P[0], P[1], P[2]
    u = 2.0 * beta * h * g
    return torch.stack([u, u / (2.0 * h) - 3.0 * beta * c, v])


@on_one_thread
def lookup_length_search(
    X: torch.Tensor,
    Y: torch.Tensor,
    eps: float,
    *,
    sharpness: float | None = None,
    restarts: int = 1,
    steps: int = 150,
    seed: int = 0,
) -> LookupSearch:
    """Search every prompt length for the lookup model (``d = 1``) on one dataset.

    For each length ``L_p = 1, ..., K`` (``K`` the length of :func:`merged_lookup_prompt`):
    ``restarts`` prompts, the merge-aware one merged down to ``L_p`` tokens and (for
    ``restarts > 1``) perturbed copies of it, tuned by ``steps`` batched L-BFGS steps on
    the squared excess of each error over ``0.9 eps``. The model (``sharpness`` defaults
    to :func:`lookup_sharpness` for the inputs' spacing) is then run on the tuned prompts,
    and the smallest max error of each length is kept. A measurement of a search:
    ``found`` may overstate the fewest tokens that memorize; ``bound`` is proved.
    """
    x, y, eps = _one_dim(X, Y, eps)
    restarts = check_int(restarts, "restarts", minimum=1)
    steps = check_int(steps, "steps", minimum=0)
    seed = check_int(seed, "seed", minimum=0)
    N = x.numel()
    h = float(x.diff().min()) if N > 1 else 1.0
    if sharpness is None:
        sharpness = lookup_sharpness(N, eps, h)
    beta = check_real(sharpness, "sharpness", minimum=0.0, strict_minimum=True)
    model = lookup_model(1, sharpness=beta)
    Xe = embed_tokens(x.reshape(N, 1, 1))
    runs = _segments(y.tolist(), eps)
    K = len(runs)
    lengths = list(range(1, K + 1))
    gen = torch.Generator().manual_seed(seed)
    starts, run_len = [], []
    for L_p in lengths:
        lo, hi, val = _secant_tokens(x, y, _merge(runs, y.tolist(), L_p))
        P0 = torch.stack([lo + hi, val, (2.0 * lo * hi + 3.0) / 3.0])
        theta = _theta_from(P0, beta, h)
        for r in range(restarts):
            noise = torch.randn(3, L_p, generator=gen, dtype=torch.float64)
            scale = torch.tensor([[1.0], [1.0], [0.02]], dtype=torch.float64) * r
            full = torch.zeros(3, K, dtype=torch.float64)
            full[:, K - L_p :] = theta + scale * noise
            starts.append(full)
            run_len.append(L_p)
    T0 = torch.stack(starts)
    lens = torch.tensor(run_len)
    mask = (torch.arange(K)[None] >= (K - lens)[:, None]).to(torch.float64)[:, None, :]
    target = y[None]

    def errors(T: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
        P = _prompt_from(T, beta, h) * mask[rows]
        return padded_forward(model, P, lens[rows], Xe)[:, :, 0, 0] - target

    def fg(flat: torch.Tensor, rows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        T = flat.detach().reshape(-1, 3, K).requires_grad_(True)
        f = torch.relu(errors(T, rows).abs() - 0.9 * eps).pow(2).sum(-1)
        (grad,) = torch.autograd.grad(f.sum(), T)
        return f.detach(), (grad * mask[rows]).reshape(len(rows), -1)

    flat, _ = batched_lbfgs(fg, T0.reshape(len(lens), -1), steps, subset=True)
    with torch.no_grad():
        worst = errors(flat.reshape(-1, 3, K), torch.arange(len(lens))).abs().amax(-1)
    best = [float(worst[lens == L_p].min()) for L_p in lengths]
    found = next((L_p for L_p, e in zip(lengths, best, strict=True) if e <= eps), None)
    return LookupSearch(
        bound=lookup_length_bound(y, eps), merged=K, lengths=lengths, errors=best, found=found
    )
