"""Weight-space baselines on the same frozen model and the same loss: LoRA and fine-tuning.

* :func:`lora_fit`: a rank-``r`` update ``Delta W = B A`` of one attention weight (``W_V``
  by default). In closed form for a single layer ``FF o Attn`` with invertible ``FF``:
  changing ``W_V`` does not move the softmax, so the needed attention outputs are linear in
  ``Delta W_V`` and the best rank-``r`` update is a reduced-rank regression (an SVD). Or
  trained with L-BFGS on the loss, for any ptheory transformer.
* :func:`fine_tune`: every weight trained with L-BFGS.

The loss is :func:`ptheory.capacity.engine.fit_loss` of the model's outputs on ``X`` (no
prompt), as in prompt tuning.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
from torch import nn
from torch.func import functional_call

from .._validate import as_tensor, check_finite, check_int
from ..model import Transformer, freeze
from .engine import _fit_loss, _layers, check_dataset
from .optim import batched_lbfgs, on_one_thread
from .single_layer import attention_layer, ff_contraction, ff_inverse, single_layer_parts

__all__ = ["FitResult", "LoRAResult", "fine_tune", "lora_fit", "lora_lower_bound"]

WEIGHTS = ("W_Q", "W_K", "W_V", "W_O")


@dataclass(frozen=True)
class LoRAResult:
    """A low-rank update of one weight matrix.

    Attributes:
        loss: the loss of the updated model on the dataset (a float).
        delta: the update ``Delta W = B A`` of the chosen weight, rank at most ``rank``.
        rank: the rank allowed.
        n_params: trainable numbers of the factors, ``rank * (rows + cols)``.
        model: a frozen copy of the model with the update applied.
        method: ``"closed_form"`` or ``"train"``.
    """

    loss: float
    delta: torch.Tensor
    rank: int
    n_params: int
    model: nn.Module
    method: str


@dataclass(frozen=True)
class FitResult:
    """Full fine-tuning: the final ``loss``, the loss ``curve`` and the tuned ``model``."""

    loss: float
    curve: torch.Tensor
    model: nn.Module
    n_params: int


def _plain_loss(model: nn.Module, X: torch.Tensor, Y: torch.Tensor) -> float:
    with torch.no_grad():
        return float(_fit_loss(model(X), Y))


def _closed_form_delta(model: Transformer, X: torch.Tensor, Y: torch.Tensor, rank: int):
    attn, ff = single_layer_parts(model)
    if ff_contraction(ff) >= 1.0:
        raise ValueError("model must have an invertible FF (||W_2|| ||W_1|| < 1) for closed_form")
    k = Y.shape[-1]
    with torch.no_grad():
        queries = X[..., -k:]  # (N, d, k)
        weights = torch.softmax(attn.scores(queries, X), dim=-2)[:, 0]  # (N, L, k)
        Zc = (X @ weights).permute(1, 0, 2).reshape(attn.d, -1)  # mixtures, (d, N k)
        need = ff_inverse(ff, Y) - queries - attn.attend(queries, X)  # (N, d, k)
        R = need.permute(1, 0, 2).reshape(attn.d, -1)
        U, sig, Vh = torch.linalg.svd(Zc, full_matrices=False)
        keep = sig > sig.max() * 1e-12
        U, sig, Vh = U[:, keep], sig[keep], Vh[keep]
        RV = R @ Vh.T  # (d, q): what M = W_O Delta W_V must send U sig to
        u, s, vh = torch.linalg.svd(RV, full_matrices=False)
        r = min(rank, s.numel())
        M = (u[:, :r] * s[:r]) @ vh[:r] @ torch.diag(1.0 / sig) @ U.T
        delta = torch.linalg.pinv(attn.W_O[0]) @ M  # (s, d)
    return delta


def _with_weight(model: nn.Module, index: int, weight: str, delta: torch.Tensor) -> nn.Module:
    adapted = copy.deepcopy(model)
    layers, _ = _layers(adapted)
    with torch.no_grad():
        getattr(layers[index], weight)[0].add_(delta)
    return freeze(adapted)


@on_one_thread
def lora_fit(
    model: nn.Module,
    X: torch.Tensor,
    Y: torch.Tensor,
    rank: int,
    *,
    method: str = "closed_form",
    weight: str = "W_V",
    layer: int | None = None,
    steps: int = 200,
    seed: int = 0,
    init: torch.Tensor | None = None,
) -> LoRAResult:
    """Fit a rank-``rank`` update of one attention weight of the frozen ``model``.

    ``X: (N, d, L)``, ``Y: (N, d, k)`` (targets of the last ``k`` columns). With
    ``method="closed_form"`` (single layer ``FF o Attn``, one head, invertible ``FF``, update
    of ``W_V``): the attention outputs an exact fit needs are ``FF^{-1}(y) - x - Att(x, X)``;
    with ``z`` the softmax mixtures of the tokens, ``W_O Delta W_V z = needed`` is linear, and
    the best rank-``rank`` solution in that space is the truncated SVD of a reduced-rank
    regression. With ``method="train"``: factors ``B: (s, r)`` (zero) and ``A: (r, d)``
    (``N(0, 1/d)`` from ``seed``) of ``weight`` in attention layer ``layer`` (default: the
    first), trained by ``steps`` L-BFGS iterations on the loss; with ``init`` (an update of
    the weight's shape, say the closed form's ``delta``) the factors start from its best
    rank-``rank`` factorisation instead. The closed form is the best update **in attention
    space**; training from it can only lower the loss (a local search: it does not certify
    the best rank-``rank`` loss, which :func:`lora_lower_bound` bounds from below).
    """
    X, Y = check_dataset(model, X, Y)
    rank = check_int(rank, "rank", minimum=1)
    if not isinstance(method, str) or method not in ("closed_form", "train"):
        raise ValueError(f"method must be 'closed_form' or 'train', got {method!r}")
    if not isinstance(weight, str) or weight not in WEIGHTS:
        raise ValueError(f"weight must be one of {WEIGHTS}, got {weight!r}")
    steps = check_int(steps, "steps", minimum=0)
    seed = check_int(seed, "seed", minimum=0)
    _layers(model)
    index, attn = attention_layer(model, layer)
    rows, cols = getattr(attn, weight).shape[-2:]
    n_params = rank * (rows + cols)
    if init is not None and method != "train":
        raise ValueError("init needs method='train'")
    if method == "closed_form":
        if weight != "W_V":
            raise ValueError("weight must be 'W_V' for method='closed_form'")
        delta = _closed_form_delta(model, X, Y, rank)
    else:
        name = f"layers.{index}.{weight}" if isinstance(model, Transformer) else weight
        base = dict(model.named_parameters())
        W0 = base[name].detach()
        gen = torch.Generator().manual_seed(seed)
        A0 = torch.randn(rank, cols, generator=gen, dtype=torch.float64).to(W0.dtype) / cols**0.5
        B0 = torch.zeros(rows, rank, dtype=W0.dtype)
        if init is not None:
            init = check_finite(as_tensor(init, "init", dtype=W0.dtype), "init")
            if init.shape != (rows, cols):
                raise ValueError(f"init must have shape {(rows, cols)}, got {tuple(init.shape)}")
            U, S, Vh = torch.linalg.svd(init, full_matrices=False)
            k = min(rank, S.numel())
            B0[:, :k] = U[:, :k] * S[:k].sqrt()
            A0 = A0.clone()
            A0[:k] = S[:k].sqrt()[:, None] * Vh[:k]
        x0 = torch.cat([B0.reshape(-1), A0.reshape(-1)])[None]

        def fg(flat: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            v = flat.detach()[0].requires_grad_(True)
            Bf, Af = v[: rows * rank].reshape(rows, rank), v[rows * rank :].reshape(rank, cols)
            params = {**base, name: W0 + (Bf @ Af)[None]}
            f = _fit_loss(functional_call(model, params, (X,)), Y)
            (g,) = torch.autograd.grad(f, v)
            return f.detach()[None], g[None]

        flat, _ = batched_lbfgs(fg, x0, steps)
        v = flat[0]
        delta = v[: rows * rank].reshape(rows, rank) @ v[rows * rank :].reshape(rank, cols)
    adapted = _with_weight(model, index, weight, delta)
    return LoRAResult(
        loss=_plain_loss(adapted, X, Y),
        delta=delta,
        rank=rank,
        n_params=n_params,
        model=adapted,
        method=method,
    )


@on_one_thread
def lora_lower_bound(model: Transformer, X: torch.Tensor, Y: torch.Tensor, rank: int) -> float:
    """A certified lower bound on the loss of **every** update of ``W_V`` of rank at most
    ``rank`` (single layer ``FF o Attn``, one head, ``kappa < 1``).

    Changing ``W_V`` leaves the softmax alone, so the attention outputs are
    ``b + W_O Delta W_V z`` with ``z`` the token mixtures; the closed form of
    :func:`lora_fit` minimises their squared distance to the needed outputs
    ``c = FF^{-1}(y) - x`` over every ``W_O Delta W_V`` of rank at most ``rank`` (a
    reduced-rank regression, solved exactly by an SVD). ``FF`` shrinks distances by at most
    ``1 - kappa``, so ``(1 - kappa)^2`` times that least squared distance, averaged over the
    examples, bounds the loss of every such update from below. ``X: (N, d, L)``,
    ``Y: (N, d, k)``. For ``rank >= d`` it bounds every update of ``W_V``.
    """
    attn, ff = single_layer_parts(model)
    X, Y = check_dataset(model, X, Y)
    rank = check_int(rank, "rank", minimum=1)
    kappa = ff_contraction(ff)
    if kappa >= 1.0:
        raise ValueError("model must have an invertible FF (||W_2|| ||W_1|| < 1)")
    delta = _closed_form_delta(model, X, Y, rank)
    k = Y.shape[-1]
    with torch.no_grad():
        queries = X[..., -k:]
        weights = torch.softmax(attn.scores(queries, X), dim=-2)[:, 0]  # (N, L, k)
        moved = attn.W_O[0] @ delta @ (X @ weights)  # W_O Delta W_V z, (N, d, k)
        need = ff_inverse(ff, Y) - queries - attn.attend(queries, X)
        miss = float((moved - need).pow(2).sum(dim=(-1, -2)).mean())
    return (1.0 - kappa) ** 2 * miss


@on_one_thread
def fine_tune(model: nn.Module, X: torch.Tensor, Y: torch.Tensor, *, steps: int = 200) -> FitResult:
    """Train **every** weight of a copy of ``model`` with L-BFGS on the same loss.

    ``X: (N, d, L)``, ``Y: (N, d, k)``. Returns the final loss, the loss curve
    ``(steps + 1,)``, the tuned (frozen) copy and its number of weights.
    """
    X, Y = check_dataset(model, X, Y)
    _layers(model)
    steps = check_int(steps, "steps", minimum=0)
    names = [n for n, _ in model.named_parameters()]
    shapes = [p.shape for _, p in model.named_parameters()]
    sizes = [p.numel() for _, p in model.named_parameters()]
    x0 = torch.cat([p.detach().reshape(-1) for _, p in model.named_parameters()])[None]

    def unflatten(v: torch.Tensor) -> dict[str, torch.Tensor]:
        parts = torch.split(v, sizes)
        return {n: t.reshape(s) for n, t, s in zip(names, parts, shapes, strict=True)}

    def fg(flat: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        v = flat.detach()[0].requires_grad_(True)
        f = _fit_loss(functional_call(model, unflatten(v), (X,)), Y)
        (g,) = torch.autograd.grad(f, v)
        return f.detach()[None], g[None]

    flat, curve = batched_lbfgs(fg, x0, steps)
    tuned = freeze(copy.deepcopy(model))
    params = dict(tuned.named_parameters())
    with torch.no_grad():
        for n, t in unflatten(flat[0]).items():
            params[n].copy_(t)
    return FitResult(
        loss=_plain_loss(tuned, X, Y), curve=curve[:, 0], model=tuned, n_params=int(sum(sizes))
    )
