"""How long a prompt must be to memorize: a counting bound and a lookup construction.

**The counting bound** (this book's own; it holds for any method whose parameters take
``2^b`` values each, and is not Hu et al.'s lower bound, which their abstract states as
exponential in ``dL`` and in ``1/eps``). Put a
grid of ``k = max(1, ceil(C / (4 eps)))`` points per coordinate on ``[0, 1]`` and take the
``N = k^{dL}`` grid inputs in ``[0, 1]^{d x L}``. On each grid input ``g`` and each of the
``dL`` output entries, a bump ``max(0, eta - C ||X - g||_inf)`` of height
``eta = min(C h / 2, 1/2) > 2 eps`` (``h`` the grid spacing) is either added to ``1/2`` or
not: ``2^{dL N}`` different ``C``-Lipschitz targets (in the max norm), any two of which
differ by ``eta > 2 eps`` on some grid input. One prompt cannot fit two of them to accuracy
``eps``. If each prompt token takes at most ``2^b`` values, ``L_p`` tokens give at most
``2^{b L_p}`` prompts, so memorizing every such dataset needs

    L_p >= d L k^{dL} / b.

The count holds for **any** method whose tunable parameters take at most ``2^b`` values each
(LoRA or fine-tuning with ``b``-bit weights included), so it is not a limit of prompt tuning
as such. For real-valued prompts of bounded norm :func:`covering_length_bound` replaces the
count by a covering number and a Lipschitz constant of ``P -> tau_P``.

**The lookup construction** memorizes any dataset on ``N`` single-token inputs (``L = 1``)
with ``N`` prompt tokens: a frozen one-layer model whose attention retrieves the prompt
token whose key is nearest to the input, and whose feed-forward layer copies the retrieved
value to the output. Its tokens live in ``R^{2d + 1}``, not in the data's ``R^d``: inputs
enter through the external embedding ``x -> [x; 0; 1]`` (:func:`embed_tokens`), and each
prompt token is ``[key; value; |key|^2 / (d + 2)]``.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import torch

from .._validate import as_tensor, check_finite, check_int, check_matrix_batch, check_real
from ..model import Attention, FeedForward, Transformer
from .engine import padded_forward

__all__ = [
    "LookupReport",
    "QuantizedReport",
    "bump_dataset",
    "counting_lower_bound",
    "covering_length_bound",
    "embed_tokens",
    "grid_points_per_coordinate",
    "level_dataset",
    "lookup_model",
    "lookup_prompt",
    "lookup_smallest_lengths",
    "memorize_by_lookup",
    "prompt_lipschitz",
    "prompt_lipschitz_ratio",
    "quantize",
    "quantized_memorization",
    "random_smallest_lengths",
    "smallest_memorizing_length",
]

MAX_GRID = 5_000


def _check_eps(eps: float) -> float:
    """The one check of ``eps`` in this module: ``0 < eps < 1/4``."""
    eps = check_real(eps, "eps", minimum=0.0, maximum=0.25, strict_minimum=True)
    if eps == 0.25:
        raise ValueError("eps must be below 1/4, got 0.25")
    return eps


def grid_points_per_coordinate(eps: float, lipschitz: float = 1.0) -> int:
    """``k = max(1, ceil(C / (4 eps)))``: grid points per coordinate of the counting bound.

    Requires ``0 < eps < 1/4`` (at ``eps = 1/4`` bumps of height ``1/2`` are no longer
    ``2 eps`` apart). Then the spacing ``h = 1/(k - 1)`` exceeds ``4 eps / C``, so bumps of
    height ``min(C h / 2, 1/2)`` exceed ``2 eps`` and have disjoint supports.
    """
    eps = _check_eps(eps)
    C = check_real(lipschitz, "lipschitz", minimum=0.0, strict_minimum=True)
    return max(1, math.ceil(C / (4.0 * eps) - 1e-12))


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
    d = check_int(d, "d", minimum=1)
    L = check_int(L, "L", minimum=1)
    k = grid_points_per_coordinate(eps, lipschitz)
    if d * L * math.log2(max(k, 2)) > 1000:  # beyond float range
        return math.inf
    return float(d * L * k ** (d * L)) / b  # exact integer arithmetic, then one rounding


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


def quantize(P: torch.Tensor, bits: int, radius: float) -> torch.Tensor:
    """Round every entry of ``P`` to the nearest of ``2^bits`` equally spaced levels on
    ``[-radius, radius]`` (entries outside are clipped): a prompt whose tokens take at most
    ``2^(bits * rows)`` values."""
    P = check_finite(as_tensor(P, "P", dtype=torch.float64), "P")
    bits = check_int(bits, "bits", minimum=1, maximum=52)
    radius = check_real(radius, "radius", minimum=0.0, strict_minimum=True)
    step = 2.0 * radius / (2**bits - 1)
    return (torch.round((P.clamp(-radius, radius) + radius) / step) * step - radius).clamp(
        -radius, radius
    )


def level_dataset(d: int, N: int, levels: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """A random member of a separated family on ``N`` single-token grid inputs.

    Inputs: the grid ``{0, 1/(k-1), ..., 1}^d`` with ``k^d = N`` points; targets: every
    entry one of ``levels`` equally spaced values in ``[1/4, 3/4]`` (spacing
    ``1/(2 (levels - 1))``), drawn from ``seed``. The family has ``levels^(d N)`` members,
    any two more than ``2 eps`` apart in some entry for ``eps < 1/(4 (levels - 1))``.
    Returns ``X: (N, d, 1)``, ``Y: (N, d, 1)``.
    """
    d = check_int(d, "d", minimum=1)
    N = check_int(N, "N", minimum=1)
    levels = check_int(levels, "levels", minimum=2)
    seed = check_int(seed, "seed", minimum=0)
    k = round(N ** (1.0 / d))
    if k**d != N or k < 2:
        raise ValueError(f"N must be k^d for an integer k >= 2 (d = {d}), got {N}")
    X = _grid(d, 1, k)
    gen = torch.Generator().manual_seed(seed)
    idx = torch.randint(0, levels, (N, d, 1), generator=gen).to(torch.float64)
    return X, 0.25 + 0.5 * idx / (levels - 1)


@dataclass(frozen=True)
class QuantizedReport:
    """Lookup prompts quantized to ``bits`` bits per entry, over random members of a family.

    Attributes:
        bits: bits per prompt entry.
        fraction: fraction of the datasets memorized (every entry within ``eps``).
        count_ratio: ``2^(bits D L_p) / levels^(d N)``: the largest fraction of the family
            any ``bits``-bit prompt of ``L_p`` tokens of dimension ``D`` can memorize (capped
            at 1).
    """

    bits: int
    fraction: float
    count_ratio: float


def quantized_memorization(
    d: int,
    N: int,
    levels: int,
    bits: list[int],
    *,
    datasets: int = 16,
    steps: int = 20,
) -> list[QuantizedReport]:
    """Tune lookup prompts on random members of :func:`level_dataset`, quantize, count.

    For each of ``datasets`` random members (seeds ``0, 1, ...``): the lookup prompt
    (:func:`lookup_prompt`, ``L_p = N`` tokens of dimension ``D = 2d + 1``) refined by
    ``steps`` L-BFGS steps of prompt tuning on :func:`lookup_model`, then rounded by
    :func:`quantize` to each number of bits on ``[-R, R]`` (``R`` the largest entry of all
    tuned prompts). A dataset is memorized when every output entry is within
    ``eps = 0.99 / (4 (levels - 1))`` of its target. The count: at most ``2^(bits D N)``
    prompts, one member each, out of ``levels^(d N)``.
    """
    from .engine import prompt_tune  # the engine, for the tuning step

    d = check_int(d, "d", minimum=1)
    N = check_int(N, "N", minimum=1)
    levels = check_int(levels, "levels", minimum=2)
    if not isinstance(bits, (list, tuple)) or not bits:
        raise TypeError("bits must be a non-empty list of ints")
    bits = [check_int(b, "bits", minimum=1, maximum=52) for b in bits]
    datasets = check_int(datasets, "datasets", minimum=1)
    steps = check_int(steps, "steps", minimum=0)
    eps = 0.99 / (4.0 * (levels - 1))
    k = round(N ** (1.0 / d))
    gap = 1.0 / (k - 1) ** 2
    sharpness = (math.log(4.0 * (N + 1) / eps) + 1.0) / gap
    model = lookup_model(d, sharpness=sharpness)
    D = 2 * d + 1
    tuned, data = [], []
    for seed in range(datasets):
        X, Y = level_dataset(d, N, levels, seed)
        Xe = embed_tokens(X)
        Ye = torch.cat([Y, torch.zeros_like(Y), torch.ones_like(Y[:, :1])], dim=1)
        P0 = lookup_prompt(X, Y)
        res = prompt_tune(model, Xe, Ye, N, steps=steps, restarts=1, init=[P0[None]])
        tuned.append(res.prompt)
        data.append((Xe, Y))
    R = max(float(P.abs().max()) for P in tuned)
    out = []
    for b in bits:
        hits = 0
        for P, (Xe, Y) in zip(tuned, data, strict=True):
            Pq = quantize(P, b, R)
            with torch.no_grad():
                o = padded_forward(model, Pq[None], torch.tensor([N]), Xe)[0]
            hits += int(float((o[:, :d] - Y).abs().max()) <= eps)
        log2_ratio = b * D * N - d * N * math.log2(levels)
        out.append(
            QuantizedReport(
                bits=b, fraction=hits / datasets, count_ratio=min(1.0, 2.0 ** min(log2_ratio, 0))
            )
        )
    return out


def prompt_lipschitz(model: Transformer, radius: float) -> float:
    """A Lipschitz constant of ``P -> tau_P(X)`` in the column-max norm, for prompts and
    inputs whose columns have norm at most ``radius``: ``prod_k (1 + kappa_k)`` with the
    branch constants ``kappa_k`` of :func:`ptheory.capacity.injectivity_bound` (the whole
    sequence ``[P, X]`` changes by ``||P - P'||_{2,inf}``, and each residual layer multiplies
    a difference by at most ``1 + kappa_k``)."""
    from .invertible import injectivity_bound

    return math.prod(1.0 + k for k in injectivity_bound(model, radius).kappas)


def covering_length_bound(
    d: int, N: int, levels: int, eps: float, *, width: int, radius: float, lipschitz: float
) -> float:
    """A lower bound on the length of real-valued prompts of column norm at most ``radius``
    that memorize, to accuracy ``eps``, **every** member of a family of ``levels^(d N)``
    datasets on ``N`` inputs whose targets differ by at least ``gap = 1/(2 (levels - 1))`` in
    some entry (:func:`level_dataset`).

    If ``P -> tau_P`` is ``lipschitz``-Lipschitz (column-max norm to every output entry),
    two prompts within ``delta`` of one centre of a cover are within ``2 delta`` of each
    other and give outputs within ``2 lipschitz delta < gap - 2 eps``, so they memorize at
    most one member. The ball of radius ``R`` in ``R^width`` has a ``delta``-cover of at most
    ``(1 + 2R/delta)^width`` points, so ``L_p`` columns need
    ``(1 + 2R/delta)^(width L_p) >= levels^(d N)``:
    ``L_p >= d N log(levels) / (width log(1 + 2R/delta))``, with ``delta`` just below
    ``(gap - 2 eps) / (2 lipschitz)``.
    """
    d = check_int(d, "d", minimum=1)
    N = check_int(N, "N", minimum=1)
    levels = check_int(levels, "levels", minimum=2)
    eps = check_real(eps, "eps", minimum=0.0, strict_minimum=True)
    width = check_int(width, "width", minimum=1)
    radius = check_real(radius, "radius", minimum=0.0, strict_minimum=True)
    lipschitz = check_real(lipschitz, "lipschitz", minimum=0.0, strict_minimum=True)
    gap = 0.5 / (levels - 1)
    if 2 * eps >= gap:
        raise ValueError(f"eps must be below gap / 2 = {gap / 2:.4g}, got {eps}")
    delta = (gap - 2 * eps) / (2 * lipschitz) * (1 - 1e-12)
    return d * N * math.log(levels) / (width * math.log1p(2 * radius / delta))


def smallest_memorizing_length(
    model: Transformer,
    X: torch.Tensor,
    Y: torch.Tensor,
    eps: float,
    lengths: list[int],
    *,
    restarts: int = 4,
    steps: int = 150,
    init: list[torch.Tensor] | None = None,
    rows: int | None = None,
) -> tuple[int | None, list[float]]:
    """The smallest prompt length in ``lengths`` at which the batched engine finds a prompt
    with every output entry within ``eps`` of its target (``X: (N, D, L)``, ``Y: (N, D, k)``;
    only the first ``rows`` output rows are compared when given). Returns that length (or
    ``None``) and the best max error of every length. A measurement: a longer search could
    find a shorter prompt; no search can find one the counting bound forbids."""
    from .engine import check_dataset, prompt_tune

    X, Y = check_dataset(model, X, Y)
    eps = check_real(eps, "eps", minimum=0.0, strict_minimum=True)
    if not isinstance(lengths, (list, tuple)) or not lengths:
        raise TypeError("lengths must be a non-empty list of ints")
    res = prompt_tune(model, X, Y, list(lengths), steps=steps, restarts=restarts, init=init)
    r = X.shape[1] if rows is None else check_int(rows, "rows", minimum=1, maximum=X.shape[1])
    errors = []
    k = Y.shape[-1]
    for L_p, prompts in zip(res.lengths, res.prompts, strict=True):
        with torch.no_grad():
            run_len = torch.full((prompts.shape[0],), L_p)
            out = padded_forward(model, prompts, run_len, X)[..., -k:]
        errors.append(float((out[:, :, :r] - Y[:, :r]).abs().amax(dim=(1, 2, 3)).min()))
    found = next((L for L, e in zip(res.lengths, errors, strict=True) if e <= eps), None)
    return found, errors


def lookup_smallest_lengths(N_values: list[int], eps: float = 0.05) -> list[int | None]:
    """(a) on the model built to memorize: for each ``N``, ``N`` evenly spaced inputs in
    ``[0, 1]`` (``d = 1``) with uniform random targets (seed ``N``), the smallest of the
    lengths ``N/2, N - 2, N - 1, N`` at which the engine, started from the lookup prompt of
    the first ``L_p`` examples and run 50 L-BFGS steps, gets every entry within ``eps``."""
    eps = check_real(eps, "eps", minimum=0.0, strict_minimum=True)
    out = []
    for N in N_values:
        N = check_int(N, "N_values", minimum=2)
        gen = torch.Generator().manual_seed(N)
        X = torch.linspace(0.0, 1.0, N, dtype=torch.float64).reshape(N, 1, 1)
        Y = torch.rand(N, 1, 1, generator=gen, dtype=torch.float64)
        model = lookup_model(1, sharpness=(math.log(4 * (N + 1) / eps) + 1) * (N - 1) ** 2)
        Ye = torch.cat([Y, torch.zeros_like(Y), torch.ones_like(Y)], dim=1)
        lengths = sorted({max(1, N // 2), max(1, N - 2), N - 1, N})
        init = [lookup_prompt(X[:n], Y[:n])[None] for n in lengths]
        found, _ = smallest_memorizing_length(
            model, embed_tokens(X), Ye, eps, lengths, restarts=1, steps=50, init=init, rows=1
        )
        out.append(found)
    return out


def random_smallest_lengths(
    model: Transformer, N_values: list[int], eps: float = 0.05, *, noise: float = 0.3
) -> list[int | None]:
    """(a) on a random model: for each ``N``, ``N`` uniform inputs of one token with targets
    the model's own outputs plus uniform noise of width ``noise`` (seed ``N``), the smallest
    length in ``1, ..., 2N + 2`` at which the engine (4 restarts, 150 L-BFGS steps) gets
    every entry within ``eps``, or ``None``."""
    eps = check_real(eps, "eps", minimum=0.0, strict_minimum=True)
    noise = check_real(noise, "noise", minimum=0.0)
    d = getattr(model, "d", None)
    if not isinstance(d, int):
        raise TypeError(f"model must be a ptheory Transformer, got {type(model).__name__}")
    out = []
    for N in N_values:
        N = check_int(N, "N_values", minimum=1)
        gen = torch.Generator().manual_seed(N)
        X = torch.rand(N, d, 1, generator=gen, dtype=torch.float64)
        with torch.no_grad():
            Y = model(X) + noise * (torch.rand(N, d, 1, generator=gen, dtype=torch.float64) - 0.5)
        found, _ = smallest_memorizing_length(model, X, Y, eps, list(range(1, 2 * N + 3)))
        out.append(found)
    return out


def prompt_lipschitz_ratio(
    model: Transformer,
    radius: float,
    *,
    prompt_length: int = 4,
    prompts: int = 64,
    inputs: int = 16,
    seed: int = 0,
) -> float:
    """The largest ``max_entry |tau_P(X) - tau_Q(X)| / ||P - Q||_{2,inf}`` seen over random
    pairs of prompts with columns of norm at most ``radius`` (``Q`` a perturbation of ``P``
    of size about ``0.1``, rescaled into the ball) and random inputs in ``[0, 1]^d``: a
    measurement that :func:`prompt_lipschitz` must bound."""
    from ..model import prompt_forward

    radius = check_real(radius, "radius", minimum=0.0, strict_minimum=True)
    prompt_length = check_int(prompt_length, "prompt_length", minimum=1)
    prompts = check_int(prompts, "prompts", minimum=1)
    inputs = check_int(inputs, "inputs", minimum=1)
    seed = check_int(seed, "seed", minimum=0)
    d = getattr(model, "d", None)
    if not isinstance(d, int):
        raise TypeError(f"model must be a ptheory Transformer, got {type(model).__name__}")
    gen = torch.Generator().manual_seed(seed)

    def ball(Z: torch.Tensor) -> torch.Tensor:
        norms = Z.norm(dim=-2, keepdim=True)
        return Z * torch.clamp(radius / norms.clamp_min(1e-300), max=1.0)

    shape = (prompts, d, prompt_length)
    P = torch.randn(shape, generator=gen, dtype=torch.float64)
    P = ball(P / P.norm(dim=-2, keepdim=True) * radius * torch.rand(
        prompts, 1, prompt_length, generator=gen, dtype=torch.float64))  # fmt: skip
    Q = ball(P + 0.1 * torch.randn(shape, generator=gen, dtype=torch.float64))
    X = torch.rand(inputs, d, 1, generator=gen, dtype=torch.float64)
    with torch.no_grad():
        gap = (prompt_forward(model, P, X) - prompt_forward(model, Q, X)).abs()
    return float((gap.amax(dim=(1, 2, 3)) / (P - Q).norm(dim=-2).amax(-1)).max())
