"""The single-layer model of the capacity part's limitation chapters, and its parts.

The model is ``tau = FF o Attn`` with one softmax head and a feed-forward layer whose
residual branch is a contraction, ``kappa = ||W_2||_2 ||W_1||_2 < 1``, so that ``FF`` is
a bijection of ``R^d`` with bi-Lipschitz constants ``1 - kappa`` and ``1 + kappa``
(:func:`ff_inverse` inverts it). This module holds what both the ray bound
(:mod:`~ptheory.capacity.rays`) and the entropy identity (:mod:`~ptheory.capacity.entropy`)
need: the model, its one attention finder, the feed-forward layer's constant and inverse,
and the score direction ``theta`` of a query, the linear map of the entropy identity.
"""

from __future__ import annotations

import torch
from torch import nn

from .._validate import as_tensor, check_finite, check_int, check_real
from ..model import Attention, FeedForward, Transformer

__all__ = [
    "attention_layer",
    "ff_contraction",
    "ff_inverse",
    "score_direction",
    "single_layer_model",
    "single_layer_parts",
]


def single_layer_model(
    d: int = 3,
    seed: int = 0,
    *,
    hidden: int = 8,
    contraction: float = 0.2,
    scale: str | float = "1/sqrt(d)",
    heads: int = 1,
) -> Transformer:
    """A frozen single-layer, single-head transformer ``FF o Attn`` with invertible ``FF``.

    ``Attn`` has random weights (head size ``d``); ``FF`` has width ``hidden``, random
    weights rescaled so that ``||W_2||_2 ||W_1||_2 = contraction < 1`` and random biases, so
    ``z -> FF(z)`` is bi-Lipschitz with constants ``1 - contraction`` and ``1 + contraction``
    and :func:`ff_inverse` inverts it. ``contraction = 0`` gives ``FF(z) = z + b_2``, an
    isometry. No positional offsets. ``heads > 1`` gives a multi-head layer (outside the
    theorem: the segment lemma needs one head).
    """
    d = check_int(d, "d", minimum=2)
    seed = check_int(seed, "seed", minimum=0)
    hidden = check_int(hidden, "hidden", minimum=1)
    contraction = check_real(contraction, "contraction", minimum=0.0, maximum=0.99)
    heads = check_int(heads, "heads", minimum=1)
    attn = Attention(d, heads=heads, scale=scale, seed=2 * seed)
    gen = torch.Generator().manual_seed(7 * seed + 3)
    ff = _scaled_ff(d, hidden, 2 * seed + 1, contraction, gen, bias_std=(0.5, 0.1))
    return Transformer([attn, ff]).freeze()


def _scaled_ff(
    d: int,
    hidden: int,
    seed: int,
    norm: float,
    gen: torch.Generator,
    *,
    bias_std: tuple[float, float],
) -> FeedForward:
    """A random ``FeedForward`` (weights from ``seed``) rescaled so that
    ``||W_1||_2 = ||W_2||_2 = sqrt(norm)``, hence ``kappa = ||W_2|| ||W_1|| = norm``, with
    biases ``b_1 ~ N(0, bias_std[0]^2)``, ``b_2 ~ N(0, bias_std[1]^2)`` drawn from ``gen``."""
    ff = FeedForward(d, hidden, seed=seed)
    with torch.no_grad():
        ff.W_1.mul_(norm**0.5 / torch.linalg.matrix_norm(ff.W_1, ord=2))
        ff.W_2.mul_(norm**0.5 / torch.linalg.matrix_norm(ff.W_2, ord=2))
        ff.b_1.copy_(bias_std[0] * torch.randn(hidden, generator=gen, dtype=torch.float64))
        ff.b_2.copy_(bias_std[1] * torch.randn(d, generator=gen, dtype=torch.float64))
    return ff


def _norm2(W: torch.Tensor) -> float:
    """The spectral norm of ``W`` (no gradient, in float64)."""
    return float(torch.linalg.matrix_norm(W.detach().double(), ord=2))


def attention_layer(
    model: object, layer: int | None = None, *, one_head: bool = True
) -> tuple[int, Attention]:
    """The attention layer of ``model`` and its index: the one finder of the part.

    ``model`` is an ``Attention`` layer (index 0) or a ``Transformer``; ``layer`` picks an
    attention layer by its index in ``model.layers`` (default: the first attention layer).
    With ``one_head`` the layer must have one head (the segment lemma and the entropy
    identity are statements about one softmax).
    """
    if isinstance(model, Attention):
        if layer not in (None, 0):
            raise ValueError(f"layer must be 0 or None for an Attention model, got {layer}")
        index, attn = 0, model
    elif isinstance(model, Transformer):
        layers = list(model.layers)
        found = [i for i, m in enumerate(layers) if isinstance(m, Attention)]
        if not found:
            raise ValueError("model must contain an attention layer")
        if layer is None:
            index = found[0]
        else:
            index = check_int(layer, "layer", minimum=0, maximum=len(layers) - 1)
            if index not in found:
                raise ValueError(
                    f"layer must index an Attention layer, one of {found}, got {index}"
                )
        attn = layers[index]
    else:
        raise TypeError(
            f"model must be a ptheory Transformer or Attention, got {type(model).__name__}"
        )
    if one_head and attn.heads != 1:
        raise ValueError(f"model's attention layer must have one head, got {attn.heads}")
    return index, attn


def single_layer_parts(model: object, *, single_head: bool = True) -> tuple[Attention, FeedForward]:
    """``(Attn, FF)`` of a single-layer model ``FF o Attn`` (both with residual, no
    positional offsets); ``single_head`` asks for one attention head."""
    if not isinstance(model, Transformer):
        raise TypeError(f"model must be a ptheory Transformer, got {type(model).__name__}")
    layers = list(model.layers)
    if (
        len(layers) != 2
        or not isinstance(layers[0], Attention)
        or not isinstance(layers[1], FeedForward)
    ):
        raise ValueError("model must be a single layer FF o Attn (layers [Attention, FeedForward])")
    _, attn = attention_layer(model, 0, one_head=False)
    ff = layers[1]
    if (single_head and attn.heads != 1) or not attn.residual or not ff.residual:
        raise ValueError("model must have one attention head and residual connections")
    if model.positions is not None:
        raise ValueError("model must have no positional offsets")
    return attn, ff


def ff_contraction(ff: FeedForward) -> float:
    """``kappa = ||W_2||_2 ||W_1||_2``, a Lipschitz constant of the residual branch of ``ff``."""
    if not isinstance(ff, FeedForward):
        raise TypeError(f"ff must be a ptheory FeedForward, got {type(ff).__name__}")
    return _norm2(ff.W_2) * _norm2(ff.W_1)


def ff_inverse(ff: FeedForward, Y: torch.Tensor, *, tol: float = 1e-14) -> torch.Tensor:
    """Solve ``FF(Z) = Y`` for ``Y: (..., d, n)`` when ``kappa < 1`` (Banach fixed point).

    ``Z = Y - b_2 - W_2 ReLU(W_1 Z + b_1)`` is a contraction with constant ``kappa``;
    iterating from ``Z = Y`` converges geometrically.
    """
    kappa = ff_contraction(ff)
    if kappa >= 1.0:
        raise ValueError(f"ff must have ||W_2|| ||W_1|| < 1 to be inverted, got {kappa:.3g}")
    Y = as_tensor(Y, "Y", dtype=ff.W_1.dtype)
    tol = check_real(tol, "tol", minimum=0.0, strict_minimum=True)
    Z = Y.clone()
    with torch.no_grad():
        for _ in range(10_000):
            new = Y - ff.b_2[:, None] - ff.W_2 @ torch.relu(ff.W_1 @ Z + ff.b_1[:, None])
            step = float((new - Z).abs().max())
            Z = new
            if step <= tol * (1.0 - kappa):
                break
    return Z


def score_direction(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """``theta = s (W_O W_V)^{-T} W_K^T W_Q x``: the mean score of any prompt on the query
    ``x: (d,)`` is ``theta . Att(x, P)`` (the entropy identity's linear map). ``model`` is
    a one-head ``Attention`` or a ``Transformer`` (its first attention layer). Raises
    ``ValueError`` when ``W_O W_V`` is singular (then the mean score is not a function of
    the attention output)."""
    _, attn = attention_layer(model)
    x = check_finite(as_tensor(x, "x", dtype=attn.W_Q.dtype), "x")
    if x.shape[-1] == 1 and x.dim() == 2:
        x = x[:, 0]
    if x.shape != (attn.d,):
        raise ValueError(f"x must have shape ({attn.d},), got {tuple(x.shape)}")
    with torch.no_grad():
        M = attn.W_O[0] @ attn.W_V[0]
        if M.shape[0] != M.shape[1] or int(torch.linalg.matrix_rank(M)) < M.shape[0]:
            raise ValueError("model must have an invertible W_O W_V (head size d, full rank)")
        q = attn.key_query_matrix()[0] @ x * attn.scale
        return torch.linalg.solve(M.T, q)
