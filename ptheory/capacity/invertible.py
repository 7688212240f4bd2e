"""Wang et al.'s multi-layer limitation: small residual branches make prompt tuning injective.

A transformer whose layers are all residual, ``Z -> Z + B_k(Z)`` (attention and
feed-forward alike), acts on the whole sequence ``[P, X]``. If every branch ``B_k`` is
``kappa_k``-Lipschitz in the column-max norm ``||Z||_{2,inf} = max_j ||z_j||`` on the
region the hidden states visit, then for one prompt ``P`` and two inputs ``X, X'``

    ||tau_P(X) - tau_P(X')||_{2,inf} >= (2 - prod_k (1 + kappa_k)) ||X - X'||_{2,inf}:

the prompt columns start equal and drift apart by at most the growth of the whole
difference, while the input columns lose at most ``kappa_k`` times it per layer. When the
factor ``ell = 2 - prod (1 + kappa_k)`` is positive the map ``X -> tau_P(X)`` is injective,
so two different inputs with one common target cannot both be fitted (this book's own
quantitative version of the result; the constants are ours).

Lipschitz constants on the ball of column norm ``R`` (proved in the chapter):
``FF``: ``||W_2|| ||W_1||``; one attention head: ``||W_O W_V|| (1 + 2 s ||W_K^T W_Q|| R^2)``.

The same bookkeeping bounds how fast the output moves with the prompt: the input columns
start equal, so ``P -> tau_P(X)`` is ``(prod (1 + kappa_k) - 1)``-Lipschitz
(:func:`prompt_lipschitz`), the constant the covering bound of the memorization chapter
needs.

Every certified constant is attacked by an adversarial search (:func:`worst_expansion`,
:func:`worst_prompt_ratio`, :func:`worst_branch_ratios`): gradient steps over prompts and
inputs inside the ball, pushing the ratio the certificate bounds towards it. The search's
random starting points are what random sampling would see.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from .._validate import check_int, check_real
from ..model import Attention, Transformer
from .engine import _layers, check_dataset
from .optim import on_one_thread
from .rays import _norm2, _scaled_ff

__all__ = [
    "InjectivityBound",
    "WorstCase",
    "collision_dataset",
    "injectivity_bound",
    "injectivity_lower_bound",
    "prompt_lipschitz",
    "residual_model",
    "worst_branch_ratios",
    "worst_expansion",
    "worst_prompt_ratio",
]


def residual_model(
    d: int = 3,
    blocks: int = 2,
    seed: int = 0,
    *,
    value_norm: float = 0.08,
    key_norm: float = 0.1,
    ff_norm: float = 0.1,
    hidden: int = 8,
) -> Transformer:
    """A frozen ``(FF o Attn)^blocks`` transformer with residual branches of chosen size.

    Each attention layer has one head with random weights rescaled so that
    ``||W_O W_V||_2 = value_norm`` and ``s ||W_K^T W_Q||_2 = key_norm`` (score scale
    ``s = 1``); each feed-forward layer has ``||W_2||_2 ||W_1||_2 = ff_norm`` and small random
    biases. Small norms give the contractive (invertible) layers of the theorem; large ones
    (say ``value_norm = 3``, ``key_norm = 5``) give a model outside it. No positions.
    """
    d = check_int(d, "d", minimum=1)
    blocks = check_int(blocks, "blocks", minimum=1)
    seed = check_int(seed, "seed", minimum=0)
    value_norm = check_real(value_norm, "value_norm", minimum=0.0)
    key_norm = check_real(key_norm, "key_norm", minimum=0.0)
    ff_norm = check_real(ff_norm, "ff_norm", minimum=0.0)
    hidden = check_int(hidden, "hidden", minimum=1)
    gen = torch.Generator().manual_seed(10_007 * seed + 1)
    layers = []
    for b in range(blocks):
        attn = Attention(d, heads=1, scale="none", seed=1000 * seed + 2 * b)
        with torch.no_grad():
            M = attn.W_O[0] @ attn.W_V[0]
            A = attn.W_K[0].T @ attn.W_Q[0]
            attn.W_V.mul_(value_norm / torch.linalg.matrix_norm(M, ord=2))
            attn.W_Q.mul_(key_norm / torch.linalg.matrix_norm(A, ord=2))
        ff = _scaled_ff(d, hidden, 1000 * seed + 2 * b + 1, ff_norm, gen, bias_std=(0.1, 0.05))
        layers += [attn, ff]
    return Transformer(layers).freeze()


@dataclass(frozen=True)
class InjectivityBound:
    """Per-layer constants of the injectivity argument on the ball of column norm ``radius``.

    Attributes:
        kappas: Lipschitz bound of each layer's residual branch on the region it sees.
        radii: bound on the column norms entering each layer (``radii[0]`` = ``radius``),
            one more entry than ``kappas`` (the last bounds the output).
        ell: ``2 - prod (1 + kappa_k)``; the map ``X -> tau_P(X)`` expands distances by at
            least this factor when it is positive.
        ell_tracked: a sharper factor from tracking the input and prompt columns apart:
            a token-wise layer keeps equal prompt columns equal and shrinks input-column
            differences by at most ``1 - kappa_k``; attention is treated as in ``ell``.
            Always at least ``ell``.
    """

    kappas: list[float]
    radii: list[float]
    ell: float
    ell_tracked: float = math.nan

    @property
    def injective(self) -> bool:
        """Whether the argument proves injectivity (``ell > 0``)."""
        return self.ell > 0.0


def injectivity_bound(
    model: Transformer, radius: float, *, kappas: Sequence[float] | None = None
) -> InjectivityBound:
    """The constants of the injectivity argument for prompts and inputs whose columns all
    have norm at most ``radius``.

    For attention (every head ``h``, score scale ``s``) on columns of norm at most ``R``:
    ``kappa = sum_h ||W_O^h W_V^h|| (1 + 2 s ||W_K^hT W_Q^h|| R^2)`` and the next radius is
    ``R (1 + sum_h ||W_O^h W_V^h||)``; for ``FF``: ``kappa = ||W_2|| ||W_1||`` and
    ``R + ||W_2|| (||W_1|| R + ||b_1||) + ||b_2||``.

    ``kappas`` (one per layer) replaces these branch constants in the two factors, e.g. by
    the ratios an adversarial search reached (:func:`worst_branch_ratios`): what the same
    argument would give with the sharpest constants; not a certificate then.
    """
    layers, positions = _layers(model)
    if positions is not None:
        raise ValueError("model must have no positional offsets")
    R = check_real(radius, "radius", minimum=0.0)
    constants, radii = [], [R]
    for layer in layers:
        if not layer.residual:
            raise ValueError("model must have residual connections in every layer")
        if isinstance(layer, Attention):
            values = [_norm2(layer.W_O[h] @ layer.W_V[h]) for h in range(layer.heads)]
            keys = [_norm2(layer.W_K[h].T @ layer.W_Q[h]) for h in range(layer.heads)]
            kappa = sum(
                v * (1 + 2 * layer.scale * k * R**2) for v, k in zip(values, keys, strict=True)
            )
            R = R * (1 + sum(values))
        else:
            n1, n2 = _norm2(layer.W_1), _norm2(layer.W_2)
            kappa = n2 * n1
            R = R + n2 * (n1 * R + float(layer.b_1.norm())) + float(layer.b_2.norm())
        constants.append(kappa)
        radii.append(R)
    if kappas is None:
        kappas = constants
    else:
        if not isinstance(kappas, (list, tuple)) or len(kappas) != len(layers):
            raise ValueError(f"kappas must hold one constant per layer ({len(layers)})")
        kappas = [check_real(k, "kappas", minimum=0.0) for k in kappas]
    ell = 2.0 - math.prod(1.0 + k for k in kappas)
    # per unit of input distance: D_lo, D_hi bound the input-column differences, E the
    # prompt-column differences (0 at the start: one prompt)
    d_lo, d_hi, e = 1.0, 1.0, 0.0
    for layer, k in zip(layers, kappas, strict=True):
        if isinstance(layer, Attention):
            u = max(d_hi, e)
            d_lo, d_hi, e = d_lo - k * u, d_hi + k * u, e + k * u
        else:
            d_lo, d_hi, e = (1.0 - k) * d_lo, (1.0 + k) * d_hi, (1.0 + k) * e
    return InjectivityBound(kappas=list(kappas), radii=radii, ell=ell, ell_tracked=d_lo)


def collision_dataset(
    model: Transformer, L: int = 1, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Two different inputs with one common target: ``X: (2, d, L)``, ``Y: (2, d, L)``.

    ``X_1, X_2`` are uniform in ``[0, 1]^{d x L}``; the common target is the midpoint of the
    frozen model's outputs on them (no prompt), the closest single target to both, so the
    only way to fit is to make the two outputs meet.
    """
    layers, _ = _layers(model)
    L = check_int(L, "L", minimum=1)
    seed = check_int(seed, "seed", minimum=0)
    d = layers[0].d
    gen = torch.Generator().manual_seed(seed)
    X = torch.rand(2, d, L, generator=gen, dtype=torch.float64)
    with torch.no_grad():
        out = model(X)
    Y = 0.5 * (out[0] + out[1])
    return X, torch.stack([Y, Y])


def injectivity_lower_bound(
    model: Transformer, X: torch.Tensor, Y: torch.Tensor, max_norm: float, *, tracked: bool = False
) -> float:
    """A lower bound on the loss of every prompt whose columns have norm below ``max_norm``.

    For two inputs (``X: (2, d, L)``) with one common target (``Y_1 = Y_2``, all ``L``
    columns), with ``R_0 = max(max_norm, largest column norm of X)`` and ``ell`` from
    :func:`injectivity_bound`: ``loss >= ell^2 ||X_1 - X_2||_{2,inf}^2 / 4`` when
    ``ell > 0`` (else the bound is ``0``): the two outputs stay ``ell ||X_1 - X_2||``
    apart, and a common target is at least half of that from one of them. With
    ``tracked=True`` the sharper ``ell_tracked`` is used.
    """
    X, Y = check_dataset(model, X, Y)
    if X.shape[0] != 2:
        raise ValueError(f"X must hold exactly two inputs, got {X.shape[0]}")
    if Y.shape[-1] != X.shape[-1] or not torch.equal(Y[0], Y[1]):
        raise ValueError("Y must be one common target for both inputs, on all L columns")
    max_norm = check_real(max_norm, "max_norm", minimum=0.0)
    R0 = max(max_norm, float(X.norm(dim=-2).max()))
    if not isinstance(tracked, bool):
        raise TypeError(f"tracked must be a bool, got {type(tracked).__name__}")
    info = injectivity_bound(model, R0)
    ell = info.ell_tracked if tracked else info.ell
    if ell <= 0.0:
        return 0.0
    gap = float((X[0] - X[1]).norm(dim=-2).max())
    return ell**2 * gap**2 / 4.0


def prompt_lipschitz(model: Transformer, radius: float) -> float:
    """``C_P = prod_k (1 + kappa_k) - 1``: a Lipschitz constant of ``P -> tau_P(X)``.

    From the column-max norm of ``P - P'`` to the column-max norm of the output difference
    (so to every output entry), for prompts and inputs whose columns have norm at most
    ``radius``, with the branch constants ``kappa_k`` of :func:`injectivity_bound`. The input
    columns start equal and the prompt columns differ by ``delta``: a layer adds at most
    ``kappa_k`` times the largest column difference ``U_{k-1} <= prod_{j<k} (1 + kappa_j)
    delta`` to the input columns' difference, which therefore stays below
    ``sum_k kappa_k prod_{j<k} (1 + kappa_j) delta = (prod_k (1 + kappa_k) - 1) delta``.
    (The prompt columns themselves move by up to ``prod (1 + kappa_k) delta``, but the output
    discards them.)
    """
    return math.prod(1.0 + k for k in injectivity_bound(model, radius).kappas) - 1.0


@dataclass(frozen=True)
class WorstCase:
    """The extreme ratio an adversarial search reached.

    Attributes:
        value: the extreme (largest or smallest, as the search asks) over every iterate of
            every run; each iterate is a legal point (columns inside the ball).
        sampled: the extreme over the random starting points only: what random sampling
            of as many points would report.
    """

    value: float
    sampled: float


def _ball(Q: torch.Tensor, radius: float) -> torch.Tensor:
    """Column-wise ``radius q / sqrt(1 + |q|^2)``: every column inside the open ball."""
    return radius * Q / torch.sqrt(1.0 + Q.pow(2).sum(dim=-2, keepdim=True))


def _search(
    ratio: Callable[[list[torch.Tensor]], torch.Tensor],
    shapes: list[tuple[int, ...]],
    *,
    maximize: bool,
    steps: int,
    seed: int,
    lr: float = 0.05,
) -> WorstCase:
    """Adam on raw parameters of the given shapes (leading dimension: runs), pushing every
    run's ``ratio`` up (``maximize``) or down; the extreme over all iterates."""
    gen = torch.Generator().manual_seed(seed)
    params = [
        torch.randn(s, generator=gen, dtype=torch.float64).requires_grad_(True) for s in shapes
    ]
    opt = torch.optim.Adam(params, lr=lr)
    sign = -1.0 if maximize else 1.0
    pick = max if maximize else min
    with torch.no_grad():
        first = ratio(params)
    sampled = float(first.max() if maximize else first.min())
    best = sampled
    for _ in range(steps):
        opt.zero_grad()
        r = ratio(params)
        best = pick(best, float((r.max() if maximize else r.min()).detach()))
        (sign * r.sum()).backward()
        opt.step()
    with torch.no_grad():
        r = ratio(params)
    best = pick(best, float(r.max() if maximize else r.min()))
    return WorstCase(value=best, sampled=sampled)


def _lengths(prompt_lengths: Sequence[int]) -> list[int]:
    if not isinstance(prompt_lengths, (list, tuple)) or not prompt_lengths:
        raise TypeError("prompt_lengths must be a non-empty list of ints")
    return [check_int(n, "prompt_lengths", minimum=1) for n in prompt_lengths]


@on_one_thread
def worst_expansion(
    model: Transformer,
    radius: float,
    *,
    prompt_lengths: Sequence[int] = (1, 6),
    L: int = 1,
    restarts: int = 32,
    steps: int = 150,
    seed: int = 0,
) -> WorstCase:
    """The smallest ``||tau_P(X) - tau_P(X')||_{2,inf} / ||X - X'||_{2,inf}`` a search finds.

    Over prompts of each length in ``prompt_lengths`` and inputs ``X, X'`` of ``L`` columns,
    every column of norm below ``radius`` (the domain of :func:`injectivity_bound`);
    ``restarts`` runs per length, half with ``X'`` free and half with ``X'`` within ``1e-3``
    of ``X`` (the local rate), each ``steps`` Adam steps pushing the ratio down. The theorem
    says the result is at least ``injectivity_bound(model, radius).ell_tracked``.
    """
    layers, _ = _layers(model)
    R = check_real(radius, "radius", minimum=0.0, strict_minimum=True)
    lengths = _lengths(prompt_lengths)
    L = check_int(L, "L", minimum=1)
    restarts = check_int(restarts, "restarts", minimum=2)
    steps = check_int(steps, "steps", minimum=0)
    seed = check_int(seed, "seed", minimum=0)
    d = layers[0].d
    close = (torch.arange(restarts) >= restarts // 2).to(torch.float64)[:, None, None]
    out = []
    for j, L_p in enumerate(lengths):

        def ratio(p: list[torch.Tensor], L_p: int = L_p) -> torch.Tensor:
            P, U, V = _ball(p[0], R), p[1], p[2]
            X = _ball(U, R)
            X2 = _ball((1 - close) * V + close * (U + 1e-3 * V), R)
            o1 = model(torch.cat([P, X], dim=-1))[..., -L:]
            o2 = model(torch.cat([P, X2], dim=-1))[..., -L:]
            gap = (X - X2).norm(dim=-2).amax(-1).clamp_min(1e-300)
            return (o1 - o2).norm(dim=-2).amax(-1) / gap

        shapes = [(restarts, d, L_p), (restarts, d, L), (restarts, d, L)]
        out.append(_search(ratio, shapes, maximize=False, steps=steps, seed=seed + 101 * j))
    return WorstCase(min(w.value for w in out), min(w.sampled for w in out))


@on_one_thread
def worst_prompt_ratio(
    model: Transformer,
    radius: float,
    *,
    prompt_lengths: Sequence[int] = (1, 4, 16),
    restarts: int = 32,
    steps: int = 150,
    seed: int = 0,
) -> WorstCase:
    """The largest ``max_entry |tau_P(X) - tau_Q(X)| / ||P - Q||_{2,inf}`` a search finds.

    Over prompts ``P`` of each length in ``prompt_lengths``, nearby prompts ``Q`` (a step of
    ``1e-4`` in a searched direction: the ratio's supremum is a local rate) and inputs ``X``
    of one column, every column of norm below ``radius``; ``restarts`` runs per length, each
    ``steps`` Adam steps pushing the ratio up. :func:`prompt_lipschitz` must bound it.
    """
    layers, _ = _layers(model)
    R = check_real(radius, "radius", minimum=0.0, strict_minimum=True)
    lengths = _lengths(prompt_lengths)
    restarts = check_int(restarts, "restarts", minimum=1)
    steps = check_int(steps, "steps", minimum=0)
    seed = check_int(seed, "seed", minimum=0)
    d = layers[0].d
    out = []
    for j, L_p in enumerate(lengths):

        def ratio(p: list[torch.Tensor]) -> torch.Tensor:
            H = p[1] / p[1].norm(dim=-2).amax(-1)[:, None, None].clamp_min(1e-300)
            P, Q, X = _ball(p[0], R), _ball(p[0] + 1e-4 * H, R), _ball(p[2], R)
            gap = model(torch.cat([P, X], dim=-1)) - model(torch.cat([Q, X], dim=-1))
            step = (P - Q).norm(dim=-2).amax(-1).clamp_min(1e-300)
            return gap[..., -1:].abs().amax(dim=(-1, -2)) / step

        shapes = [(restarts, d, L_p), (restarts, d, L_p), (restarts, d, 1)]
        out.append(_search(ratio, shapes, maximize=True, steps=steps, seed=seed + 101 * j))
    return WorstCase(max(w.value for w in out), max(w.sampled for w in out))


@on_one_thread
def worst_branch_ratios(
    model: Transformer,
    radius: float,
    *,
    columns: int = 4,
    restarts: int = 32,
    steps: int = 150,
    seed: int = 0,
) -> list[WorstCase]:
    """For every layer ``k``, the largest ``||B_k(Z) - B_k(Z')||_{2,inf} / ||Z - Z'||_{2,inf}``
    a search finds, ``B_k`` the layer's residual branch.

    Over sequences ``Z`` of ``columns`` columns of norm below ``radii[k-1]`` of
    :func:`injectivity_bound` (the region the layer sees) and nearby ``Z'`` (a step of
    ``1e-4``); ``restarts`` runs per layer, ``steps`` Adam steps each. The lemma of the
    chapter says each is at most ``kappas[k-1]``.
    """
    layers, _ = _layers(model)
    R = check_real(radius, "radius", minimum=0.0, strict_minimum=True)
    columns = check_int(columns, "columns", minimum=1)
    restarts = check_int(restarts, "restarts", minimum=1)
    steps = check_int(steps, "steps", minimum=0)
    seed = check_int(seed, "seed", minimum=0)
    radii = injectivity_bound(model, R).radii
    d = layers[0].d
    out = []
    for k, layer in enumerate(layers):

        def ratio(p: list[torch.Tensor], layer=layer, r=radii[k]) -> torch.Tensor:
            H = p[1] / p[1].norm(dim=-2).amax(-1)[:, None, None].clamp_min(1e-300)
            Z, Z2 = _ball(p[0], r), _ball(p[0] + 1e-4 * H, r)
            gap = (layer(Z) - Z) - (layer(Z2) - Z2)
            step = (Z - Z2).norm(dim=-2).amax(-1).clamp_min(1e-300)
            return gap.norm(dim=-2).amax(-1) / step

        shapes = [(restarts, d, columns), (restarts, d, columns)]
        out.append(_search(ratio, shapes, maximize=True, steps=steps, seed=seed + 101 * k))
    return out
