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
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from .._validate import check_int, check_real
from ..model import Attention, Transformer, prompt_forward
from .engine import _layers, check_dataset
from .rays import _norm2, _scaled_ff

__all__ = [
    "InjectivityBound",
    "collision_dataset",
    "injectivity_bound",
    "injectivity_lower_bound",
    "min_expansion",
    "residual_model",
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


def injectivity_bound(model: Transformer, radius: float) -> InjectivityBound:
    """The constants of the injectivity argument for prompts and inputs whose columns all
    have norm at most ``radius``.

    For attention (every head ``h``, score scale ``s``) on columns of norm at most ``R``:
    ``kappa = sum_h ||W_O^h W_V^h|| (1 + 2 s ||W_K^hT W_Q^h|| R^2)`` and the next radius is
    ``R (1 + sum_h ||W_O^h W_V^h||)``; for ``FF``: ``kappa = ||W_2|| ||W_1||`` and
    ``R + ||W_2|| (||W_1|| R + ||b_1||) + ||b_2||``.
    """
    layers, positions = _layers(model)
    if positions is not None:
        raise ValueError("model must have no positional offsets")
    R = check_real(radius, "radius", minimum=0.0)
    kappas, radii = [], [R]
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
        kappas.append(kappa)
        radii.append(R)
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
    return InjectivityBound(kappas=kappas, radii=radii, ell=ell, ell_tracked=d_lo)


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


def min_expansion(
    model: Transformer,
    radius: float,
    *,
    prompt_length: int = 4,
    L: int = 1,
    n_prompts: int = 64,
    n_pairs: int = 64,
    seed: int = 0,
) -> float:
    """The smallest observed ``||tau_P(X) - tau_P(X')||_{2,inf} / ||X - X'||_{2,inf}``.

    Draws ``n_prompts`` prompts of ``prompt_length`` columns uniformly in direction with
    column norms uniform in ``[0, radius]``, and ``n_pairs`` input pairs: half far apart
    (both uniform in ``[0, 1]^{d x L}``), half close (a perturbation of size ``1e-3``).
    The theorem says the result is at least ``injectivity_bound(model, R0).ell`` with
    ``R0 = max(radius, sqrt(d))`` (inputs in the unit cube have column norm at most
    ``sqrt(d)``).
    """
    layers, _ = _layers(model)
    radius = check_real(radius, "radius", minimum=0.0)
    prompt_length = check_int(prompt_length, "prompt_length", minimum=1)
    L = check_int(L, "L", minimum=1)
    n_prompts = check_int(n_prompts, "n_prompts", minimum=1)
    n_pairs = check_int(n_pairs, "n_pairs", minimum=2)
    seed = check_int(seed, "seed", minimum=0)
    d = layers[0].d
    gen = torch.Generator().manual_seed(seed)
    P = torch.randn(n_prompts, d, prompt_length, generator=gen, dtype=torch.float64)
    lengths = radius * torch.rand(n_prompts, 1, prompt_length, generator=gen, dtype=torch.float64)
    P = P / P.norm(dim=-2, keepdim=True) * lengths
    X = torch.rand(n_pairs, d, L, generator=gen, dtype=torch.float64)
    X2 = torch.rand(n_pairs, d, L, generator=gen, dtype=torch.float64)
    half = n_pairs // 2
    step = torch.randn(n_pairs - half, d, L, generator=gen, dtype=torch.float64)
    X2[half:] = (X[half:] + 1e-3 * step).clamp(0.0, 1.0)
    with torch.no_grad():
        gap_out = (prompt_forward(model, P, X) - prompt_forward(model, P, X2)).norm(dim=-2)
    gap_in = (X - X2).norm(dim=-2).amax(dim=-1)
    return float((gap_out.amax(dim=-1) / gap_in).min())
